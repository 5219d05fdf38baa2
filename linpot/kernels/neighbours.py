"""Cell-list neighbour search over periodic images (any cell shape, cells smaller than the cutoff).

Atoms are wrapped into the cell along periodic directions, copied to every periodic image within
the cutoff of the cell (``n_d = ceil(cutoff / plane spacing_d)`` images each way, so a cell
smaller than the cutoff is handled), and searched with a cell list, in time linear in the number
of atoms. Pairs are directed: every pair appears as (i, j) and (j, i). The vector is
``r_ij = r_j + S.cell - r_i`` (Å), the convention of :mod:`linpot.conventions`.
"""

from __future__ import annotations

import numpy as np
from ase.geometry import complete_cell
from numba import njit

_MAX_BINS = 4_000_000


def neighbour_pairs(positions, cell, pbc, cutoff: float):
    """All directed pairs (i, j) with ``0 < |r_ij| < cutoff``, sorted by ``i``: arrays ``i``,
    ``j``, ``vectors`` (r_ij, Å), ``distances`` (Å) and ``pair_start`` (atom i's pairs are
    ``pair_start[i]:pair_start[i + 1]``, length n_atoms + 1).

    ``cell`` may be all zero in non-periodic directions (a molecule or cluster); atoms may lie
    outside the cell there.
    """
    positions = np.ascontiguousarray(positions, dtype=float)
    pbc = np.asarray(pbc, dtype=bool)
    cutoff = float(cutoff)
    n_atoms = len(positions)
    cell = complete_cell(np.asarray(cell, dtype=float))
    if pbc.any():
        frac = np.linalg.solve(cell.T, positions.T).T
        frac[:, pbc] -= np.floor(frac[:, pbc])
        positions = np.ascontiguousarray(frac @ cell)
        # Distance between lattice planes d = 1/|b_d| (b the reciprocal vectors).
        plane_spacing = 1.0 / np.linalg.norm(np.linalg.inv(cell).T, axis=1)
        n_repeat = np.where(pbc, np.ceil(cutoff / plane_spacing), 0).astype(np.int64)
    else:
        n_repeat = np.zeros(3, dtype=np.int64)
    if n_atoms == 0:
        empty = np.zeros(0, dtype=np.int64)
        return empty, empty.copy(), np.zeros((0, 3)), np.zeros(0), np.zeros(1, dtype=np.int64)
    lower = positions.min(axis=0) - cutoff
    upper = positions.max(axis=0) + cutoff
    images, owner = periodic_images(positions, cell, n_repeat, lower, upper)
    extent = upper - lower
    bin_size = cutoff
    while np.prod(np.maximum(np.floor(extent / bin_size), 1)) > _MAX_BINS:
        bin_size *= 2.0
    n_bins = np.maximum(np.floor(extent / bin_size), 1).astype(np.int64)
    pi, pj, vec = cell_list_pairs(images, owner, n_atoms, cutoff, lower, bin_size, n_bins)
    distances = np.sqrt(np.einsum("pk,pk->p", vec, vec))
    pair_start = np.searchsorted(pi, np.arange(n_atoms + 1)).astype(np.int64)
    return pi, pj, vec, distances, pair_start


@njit(cache=True)
def periodic_images(positions, cell, n_repeat, lower, upper):
    """Copies ``r_a + s . cell`` of every atom for shifts ``|s_d| <= n_repeat[d]`` that fall in the box
    ``[lower, upper]``. Returns image positions and the atom index of each image; the unshifted
    copies come first, in atom order."""
    n_atoms = positions.shape[0]
    n_total = (2 * n_repeat[0] + 1) * (2 * n_repeat[1] + 1) * (2 * n_repeat[2] + 1) * n_atoms
    out = np.empty((n_total, 3))
    owner = np.empty(n_total, dtype=np.int64)
    for a in range(n_atoms):
        out[a] = positions[a]
        owner[a] = a
    count = n_atoms
    for s0 in range(-n_repeat[0], n_repeat[0] + 1):
        for s1 in range(-n_repeat[1], n_repeat[1] + 1):
            for s2 in range(-n_repeat[2], n_repeat[2] + 1):
                if s0 == 0 and s1 == 0 and s2 == 0:
                    continue
                sx = s0 * cell[0, 0] + s1 * cell[1, 0] + s2 * cell[2, 0]
                sy = s0 * cell[0, 1] + s1 * cell[1, 1] + s2 * cell[2, 1]
                sz = s0 * cell[0, 2] + s1 * cell[1, 2] + s2 * cell[2, 2]
                for a in range(n_atoms):
                    x = positions[a, 0] + sx
                    y = positions[a, 1] + sy
                    z = positions[a, 2] + sz
                    if x < lower[0] or x > upper[0] or y < lower[1] or y > upper[1] or z < lower[2] or z > upper[2]:
                        continue
                    out[count, 0] = x
                    out[count, 1] = y
                    out[count, 2] = z
                    owner[count] = a
                    count += 1
    return out[:count], owner[:count]


