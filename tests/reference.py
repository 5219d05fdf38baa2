"""Slow, obviously correct twins of the numba kernels, for the tests."""

from __future__ import annotations

import functools
import itertools
import math

import numpy as np


def _image_shifts(positions, cell, pbc, cutoff):
    """Every lattice shift (integer triple) that can bring an image within ``cutoff``, by the
    plane-spacing bound (positions are not wrapped: atoms up to one cell outside are allowed for)."""
    positions = np.asarray(positions, float)
    cell = np.asarray(cell, float)
    ranges = []
    for d in range(3):
        if pbc[d]:
            spacing = 1.0 / np.linalg.norm(np.linalg.inv(cell).T[d])
            span = np.ptp(np.linalg.solve(cell.T, positions.T).T[:, d]) + 1
            n = int(math.ceil(cutoff / spacing + span))
            ranges.append(range(-n, n + 1))
        else:
            ranges.append(range(0, 1))
    return np.array(list(itertools.product(*ranges)), dtype=float).reshape(-1, 3)


def brute_force_pairs(positions, cell, pbc, cutoff, decimals=9):
    """All (i, j, r_ij) with 0 < |r_ij| < cutoff by looping over enough periodic images
    (vectors rounded to ``decimals`` so that lists compare exactly; None keeps them exact)."""
    positions = np.asarray(positions, float)
    cell = np.asarray(cell, float)
    out = []
    for shift in _image_shifts(positions, cell, pbc, cutoff):
        offset = shift @ cell
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


def trivial_multiplicity(ls, groups=None) -> int:
    """Number of O(3) invariants in the product of Sym^k(V_l) over the distinct factors of
    ``ls`` (factors with equal l and equal ``groups`` label are one vector; k = how often it
    occurs; all equal-l factors are one vector without ``groups``), from characters: SO(3) class
    functions integrated over the rotation angle, parity (-1)^(sum l). Independent of the
    coupling-tree construction."""
    from collections import Counter

    if sum(ls) % 2:
        return 0
    n = 512
    w = 2 * np.pi * np.arange(n) / n

    def chi(l, angle):
        m = np.arange(-l, l + 1)
        return np.exp(1j * np.outer(angle, m)).sum(axis=1)

    total = np.ones(n, dtype=complex)
    for (l, _), k in Counter(zip(ls, groups if groups is not None else [0] * len(ls))).items():
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


# --- Slow twins of the harmonic-expansion kernels and of the compiled evaluator -------------
#
# Everything below works on "environments": for each atom, the vectors r_ij = r_j - r_i to its
# neighbours (all periodic images with 0 < |r_ij| < cutoff, found by brute force) and their
# elements. Nothing here calls linpot's kernels; the only things read from linpot are the
# committed definitions that no twin should re-derive (coupling tensors, moment-tensor basis).


def environments(positions, cell, pbc, cutoff):
    """For each atom i: ``(vectors, j)`` of every neighbour image with 0 < |r_ij| < cutoff
    (brute force over all images, vectorised; ordered by image shift, then j)."""
    positions = np.asarray(positions, float)
    cell = np.asarray(cell, float)
    shifts = _image_shifts(positions, cell, pbc, cutoff)
    offsets = shifts @ cell if len(shifts) else np.zeros((1, 3))
    images = (positions[None, :, :] + offsets[:, None, :]).reshape(-1, 3)  # (shift, j) flattened
    image_j = np.tile(np.arange(len(positions)), len(offsets))
    out = []
    for i in range(len(positions)):
        v = images - positions[i]
        r = np.linalg.norm(v, axis=1)
        keep = (r > 0) & (r < cutoff)
        out.append((v[keep], image_j[keep]))
    return out


def radial_functions(r, radial: dict, r_cut: float) -> np.ndarray:
    """``f[..., n]`` of a radial basis spec (``RadialBasis.spec()``), from the twins above."""
    r = np.asarray(r, float)
    n_basis = int(radial["n_basis"])
    r_min = float(radial.get("r_min", 0.0))
    if radial["kind"] == "gaussian":
        centres = np.linspace(r_min, r_cut, n_basis)
        width = radial.get("width") or (r_cut - r_min) / max(n_basis - 1, 1)
        return gaussian_basis(r, centres, float(width), r_cut)
    assert radial["kind"] == "chebyshev", radial
    return chebyshev_basis(r, n_basis, r_min, r_cut)


