"""Slow, obviously correct twins of the numba kernels, for the tests."""

from __future__ import annotations

import itertools
import math

import numpy as np


def brute_force_pairs(positions, cell, pbc, cutoff, decimals=9):
    """All (i, j, r_ij) with 0 < |r_ij| < cutoff by looping over enough periodic images
    (vectors rounded to ``decimals`` so that lists compare exactly; None keeps them exact)."""
    positions = np.asarray(positions, float)
    cell = np.asarray(cell, float)
    ranges = []
    for d in range(3):
        if pbc[d]:
            spacing = 1.0 / np.linalg.norm(np.linalg.inv(cell).T[d])
            # positions are not wrapped here, so allow for atoms up to one cell outside
            span = np.ptp(np.linalg.solve(cell.T, positions.T).T[:, d]) + 1
            n = int(math.ceil(cutoff / spacing + span))
            ranges.append(range(-n, n + 1))
        else:
            ranges.append(range(0, 1))
    out = []
    for shift in itertools.product(*ranges):
        offset = np.array(shift) @ cell
        for i in range(len(positions)):
            for j in range(len(positions)):
                v = positions[j] + offset - positions[i]
                r = np.linalg.norm(v)
                if 0 < r < cutoff:
                    out.append((i, j, *(v if decimals is None else np.round(v, decimals))))
    return sorted(out)


def cosine_cutoff(r, r_cut):
    return np.where(r < r_cut, 0.5 * (np.cos(np.pi * r / r_cut) + 1), 0.0)


def chebyshev_basis(r, n_basis, r_min, r_cut):
    x = 2 * (r - r_min) / (r_cut - r_min) - 1
    values = np.stack([np.polynomial.chebyshev.chebval(x, np.eye(n_basis)[n]) for n in range(n_basis)], axis=-1)
    return values * cosine_cutoff(r, r_cut)[..., None]


def gaussian_basis(r, centres, width, r_cut):
    return np.exp(-((r[..., None] - centres) ** 2) / (2 * width**2)) * cosine_cutoff(r, r_cut)[..., None]


def pair_features(atoms, elements, basis, cutoff):
    """G_i[s, n] = sum over neighbours j of element s of f_n(r_ij), by brute force."""
    pairs = brute_force_pairs(atoms.positions, atoms.cell.array, atoms.pbc, cutoff, decimals=None)
    symbols = atoms.get_chemical_symbols()
    nb = basis(np.array([1.0])).shape[-1]
    G = np.zeros((len(atoms), len(elements) * nb))
    for i, j, *v in pairs:
        s = elements.index(symbols[j])
        G[i, s * nb:(s + 1) * nb] += basis(np.array([np.linalg.norm(v)]))[0]
    return G


def polynomial_energy(G, species, terms, coefficients):
    """sum_i c[s_i, 0] + sum_t c[s_i, 1+t] prod_q G[i, k_q], by direct products."""
    E = 0.0
    for i in range(len(G)):
        c = coefficients[species[i]]
        E += c[0]
        for t, row in enumerate(terms):
            E += c[1 + t] * np.prod([G[i, k] for k in row if k >= 0])
    return E


def trivial_multiplicity(ls) -> int:
    """Number of O(3) invariants in the product of Sym^k(V_l) over the distinct l of ``ls``
    (k = how often l occurs), from characters: SO(3) class functions integrated over the
    rotation angle, parity (-1)^(sum l). Independent of the coupling-tree construction."""
    from collections import Counter

    if sum(ls) % 2:
        return 0
    n = 512
    w = 2 * np.pi * np.arange(n) / n

    def chi(l, angle):
        m = np.arange(-l, l + 1)
        return np.exp(1j * np.outer(angle, m)).sum(axis=1)

    total = np.ones(n, dtype=complex)
    for l, k in Counter(ls).items():
        h = [np.ones(n, dtype=complex)]
        power = [None] + [chi(l, j * w) for j in range(1, k + 1)]
        for kk in range(1, k + 1):
            h.append(sum(power[j] * h[kk - j] for j in range(1, kk + 1)) / kk)
        total *= h[k]
    # (1/pi) int_0^pi chi (1 - cos w) dw = mean over the full circle of chi (1 - cos w)
    value = np.mean(total * (1 - np.cos(w))).real
    return int(round(value))


def angular_fourier_direct(vectors, species, f, c1, c2, l, N):
    """Angular Fourier series of one atom by the triple loop: for each feature,
    sum over neighbour pairs (j, k) of f_n1(r_j) f_n2(r_k) cos(l theta_jk), j = k included."""
    r = np.linalg.norm(vectors, axis=1)
    out = np.zeros(len(c1))
    for k_feat, (a, b, ll) in enumerate(zip(c1, c2, l)):
        s1, n1 = divmod(int(a), N)
        s2, n2 = divmod(int(b), N)
        total = 0.0
        for j in range(len(r)):
            if species[j] != s1:
                continue
            for k in range(len(r)):
                if species[k] != s2:
                    continue
                cos = np.clip(vectors[j] @ vectors[k] / (r[j] * r[k]), -1.0, 1.0)
                total += f[j, n1] * f[k, n2] * math.cos(ll * math.acos(cos))
        out[k_feat] = total
    return out


def symmetry_functions_direct(vectors, species, n_species, rc, g2, g4):
    """G2 and G4 of one atom by their definitions (loops over neighbours and ordered pairs)."""
    r = np.linalg.norm(vectors, axis=1)
    def fc(x):
        return 0.5 * (math.cos(math.pi * x / rc) + 1.0) if x < rc else 0.0
    feats = []
    for s in range(n_species):
        for eta, rs in itertools.product(g2["eta"], g2["r_s"]):
            feats.append(sum(math.exp(-eta * (r[j] - rs) ** 2) * fc(r[j]) for j in range(len(r)) if species[j] == s))
    for s1 in range(n_species):
        for s2 in range(s1, n_species):
            for eta, zeta, lam in itertools.product(g4["eta"], g4["zeta"], g4["lambda"]):
                total = 0.0
                for j in range(len(r)):
                    for k in range(len(r)):
                        if j == k or sorted((species[j], species[k])) != [s1, s2]:
                            continue
                        rjk = np.linalg.norm(vectors[k] - vectors[j])
                        cos = vectors[j] @ vectors[k] / (r[j] * r[k])
                        q = max(1.0 + lam * cos, 0.0)
                        total += (2.0 ** (1 - zeta) * q ** zeta * math.exp(-eta * (r[j] ** 2 + r[k] ** 2 + rjk ** 2))
                                  * fc(r[j]) * fc(r[k]) * fc(rjk))
                feats.append(total)
    return np.array(feats)
