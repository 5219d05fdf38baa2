"""Forces and virial from the per-atom energy gradient, by one pass over neighbour pairs."""

from __future__ import annotations

import numpy as np
from numba import njit


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
        forces[j, 0] -= gx
        forces[j, 1] -= gy
        forces[j, 2] -= gz
        forces[i, 0] += gx
        forces[i, 1] += gy
        forces[i, 2] += gz
        rx = vectors[p, 0]
        ry = vectors[p, 1]
        rz = vectors[p, 2]
        virial[0] += rx * gx
        virial[1] += ry * gy
        virial[2] += rz * gz
        virial[3] += 0.5 * (ry * gz + rz * gy)
        virial[4] += 0.5 * (rx * gz + rz * gx)
        virial[5] += 0.5 * (rx * gy + ry * gx)
    return forces, virial
