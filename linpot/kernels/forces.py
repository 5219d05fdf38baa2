"""Forces and virial from the per-atom energy gradient, by one pass over neighbour pairs."""

from __future__ import annotations

import numpy as np
from numba import njit


@njit(cache=True)
def largest_neighbourhood(pair_start):
    """The most pairs any atom owns (``pair_start[i]:pair_start[i+1]``): the size of per-atom buffers."""
    out = 0
    for i in range(pair_start.shape[0] - 1):
        out = max(out, pair_start[i + 1] - pair_start[i])
    return out


@njit(cache=True, inline="always")
def add_pair_force(i, j, rx, ry, rz, gx, gy, gz, forces, virial):
    """Add the pair term ``g = dE/dr_ij`` (vector ``r_ij``): ``F_j -= g``, ``F_i += g``, and
    ``sym(r_ij (x) g)`` to the virial (Voigt xx yy zz yz xz xy, eV)."""
    forces[j, 0] -= gx
    forces[j, 1] -= gy
    forces[j, 2] -= gz
    forces[i, 0] += gx
    forces[i, 1] += gy
    forces[i, 2] += gz
    virial[0] += rx * gx
    virial[1] += ry * gy
    virial[2] += rz * gz
    virial[3] += 0.5 * (ry * gz + rz * gy)
    virial[4] += 0.5 * (rx * gz + rz * gx)
    virial[5] += 0.5 * (rx * gy + ry * gx)


@njit(cache=True)
def contract_pair_gradient(pair_i, pair_j, vectors, dEdG, dG, n_atoms):
    """Chain rule ``dE/dr_ij = sum_k dE/dG_i[k] dG_i[k]/dr_ij`` over pairs.

    Returns forces ``F_a = -dE/dr_a`` (``n_atoms, 3``; eV/Å) and the virial
    ``W = sum_p r_ij (x) dE/dr_ij`` in Voigt order (eV); stress = W / V.
    """
    n_desc = dG.shape[1]
    forces = np.zeros((n_atoms, 3))
    virial = np.zeros(6)
    for p in range(pair_i.shape[0]):
        i = pair_i[p]
        j = pair_j[p]
        gx = 0.0
        gy = 0.0
        gz = 0.0
        for k in range(n_desc):
            w = dEdG[i, k]
            if w == 0.0:
                continue
            gx += w * dG[p, k, 0]
            gy += w * dG[p, k, 1]
            gz += w * dG[p, k, 2]
        add_pair_force(i, j, vectors[p, 0], vectors[p, 1], vectors[p, 2], gx, gy, gz, forces, virial)
    return forces, virial
