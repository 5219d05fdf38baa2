"""Neighbour lists for periodic (any cell shape, cells smaller than the cutoff), partly periodic
and non-periodic structures: the cell-list search of :func:`linpot.kernels.neighbours.neighbour_pairs`
wrapped in a :class:`NeighbourList`.

Pairs are directed: every pair appears as (i, j) and (j, i), sorted by ``i``. The vector is
``r_ij = r_j + S.cell - r_i`` (Å), the convention of :mod:`linpot.conventions`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .kernels.neighbours import neighbour_pairs


@dataclass
class NeighbourList:
    """Directed pairs: central atom ``i``, neighbour ``j``, vector ``r_ij`` (Å), distance (Å);
    atom ``a``'s pairs are ``pair_start[a]:pair_start[a + 1]``."""

    i: np.ndarray
    j: np.ndarray
    vectors: np.ndarray
    distances: np.ndarray
    pair_start: np.ndarray

    def __len__(self) -> int:
        return len(self.i)


def neighbour_list(positions, cell, pbc, cutoff: float) -> NeighbourList:
    """All directed pairs (i, j) with ``0 < |r_ij| < cutoff``, sorted by ``i``.

    ``cell`` may be all zero in non-periodic directions (a molecule or cluster); atoms may lie
    outside the cell there.
    """
    return NeighbourList(*neighbour_pairs(positions, cell, pbc, cutoff))
