"""Rotational invariants of the neighbour-density expansion and their derivatives.

``a_{c,lm}(i) = sum_j w[k, s_j] f_n(r_ij) Y_lm(r_ij / r_ij)`` for channel ``c = k * N + n``:
element channel ``k`` (``w`` one-hot per element, the default, or a few weighted channels) and
radial index ``n``. Invariant k (coupling type ``t_k``, channel ``c_kq`` of each factor q) is
``B_k(i) = sum_e coef_e prod_q a_{c_kq, lm_{e,q}}(i)`` over the nonzero entries e of the type's
coupling tensor (all ``c_kq`` equal for the compact invariants; independent element channels or
radial indices for the complete and mixed ones). Its derivative with respect to the pair vector
r_ij is ``sum_{q, lm} dB_k/da_{c_kq, lm} w[k_q, s_j] d(f_n Y_lm)/dr_ij``, computed per neighbour
(linear in neighbours).

Two ways to the forces: ``invariant_features`` gives every ``dB_k/dr_ij`` (the design matrix
needs them); ``invariant_backward`` takes ``dE/dB`` and goes through ``dE/da`` (reverse mode),
at a cost independent of the number of invariants per neighbour.

The gradient of invariant k with respect to the expansion is kept per distinct factor,
``gB[k, q, lm] = dB_k / da_{c_kq, lm}`` for the first factor q of each distinct vector (same l
and channel; ``feat_slot``): a compact invariant costs its distinct l, not its order.

The values alone (``invariant_values``: the extrapolation grade, ``descriptor.features``) take
blocks of atoms at a time, each monomial in one loop over the block's expansions: the same
numbers as ``invariant_features`` to the last bit, an order of magnitude faster.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
from numba import njit

from .expansion import channel_density_expansion, expansion_pair_gradient, species_expansion_gradient
from .forces import add_pair_force
from .polynomial import monomial_value_gradient


class InvariantTables(NamedTuple):
    """An invariant descriptor as kernel arguments. ``channel_weights[k, s]``: weight of a
    neighbour of species s in element channel k (the identity for one channel per element). Per
    invariant k: channel ``k' * N + n`` of each factor ``feat_channel[k, q]``, the first factor
    that is the same vector (same l and channel) ``feat_slot[k, q]``, coupling type
    ``feat_type``. Per type t: its entries ``type_entry_start[t]:type_entry_start[t+1]``
    (``entry_lm`` -1 padded, ``entry_coef``) and the l of each factor ``type_pos_l[t, q]`` (-1
    padded)."""

    channel_weights: np.ndarray
    feat_channel: np.ndarray
    feat_slot: np.ndarray
    feat_type: np.ndarray
    type_entry_start: np.ndarray
    entry_lm: np.ndarray
    entry_coef: np.ndarray
    type_pos_l: np.ndarray


@njit(cache=True)
def _invariants(a, tables, values, gB, x, factors, prefix):
    """values[k] = B_k and gB[k, q, lm] = dB_k / da_{c_kq, lm} for the first factor q of each
    distinct vector (zeroed here); :func:`invariant_values` has the values alone. ``x`` (``p_max * n_lm``): the invariant's
    distinct factor vectors, gathered; ``factors`` (one row of ``entry_lm.shape[1]``), ``prefix``:
    scratch."""
    feat_channel, feat_slot, feat_type = tables.feat_channel, tables.feat_slot, tables.feat_type
    type_entry_start, entry_lm, entry_coef, type_pos_l = (tables.type_entry_start, tables.entry_lm, tables.entry_coef,
                                                          tables.type_pos_l)
    n_lm = a.shape[1]
    p_max = entry_lm.shape[1]
    for k in range(feat_type.shape[0]):
        t = feat_type[k]
        for q in range(p_max):
            l = type_pos_l[t, q]
            if l < 0:
                break
            if feat_slot[k, q] != q:
                continue
            c = feat_channel[k, q]
            for lm in range(l * l, (l + 1) * (l + 1)):
                x[q * n_lm + lm] = a[c, lm]
                gB[k, q, lm] = 0.0
        g = gB[k].reshape(-1)
        value = 0.0
        for e in range(type_entry_start[t], type_entry_start[t + 1]):
            for q in range(p_max):
                lm = entry_lm[e, q]
                factors[0, q] = -1 if lm < 0 else feat_slot[k, q] * n_lm + lm
            value += monomial_value_gradient(x, factors, 0, entry_coef[e], g, prefix, False)
        values[k] = value


@njit(cache=True)
def _scratch(N, n_lm, tables):
    """Per-atom buffers: the expansion ``a`` (all element channels), the gradients ``gB``, the
    gathered factors ``x`` and the monomial scratch rows."""
    p_max = tables.entry_lm.shape[1]
    n_channels = tables.channel_weights.shape[0]
    gB = np.zeros((tables.feat_type.shape[0], p_max, n_lm))
    return (np.zeros((n_channels * N, n_lm)), gB, np.zeros(p_max * n_lm), np.zeros((1, p_max), dtype=np.int64),
            np.zeros(p_max + 1))


@njit(cache=True)
def invariant_features(pair_start, species_j, f, df, Y, dY, unit, n_species, tables):
    """Per-atom invariants ``G (n_atoms, n_feat)`` and ``dG (n_pairs, n_feat, 3)`` = dG_i/dr_ij.

    Pairs must be sorted by central atom; atom i owns pairs ``pair_start[i]:pair_start[i+1]``.
    ``f, df`` (n_pairs, N): radial basis and derivative; ``Y, dY``: real harmonics and their
    gradients; ``unit``: r_ij / |r_ij|; ``tables``: :class:`InvariantTables`.
    """
    feat_channel, feat_slot, feat_type = tables.feat_channel, tables.feat_slot, tables.feat_type
    type_pos_l, weights = tables.type_pos_l, tables.channel_weights
    n_atoms = pair_start.shape[0] - 1
    n_pairs = f.shape[0]
    N = f.shape[1]
    n_lm = Y.shape[1]
    n_feat = feat_type.shape[0]
    p_max = type_pos_l.shape[1]
    G = np.zeros((n_atoms, n_feat))
    dG = np.zeros((n_pairs, n_feat, 3))
    a, gB, x, factors, prefix = _scratch(N, n_lm, tables)
    D = np.zeros((N, n_lm, 3))
    for i in range(n_atoms):
        channel_density_expansion(pair_start[i], pair_start[i + 1], species_j, weights, f, Y, a)
        _invariants(a, tables, G[i], gB, x, factors, prefix)
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
                    ch = feat_channel[k, q] // N
                    w = weights[ch, s_j]
                    if w == 0.0:
                        continue
                    n = feat_channel[k, q] - ch * N
                    for lm in range(l * l, (l + 1) * (l + 1)):
                        v = w * gB[k, q, lm]
                        gx += v * D[n, lm, 0]
                        gy += v * D[n, lm, 1]
                        gz += v * D[n, lm, 2]
                dG[p, k, 0] = gx
                dG[p, k, 1] = gy
                dG[p, k, 2] = gz
    return G, dG


#: atoms per block of :func:`invariant_values` (each factor's row over the block is one loop)
VALUES_BLOCK = 128


@njit(cache=True, inline="always")
def _block_monomial(A, channels, k, factors, e, coef, nb, out, scratch):
    """``out[k, b] += coef * prod_q A[channels[k, q], factors[e, q], b]`` for the atoms ``b < nb``
    of a block, over the factors before the first -1 in row e: ``monomial_value`` on each
    atom, its products in the same order (the same result to the last bit), in one loop over the
    block for orders 1 to 4. Takes the tables and row indices (row views cost reference counts
    on every monomial)."""
    p = 0
    while p < factors.shape[1] and factors[e, p] >= 0:
        p += 1
    c0, l0 = channels[k, 0], factors[e, 0]
    if p == 1:
        for b in range(nb):
            out[k, b] += coef * A[c0, l0, b]
        return
    c1, l1 = channels[k, 1], factors[e, 1]
    if p == 2:
        for b in range(nb):
            out[k, b] += coef * A[c0, l0, b] * A[c1, l1, b]
        return
    c2, l2 = channels[k, 2], factors[e, 2]
    if p == 3:
        for b in range(nb):
            out[k, b] += coef * A[c0, l0, b] * A[c1, l1, b] * A[c2, l2, b]
        return
    c3, l3 = channels[k, 3], factors[e, 3]
    if p == 4:
        for b in range(nb):
            out[k, b] += coef * A[c0, l0, b] * A[c1, l1, b] * A[c2, l2, b] * A[c3, l3, b]
        return
    for b in range(nb):
        scratch[b] = coef * A[c0, l0, b] * A[c1, l1, b] * A[c2, l2, b] * A[c3, l3, b]
    for q in range(4, p):
        c, lm = channels[k, q], factors[e, q]
        for b in range(nb):
            scratch[b] *= A[c, lm, b]
    for b in range(nb):
        out[k, b] += scratch[b]


@njit(cache=True)
def invariant_values(pair_start, species_j, f, Y, n_species, tables):
    """Per-atom invariants ``G (n_atoms, n_feat)`` only, equal to those of
    :func:`invariant_features` to the last bit: the same expansion and the same products in the
    same order, for blocks of :data:`VALUES_BLOCK` atoms at a time (``A[c, lm, b]``: the expansion
    of atom b of the block), each monomial of each invariant in one loop over the block."""
    feat_channel, feat_type = tables.feat_channel, tables.feat_type
    type_entry_start, entry_lm, entry_coef = tables.type_entry_start, tables.entry_lm, tables.entry_coef
    weights = tables.channel_weights
    n_atoms = pair_start.shape[0] - 1
    N = f.shape[1]
    n_lm = Y.shape[1]
    n_feat = feat_type.shape[0]
    n_channels = weights.shape[0] * N
    block = max(min(VALUES_BLOCK, n_atoms), 1)
    G = np.zeros((n_atoms, n_feat))
    a = np.zeros((n_channels, n_lm))
    A = np.zeros((n_channels, n_lm, block))
    B = np.zeros((n_feat, block))
    scratch = np.zeros(block)
    for i0 in range(0, n_atoms, block):
        nb = min(block, n_atoms - i0)
        for b in range(nb):
            channel_density_expansion(pair_start[i0 + b], pair_start[i0 + b + 1], species_j, weights, f, Y, a)
            for c in range(n_channels):
                for lm in range(n_lm):
                    A[c, lm, b] = a[c, lm]
        B[:, :] = 0.0
        for k in range(n_feat):
            t = feat_type[k]
            for e in range(type_entry_start[t], type_entry_start[t + 1]):
                _block_monomial(A, feat_channel, k, entry_lm, e, entry_coef[e], nb, B, scratch)
        for b in range(nb):
            for k in range(n_feat):
                G[i0 + b, k] = B[k, b]
    return G


@njit(cache=True)
def invariant_backward(pair_start, pair_j, species_j, vectors, f, df, Y, dY, unit, n_species, tables, dEdG):
    """Forces (n_atoms, 3) and virial (Voigt, eV) from ``dEdG[i, k] = dE/dB_k(i)`` in reverse mode:
    ``dE/da_{c,lm} = sum_k dE/dB_k dB_k/da_{c,lm}``, per neighbour species
    ``sum_k' w[k', s] dE/da_{k' N + n, lm}``, then ``dE/dr_ij = sum_{n,lm} dE/da d(f_n Y_lm)/dr_ij``."""
    feat_channel, feat_slot, feat_type = tables.feat_channel, tables.feat_slot, tables.feat_type
    type_pos_l, weights = tables.type_pos_l, tables.channel_weights
    n_atoms = pair_start.shape[0] - 1
    N = f.shape[1]
    n_lm = Y.shape[1]
    n_feat = feat_type.shape[0]
    p_max = type_pos_l.shape[1]
    forces = np.zeros((n_atoms, 3))
    virial = np.zeros(6)
    a, gB, x, factors, prefix = _scratch(N, n_lm, tables)
    dEda = np.zeros_like(a)
    dEdas = np.zeros((weights.shape[1] * N, n_lm))
    values = np.zeros(n_feat)
    for i in range(n_atoms):
        channel_density_expansion(pair_start[i], pair_start[i + 1], species_j, weights, f, Y, a)
        _invariants(a, tables, values, gB, x, factors, prefix)
        dEda[:, :] = 0.0
        for k in range(n_feat):
            w = dEdG[i, k]
            if w == 0.0:
                continue
            t = feat_type[k]
            for q in range(p_max):
                l = type_pos_l[t, q]
                if l < 0:
                    break
                if feat_slot[k, q] != q:
                    continue
                c = feat_channel[k, q]
                for lm in range(l * l, (l + 1) * (l + 1)):
                    dEda[c, lm] += w * gB[k, q, lm]
        species_expansion_gradient(dEda, weights, N, dEdas)
        for p in range(pair_start[i], pair_start[i + 1]):
            gx, gy, gz = expansion_pair_gradient(p, species_j[p] * N, dEdas, f, df, Y, dY, unit)
            add_pair_force(i, pair_j[p], vectors[p, 0], vectors[p, 1], vectors[p, 2], gx, gy, gz, forces,
                           virial)
    return forces, virial
