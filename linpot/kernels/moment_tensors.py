"""Moment tensor descriptors: moment components, the basis polynomials over them, derivatives.

Component c (neighbour element ``s_c``, radial index ``mu_c``, rank ``nu_c``, indices
``i_1..i_nu``) of atom i's moments is ``M_c = sum_{j: s(j) = s_c} f_mu(r_ij) u^pw_c``, ``u = r_ij / |r_ij|``,
``u^pw = ux^a uy^b uz^c`` the product of the unit-vector components named by the indices
(a + b + c = nu). Its derivative with respect to r_ij is ``f_mu' u^pw u + f_mu d(u^pw)/dr``
with ``d(u^pw)/dr_k = (pw_k u^(pw - e_k) - nu u^pw u_k) / r``. The monomials ``u^pw`` and their
gradients depend on the neighbour only, not on mu or the element, so they are computed once per
neighbour (``_monomials``) and shared by every component with the same powers. A basis function is
``B_t = sum_terms coef prod_q M_{c_q}`` (terms ``term_start[t]:term_start[t+1]``); it depends on a
few components only, listed by ``_basis_components``.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

from .forces import add_pair_force, largest_neighbourhood


@njit(cache=True)
def _monomial_tables(comp_nu, comp_idx):
    """Distinct powers ``mono_pow (n_mono, 3)`` and each component's monomial ``comp_mono (n_comp,)``."""
    n_comp = comp_nu.shape[0]
    nu_max = 0
    for c in range(n_comp):
        nu_max = max(nu_max, comp_nu[c])
    n1 = nu_max + 1
    slot = -np.ones(n1 * n1 * n1, dtype=np.int64)
    mono_pow = np.zeros((n_comp, 3), dtype=np.int64)
    comp_mono = np.zeros(n_comp, dtype=np.int64)
    n_mono = 0
    for c in range(n_comp):
        a = 0
        b = 0
        z = 0
        for q in range(comp_nu[c]):
            axis = comp_idx[c, q]
            if axis == 0:
                a += 1
            elif axis == 1:
                b += 1
            else:
                z += 1
        key = (a * n1 + b) * n1 + z
        if slot[key] < 0:
            slot[key] = n_mono
            mono_pow[n_mono, 0] = a
            mono_pow[n_mono, 1] = b
            mono_pow[n_mono, 2] = z
            n_mono += 1
        comp_mono[c] = slot[key]
    return mono_pow[:n_mono].copy(), comp_mono, nu_max


@njit(cache=True)
def _monomials(x, y, z, mono_pow, upow, mono, dmono):
    """For the neighbour at (x, y, z): ``u``, ``r``, ``mono[m] = u^pw_m`` and ``dmono[m] = d(u^pw_m)/dr``."""
    r = math.sqrt(x * x + y * y + z * z)
    u0 = x / r
    u1 = y / r
    u2 = z / r
    upow[0, 0] = 1.0
    upow[1, 0] = 1.0
    upow[2, 0] = 1.0
    for e in range(1, upow.shape[1]):
        upow[0, e] = upow[0, e - 1] * u0
        upow[1, e] = upow[1, e - 1] * u1
        upow[2, e] = upow[2, e - 1] * u2
    inv_r = 1.0 / r
    for m in range(mono_pow.shape[0]):
        a = mono_pow[m, 0]
        b = mono_pow[m, 1]
        c = mono_pow[m, 2]
        v = upow[0, a] * upow[1, b] * upow[2, c]
        mono[m] = v
        nv = (a + b + c) * v
        dmono[m, 0] = ((a * upow[0, a - 1] * upow[1, b] * upow[2, c] if a > 0 else 0.0) - nv * u0) * inv_r
        dmono[m, 1] = ((b * upow[0, a] * upow[1, b - 1] * upow[2, c] if b > 0 else 0.0) - nv * u1) * inv_r
        dmono[m, 2] = ((c * upow[0, a] * upow[1, b] * upow[2, c - 1] if c > 0 else 0.0) - nv * u2) * inv_r
    return u0, u1, u2


