"""Behler-Parrinello atom-centred symmetry functions with their derivatives per pair vector.

    G2[s, eta, r_s](i)    = sum_{j: s(j) = s} exp(-eta (r_ij - r_s)^2) fc(r_ij)
    G4[s1 s2, eta, zeta, lambda](i) = 2^(1 - zeta) sum_{j != k} (1 + lambda cos theta_jik)^zeta
                            exp(-eta (r_ij^2 + r_ik^2 + r_jk^2)) fc(r_ij) fc(r_ik) fc(r_jk)

over ordered neighbour pairs (j, k) whose elements are {s1, s2}; ``fc(r) = (cos(pi r / r_c) + 1)/2``
(:func:`~linpot.kernels.radial.cosine_cutoff`).
``dG[p, f, :]`` is the derivative of atom i's feature f with respect to the pair vector
``r_ij`` of pair p (r_jk = r_ik - r_ij is written through both pair vectors).
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np
from numba import njit

from .radial import cosine_cutoff


class SymmetryFunctionTables(NamedTuple):
    """Symmetry functions as kernel arguments: the cutoff ``rc`` (Å), the number of elements, the
    G2 grid (``g2_eta`` 1/Å^2, ``g2_rs`` Å), the G4 grid (``g4_eta``, ``g4_zeta``, ``g4_lambda``) and
    the index of each unordered element pair ``pair_index[s1, s2]``."""

    rc: float
    n_species: int
    g2_eta: np.ndarray
    g2_rs: np.ndarray
    g4_eta: np.ndarray
    g4_zeta: np.ndarray
    g4_lambda: np.ndarray
    pair_index: np.ndarray


@njit(cache=True)
def _g4_grid_tables(g4_eta, g4_zeta, g4_lambda):
    """Distinct etas and (zeta, lambda) pairs of the G4 grid, and each grid entry's index in them."""
    n4 = g4_eta.shape[0]
    eta_values = np.zeros(n4)
    eta_id = np.zeros(n4, dtype=np.int64)
    zl_values = np.zeros((n4, 2))
    zl_id = np.zeros(n4, dtype=np.int64)
    n_eta = 0
    n_zl = 0
    for g in range(n4):
        found = -1
        for e in range(n_eta):
            if eta_values[e] == g4_eta[g]:
                found = e
        if found < 0:
            eta_values[n_eta] = g4_eta[g]
            found = n_eta
            n_eta += 1
        eta_id[g] = found
        found = -1
        for z in range(n_zl):
            if zl_values[z, 0] == g4_zeta[g] and zl_values[z, 1] == g4_lambda[g]:
                found = z
        if found < 0:
            zl_values[n_zl, 0] = g4_zeta[g]
            zl_values[n_zl, 1] = g4_lambda[g]
            found = n_zl
            n_zl += 1
        zl_id[g] = found
    return eta_values[:n_eta].copy(), eta_id, zl_values[:n_zl].copy(), zl_id


