"""Polynomial models on per-atom descriptors, linear in their coefficients, and the monomials and
polynomials every kernel evaluates.

A model term is a monomial ``phi_t(G) = prod_q G[k_q]`` given by a row of ``terms`` (descriptor
indices, padded with -1). An atom of species ``s`` has energy
``E_i = c[s, 0] + sum_t c[s, 1 + t] phi_t(G_i)``: the design matrix has one block of
``1 + n_terms`` columns per species, the first being the per-species constant (reference energy).

A monomial is ``w prod_q x[factors[row, q]]`` over a row of an index table (-1 padded, repeated
factors allowed); its partial derivatives come from prefix and suffix products in O(degree). The
invariants, moment tensors and the compiled evaluator use the same functions on their own
variables (expansion coefficients, moment components, standardised features). They run once per
term in the hottest loops, so they take the table and a row index: a row view per term would cost
two reference-count updates.
"""

from __future__ import annotations

import numpy as np
from numba import njit


@njit(cache=True)
def monomial_value(x, factors, row, weight):
    """``weight * prod_q x[factors[row, q]]`` over the factors before the first -1."""
    value = weight
    for q in range(factors.shape[1]):
        k = factors[row, q]
        if k < 0:
            break
        value *= x[k]
    return value


@njit(cache=True)
def monomial_value_gradient(x, factors, row, weight, grad, prefix, by_factor):
    """:func:`monomial_value`, adding the derivative with respect to each factor q -- the weight
    times the other factors, a product of prefixes from the left and suffixes from the right,
    O(degree) -- into ``grad[factors[row, q]]`` (the gradient with respect to ``x``: a repeated
    factor adds once per occurrence, from the last factor down) or, if ``by_factor``, into
    ``grad[q]``. ``prefix``: scratch of ``factors.shape[1] + 1``."""
    n = 0
    prefix[0] = weight
    while n < factors.shape[1] and factors[row, n] >= 0:
        prefix[n + 1] = prefix[n] * x[factors[row, n]]
        n += 1
    suffix = 1.0
    for q in range(n - 1, -1, -1):
        k = factors[row, q]
        grad[q if by_factor else k] += prefix[q] * suffix
        suffix *= x[k]
    return prefix[n]


@njit(cache=True)
def polynomial_value(x, start, stop, factors, coef):
    """``sum_e coef[e] prod_q x[factors[e, q]]`` over the terms ``start:stop``."""
    value = 0.0
    for e in range(start, stop):
        value += monomial_value(x, factors, e, coef[e])
    return value


@njit(cache=True)
def polynomial_value_gradient(x, start, stop, factors, coef, weight, grad, prefix):
    """``weight * P`` with ``P`` = :func:`polynomial_value`, adding ``weight * dP/dx`` into ``grad``
    (``prefix``: scratch of ``factors.shape[1] + 1``)."""
    value = 0.0
    for e in range(start, stop):
        value += monomial_value_gradient(x, factors, e, weight * coef[e], grad, prefix, False)
    return value


@njit(cache=True)
def polynomial_features(G, terms):
    """``phi[i, t] = prod_q G[i, terms[t, q]]`` (padding -1 ignored)."""
    n_atoms = G.shape[0]
    n_terms = terms.shape[0]
    phi = np.ones((n_atoms, n_terms))
    for i in range(n_atoms):
        g = G[i]
        for t in range(n_terms):
            phi[i, t] = monomial_value(g, terms, t, 1.0)
    return phi


@njit(cache=True)
def polynomial_partial_products(G, terms):
    """``P[i, t, q] = d phi_t / d G[k_q]`` contribution of factor q: the product of the other factors."""
    n_atoms = G.shape[0]
    n_terms, max_degree = terms.shape
    P = np.zeros((n_atoms, n_terms, max_degree))
    prefix = np.zeros(max_degree + 1)
    for i in range(n_atoms):
        g = G[i]
        for t in range(n_terms):
            monomial_value_gradient(g, terms, t, 1.0, P[i, t], prefix, True)
    return P


@njit(cache=True)
def polynomial_design_rows(G, dG, pair_i, pair_j, vectors, species, terms, n_species):
    """Design-matrix rows of one structure for a polynomial model.

    Returns ``energy_row`` (``n_cols``: sum over atoms of each species' block),
    ``force_rows`` (``n_atoms, 3, n_cols``: minus the derivative of each column with respect to
    each atom's position) and ``virial_rows`` (``6, n_cols``: ``sum_p r_ij (x) d col / d r_ij``,
    Voigt order, symmetrised; divide by the volume for stress).
    """
    n_atoms = G.shape[0]
    n_terms, max_degree = terms.shape
    n_block = 1 + n_terms
    n_cols = n_species * n_block
    energy_row = np.zeros(n_cols)
    force_rows = np.zeros((n_atoms, 3, n_cols))
    virial_rows = np.zeros((6, n_cols))
    phi = polynomial_features(G, terms)
    for i in range(n_atoms):
        base = species[i] * n_block
        energy_row[base] += 1.0
        for t in range(n_terms):
            energy_row[base + 1 + t] += phi[i, t]
    P = polynomial_partial_products(G, terms)
    g = np.zeros(3)
    for p in range(pair_i.shape[0]):
        i = pair_i[p]
        j = pair_j[p]
        base = species[i] * n_block + 1
        rx = vectors[p, 0]
        ry = vectors[p, 1]
        rz = vectors[p, 2]
        for t in range(n_terms):
            g[0] = 0.0
            g[1] = 0.0
            g[2] = 0.0
            for q in range(max_degree):
                k = terms[t, q]
                if k < 0:
                    continue
                w = P[i, t, q]
                g[0] += w * dG[p, k, 0]
                g[1] += w * dG[p, k, 1]
                g[2] += w * dG[p, k, 2]
            c = base + t
            for a in range(3):
                force_rows[j, a, c] -= g[a]
                force_rows[i, a, c] += g[a]
            virial_rows[0, c] += rx * g[0]
            virial_rows[1, c] += ry * g[1]
            virial_rows[2, c] += rz * g[2]
            virial_rows[3, c] += 0.5 * (ry * g[2] + rz * g[1])
            virial_rows[4, c] += 0.5 * (rx * g[2] + rz * g[0])
            virial_rows[5, c] += 0.5 * (rx * g[1] + ry * g[0])
    return energy_row, force_rows, virial_rows


@njit(cache=True)
def polynomial_energy_gradient(G, species, terms, coefficients):
    """Per-atom energies ``E_i`` and ``dE_i/dG_i`` for coefficients of shape ``(n_species, 1 + n_terms)``."""
    n_atoms, n_desc = G.shape
    n_terms, max_degree = terms.shape
    energies = np.zeros(n_atoms)
    dEdG = np.zeros((n_atoms, n_desc))
    partials = np.zeros(max_degree)
    prefix = np.zeros(max_degree + 1)
    for i in range(n_atoms):
        c = coefficients[species[i]]
        g = G[i]
        e = c[0]
        for t in range(n_terms):
            w = c[1 + t]
            if w == 0.0:
                continue
            partials[:] = 0.0
            e += w * monomial_value_gradient(g, terms, t, 1.0, partials, prefix, True)
            for q in range(max_degree):
                k = terms[t, q]
                if k < 0:
                    break
                dEdG[i, k] += w * partials[q]
        energies[i] = e
    return energies, dEdG