def real_harmonics(vectors, l_max: int) -> np.ndarray:
    """``Y[..., l*l + l + m]``: real, orthonormal, without the Condon-Shortley phase, from
    scipy's complex harmonics by the formulas of ``linpot/conventions.py``:
    ``Y_l0 = Y_l^0``, ``Y_lm = sqrt2 (-1)^m Re Y_l^m``, ``Y_l,-m = sqrt2 (-1)^m Im Y_l^m`` (m > 0)."""
    from scipy.special import sph_harm_y

    v = np.asarray(vectors, float)
    r = np.linalg.norm(v, axis=-1)
    theta = np.arccos(np.clip(v[..., 2] / r, -1.0, 1.0))
    phi = np.arctan2(v[..., 1], v[..., 0])
    Y = np.zeros(v.shape[:-1] + ((l_max + 1) ** 2,))
    for l in range(l_max + 1):
        Y[..., l * l + l] = sph_harm_y(l, 0, theta, phi).real
        for m in range(1, l + 1):
            c = math.sqrt(2.0) * (-1) ** m * sph_harm_y(l, m, theta, phi)
            Y[..., l * l + l + m] = c.real
            Y[..., l * l + l - m] = c.imag
    return Y


def density_expansion(vectors, neighbour_species, n_species, radial, r_cut, l_max):
    """``a[s, n, lm] = sum_{j: species(j) = s} f_n(r_ij) Y_lm(r_ij / r_ij)`` of one environment
    (``vectors`` of shape ``(j, 3)``), or of a batch of environments with the same neighbour
    elements (shape ``(b, j, 3)`` -> ``a[b, s, n, lm]``)."""
    vectors = np.asarray(vectors, float)
    f = radial_functions(np.linalg.norm(vectors, axis=-1), radial, r_cut)  # (..., j, n)
    Y = real_harmonics(vectors, l_max)  # (..., j, lm)
    neighbour_species = np.asarray(neighbour_species)
    return np.stack([np.einsum("...jn,...jl->...nl", f[..., neighbour_species == s, :], Y[..., neighbour_species == s, :])
                     for s in range(n_species)], axis=-3)


def contract_coupling(T, factors):
    """``B[b] = sum_m T[m_1..m_p] A_1[b, m_1] ... A_p[b, m_p]`` for each batch row b: contract
    the last index of T with the last factor, then the (new) last index with the one before, ..."""
    T = np.asarray(T, float)
    out = (T.reshape(-1, T.shape[-1]) @ factors[-1].T).T.reshape((len(factors[-1]),) + T.shape[:-1])
    for A in factors[-2::-1]:
        out = np.einsum("b...m,bm->b...", out, A)
    return out


def invariant_definitions(orders, n_species, mixed_orders=(), element_coupling="compact"):
    """Every invariant of an ``InvariantDescriptor(orders, mixed_orders, element_coupling)`` with
    ``n_species`` element channels, in its documented order, as ``(order, element channel of each
    factor, radial index of each factor, ls, dense real coupling tensor)``.

    Compact orders: for each multiset ``l_1 <= .. <= l_p <= l_max`` with even sum, each committed
    coupling tensor (``coupling.table_selection`` + ``coupling.invariant_tensors``), each channel,
    each ``n < n_max``. Mixed orders: every multiset of factors ``(l, n)`` sorted by (l, n), with
    the tensors selected for that pattern of equal factors (``coupling.select_invariants``), each
    channel. Complete element coupling: the factors' channels are independent too: multisets of
    ``(l, k)`` (then each n) or of ``(l, k, n)`` (mixed orders); a multiset whose equal-l factors
    are all one vector takes the committed tensors."""
    return _invariant_definitions(tuple(tuple(int(v) for v in o) for o in orders), int(n_species),
                                  tuple(int(p) for p in mixed_orders), element_coupling)


