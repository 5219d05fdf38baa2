"""Radial basis functions ``f_n(r)`` with a smooth cosine cutoff, and their derivatives ``df_n/dr``.

The cutoff function is ``fc(r) = (cos(pi r / r_cut) + 1) / 2`` for ``r < r_cut`` and 0 beyond;
``fc`` and ``dfc/dr`` both vanish at ``r_cut``, so every basis function goes to zero smoothly.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np
from numba import njit


@njit(cache=True)
def cosine_cutoff(r, r_cut):
    """Return ``(fc, dfc/dr)`` at distance ``r`` (Å): the cutoff of the radial bases and of the
    symmetry functions."""
    if r >= r_cut:
        return 0.0, 0.0
    # r * (pi / r_cut), not (pi * r) / r_cut: the shipped symmetry-function potentials amplify the
    # last bit of fc by 1e7 in their forces, so the cutoff keeps the arithmetic they were fitted with.
    k = math.pi / r_cut
    return 0.5 * (math.cos(r * k) + 1.0), -0.5 * k * math.sin(r * k)


@njit(cache=True)
def gaussian_radial_basis(r, centres, width, r_cut):
    """``f_n(r) = exp(-(r - mu_n)^2 / (2 w^2)) fc(r)`` for each centre ``mu_n`` (Å).

    Returns ``(f, df)``, both of shape ``(len(r), len(centres))``.
    """
    n_r = r.shape[0]
    n_b = centres.shape[0]
    f = np.zeros((n_r, n_b))
    df = np.zeros((n_r, n_b))
    inv_w2 = 1.0 / (width * width)
    for p in range(n_r):
        fc, dfc = cosine_cutoff(r[p], r_cut)
        if fc == 0.0 and dfc == 0.0:
            continue
        for n in range(n_b):
            d = r[p] - centres[n]
            g = math.exp(-0.5 * d * d * inv_w2)
            f[p, n] = g * fc
            df[p, n] = g * (dfc - d * inv_w2 * fc)
    return f, df


@njit(cache=True)
def chebyshev_radial_basis(r, n_basis, r_min, r_cut):
    """``f_n(r) = T_n(x) fc(r)``, ``x = 2 (r - r_min) / (r_cut - r_min) - 1``, n = 0 .. n_basis-1.

    ``T_n`` are Chebyshev polynomials of the first kind (orthogonal on [-1, 1] with weight
    ``(1 - x^2)^(-1/2)``). Returns ``(f, df)`` of shape ``(len(r), n_basis)``.
    """
    n_r = r.shape[0]
    f = np.zeros((n_r, n_basis))
    df = np.zeros((n_r, n_basis))
    scale = 2.0 / (r_cut - r_min)
    t = np.zeros(n_basis)
    dt = np.zeros(n_basis)
    for p in range(n_r):
        fc, dfc = cosine_cutoff(r[p], r_cut)
        if fc == 0.0 and dfc == 0.0:
            continue
        x = scale * (r[p] - r_min) - 1.0
        # T_{n+1} = 2x T_n - T_{n-1};  T'_{n+1} = 2 T_n + 2x T'_n - T'_{n-1}  (d/dx)
        t[0] = 1.0
        dt[0] = 0.0
        if n_basis > 1:
            t[1] = x
            dt[1] = 1.0
        for n in range(1, n_basis - 1):
            t[n + 1] = 2.0 * x * t[n] - t[n - 1]
            dt[n + 1] = 2.0 * t[n] + 2.0 * x * dt[n] - dt[n - 1]
        for n in range(n_basis):
            f[p, n] = t[n] * fc
            df[p, n] = dt[n] * scale * fc + t[n] * dfc
    return f, df


#: Radial basis kinds as integers, for compiled tables and kernels.
RADIAL_CHEBYSHEV = 0
RADIAL_GAUSSIAN = 1


class RadialTables(NamedTuple):
    """A radial basis as kernel arguments: ``radial_kind`` (:data:`RADIAL_CHEBYSHEV` or
    :data:`RADIAL_GAUSSIAN`), ``n_basis``, ``r_min`` (Å: where the Chebyshev interval starts), ``centres`` and ``width`` (Å,
    Gaussian; empty and 0 otherwise), ``r_cut`` (Å)."""

    radial_kind: int
    n_basis: int
    r_min: float
    centres: np.ndarray
    width: float
    r_cut: float


@njit(cache=True)
def radial_basis_of_kind(r, radial):
    """``(f, df)`` at distances ``r`` of the basis described by ``radial`` (:class:`RadialTables`)."""
    if radial.radial_kind == RADIAL_GAUSSIAN:
        return gaussian_radial_basis(r, radial.centres, radial.width, radial.r_cut)
    return chebyshev_radial_basis(r, radial.n_basis, radial.r_min, radial.r_cut)
