"""Pair (radial) descriptor: ``G_i[s, n] = sum_{j in N(i), species(j)=s} f_n(r_ij)``."""

from __future__ import annotations

import numpy as np
from numba import njit


@njit(cache=True)
def pair_density(pair_i, pair_species_j, vectors, distances, f, df, n_atoms, n_species):
    """Per-atom radial densities and their derivatives with respect to each pair vector.

    Returns ``G`` of shape ``(n_atoms, n_species * n_basis)`` and ``dG`` of shape
    ``(n_pairs, n_species * n_basis, 3)`` where ``dG[p, k] = dG_i[k] / d r_ij`` for pair
    ``p = (i, j)``: ``df_n/dr * r_ij / |r_ij|`` in the block of the neighbour's species.
    """
    n_pairs = pair_i.shape[0]
    n_basis = f.shape[1]
    n_desc = n_species * n_basis
    G = np.zeros((n_atoms, n_desc))
    dG = np.zeros((n_pairs, n_desc, 3))
    for p in range(n_pairs):
        i = pair_i[p]
        base = pair_species_j[p] * n_basis
        inv_r = 1.0 / distances[p]
        for n in range(n_basis):
            G[i, base + n] += f[p, n]
            g = df[p, n] * inv_r
            dG[p, base + n, 0] = g * vectors[p, 0]
            dG[p, base + n, 1] = g * vectors[p, 1]
            dG[p, base + n, 2] = g * vectors[p, 2]
    return G, dG
