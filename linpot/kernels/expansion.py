"""The neighbour-density expansion of one atom and its derivative with respect to a pair vector.

``a[c, lm] = sum_{j: species(j) = s} f_n(r_ij) Y_lm(r_ij / r_ij)`` for channel ``c = s * N + n``
(N radial functions per neighbour species): the expansion the invariants, the angular Fourier
series and the compiled evaluator are polynomials of.
"""

from __future__ import annotations

from numba import njit


@njit(cache=True)
def density_expansion(p0, p1, species_j, f, Y, a):
    """``a[c, lm]`` (overwritten) from the pairs ``p0:p1`` of one atom: ``species_j[p]``, the
    neighbour's species; ``f[p, n]``, the radial functions; ``Y[p, lm]``, the real harmonics."""
    N = f.shape[1]
    n_lm = Y.shape[1]
    a[:, :] = 0.0
    for p in range(p0, p1):
        base = species_j[p] * N
        for n in range(N):
            fn = f[p, n]
            for lm in range(n_lm):
                a[base + n, lm] += fn * Y[p, lm]


@njit(cache=True, inline="always")
def expansion_pair_gradient(p, base, dEda, f, df, Y, dY, unit):
    """``dE/dr_ij = sum_{n, lm} dE/da[base + n, lm] d(f_n(r) Y_lm(r_hat))/dr_ij`` for pair p."""
    gx = 0.0
    gy = 0.0
    gz = 0.0
    for n in range(f.shape[1]):
        fn = f[p, n]
        dfn = df[p, n]
        for lm in range(Y.shape[1]):
            w = dEda[base + n, lm]
            if w == 0.0:
                continue
            y = dfn * Y[p, lm]
            gx += w * (y * unit[p, 0] + fn * dY[p, lm, 0])
            gy += w * (y * unit[p, 1] + fn * dY[p, lm, 1])
            gz += w * (y * unit[p, 2] + fn * dY[p, lm, 2])
    return gx, gy, gz


@njit(cache=True)
def channel_density_expansion(p0, p1, species_j, weights, f, Y, a):
    """``a[k * N + n, lm] = sum_j w[k, s_j] f_n(r_ij) Y_lm(r_ij / r_ij)`` (overwritten): the
    expansion in element channels ``k`` with ``weights[k, s]`` per neighbour species ``s``.
    One-hot weights (the identity) give :func:`density_expansion` exactly (zero weights are
    skipped, and a weight of one multiplies exactly)."""
    N = f.shape[1]
    n_lm = Y.shape[1]
    a[:, :] = 0.0
    for p in range(p0, p1):
        s = species_j[p]
        for k in range(weights.shape[0]):
            w = weights[k, s]
            if w == 0.0:
                continue
            base = k * N
            for n in range(N):
                wf = w * f[p, n]
                for lm in range(n_lm):
                    a[base + n, lm] += wf * Y[p, lm]


@njit(cache=True)
def species_expansion_gradient(dEda, weights, N, dEdas):
    """``dE/da`` per neighbour species from ``dE/da`` per element channel (overwrites ``dEdas``):
    ``dEdas[s * N + n, lm] = sum_k w[k, s] dEda[k * N + n, lm]``, what a pair of species s
    feeds through :func:`expansion_pair_gradient`."""
    dEdas[:, :] = 0.0
    for s in range(weights.shape[1]):
        for k in range(weights.shape[0]):
            w = weights[k, s]
            if w == 0.0:
                continue
            for n in range(N):
                for lm in range(dEda.shape[1]):
                    dEdas[s * N + n, lm] += w * dEda[k * N + n, lm]