@functools.cache
def _invariant_definitions(orders, n_species, mixed_orders, element_coupling):
    from linpot.descriptors.coupling import invariant_tensors, select_invariants, table_selection

    def tensors(combo, ls):
        """The coupling tensors of factors ``combo`` (tuples starting with l): equal tuples are one vector."""
        groups = [sorted({x for x in combo if x[0] == y[0]}).index(y) for y in combo]
        return invariant_tensors(ls, select_invariants(ls, groups=groups))

    out = []
    for p, n_max, l_max in orders:
        if element_coupling == "complete":
            if p in mixed_orders:
                items = [(l, k, n) for l in range(l_max + 1) for k in range(n_species) for n in range(n_max)]
                for combo in itertools.combinations_with_replacement(items, p):
                    ls = tuple(c[0] for c in combo)
                    if sum(ls) % 2 == 0:
                        for T in tensors(combo, ls):
                            out.append((p, tuple(c[1] for c in combo), tuple(c[2] for c in combo), ls, T))
                continue
            items = [(l, k) for l in range(l_max + 1) for k in range(n_species)]
            for combo in itertools.combinations_with_replacement(items, p):
                ls = tuple(c[0] for c in combo)
                if sum(ls) % 2:
                    continue
                one_vector = all(len({c for c in combo if c[0] == l}) == 1 for l in ls)
                Ts = invariant_tensors(ls, table_selection(ls)) if one_vector else tensors(combo, ls)
                for T in Ts:
                    for n in range(n_max):
                        out.append((p, tuple(c[1] for c in combo), (n,) * p, ls, T))
            continue
        if p in mixed_orders:
            pairs = [(l, n) for l in range(l_max + 1) for n in range(n_max)]
            for combo in itertools.combinations_with_replacement(pairs, p):
                ls = tuple(l for l, _ in combo)
                if sum(ls) % 2:
                    continue
                ns = tuple(n for _, n in combo)
                for T in tensors(combo, ls):
                    for s in range(n_species):
                        out.append((p, (s,) * p, ns, ls, T))
            continue
        for ls in itertools.combinations_with_replacement(range(l_max + 1), p):
            if sum(ls) % 2:
                continue
            for T in invariant_tensors(ls, table_selection(ls)):
                for s in range(n_species):
                    for n in range(n_max):
                        out.append((p, (s,) * p, (n,) * p, ls, T))
    return out


def invariants_of_expansions(a, definitions, weights=None):
    """``B[b, k]`` of a batch of expansions ``a[b, s, n, lm]`` per neighbour species by dense
    contraction, after mixing the species into element channels ``a[b, k] = sum_s w[k, s] a[b, s]``
    (one-hot without ``weights``)."""
    a = np.asarray(a, float)
    if weights is not None:
        a = np.einsum("ks,bsnl->bknl", np.asarray(weights, float), a)
    B = np.zeros((a.shape[0], len(definitions)))
    for k, (_, ks, ns, ls, T) in enumerate(definitions):
        factors = [a[:, s, n, l * l:(l + 1) * (l + 1)] for s, n, l in zip(ks, ns, ls)]
        B[:, k] = contract_coupling(T, factors)
    return B


def species_of(numbers, elements) -> np.ndarray:
    """Index of each atom's element in ``elements``."""
    from ase.data import chemical_symbols

    return np.array([list(elements).index(chemical_symbols[z]) for z in numbers], dtype=int)


def pair_features_direct(envs, species, n_species, radial, r_cut):
    """``G[i, s N + n] = sum_{j: species(j) = s} f_n(r_ij)`` over the environments."""
    G = np.zeros((len(envs), n_species * int(radial["n_basis"])))
    for i, (v, j) in enumerate(envs):
        f = radial_functions(np.linalg.norm(v, axis=1), radial, r_cut)
        for s in range(n_species):
            G[i, s * f.shape[1]:(s + 1) * f.shape[1]] = f[species[j] == s].sum(axis=0)
    return G


def invariant_features_direct(envs, species, n_species, radial, r_cut, orders, mixed_orders=(),
                              element_coupling="compact", weights=None):
    """Invariants of every environment: the expansion per neighbour species, mixed into element
    channels by ``weights`` (K x n_species; one-hot without), then dense contractions."""
    l_max = max(int(o[2]) for o in orders)
    a = np.array([density_expansion(v, species[j], n_species, radial, r_cut, l_max) for v, j in envs])
    n_channels = n_species if weights is None else len(weights)
    return invariants_of_expansions(a, invariant_definitions(orders, n_channels, mixed_orders, element_coupling), weights)