@njit(cache=True)
def symmetry_functions(pair_start, species_j, vectors, tables):
    """``G (n_atoms, n_feat)`` and ``dG (n_pairs, n_feat, 3)`` (``tables``: :class:`SymmetryFunctionTables`).

    Feature layout: for each neighbour species s, the G2 grid (``len(g2_eta)`` entries), then for
    each unordered species pair (``pair_index[s1, s2]``), the G4 grid."""
    rc, n_species, pair_index = tables.rc, tables.n_species, tables.pair_index
    g2_eta, g2_rs, g4_eta, g4_zeta, g4_lambda = tables.g2_eta, tables.g2_rs, tables.g4_eta, tables.g4_zeta, tables.g4_lambda
    n_atoms = pair_start.shape[0] - 1
    n2 = g2_eta.shape[0]
    n4 = g4_eta.shape[0]
    n_pairs_species = n_species * (n_species + 1) // 2
    n_feat = n_species * n2 + n_pairs_species * n4
    G = np.zeros((n_atoms, n_feat))
    dG = np.zeros((vectors.shape[0], n_feat, 3))
    eta_values, eta_id, zl_values, zl_id = _g4_grid_tables(g4_eta, g4_zeta, g4_lambda)
    # twice 2^(1 - zeta): each unordered pair stands for the (j, k) and (k, j) terms
    pref_of = np.empty(n4)
    for g in range(n4):
        pref_of[g] = 2.0 * 2.0 ** (1.0 - g4_zeta[g])
    E_of = np.zeros(eta_values.shape[0])
    A_of = np.zeros(zl_values.shape[0])
    dA_of = np.zeros(zl_values.shape[0])
    for i in range(n_atoms):
        p0 = pair_start[i]
        p1 = pair_start[i + 1]
        for p in range(p0, p1):
            x, y, z = vectors[p, 0], vectors[p, 1], vectors[p, 2]
            r = math.sqrt(x * x + y * y + z * z)
            fc, dfc = cosine_cutoff(r, rc)
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
        # The summand is symmetric in j <-> k (cos, r_ij^2 + r_ik^2 + r_jk^2, the cutoff product
        # and the species pair), so each unordered pair is visited once and counted twice.
        for pj in range(p0, p1):
            ux, uy, uz = vectors[pj, 0], vectors[pj, 1], vectors[pj, 2]
            ru = math.sqrt(ux * ux + uy * uy + uz * uz)
            fu, dfu = cosine_cutoff(ru, rc)
            if fu == 0.0:
                continue
            for pk in range(pj + 1, p1):
                vx, vy, vz = vectors[pk, 0], vectors[pk, 1], vectors[pk, 2]
                rv = math.sqrt(vx * vx + vy * vy + vz * vz)
                fv, dfv = cosine_cutoff(rv, rc)
                if fv == 0.0:
                    continue
                wx, wy, wz = vx - ux, vy - uy, vz - uz
                rw = math.sqrt(wx * wx + wy * wy + wz * wz)
                fw, dfw = cosine_cutoff(rw, rc)
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
                # exp and powers once per distinct eta and (zeta, lambda) of the grid
                for e in range(eta_values.shape[0]):
                    E_of[e] = math.exp(-eta_values[e] * rsum)
                for z in range(zl_values.shape[0]):
                    zeta = zl_values[z, 0]
                    lam = zl_values[z, 1]
                    q = 1.0 + lam * cos
                    if q <= 0.0:
                        A_of[z] = 0.0
                        dA_of[z] = 0.0
                    else:
                        qz1 = q ** (zeta - 1.0)
                        A_of[z] = qz1 * q
                        dA_of[z] = zeta * lam * qz1
                base = off4 + pair_index[species_j[pj], species_j[pk]] * n4
                for g in range(n4):
                    E = E_of[eta_id[g]]
                    A = A_of[zl_id[g]]
                    dA = dA_of[zl_id[g]]
                    pref = pref_of[g] * E
                    G[i, base + g] += pref * A * F
                    # d E / du = -2 eta E (u - w), d E / dv = -2 eta E (v + w)
                    c1 = pref * dA * F
                    c2 = -2.0 * g4_eta[g] * pref * A * F
                    c3 = pref * A
                    dG[pj, base + g, 0] += c1 * cux + c2 * (ux - wx) + c3 * Fux
                    dG[pj, base + g, 1] += c1 * cuy + c2 * (uy - wy) + c3 * Fuy
                    dG[pj, base + g, 2] += c1 * cuz + c2 * (uz - wz) + c3 * Fuz
                    dG[pk, base + g, 0] += c1 * cvx + c2 * (vx + wx) + c3 * Fvx
                    dG[pk, base + g, 1] += c1 * cvy + c2 * (vy + wy) + c3 * Fvy
                    dG[pk, base + g, 2] += c1 * cvz + c2 * (vz + wz) + c3 * Fvz
    return G, dG
