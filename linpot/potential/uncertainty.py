"""Predictive standard deviations of a Bayesian potential (``linpot fit --method bayes``).

The coefficients ``c`` (flattened, ``n`` of them) have a Gaussian posterior with covariance
``Sigma`` (n x n, the potential's ``uncertainty["covariance"]``); an atom's energy is
``c · b_i``, ``b_i`` its per-atom design row (:meth:`model.atomic_rows`), and the energy per atom
of a structure of ``N`` atoms is ``c · x``, ``x = (1/N) sum_i b_i``. Their predictive standard
deviations are

    atomic_energy_std_i = sqrt(b_i Sigma b_i)                       (eV),
    energy_std          = sqrt(x Sigma x + sigma_E^2)                (eV/atom),

``sigma_E^2`` the fitted noise variance of the energy labels per atom ((eV/atom)^2; 0 where the
fit had no energies). Negative round-off of the quadratic forms is clipped to 0.

This module imports only numpy: ``linpot export`` copies it into standalone modules.
"""

from __future__ import annotations

import numpy as np


def predictive_std(rows, covariance, noise_variance) -> dict:
    """``{"atomic_energy_std": (n_atoms,) eV, "energy_std": eV/atom}`` of the per-atom design rows
    ``rows`` (n_atoms, n) under the posterior ``covariance`` (n, n), with the energy label noise
    variance ``noise_variance`` ((eV/atom)^2; None counts as 0)."""
    atomic_var = np.einsum("ij,jk,ik->i", rows, covariance, rows)
    x = rows.mean(axis=0)
    noise = noise_variance or 0.0
    return {"atomic_energy_std": np.sqrt(np.clip(atomic_var, 0.0, None)),
            "energy_std": float(np.sqrt(max(float(x @ covariance @ x), 0.0) + noise))}


def upper_triangle(covariance) -> np.ndarray:
    """The upper triangle of a symmetric matrix, row by row: how potential files and exported
    modules store the covariance."""
    covariance = np.asarray(covariance)
    return covariance[np.triu_indices(len(covariance))]


def symmetric_from_upper(upper, n: int) -> np.ndarray:
    """The (n, n) symmetric matrix of its :func:`upper_triangle`."""
    matrix = np.zeros((n, n))
    matrix[np.triu_indices(n)] = upper
    return matrix + np.triu(matrix, 1).T
