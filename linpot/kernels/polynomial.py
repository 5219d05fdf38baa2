"""Polynomial models on per-atom descriptors, linear in their coefficients.

A model term is a monomial ``phi_t(G) = prod_q G[k_q]`` given by a row of ``terms`` (descriptor
indices, padded with -1). An atom of species ``s`` has energy
``E_i = c[s, 0] + sum_t c[s, 1 + t] phi_t(G_i)``: the design matrix has one block of
``1 + n_terms`` columns per species, the first being the per-species constant (reference energy).
"""

from __future__ import annotations

import numpy as np
from numba import njit


@njit(cache=True)
def polynomial_features(G, terms):
    """``phi[i, t] = prod_q G[i, terms[t, q]]`` (padding -1 ignored)."""
    n_atoms = G.shape[0]
    n_terms, max_degree = terms.shape
    phi = np.ones((n_atoms, n_terms))
    for i in range(n_atoms):
        for t in range(n_terms):
            v = 1.0
            for q in range(max_degree):
                k = terms[t, q]
                if k >= 0:
                    v *= G[i, k]
            phi[i, t] = v
    return phi


@njit(cache=True)
def polynomial_partial_products(G, terms):
    """``P[i, t, q] = d phi_t / d G[k_q]`` contribution of factor q: the product of the other factors."""
    n_atoms = G.shape[0]
    n_terms, max_degree = terms.shape
    P = np.zeros((n_atoms, n_terms, max_degree))
    for i in range(n_atoms):
        for t in range(n_terms):
            for q in range(max_degree):
                if terms[t, q] < 0:
                    continue
                v = 1.0
                for q2 in range(max_degree):
                    k = terms[t, q2]
                    if q2 != q and k >= 0:
                        v *= G[i, k]
                P[i, t, q] = v
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
    for i in range(n_atoms):
        c = coefficients[species[i]]
        e = c[0]
        for t in range(n_terms):
            w = c[1 + t]
            if w == 0.0:
                continue
            v = 1.0
            for q in range(max_degree):
                k = terms[t, q]
                if k >= 0:
                    v *= G[i, k]
            e += w * v
            for q in range(max_degree):
                k = terms[t, q]
                if k < 0:
                    continue
                d = w
                for q2 in range(max_degree):
                    k2 = terms[t, q2]
                    if q2 != q and k2 >= 0:
                        d *= G[i, k2]
                dEdG[i, k] += d
        energies[i] = e
    return energies, dEdG
