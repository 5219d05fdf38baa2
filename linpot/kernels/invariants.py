"""Rotational invariants of the neighbour-density expansion and their derivatives.

``a_{c,lm}(i) = sum_{j: species(j) = s} f_n(r_ij) Y_lm(r_ij / r_ij)`` for channel ``c = s * N + n``;
invariant k (element ``s_k``, coupling type ``t_k``, radial index ``n_kq`` of each factor q) is
``B_k(i) = sum_e coef_e prod_q a_{s_k N + n_kq, lm_{e,q}}(i)`` over the nonzero entries e of the
type's coupling tensor (all ``n_kq`` equal for the compact invariants). Its derivative with
respect to the pair vector r_ij is ``sum_{q, lm} dB_k/da_{c_kq, lm} d(f_n Y_lm)/dr_ij``, computed per
neighbour (linear in neighbours).

Two ways to the forces: ``invariant_features`` gives every ``dB_k/dr_ij`` (the design matrix
needs them); ``invariant_backward`` takes ``dE/dB`` and goes through ``dE/da`` (reverse mode),
at a cost independent of the number of invariants per neighbour.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from .forces import add_pair_force, expansion_pair_gradient


@njit(cache=True)
def _expansion(i, pair_start, species_j, f, Y, a):
    """a[c, lm] of atom i (a is overwritten)."""
    N = f.shape[1]
    n_lm = Y.shape[1]
    a[:, :] = 0.0
    for p in range(pair_start[i], pair_start[i + 1]):
        base = species_j[p] * N
        for n in range(N):
            fn = f[p, n]
            for lm in range(n_lm):
                a[base + n, lm] += fn * Y[p, lm]


@njit(cache=True)
def _invariants(a, N, feat_species, feat_nq, feat_slot, feat_type, type_entry_start, entry_lm, entry_coef,
                type_pos_l, values, gB, with_gradient):
    """values[k] = B_k and, if with_gradient, gB[k, q, lm] = dB_k / da_{c_kq, lm}, gathered on the
    first factor q with the same (l, n) (``feat_slot[k, q]``: factors that are the same vector
    share one slot, so a compact invariant costs its distinct l, not its order)."""
    p_max = entry_lm.shape[1]
    for k in range(feat_type.shape[0]):
        base = feat_species[k] * N
        t = feat_type[k]
        if with_gradient:
            for q in range(p_max):
                l = type_pos_l[t, q]
                if l < 0:
                    break
                if feat_slot[k, q] != q:
                    continue
                for lm in range(l * l, (l + 1) * (l + 1)):
                    gB[k, q, lm] = 0.0
        value = 0.0
        for e in range(type_entry_start[t], type_entry_start[t + 1]):
            coef = entry_coef[e]
            prod = coef
            for q in range(p_max):
                lm = entry_lm[e, q]
                if lm < 0:
                    break
                prod *= a[base + feat_nq[k, q], lm]
            value += prod
            if not with_gradient:
                continue
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
                        g *= a[base + feat_nq[k, q2], lm2]
                gB[k, feat_slot[k, q], lm] += g
        values[k] = value


@njit(cache=True)
def invariant_features(pair_start, species_j, f, df, Y, dY, unit, n_species,
                       feat_species, feat_nq, feat_slot, feat_type, type_entry_start, entry_lm, entry_coef, type_pos_l):
    """Per-atom invariants ``G (n_atoms, n_feat)`` and ``dG (n_pairs, n_feat, 3)`` = dG_i/dr_ij.

    Pairs must be sorted by central atom; atom i owns pairs ``pair_start[i]:pair_start[i+1]``.
    ``f, df`` (n_pairs, N): radial basis and derivative; ``Y, dY``: real harmonics and their
    gradients; ``unit``: r_ij / |r_ij|. ``entry_lm`` (n_entries, p_max) is padded with -1;
    ``type_pos_l[t, q]`` is the l of factor q of type t.
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
    gB = np.zeros((n_feat, p_max, n_lm))
    D = np.zeros((N, n_lm, 3))
    for i in range(n_atoms):
        _expansion(i, pair_start, species_j, f, Y, a)
        _invariants(a, N, feat_species, feat_nq, feat_slot, feat_type, type_entry_start, entry_lm, entry_coef, type_pos_l,
                    G[i], gB, True)
        for p in range(pair_start[i], pair_start[i + 1]):
            for n in range(N):
                fn = f[p, n]
                dfn = df[p, n]
                for lm in range(n_lm):
                    y = dfn * Y[p, lm]
                    D[n, lm, 0] = y * unit[p, 0] + fn * dY[p, lm, 0]
                    D[n, lm, 1] = y * unit[p, 1] + fn * dY[p, lm, 1]
                    D[n, lm, 2] = y * unit[p, 2] + fn * dY[p, lm, 2]
            s_j = species_j[p]
            for k in range(n_feat):
                if feat_species[k] != s_j:
                    continue
                t = feat_type[k]
                gx = 0.0
                gy = 0.0
                gz = 0.0
                for q in range(p_max):
                    l = type_pos_l[t, q]
                    if l < 0:
                        break
                    if feat_slot[k, q] != q:
                        continue
                    n = feat_nq[k, q]
                    for lm in range(l * l, (l + 1) * (l + 1)):
                        w = gB[k, q, lm]
                        gx += w * D[n, lm, 0]
                        gy += w * D[n, lm, 1]
                        gz += w * D[n, lm, 2]
                dG[p, k, 0] = gx
                dG[p, k, 1] = gy
                dG[p, k, 2] = gz
    return G, dG


