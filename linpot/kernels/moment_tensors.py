"""Moment tensor descriptors: moment components, the basis polynomials over them, derivatives.

Component c (neighbour element ``s_c``, radial index ``mu_c``, rank ``nu_c``, indices
``i_1..i_nu``) of atom i's moments is ``M_c = sum_{j: s(j) = s_c} f_mu(r_ij) prod_q u_{i_q}``, ``u = r_ij / |r_ij|``; its derivative with respect to
r_ij is ``f_mu' P u + f_mu sum_q (prod_{q' != q} u_{i_q'}) (e_{i_q} - u_{i_q} u) / r``. A basis
function is ``B_t = sum_terms coef prod_q M_{c_q}`` (terms ``term_start[t]:term_start[t+1]``).
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

from .forces import add_pair_force, largest_neighbourhood


@njit(cache=True)
def _moments(p0, p1, species_j, vectors, f, df, comp_species, comp_mu, comp_nu, comp_idx, M, dM, with_gradient):
    """``M[c]`` of one atom and, if asked, ``dM[k, c, :]`` for its neighbours k = 0..p1-p0-1."""
    n_comp = comp_mu.shape[0]
    M[:] = 0.0
    u = np.zeros(3)
    for k in range(p1 - p0):
        p = p0 + k
        r = math.sqrt(vectors[p, 0] ** 2 + vectors[p, 1] ** 2 + vectors[p, 2] ** 2)
        for a in range(3):
            u[a] = vectors[p, a] / r
        for c in range(n_comp):
            if comp_species[c] != species_j[p]:
                if with_gradient:
                    dM[k, c, 0] = 0.0
                    dM[k, c, 1] = 0.0
                    dM[k, c, 2] = 0.0
                continue
            mu = comp_mu[c]
            nu = comp_nu[c]
            prod = 1.0
            for q in range(nu):
                prod *= u[comp_idx[c, q]]
            fv = f[p, mu]
            M[c] += fv * prod
            if not with_gradient:
                continue
            g0 = df[p, mu] * prod * u[0]
            g1 = df[p, mu] * prod * u[1]
            g2 = df[p, mu] * prod * u[2]
            for q in range(nu):
                rest = 1.0
                for q2 in range(nu):
                    if q2 != q:
                        rest *= u[comp_idx[c, q2]]
                a = comp_idx[c, q]
                s = fv * rest / r
                g0 += s * ((1.0 if a == 0 else 0.0) - u[a] * u[0])
                g1 += s * ((1.0 if a == 1 else 0.0) - u[a] * u[1])
                g2 += s * ((1.0 if a == 2 else 0.0) - u[a] * u[2])
            dM[k, c, 0] = g0
            dM[k, c, 1] = g1
            dM[k, c, 2] = g2


@njit(cache=True)
def _basis(M, term_start, term_ids, term_coef, values, gM, with_gradient):
    """values[t] = B_t and, if asked, gM[t, c] = dB_t / dM_c."""
    width = term_ids.shape[1]
    for t in range(term_start.shape[0] - 1):
        if with_gradient:
            gM[t, :] = 0.0
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


@njit(cache=True, inline="always")
def _contract(weights, dM, k):
    """``sum_c weights[c] dM[k, c, :]``: a derivative with respect to M taken to neighbour k's vector."""
    gx = 0.0
    gy = 0.0
    gz = 0.0
    for c in range(weights.shape[0]):
        w = weights[c]
        if w == 0.0:
            continue
        gx += w * dM[k, c, 0]
        gy += w * dM[k, c, 1]
        gz += w * dM[k, c, 2]
    return gx, gy, gz


@njit(cache=True)
def moment_tensor_features(pair_start, species_j, vectors, f, df, comp_species, comp_mu, comp_nu, comp_idx, term_start,
                           term_ids, term_coef, with_gradient):
    """``G (n_atoms, n_basis)`` and, if asked, ``dG (n_pairs, n_basis, 3)`` = dG_i / dr_ij."""
    n_atoms = pair_start.shape[0] - 1
    n_comp = comp_mu.shape[0]
    n_feat = term_start.shape[0] - 1
    max_pairs = largest_neighbourhood(pair_start)
    G = np.zeros((n_atoms, n_feat))
    dG = np.zeros((vectors.shape[0] if with_gradient else 0, n_feat, 3))
    M = np.zeros(n_comp)
    dM = np.zeros((max_pairs, n_comp, 3))
    gM = np.zeros((n_feat, n_comp))
    for i in range(n_atoms):
        p0 = pair_start[i]
        p1 = pair_start[i + 1]
        _moments(p0, p1, species_j, vectors, f, df, comp_species, comp_mu, comp_nu, comp_idx, M, dM, with_gradient)
        _basis(M, term_start, term_ids, term_coef, G[i], gM, with_gradient)
        if not with_gradient:
            continue
        for k in range(p1 - p0):
            for t in range(n_feat):
                gx, gy, gz = _contract(gM[t], dM, k)
                dG[p0 + k, t, 0] = gx
                dG[p0 + k, t, 1] = gy
                dG[p0 + k, t, 2] = gz
    return G, dG


@njit(cache=True)
def moment_tensor_backward(pair_start, pair_j, species_j, vectors, f, df, comp_species, comp_mu, comp_nu, comp_idx,
                           term_start, term_ids, term_coef, dEdG):
    """Forces and virial (Voigt, eV) from ``dEdG``: ``dE/dM`` first, then one pass over neighbours."""
    n_atoms = pair_start.shape[0] - 1
    n_comp = comp_mu.shape[0]
    n_feat = term_start.shape[0] - 1
    max_pairs = largest_neighbourhood(pair_start)
    forces = np.zeros((n_atoms, 3))
    virial = np.zeros(6)
    M = np.zeros(n_comp)
    dM = np.zeros((max_pairs, n_comp, 3))
    gM = np.zeros((n_feat, n_comp))
    values = np.zeros(n_feat)
    dEdM = np.zeros(n_comp)
    for i in range(n_atoms):
        p0 = pair_start[i]
        p1 = pair_start[i + 1]
        _moments(p0, p1, species_j, vectors, f, df, comp_species, comp_mu, comp_nu, comp_idx, M, dM, True)
        _basis(M, term_start, term_ids, term_coef, values, gM, True)
        dEdM[:] = 0.0
        for t in range(n_feat):
            w = dEdG[i, t]
            if w == 0.0:
                continue
            for c in range(n_comp):
                dEdM[c] += w * gM[t, c]
        for k in range(p1 - p0):
            gx, gy, gz = _contract(dEdM, dM, k)
            p = p0 + k
            add_pair_force(i, pair_j[p], vectors[p, 0], vectors[p, 1], vectors[p, 2], gx, gy, gz, forces, virial)
    return forces, virial
