"""Angular Fourier series (Takahashi, Seko, Tanaka, J. Chem. Phys. 148, 234106 (2018)) in time
linear in the number of neighbours.

``d_k(i) = sum_{j: s(j) = s1} sum_{k: s(k) = s2} f_n1(r_ij) f_n2(r_ik) cos(l theta_jik)`` (all j, k,
including j = k) for feature k = (s1, n1, s2, n2, l). With ``cos(l x) = T_l(cos x) =
sum_L c_lL P_L(cos x)`` and the addition theorem
``P_L(r_j . r_k) = 4 pi / (2L + 1) sum_m Y_Lm(r_j) Y_Lm(r_k)``:

    d_k = sum_L W[l, L] sum_m a[c1, Lm] a[c2, Lm],    W[l, L] = c_lL 4 pi / (2L + 1),

with ``a[c, lm] = sum_j f_n(r_ij) Y_lm(r_ij / r_ij)`` over neighbours of channel ``c = s N + n``.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
from numba import njit

from .expansion import density_expansion, expansion_pair_gradient
from .forces import add_pair_force


class AngularFourierTables(NamedTuple):
    """An angular Fourier series descriptor as kernel arguments: feature k couples channels
    ``c1[k]`` and ``c2[k]`` at multiple ``l[k]``, through ``W[l, L]`` (see the module), up to ``l_max``."""

    c1: np.ndarray
    c2: np.ndarray
    l: np.ndarray
    W: np.ndarray
    l_max: int


@njit(cache=True)
def _feature_values_and_gradients(a, tables, values, grad, with_gradient):
    """values[k] and, if asked, grad[k, c, lm] = d values[k] / d a[c, lm] (dense in c and lm)."""
    c1, c2, l, W = tables.c1, tables.c2, tables.l, tables.W
    for k in range(c1.shape[0]):
        v = 0.0
        for L in range(l[k] + 1):
            w = W[l[k], L]
            if w == 0.0:
                continue
            for lm in range(L * L, (L + 1) * (L + 1)):
                v += w * a[c1[k], lm] * a[c2[k], lm]
                if with_gradient:
                    grad[k, c1[k], lm] += w * a[c2[k], lm]
                    grad[k, c2[k], lm] += w * a[c1[k], lm]
        values[k] = v


@njit(cache=True)
def angular_fourier_features(pair_start, species_j, f, df, Y, dY, unit, n_species, tables):
    """Features ``G (n_atoms, n_feat)`` and ``dG (n_pairs, n_feat, 3)`` = dG_i / dr_ij
    (``tables``: :class:`AngularFourierTables`)."""
    n_atoms = pair_start.shape[0] - 1
    N = f.shape[1]
    n_lm = (tables.l_max + 1) * (tables.l_max + 1)
    n_feat = tables.c1.shape[0]
    G = np.zeros((n_atoms, n_feat))
    dG = np.zeros((f.shape[0], n_feat, 3))
    a = np.zeros((n_species * N, n_lm))
    grad = np.zeros((n_feat, n_species * N, n_lm))
    for i in range(n_atoms):
        p0 = pair_start[i]
        p1 = pair_start[i + 1]
        density_expansion(p0, p1, species_j, f, Y, a)
        grad[:, :, :] = 0.0
        _feature_values_and_gradients(a, tables, G[i], grad, True)
        for p in range(p0, p1):
            base = species_j[p] * N
            for k in range(n_feat):
                gx, gy, gz = expansion_pair_gradient(p, base, grad[k], f, df, Y, dY, unit)
                dG[p, k, 0] = gx
                dG[p, k, 1] = gy
                dG[p, k, 2] = gz
    return G, dG


@njit(cache=True)
def angular_fourier_values(pair_start, species_j, f, Y, n_species, tables):
    """Features ``G (n_atoms, n_feat)`` only."""
    n_atoms = pair_start.shape[0] - 1
    N = f.shape[1]
    n_lm = (tables.l_max + 1) * (tables.l_max + 1)
    G = np.zeros((n_atoms, tables.c1.shape[0]))
    a = np.zeros((n_species * N, n_lm))
    grad = np.zeros((1, 1, 1))
    for i in range(n_atoms):
        density_expansion(pair_start[i], pair_start[i + 1], species_j, f, Y, a)
        _feature_values_and_gradients(a, tables, G[i], grad, False)
    return G


@njit(cache=True)
def angular_fourier_backward(pair_start, pair_j, species_j, vectors, f, df, Y, dY, unit, n_species, tables, dEdG):
    """Forces and virial (Voigt, eV) from ``dEdG``: ``dE/da`` first, then one pass over neighbours."""
    c1, c2, l, W = tables.c1, tables.c2, tables.l, tables.W
    n_atoms = pair_start.shape[0] - 1
    N = f.shape[1]
    n_lm = (tables.l_max + 1) * (tables.l_max + 1)
    forces = np.zeros((n_atoms, 3))
    virial = np.zeros(6)
    a = np.zeros((n_species * N, n_lm))
    dEda = np.zeros((n_species * N, n_lm))
    for i in range(n_atoms):
        p0 = pair_start[i]
        p1 = pair_start[i + 1]
        density_expansion(p0, p1, species_j, f, Y, a)
        dEda[:, :] = 0.0
        for k in range(c1.shape[0]):
            w0 = dEdG[i, k]
            if w0 == 0.0:
                continue
            for L in range(l[k] + 1):
                w = w0 * W[l[k], L]
                for lm in range(L * L, (L + 1) * (L + 1)):
                    dEda[c1[k], lm] += w * a[c2[k], lm]
                    dEda[c2[k], lm] += w * a[c1[k], lm]
        for p in range(p0, p1):
            base = species_j[p] * N
            gx, gy, gz = expansion_pair_gradient(p, base, dEda, f, df, Y, dY, unit)
            add_pair_force(i, pair_j[p], vectors[p, 0], vectors[p, 1], vectors[p, 2], gx, gy, gz, forces,
                           virial)
    return forces, virial