@njit(cache=True)
def _moments(p0, p1, species_j, vectors, f, df, comp_species, comp_mu, comp_mono, mono_pow, upow, mono, dmono, M, dM,
             with_gradient):
    """``M[c]`` of one atom and, if asked, ``dM[k, c, :]`` for its neighbours k = 0..p1-p0-1."""
    n_comp = comp_mu.shape[0]
    M[:] = 0.0
    for k in range(p1 - p0):
        p = p0 + k
        u0, u1, u2 = _monomials(vectors[p, 0], vectors[p, 1], vectors[p, 2], mono_pow, upow, mono, dmono)
        for c in range(n_comp):
            if comp_species[c] != species_j[p]:
                if with_gradient:
                    dM[k, c, 0] = 0.0
                    dM[k, c, 1] = 0.0
                    dM[k, c, 2] = 0.0
                continue
            mu = comp_mu[c]
            m = comp_mono[c]
            fv = f[p, mu]
            M[c] += fv * mono[m]
            if with_gradient:
                radial = df[p, mu] * mono[m]
                dM[k, c, 0] = radial * u0 + fv * dmono[m, 0]
                dM[k, c, 1] = radial * u1 + fv * dmono[m, 1]
                dM[k, c, 2] = radial * u2 + fv * dmono[m, 2]


@njit(cache=True)
def _basis_components(term_start, term_ids, n_comp):
    """CSR lists of the components each basis function depends on: ``ids[start[t]:start[t+1]]``."""
    n_feat = term_start.shape[0] - 1
    width = term_ids.shape[1]
    stamp = -np.ones(n_comp, dtype=np.int64)
    start = np.zeros(n_feat + 1, dtype=np.int64)
    ids = np.zeros(term_ids.shape[0] * width, dtype=np.int64)
    n = 0
    for t in range(n_feat):
        for e in range(term_start[t], term_start[t + 1]):
            for q in range(width):
                c = term_ids[e, q]
                if c < 0:
                    break
                if stamp[c] != t:
                    stamp[c] = t
                    ids[n] = c
                    n += 1
        start[t + 1] = n
    return start, ids[:n].copy()


@njit(cache=True)
def _basis(M, term_start, term_ids, term_coef, bc_start, bc_ids, values, gM, with_gradient):
    """values[t] = B_t and, if asked, gM[t, c] = dB_t / dM_c for the components c of B_t (others untouched)."""
    width = term_ids.shape[1]
    for t in range(term_start.shape[0] - 1):
        if with_gradient:
            for s in range(bc_start[t], bc_start[t + 1]):
                gM[t, bc_ids[s]] = 0.0
        v = 0.0
        for e in range(term_start[t], term_start[t + 1]):
            prod = term_coef[e]
            for q in range(width):
                c = term_ids[e, q]
                if c < 0:
                    break
                prod *= M[c]
            v += prod
            if with_gradient:
                for q in range(width):
                    c = term_ids[e, q]
                    if c < 0:
                        break
                    g = term_coef[e]
                    for q2 in range(width):
                        c2 = term_ids[e, q2]
                        if c2 < 0:
                            break
                        if q2 != q:
                            g *= M[c2]
                    gM[t, c] += g
        values[t] = v


@njit(cache=True)
def _basis_backward(M, term_start, term_ids, term_coef, w, dEdM):
    """``dEdM[c] += sum_t w[t] dB_t / dM_c``, term by term (no per-basis-function gradient rows)."""
    width = term_ids.shape[1]
    for t in range(term_start.shape[0] - 1):
        wt = w[t]
        if wt == 0.0:
            continue
        for e in range(term_start[t], term_start[t + 1]):
            for q in range(width):
                c = term_ids[e, q]
                if c < 0:
                    break
                g = wt * term_coef[e]
                for q2 in range(width):
                    c2 = term_ids[e, q2]
                    if c2 < 0:
                        break
                    if q2 != q:
                        g *= M[c2]
                dEdM[c] += g


