"""Behler-Parrinello atom-centred symmetry functions with their derivatives per pair vector.

    G2[s, eta, r_s](i)    = sum_{j: s(j) = s} exp(-eta (r_ij - r_s)^2) fc(r_ij)
    G4[s1 s2, eta, zeta, lambda](i) = 2^(1 - zeta) sum_{j != k} (1 + lambda cos theta_jik)^zeta
                            exp(-eta (r_ij^2 + r_ik^2 + r_jk^2)) fc(r_ij) fc(r_ik) fc(r_jk)

over ordered neighbour pairs (j, k) whose elements are {s1, s2}; ``fc(r) = (cos(pi r / r_c) + 1)/2``.
``dG[p, f, :]`` is the derivative of atom i's feature f with respect to the pair vector
``r_ij`` of pair p (r_jk = r_ik - r_ij is written through both pair vectors).
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit


@njit(cache=True)
def _fc(r, rc):
    if r >= rc:
        return 0.0, 0.0
    x = math.pi / rc
    return 0.5 * (math.cos(r * x) + 1.0), -0.5 * x * math.sin(r * x)


@njit(cache=True)
def symmetry_functions(pair_start, species_j, vectors, rc, n_species, g2_eta, g2_rs, g4_eta, g4_zeta, g4_lambda,
                       pair_index):
    """``G (n_atoms, n_feat)`` and ``dG (n_pairs, n_feat, 3)``.

    Feature layout: for each neighbour species s, the G2 grid (``len(g2_eta)`` entries), then for
    each unordered species pair (``pair_index[s1, s2]``), the G4 grid."""
    n_atoms = pair_start.shape[0] - 1
    n2 = g2_eta.shape[0]
    n4 = g4_eta.shape[0]
    n_pairs_species = n_species * (n_species + 1) // 2
    n_feat = n_species * n2 + n_pairs_species * n4
    G = np.zeros((n_atoms, n_feat))
    dG = np.zeros((vectors.shape[0], n_feat, 3))
    for i in range(n_atoms):
        p0 = pair_start[i]
        p1 = pair_start[i + 1]
        for p in range(p0, p1):
            x, y, z = vectors[p, 0], vectors[p, 1], vectors[p, 2]
            r = math.sqrt(x * x + y * y + z * z)
            fc, dfc = _fc(r, rc)
            if fc == 0.0 and dfc == 0.0:
                continue
            base = species_j[p] * n2
            for g in range(n2):
                d = r - g2_rs[g]
                e = math.exp(-g2_eta[g] * d * d)
                G[i, base + g] += e * fc
                dr = e * (dfc - 2.0 * g2_eta[g] * d * fc) / r
                dG[p, base + g, 0] += dr * x
                dG[p, base + g, 1] += dr * y
                dG[p, base + g, 2] += dr * z
        if n4 == 0:
            continue
        off4 = n_species * n2
        for pj in range(p0, p1):
            ux, uy, uz = vectors[pj, 0], vectors[pj, 1], vectors[pj, 2]
            ru = math.sqrt(ux * ux + uy * uy + uz * uz)
            fu, dfu = _fc(ru, rc)
            if fu == 0.0:
                continue
            for pk in range(p0, p1):
                if pk == pj:
                    continue
                vx, vy, vz = vectors[pk, 0], vectors[pk, 1], vectors[pk, 2]
                rv = math.sqrt(vx * vx + vy * vy + vz * vz)
                fv, dfv = _fc(rv, rc)
                if fv == 0.0:
                    continue
                wx, wy, wz = vx - ux, vy - uy, vz - uz
                rw = math.sqrt(wx * wx + wy * wy + wz * wz)
                fw, dfw = _fc(rw, rc)
                if fw == 0.0:
                    continue
                cos = (ux * vx + uy * vy + uz * vz) / (ru * rv)
                # d cos / du, d cos / dv
                cux = vx / (ru * rv) - cos * ux / (ru * ru)
                cuy = vy / (ru * rv) - cos * uy / (ru * ru)
                cuz = vz / (ru * rv) - cos * uz / (ru * ru)
                cvx = ux / (ru * rv) - cos * vx / (rv * rv)
                cvy = uy / (ru * rv) - cos * vy / (rv * rv)
                cvz = uz / (ru * rv) - cos * vz / (rv * rv)
                F = fu * fv * fw
                # d F / du and d F / dv (w = v - u)
                Fux = dfu * ux / ru * fv * fw - fu * fv * dfw * wx / rw
                Fuy = dfu * uy / ru * fv * fw - fu * fv * dfw * wy / rw
                Fuz = dfu * uz / ru * fv * fw - fu * fv * dfw * wz / rw
                Fvx = fu * dfv * vx / rv * fw + fu * fv * dfw * wx / rw
                Fvy = fu * dfv * vy / rv * fw + fu * fv * dfw * wy / rw
                Fvz = fu * dfv * vz / rv * fw + fu * fv * dfw * wz / rw
                rsum = ru * ru + rv * rv + rw * rw
                base = off4 + pair_index[species_j[pj], species_j[pk]] * n4
                for g in range(n4):
                    eta = g4_eta[g]
                    zeta = g4_zeta[g]
                    lam = g4_lambda[g]
                    E = math.exp(-eta * rsum)
                    q = 1.0 + lam * cos
                    if q <= 0.0:
                        A = 0.0
                        dA = 0.0
                    else:
                        A = q ** zeta
                        dA = zeta * lam * q ** (zeta - 1.0)
                    pref = 2.0 ** (1.0 - zeta)
                    T = pref * A * E * F
                    G[i, base + g] += T
                    # d E / du = -eta E (2u - 2w), d E / dv = -eta E (2v + 2w)
                    eu = -2.0 * eta
                    gux = pref * (dA * cux * E * F + A * E * eu * (ux - wx) * F + A * E * Fux)
                    guy = pref * (dA * cuy * E * F + A * E * eu * (uy - wy) * F + A * E * Fuy)
                    guz = pref * (dA * cuz * E * F + A * E * eu * (uz - wz) * F + A * E * Fuz)
                    gvx = pref * (dA * cvx * E * F + A * E * eu * (vx + wx) * F + A * E * Fvx)
                    gvy = pref * (dA * cvy * E * F + A * E * eu * (vy + wy) * F + A * E * Fvy)
                    gvz = pref * (dA * cvz * E * F + A * E * eu * (vz + wz) * F + A * E * Fvz)
                    dG[pj, base + g, 0] += gux
                    dG[pj, base + g, 1] += guy
                    dG[pj, base + g, 2] += guz
                    dG[pk, base + g, 0] += gvx
                    dG[pk, base + g, 1] += gvy
                    dG[pk, base + g, 2] += gvz
    return G, dG
