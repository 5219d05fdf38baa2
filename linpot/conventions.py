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


# --- Spherical harmonics -------------------------------------------------------------------
#
# Real spherical harmonics Y_lm(r_hat), orthonormal on the unit sphere, WITHOUT the
# Condon-Shortley phase, m = -l..l, stored at index lm = l*l + l + m:
#
#   Y_l0      = K_l0 P_l(cos theta)
#   Y_lm      = sqrt(2) K_lm P_l^m(cos theta) cos(m phi)       (m > 0)
#   Y_l,-m    = sqrt(2) K_lm P_l^m(cos theta) sin(m phi)       (m > 0)
#   K_lm      = sqrt((2l+1)/(4 pi) (l-m)!/(l+m)!),  P_l^m without the (-1)^m phase.
#
# In terms of the complex Y_l^m of scipy.special.sph_harm_y (which carry the phase):
#   Y_lm = sqrt(2) (-1)^m Re Y_l^m,   Y_l,-m = sqrt(2) (-1)^m Im Y_l^m   (m > 0),
# i.e. Y_real = U_l Y_complex with U_l from `real_from_complex_matrix(l)`.
# Under inversion r -> -r, Y_lm -> (-1)^l Y_lm.


def lm_index(l: int, m: int) -> int:
    """Position of (l, m) in arrays of real spherical harmonics: l*l + l + m."""
    return l * l + l + m


def real_from_complex_matrix(l: int) -> np.ndarray:
    """Unitary U (2l+1 x 2l+1, rows m_real = -l..l, columns m_complex = -l..l) with
    ``Y_real = U @ Y_complex`` for the complex harmonics with the Condon-Shortley phase."""
    U = np.zeros((2 * l + 1, 2 * l + 1), dtype=complex)
    s = np.sqrt(0.5)
    U[l, l] = 1.0
    for m in range(1, l + 1):
        sign = (-1) ** m
        # Y_lm = (1/sqrt2) ((-1)^m Y_l^m + Y_l^-m)
        U[l + m, l + m] = sign * s
        U[l + m, l - m] = s
        # Y_l,-m = (-i/sqrt2) ((-1)^m Y_l^m - Y_l^-m)
        U[l - m, l + m] = -1j * sign * s
        U[l - m, l - m] = 1j * s
    return U