@njit(cache=True)
def moment_tensor_features(pair_start, species_j, vectors, f, df, comp_species, comp_mu, comp_nu, comp_idx, term_start,
                           term_ids, term_coef, with_gradient):
    """``G (n_atoms, n_basis)`` and, if asked, ``dG (n_pairs, n_basis, 3)`` = dG_i / dr_ij.

    ``dG[ij, t] = sum_c dB_t/dM_c dM_c/dr_ij`` over the few components c of B_t."""
    n_atoms = pair_start.shape[0] - 1
    n_comp = comp_mu.shape[0]
    n_feat = term_start.shape[0] - 1
    max_pairs = largest_neighbourhood(pair_start)
    G = np.zeros((n_atoms, n_feat))
    dG = np.zeros((vectors.shape[0] if with_gradient else 0, n_feat, 3))
    M = np.zeros(n_comp)
    dM = np.zeros((max_pairs if with_gradient else 0, n_comp, 3))
    gM = np.zeros((n_feat if with_gradient else 0, n_comp))
    mono_pow, comp_mono, nu_max = _monomial_tables(comp_nu, comp_idx)
    upow = np.zeros((3, nu_max + 1))
    mono = np.zeros(mono_pow.shape[0])
    dmono = np.zeros((mono_pow.shape[0], 3))
    bc_start, bc_ids = _basis_components(term_start, term_ids, n_comp)
    for i in range(n_atoms):
        p0 = pair_start[i]
        p1 = pair_start[i + 1]
        _moments(p0, p1, species_j, vectors, f, df, comp_species, comp_mu, comp_mono, mono_pow, upow, mono, dmono, M, dM,
                 with_gradient)
        _basis(M, term_start, term_ids, term_coef, bc_start, bc_ids, G[i], gM, with_gradient)
        if not with_gradient:
            continue
        for k in range(p1 - p0):
            for t in range(n_feat):
                gx = 0.0
                gy = 0.0
                gz = 0.0
                for s in range(bc_start[t], bc_start[t + 1]):
                    c = bc_ids[s]
                    w = gM[t, c]
                    gx += w * dM[k, c, 0]
                    gy += w * dM[k, c, 1]
                    gz += w * dM[k, c, 2]
                dG[p0 + k, t, 0] = gx
                dG[p0 + k, t, 1] = gy
                dG[p0 + k, t, 2] = gz
    return G, dG


@njit(cache=True)
def moment_tensor_backward(pair_start, pair_j, species_j, vectors, f, df, comp_species, comp_mu, comp_nu, comp_idx,
                           term_start, term_ids, term_coef, dEdG):
    """Forces and virial (Voigt, eV) from ``dEdG``.

    Per atom: the moments ``M``, then ``dE/dM_c = sum_t dEdG[i, t] dB_t/dM_c`` term by term, then
    per neighbour ``dE/dr = sum_m A_m u^pw_m u + B_m d(u^pw_m)/dr`` with ``A_m = sum_{c -> m} dE/dM_c f_mu'``
    and ``B_m = sum_{c -> m} dE/dM_c f_mu`` (components c of monomial m and the neighbour's element):
    no per-component gradient is stored."""
    n_atoms = pair_start.shape[0] - 1
    n_comp = comp_mu.shape[0]
    forces = np.zeros((n_atoms, 3))
    virial = np.zeros(6)
    M = np.zeros(n_comp)
    dM = np.zeros((0, n_comp, 3))
    dEdM = np.zeros(n_comp)
    mono_pow, comp_mono, nu_max = _monomial_tables(comp_nu, comp_idx)
    n_mono = mono_pow.shape[0]
    upow = np.zeros((3, nu_max + 1))
    mono = np.zeros(n_mono)
    dmono = np.zeros((n_mono, 3))
    A = np.zeros(n_mono)
    B = np.zeros(n_mono)
    for i in range(n_atoms):
        p0 = pair_start[i]
        p1 = pair_start[i + 1]
        _moments(p0, p1, species_j, vectors, f, df, comp_species, comp_mu, comp_mono, mono_pow, upow, mono, dmono, M, dM,
                 False)
        dEdM[:] = 0.0
        _basis_backward(M, term_start, term_ids, term_coef, dEdG[i], dEdM)
        for p in range(p0, p1):
            u0, u1, u2 = _monomials(vectors[p, 0], vectors[p, 1], vectors[p, 2], mono_pow, upow, mono, dmono)
            A[:] = 0.0
            B[:] = 0.0
            for c in range(n_comp):
                w = dEdM[c]
                if w == 0.0 or comp_species[c] != species_j[p]:
                    continue
                m = comp_mono[c]
                A[m] += w * df[p, comp_mu[c]]
                B[m] += w * f[p, comp_mu[c]]
            gx = 0.0
            gy = 0.0
            gz = 0.0
            for m in range(n_mono):
                a = A[m] * mono[m]
                gx += a * u0 + B[m] * dmono[m, 0]
                gy += a * u1 + B[m] * dmono[m, 1]
                gz += a * u2 + B[m] * dmono[m, 2]
            add_pair_force(i, pair_j[p], vectors[p, 0], vectors[p, 1], vectors[p, 2], gx, gy, gz, forces, virial)
    return forces, virial