def moment_tensor_features_direct(envs, species, n_species, radial, r_cut, level_max, nu_max, max_factors, mu_weight):
    """Moment-tensor basis functions of every environment: the moments' components
    ``M[s, mu, nu][i_1..i_nu] = sum_{j: species(j) = s} f_mu(r_ij) u_{i_1} .. u_{i_nu}`` summed
    directly, then each basis function's polynomial in them (the committed basis definition of
    ``moment_tensor_basis``; radial indices with level ``2 + mu_weight mu <= level_max``)."""
    from linpot.descriptors.moment_tensors import moment_tensor_basis

    n_mu = min(int(radial["n_basis"]), (level_max - 2) // mu_weight + 1)
    components, basis = moment_tensor_basis(n_mu, nu_max, level_max, max_factors, n_species, mu_weight)
    index_tuples = sorted({ix for _, _, ix in components})
    column = {ix: k for k, ix in enumerate(index_tuples)}
    pick = ([s for (s, _), _, _ in components], [mu for (_, mu), _, _ in components], [column[ix] for _, _, ix in components])
    comp = np.zeros((len(envs), len(components)))
    for i, (v, j) in enumerate(envs):
        r = np.linalg.norm(v, axis=1)
        u = v / r[:, None]
        f = radial_functions(r, radial, r_cut)[:, :n_mu]
        onehot = np.eye(n_species)[species[j]]  # (neighbour, s)
        powers = np.stack([np.prod(u[:, list(ix)], axis=1) for ix in index_tuples], axis=1)  # (neighbour, ix)
        M = np.einsum("js,jm,jx->smx", onehot, f, powers)  # every component of every moment
        comp[i] = M[pick]
    G = np.zeros((len(envs), len(basis)))
    for k, (_, _, poly) in enumerate(basis):
        for ids, c in poly.items():
            G[:, k] += c * np.prod(comp[:, list(ids)], axis=1)
    return G


def features_direct(spec: dict, positions, numbers, cell, pbc):
    """Per-atom features ``G`` of the descriptor ``spec`` (``descriptor.spec()``) by the twins
    above: brute-force environments, then the family's definition."""
    return features_direct_many(spec, [(positions, cell)], numbers, pbc)[0]


def features_direct_many(spec: dict, geometries, numbers, pbc):
    """:func:`features_direct` of several geometries ``[(positions, cell), ...]`` of the same
    atoms, in one batch (the contractions are the costly part; batching them is only speed)."""
    elements = list(spec["elements"])
    cutoff = float(spec["cutoff"])
    envs = []
    for positions, cell in geometries:
        envs += environments(positions, cell, pbc, cutoff)
    species = species_of(numbers, elements)
    args = (envs, species, len(elements), spec["radial"], cutoff)
    if spec["kind"] == "pair":
        G = pair_features_direct(*args)
    elif spec["kind"] == "invariants":
        G = invariant_features_direct(*args, spec["orders"], spec.get("mixed_orders") or (),
                                      spec.get("element_coupling", "compact"), (spec.get("channels") or {}).get("weights"))
    elif spec["kind"] == "moment-tensors":
        G = moment_tensor_features_direct(*args, int(spec["level_max"]), int(spec["nu_max"]), int(spec["max_factors"]),
                                          int(spec["mu_weight"]))
    else:
        raise ValueError(f"no twin for descriptor kind {spec['kind']!r}")
    return np.split(G, len(geometries))


def pair_derivatives_fd(features_of_batch, vectors, h=1e-3):
    """``dG[q, k, x] = d G_k / d r_q[x]`` of one environment with neighbour vectors ``r_q``, by the
    five-point central difference; ``features_of_batch(batch of vector arrays) -> G[b, k]``."""
    vectors = np.asarray(vectors, float)
    steps = (-2, -1, 1, 2)
    weights = np.array([1.0, -8.0, 8.0, -1.0]) / (12.0 * h)
    batch = []
    for q in range(len(vectors)):
        for x in range(3):
            for step in steps:
                v = vectors.copy()
                v[q, x] += step * h
                batch.append(v)
    G = np.asarray(features_of_batch(batch))
    G = G.reshape(len(vectors), 3, len(steps), -1)
    return np.einsum("qxsk,s->qkx", G, weights)


def polynomial_atomic_energies(g, species, terms, coefficients):
    """``E_i = c[s_i, 0] + sum_t c[s_i, 1 + t] prod_q g[i, k_q]`` (factors -1 are padding), vectorised
    (``polynomial_energy`` above is the same sum with loops)."""
    g = np.asarray(g, float)
    terms = np.asarray(terms)
    phi = np.prod(np.where(terms[None] >= 0, g[:, terms], 1.0), axis=2)  # (atoms, terms)
    c = np.asarray(coefficients, float)[species]
    return c[:, 0] + np.sum(c[:, 1:] * phi, axis=1)
