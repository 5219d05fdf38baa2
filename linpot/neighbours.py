"""Neighbour lists for periodic (any cell shape, cells smaller than the cutoff), partly periodic
and non-periodic structures.

Atoms are wrapped into the cell along periodic directions, copied to every periodic image within
the cutoff of the cell (``n_d = ceil(cutoff / plane spacing_d)`` images each way, so a cell
smaller than the cutoff is handled), and searched with a cell list (numba), in time linear in
the number of atoms. Pairs are directed: every pair appears as (i, j) and (j, i). The vector is
``r_ij = r_j + S.cell - r_i`` (Å), the convention of :mod:`linpot.conventions`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from ase.geometry import complete_cell

from .kernels.neighbours import cell_list_pairs, periodic_images

_MAX_BINS = 4_000_000


@dataclass
class NeighbourList:
    """Directed pairs: central atom ``i``, neighbour ``j``, vector ``r_ij`` (Å), distance (Å)."""

    i: np.ndarray
    j: np.ndarray
    vectors: np.ndarray
    distances: np.ndarray

    def __len__(self) -> int:
        return len(self.i)


def neighbour_list(positions, cell, pbc, cutoff: float) -> NeighbourList:
    """All directed pairs (i, j) with ``0 < |r_ij| < cutoff``, sorted by ``i``.

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
        return NeighbourList(empty, empty.copy(), np.zeros((0, 3)), np.zeros(0))
    lower = positions.min(axis=0) - cutoff
    upper = positions.max(axis=0) + cutoff
    images, owner = periodic_images(positions, cell, n_repeat, lower, upper)
    extent = upper - lower
    bin_size = cutoff
    while np.prod(np.maximum(np.floor(extent / bin_size), 1)) > _MAX_BINS:
        bin_size *= 2.0
    n_bins = np.maximum(np.floor(extent / bin_size), 1).astype(np.int64)
    pi, pj, vec = cell_list_pairs(images, owner, n_atoms, cutoff, lower, bin_size, n_bins)
    return NeighbourList(i=pi, j=pj, vectors=vec, distances=np.sqrt(np.einsum("pk,pk->p", vec, vec)))