@njit(cache=True)
def invariant_values(pair_start, species_j, f, Y, n_species, feat_species, feat_nq, feat_slot, feat_type,
                     type_entry_start, entry_lm, entry_coef, type_pos_l):
    """Per-atom invariants ``G (n_atoms, n_feat)`` only."""
    n_atoms = pair_start.shape[0] - 1
    N = f.shape[1]
    n_feat = feat_type.shape[0]
    G = np.zeros((n_atoms, n_feat))
    a = np.zeros((n_species * N, Y.shape[1]))
    gB = np.zeros((1, 1, 1))
    for i in range(n_atoms):
        _expansion(i, pair_start, species_j, f, Y, a)
        _invariants(a, N, feat_species, feat_nq, feat_slot, feat_type, type_entry_start, entry_lm, entry_coef, type_pos_l,
                    G[i], gB, False)
    return G


@njit(cache=True)
def invariant_backward(pair_start, pair_j, species_j, vectors, f, df, Y, dY, unit, n_species,
                       feat_species, feat_nq, feat_slot, feat_type, type_entry_start, entry_lm, entry_coef, type_pos_l,
                       dEdG):
    """Forces (n_atoms, 3) and virial (Voigt, eV) from ``dEdG[i, k] = dE/dB_k(i)`` in reverse mode:
    ``dE/da_{c,lm} = sum_k dE/dB_k dB_k/da_{c,lm}``, then ``dE/dr_ij = sum_{n,lm} dE/da d(f_n Y_lm)/dr_ij``."""
    n_atoms = pair_start.shape[0] - 1
    N = f.shape[1]
    n_lm = Y.shape[1]
    n_feat = feat_type.shape[0]
    p_max = entry_lm.shape[1]
    forces = np.zeros((n_atoms, 3))
    virial = np.zeros(6)
    a = np.zeros((n_species * N, n_lm))
    gB = np.zeros((n_feat, p_max, n_lm))
    dEda = np.zeros((n_species * N, n_lm))
    values = np.zeros(n_feat)
    for i in range(n_atoms):
        _expansion(i, pair_start, species_j, f, Y, a)
        _invariants(a, N, feat_species, feat_nq, feat_slot, feat_type, type_entry_start, entry_lm, entry_coef, type_pos_l,
                    values, gB, True)
        dEda[:, :] = 0.0
        for k in range(n_feat):
            w = dEdG[i, k]
            if w == 0.0:
                continue
            base = feat_species[k] * N
            t = feat_type[k]
            for q in range(p_max):
                l = type_pos_l[t, q]
                if l < 0:
                    break
                if feat_slot[k, q] != q:
                    continue
                c = base + feat_nq[k, q]
                for lm in range(l * l, (l + 1) * (l + 1)):
                    dEda[c, lm] += w * gB[k, q, lm]
        for p in range(pair_start[i], pair_start[i + 1]):
            base = species_j[p] * N
            gx, gy, gz = expansion_pair_gradient(p, base, dEda, f, df, Y, dY, unit)
            add_pair_force(i, pair_j[p], vectors[p, 0], vectors[p, 1], vectors[p, 2], gx, gy, gz, forces,
                           virial)
    return forces, virial
