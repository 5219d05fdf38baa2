"""Units and sign conventions used everywhere in linpot, written down once.

* Lengths in Å, energies in eV, forces in eV/Å (ASE units).
* Stress in eV/Å^3, Voigt order ``[xx, yy, zz, yz, xz, xy]``, **positive = tensile**:
  ``sigma = (1/V) dE/d(epsilon)`` for a homogeneous strain ``epsilon`` of the cell, as in ASE.
  1 GPa = ``ase.units.GPa`` eV/Å^3.
* The pair vector is ``r_ij = r_j - r_i`` (from the central atom ``i`` to its neighbour ``j``),
  including the periodic image shift of ``j``.
* Energy errors are reported per atom in meV/atom, force errors in eV/Å, stress errors in GPa.
"""

from __future__ import annotations

import numpy as np
from ase import units

#: Voigt index pairs (a, b) in linpot/ASE order xx, yy, zz, yz, xz, xy.
VOIGT_PAIRS: tuple[tuple[int, int], ...] = ((0, 0), (1, 1), (2, 2), (1, 2), (0, 2), (0, 1))

#: eV/Å^3 per GPa.
GPA = units.GPa

#: The smallest interatomic distance (Å) accepted in input data.
MIN_INTERATOMIC_DISTANCE = 0.1


def voigt_from_matrix(matrix: np.ndarray) -> np.ndarray:
    """Return the 6-vector ``[xx, yy, zz, yz, xz, xy]`` of a (symmetric) 3x3 tensor."""
    m = np.asarray(matrix, dtype=float)
    return np.array([m[a, b] for a, b in VOIGT_PAIRS])


def matrix_from_voigt(voigt: np.ndarray) -> np.ndarray:
    """Return the symmetric 3x3 tensor of a Voigt 6-vector ``[xx, yy, zz, yz, xz, xy]``."""
    v = np.asarray(voigt, dtype=float)
    m = np.empty((3, 3))
    for k, (a, b) in enumerate(VOIGT_PAIRS):
        m[a, b] = m[b, a] = v[k]
    return m
