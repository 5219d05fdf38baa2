"""Rotational invariants of the neighbour-density expansion and their derivatives.

``a_{c,lm}(i) = sum_{j: species(j) = s} f_n(r_ij) Y_lm(r_ij / r_ij)`` for channel ``c = s * N + n``;
invariant k (channel ``c_k``, coupling type ``t_k``) is
``B_k(i) = sum_e coef_e prod_q a_{c_k, lm_{e,q}}(i)`` over the nonzero entries e of the type's
coupling tensor. Its derivative with respect to the pair vector r_ij is
``sum_lm dB_k/da_{c,lm} d(f_n Y_lm)/dr_ij``, computed per neighbour (linear in neighbours).
"""

from __future__ import annotations

import numpy as np
from numba import njit


@njit(cache=True)
def invariant_features(pair_start, species_j, f, df, Y, dY, unit, n_species,
                       feat_species, feat_n, feat_type,
                       type_entry_start, entry_lm, entry_coef, type_support_start, support_lm):
    """Per-atom invariants ``G (n_atoms, n_feat)`` and ``dG (n_pairs, n_feat, 3)`` = dG_i/dr_ij.

    Pairs must be sorted by central atom; atom i owns pairs ``pair_start[i]:pair_start[i+1]``.
    ``f, df`` (n_pairs, N): radial basis and derivative; ``Y, dY``: real harmonics and their
    gradients; ``unit``: r_ij / |r_ij|. ``entry_lm`` (n_entries, p_max) is padded with -1.
    """
    n_atoms = pair_start.shape[0] - 1
    n_pairs = f.shape[0]
    N = f.shape[1]
    n_lm = Y.shape[1]
    n_feat = feat_type.shape[0]
    p_max = entry_lm.shape[1]
    G = np.zeros((n_atoms, n_feat))
    dG = np.zeros((n_pairs, n_feat, 3))
    a = np.zeros((n_species * N, n_lm))
    gB = np.zeros((n_feat, n_lm))
    D = np.zeros((N, n_lm, 3))
    for i in range(n_atoms):
        a[:, :] = 0.0
        for p in range(pair_start[i], pair_start[i + 1]):
            base = species_j[p] * N
            for n in range(N):
                fn = f[p, n]
                for lm in range(n_lm):
                    a[base + n, lm] += fn * Y[p, lm]
        for k in range(n_feat):
            c = feat_species[k] * N + feat_n[k]
            t = feat_type[k]
            for s in range(type_support_start[t], type_support_start[t + 1]):
                gB[k, support_lm[s]] = 0.0
            value = 0.0
            for e in range(type_entry_start[t], type_entry_start[t + 1]):
                coef = entry_coef[e]
                prod = coef
                for q in range(p_max):
                    lm = entry_lm[e, q]
                    if lm < 0:
                        break
                    prod *= a[c, lm]
                value += prod
                for q in range(p_max):
                    lm = entry_lm[e, q]
                    if lm < 0:
                        break
                    g = coef
                    for q2 in range(p_max):
                        lm2 = entry_lm[e, q2]
                        if lm2 < 0:
                            break
                        if q2 != q:
                            g *= a[c, lm2]
                    gB[k, lm] += g
            G[i, k] = value
        for p in range(pair_start[i], pair_start[i + 1]):
            ux = unit[p, 0]
            uy = unit[p, 1]
            uz = unit[p, 2]
            for n in range(N):
                fn = f[p, n]
                dfn = df[p, n]
                for lm in range(n_lm):
                    y = Y[p, lm]
                    D[n, lm, 0] = dfn * y * ux + fn * dY[p, lm, 0]
                    D[n, lm, 1] = dfn * y * uy + fn * dY[p, lm, 1]
                    D[n, lm, 2] = dfn * y * uz + fn * dY[p, lm, 2]
            s_j = species_j[p]
            for k in range(n_feat):
                if feat_species[k] != s_j:
                    continue
                n = feat_n[k]
                t = feat_type[k]
                gx = 0.0
                gy = 0.0
                gz = 0.0
                for s in range(type_support_start[t], type_support_start[t + 1]):
                    lm = support_lm[s]
                    w = gB[k, lm]
                    gx += w * D[n, lm, 0]
                    gy += w * D[n, lm, 1]
                    gz += w * D[n, lm, 2]
                dG[p, k, 0] = gx
                dG[p, k, 1] = gy
                dG[p, k, 2] = gz
    return G, dG