@njit(cache=True)
def cell_list_pairs(images, owner, n_atoms, cutoff, lower, bin_size, n_bins):
    """Directed pairs (i, j, r_ij) with ``0 < |r_ij| < cutoff`` between the unshifted atoms
    ``0..n_atoms-1`` (the first images) and all images, by binning images into cubes of side
    ``bin_size >= cutoff``. Pairs come sorted by i."""
    n_img = images.shape[0]
    nb0, nb1, nb2 = n_bins[0], n_bins[1], n_bins[2]
    bin_of = np.empty(n_img, dtype=np.int64)
    counts = np.zeros(nb0 * nb1 * nb2 + 1, dtype=np.int64)
    for m in range(n_img):
        b0 = min(max(int((images[m, 0] - lower[0]) / bin_size), 0), nb0 - 1)
        b1 = min(max(int((images[m, 1] - lower[1]) / bin_size), 0), nb1 - 1)
        b2 = min(max(int((images[m, 2] - lower[2]) / bin_size), 0), nb2 - 1)
        b = (b0 * nb1 + b1) * nb2 + b2
        bin_of[m] = b
        counts[b + 1] += 1
    for b in range(nb0 * nb1 * nb2):
        counts[b + 1] += counts[b]
    order = np.empty(n_img, dtype=np.int64)
    fill = counts[:-1].copy()
    for m in range(n_img):
        order[fill[bin_of[m]]] = m
        fill[bin_of[m]] += 1
    n_pairs = _scan_bins(images, owner, n_atoms, cutoff, bin_of, counts, order, n_bins, False,
                         np.empty(0, dtype=np.int64), np.empty(0, dtype=np.int64), np.empty((0, 3)))
    pi = np.empty(n_pairs, dtype=np.int64)
    pj = np.empty(n_pairs, dtype=np.int64)
    vec = np.empty((n_pairs, 3))
    _scan_bins(images, owner, n_atoms, cutoff, bin_of, counts, order, n_bins, True, pi, pj, vec)
    return pi, pj, vec


@njit(cache=True)
def _scan_bins(images, owner, n_atoms, cutoff, bin_of, counts, order, n_bins, store, pi, pj, vec):
    """Count (``store`` False) or write the pairs found in the 27 bins around each central atom."""
    nb0, nb1, nb2 = n_bins[0], n_bins[1], n_bins[2]
    cut2 = cutoff * cutoff
    n_pairs = 0
    for i in range(n_atoms):
        b = bin_of[i]
        c0 = b // (nb1 * nb2)
        c1 = (b // nb2) % nb1
        c2 = b % nb2
        for d0 in range(max(c0 - 1, 0), min(c0 + 2, nb0)):
            for d1 in range(max(c1 - 1, 0), min(c1 + 2, nb1)):
                for d2 in range(max(c2 - 1, 0), min(c2 + 2, nb2)):
                    nb = (d0 * nb1 + d1) * nb2 + d2
                    for q in range(counts[nb], counts[nb + 1]):
                        m = order[q]
                        if m == i:
                            continue
                        dx = images[m, 0] - images[i, 0]
                        dy = images[m, 1] - images[i, 1]
                        dz = images[m, 2] - images[i, 2]
                        if dx * dx + dy * dy + dz * dz >= cut2:
                            continue
                        if store:
                            pi[n_pairs] = i
                            pj[n_pairs] = owner[m]
                            vec[n_pairs, 0] = dx
                            vec[n_pairs, 1] = dy
                            vec[n_pairs, 2] = dz
                        n_pairs += 1
    return n_pairs
