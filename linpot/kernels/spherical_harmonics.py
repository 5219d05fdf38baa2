"""Real spherical harmonics Y_lm(r/|r|) and their gradients with respect to r.

Convention (orthonormal, no Condon-Shortley phase, index l*l + l + m): see
:mod:`linpot.conventions`. Evaluated as polynomials of the unit vector u = (x, y, z):
``Y_lm = c_lm Pbar_l^m(z) C_m(x, y)`` with ``Pbar_l^m = P_l^m / (1 - z^2)^(m/2)`` (a polynomial in z)
and ``C_m + i S_m = (x + i y)^m``; the gradient with respect to r is the gradient with
respect to u projected on the tangent plane, divided by |r|.

One recurrence serves both uses: :func:`real_spherical_harmonics_into` with ``dY=None`` computes
the values alone (numba compiles that case separately and drops every gradient operation), which
is what :func:`real_spherical_harmonics_values` does for the paths that need no derivatives.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit


@njit(cache=True)
def _normalisation(l_max):
    """K[l, m] * (sqrt(2) for m > 0) of the real harmonics."""
    K = np.zeros((l_max + 1, l_max + 1))
    for l in range(l_max + 1):
        for m in range(l + 1):
            ratio = 1.0
            for k in range(l - m + 1, l + m + 1):  # (l-m)!/(l+m)!
                ratio /= k
            K[l, m] = math.sqrt((2 * l + 1) / (4.0 * math.pi) * ratio)
            if m > 0:
                K[l, m] *= math.sqrt(2.0)
    return K


@njit(cache=True)
def real_spherical_harmonics(vectors, l_max):
    """``Y[p, lm]`` and ``dY[p, lm, :] = d Y_lm(r_p/|r_p|) / d r_p`` (1/Å) for each vector r_p."""
    n = vectors.shape[0]
    n_lm = (l_max + 1) * (l_max + 1)
    Y = np.zeros((n, n_lm))
    dY = np.zeros((n, n_lm, 3))
    real_spherical_harmonics_into(vectors, l_max, _normalisation(l_max), Y, dY)
    return Y, dY


@njit(cache=True)
def real_spherical_harmonics_values(vectors, l_max):
    """``Y[p, lm]`` of :func:`real_spherical_harmonics` alone (the same values, bit for bit), without
    the gradients' work."""
    Y = np.zeros((vectors.shape[0], (l_max + 1) * (l_max + 1)))
    real_spherical_harmonics_into(vectors, l_max, _normalisation(l_max), Y, None)
    return Y


@njit(cache=True)
def real_spherical_harmonics_into(vectors, l_max, K, Y, dY):
    """:func:`real_spherical_harmonics` written into ``Y[:n]`` and ``dY[:n]`` (``n = len(vectors)``),
    with ``K = _normalisation(l_max)``: for callers that reuse buffers (allocating arrays of a
    few hundred kB per atom costs more than computing them). ``dY=None``: the values alone (each
    ``dY is not None`` test below is resolved at compile time from dY's type, so neither
    specialisation carries a branch or the other's work)."""
    n = vectors.shape[0]
    P = np.zeros((l_max + 1, l_max + 1))
    dP = np.zeros((l_max + 1, l_max + 1))
    C = np.zeros(l_max + 1)
    S = np.zeros(l_max + 1)
    # reciprocals of the recursion's divisors (divisions are the slow part of this loop)
    inv = np.zeros(l_max + 2)
    for k in range(1, l_max + 2):
        inv[k] = 1.0 / k
    for p in range(n):
        r = math.sqrt(vectors[p, 0] ** 2 + vectors[p, 1] ** 2 + vectors[p, 2] ** 2)
        inv_r = 1.0 / r
        x = vectors[p, 0] * inv_r
        y = vectors[p, 1] * inv_r
        z = vectors[p, 2] * inv_r
        # Pbar_l^m(z) and d/dz, by the upward recursion in l at fixed m.
        for m in range(l_max + 1):
            pmm = 1.0
            for k in range(1, m + 1):
                pmm *= 2 * k - 1
            P[m, m] = pmm
            if dY is not None:
                dP[m, m] = 0.0
            if m + 1 <= l_max:
                P[m + 1, m] = (2 * m + 1) * z * pmm
                if dY is not None:
                    dP[m + 1, m] = (2 * m + 1) * pmm
            for l in range(m + 2, l_max + 1):
                P[l, m] = ((2 * l - 1) * z * P[l - 1, m] - (l + m - 1) * P[l - 2, m]) * inv[l - m]
                if dY is not None:
                    dP[l, m] = ((2 * l - 1) * (P[l - 1, m] + z * dP[l - 1, m]) - (l + m - 1) * dP[l - 2, m]) * inv[l - m]
        C[0] = 1.0
        S[0] = 0.0
        for m in range(1, l_max + 1):
            C[m] = x * C[m - 1] - y * S[m - 1]
            S[m] = x * S[m - 1] + y * C[m - 1]
        for l in range(l_max + 1):
            base = l * l + l
            for m in range(l + 1):
                k = K[l, m]
                kp = k * P[l, m]
                if m == 0:
                    Y[p, base] = kp
                else:
                    Y[p, base + m] = kp * C[m]
                    Y[p, base - m] = kp * S[m]
                if dY is None:
                    continue
                # gradient with respect to (x, y, z) taken as independent variables, then projected
                if m == 0:
                    gcx = 0.0
                    gcy = 0.0
                    gcz = k * dP[l, 0]
                else:
                    gcx = kp * m * C[m - 1]
                    gcy = -kp * m * S[m - 1]
                    gcz = k * dP[l, m] * C[m]
                    gsx = kp * m * S[m - 1]
                    gsy = kp * m * C[m - 1]
                    gsz = k * dP[l, m] * S[m]
                    radial = x * gsx + y * gsy + z * gsz
                    dY[p, base - m, 0] = (gsx - x * radial) * inv_r
                    dY[p, base - m, 1] = (gsy - y * radial) * inv_r
                    dY[p, base - m, 2] = (gsz - z * radial) * inv_r
                radial = x * gcx + y * gcy + z * gcz
                dY[p, base + m, 0] = (gcx - x * radial) * inv_r
                dY[p, base + m, 1] = (gcy - y * radial) * inv_r
                dY[p, base + m, 2] = (gcz - z * radial) * inv_r
