"""Moment tensor descriptors (Shapeev, Multiscale Model. Simul. 14, 1153 (2016)).

Moments of atom i's neighbourhood, for radial index ``mu`` and tensor rank ``nu``:

    M_{mu,nu}(i) = sum_j f_mu(r_ij) u_ij^(x nu),     u_ij = r_ij / |r_ij|,

symmetric tensors stored by their independent components (index tuples ``i_1 <= .. <= i_nu``).
The level of a moment is ``2 + 4 mu + nu``; a basis function is a scalar contraction of a
product of moments (every index of every factor contracted with an index of another factor),
its level the sum of its factors' levels. For each multiset of moments up to ``level_max``
(at most ``max_factors`` factors, ranks up to ``nu_max``), every contraction graph -- a
multigraph without loops whose vertex degrees are the ranks -- is expanded symbolically into a
polynomial in the moment components; duplicates (isomorphic graphs) and linearly dependent
contractions (e.g. through ``u . u = 1``) are removed by evaluating the candidates, in order
of increasing level, on random environments and keeping those independent of the ones
already kept (Gram-Schmidt, relative tolerance 1e-8). The kernel
(:mod:`linpot.kernels.moment_tensors`) evaluates the polynomials with analytic derivatives.

Spec: ``{"kind": "moment-tensors", "cutoff": 5.0, "radial": {...}, "level_max": 12,
"nu_max": 4, "max_factors": 4, "mu_weight": 4}``; ``radial.n_basis`` bounds ``mu``. The level of
a moment is ``2 + mu_weight mu + nu`` (Shapeev's definition: ``mu_weight = 4``). MTP fits its
radial functions (non-linearly); here they are a fixed basis, and a smaller ``mu_weight`` admits
more of them at a given level.
"""

from __future__ import annotations

import hashlib
import itertools
import json
from functools import cache

import numpy as np

from ..errors import LinpotInputError
from ..kernels.moment_tensors import MomentComponents, MomentTensorTables, moment_tensor_backward, moment_tensor_features
from .base import DescriptorResult, RadialDescriptor


def symmetric_components(nu: int) -> list[tuple[int, ...]]:
    """Independent components of a symmetric rank-``nu`` tensor in 3D: sorted index tuples."""
    return list(itertools.combinations_with_replacement(range(3), nu))


def _moment_multisets(n_species: int, n_mu: int, nu_max: int, level_max: int, max_factors: int, mu_weight: int):
    """Multisets of moments ``((s, mu), nu)`` (s: neighbour element) with total level at most
    ``level_max`` and even total rank, generated with the level budget (every factor costs at
    least 2), not by filtering all combinations."""
    moments = sorted(((s, mu), nu) for s in range(n_species) for mu in range(n_mu) for nu in range(nu_max + 1)
                     if 2 + mu_weight * mu + nu <= level_max)
    level_of = {m: 2 + mu_weight * m[0][1] + m[1] for m in moments}

    def extend(start, combo, level):
        if combo and sum(nu for _, nu in combo) % 2 == 0:
            yield level, tuple(combo)
        if len(combo) == max_factors:
            return
        for k in range(start, len(moments)):
            m = moments[k]
            if level + level_of[m] <= level_max:
                combo.append(m)
                yield from extend(k, combo, level + level_of[m])
                combo.pop()

    yield from extend(0, [], 0)


def _contraction_graphs(degrees):
    """Edge multisets (pairs of distinct vertices) realising ``degrees``, one per graph up to
    relabelling vertices that carry identical moments (handled by the caller's canonical key)."""
    out = set()

    def match(remaining, edges):
        first = next((v for v, d in enumerate(remaining) if d > 0), None)
        if first is None:
            out.add(tuple(sorted(edges)))
            return
        for w in range(first + 1, len(remaining)):
            if remaining[w] > 0:
                remaining[first] -= 1
                remaining[w] -= 1
                match(remaining, edges + [(first, w)])
                remaining[first] += 1
                remaining[w] += 1

    match(list(degrees), [])
    return sorted(out)


def _canonical(combo, edges):
    """A key equal for graphs that differ by permuting vertices with identical moments."""
    k = len(combo)
    best = None
    groups = {}
    for v, m in enumerate(combo):
        groups.setdefault(m, []).append(v)
    for perms in itertools.product(*[itertools.permutations(vs) for vs in groups.values()]):
        relabel = {}
        for vs, pv in zip(groups.values(), perms):
            relabel.update(dict(zip(vs, pv)))
        key = tuple(sorted(tuple(sorted((relabel[a], relabel[b]))) for a, b in edges))
        best = key if best is None or key < best else best
    return (combo, best if k > 1 else ())


def _expand(combo, edges, component_index):
    """The contraction as a polynomial: {tuple of component ids (sorted): coefficient}."""
    terms: dict = {}
    for values in itertools.product(range(3), repeat=len(edges)):
        idx = [[] for _ in combo]
        for (a, b), x in zip(edges, values):
            idx[a].append(x)
            idx[b].append(x)
        key = tuple(sorted(component_index[(ch, nu, tuple(sorted(ix)))] for (ch, nu), ix in zip(combo, idx)))
        terms[key] = terms.get(key, 0.0) + 1.0
    return terms


def _component_values(vectors, species, f, components):
    """Moment components of one environment (neighbour vectors and elements, radial values f[j, mu])."""
    u = vectors / np.linalg.norm(vectors, axis=1)[:, None]
    monomial = {}
    out = np.empty(len(components))
    for c, ((s, mu), _nu, ix) in enumerate(components):
        if ix not in monomial:
            monomial[ix] = np.prod(u[:, list(ix)], axis=1) if ix else np.ones(len(u))
        out[c] = float(np.sum(f[:, mu] * (species == s) * monomial[ix]))
    return out


@cache
def moment_tensor_basis(n_mu: int, nu_max: int, level_max: int, max_factors: int, n_species: int = 1, mu_weight: int = 4,
                        seed: int = 0):
    """Components ``[((s, mu), nu, indices)]`` and the independent basis functions
    ``[(level, description, {component ids: coefficient})]``, in order of level."""
    components = [((s, mu), nu, ix) for s in range(n_species) for mu in range(n_mu) for nu in range(nu_max + 1)
                  for ix in symmetric_components(nu) if 2 + mu_weight * mu + nu <= level_max]
    component_index = {c: i for i, c in enumerate(components)}
    candidates, seen = [], set()
    for level, combo in sorted(_moment_multisets(n_species, n_mu, nu_max, level_max, max_factors, mu_weight)):
        for edges in _contraction_graphs([nu for _, nu in combo]):
            key = _canonical(combo, edges)
            if key in seen:
                continue
            seen.add(key)
            candidates.append((level, combo, edges))
    # Candidates whose moments carry different multisets of (element, radial index) are
    # independent of each other: on the samples below the radial values f[j, mu] are independent
    # random numbers per neighbour, so any linear relation holds separately for each multidegree
    # in them, i.e. within one such group (relations from |u| = 1 keep the labels). Independence
    # is therefore tested group by group, with more samples than the largest group has candidates.
    def group_of(combo):
        return tuple(sorted(ch for ch, _ in combo))

    group_sizes: dict = {}
    for _, combo, _ in candidates:
        group = group_of(combo)
        group_sizes[group] = group_sizes.get(group, 0) + 1
    largest = max(group_sizes.values(), default=0)
    if largest > 1400:
        raise LinpotInputError(f"moment-tensor basis too large to verify ({largest} candidates share their moments' "
                               "radial indices); lower level_max")
    rng = np.random.default_rng(seed)
    n_samples = 2 * largest + 20
    samples = []
    for _ in range(n_samples):
        n = rng.integers(3, 14)
        vectors = rng.normal(size=(n, 3))
        f = rng.uniform(-1, 1, size=(n, n_mu))
        samples.append(_component_values(vectors, rng.integers(0, n_species, size=n), f, components))
    samples = np.array(samples)
    Q: dict = {}
    kept = []
    for level, combo, edges in candidates:
        poly = _expand(combo, edges, component_index)
        values = np.zeros(n_samples)
        for ids, c in poly.items():
            values += c * np.prod(samples[:, list(ids)], axis=1)
        norm = np.linalg.norm(values)
        if norm == 0.0:
            continue
        group = group_of(combo)
        q = Q.get(group, np.zeros((n_samples, 0)))
        r = values / norm
        for _ in range(2):  # Gram-Schmidt against the kept functions of the group, twice for round-off
            r = r - q @ (q.T @ r)
        if np.linalg.norm(r) > 1e-8:
            Q[group] = np.column_stack([q, r / np.linalg.norm(r)])
            name = "*".join(f"M{ch[1]},{nu}" + (f"[{ch[0]}]" if n_species > 1 else "") for ch, nu in combo) + (
                f"|{edges}" if edges else "")
            kept.append((level, name, poly))
    return components, kept


class MomentTensorDescriptor(RadialDescriptor):
    kind = "moment-tensors"
    extra_options = ("level_max", "nu_max", "max_factors", "mu_weight", "basis_checksum")

    def __init__(self, elements: list[str], cutoff: float = 5.0, radial: dict | None = None, level_max: int = 12,
                 nu_max: int = 4, max_factors: int = 4, mu_weight: int = 4, basis_checksum: str | None = None):
        super().__init__(elements, cutoff, radial)
        # Shapeev's level counts 4 per radial index; a smaller weight admits more radial
        # functions at a given level (the fixed radial basis stands in for MTP's fitted one)
        self.mu_weight = int(mu_weight)
        if not 1 <= self.mu_weight <= 8:
            raise LinpotInputError(f"moment-tensors mu_weight must be 1 to 8, got {mu_weight}")
        self.level_max, self.nu_max, self.max_factors = int(level_max), int(nu_max), int(max_factors)
        if not (2 <= self.level_max <= 24 and 0 <= self.nu_max <= 6 and 1 <= self.max_factors <= 6):
            raise LinpotInputError("moment-tensors needs 2 <= level_max <= 24, 0 <= nu_max <= 6, 1 <= max_factors <= 6")
        n_mu = min(self.radial.n_basis, (self.level_max - 2) // self.mu_weight + 1)
        components, basis = moment_tensor_basis(n_mu, self.nu_max, self.level_max, self.max_factors, len(self.elements),
                                                self.mu_weight)
        if not basis:
            raise LinpotInputError("the moment-tensor settings define no basis functions")
        self.components = components
        self.levels = np.array([lev for lev, _, _ in basis])
        self._names = [name for _, name, _ in basis]
        self.feature_orders = np.array([name.count("*") + 1 for name in self._names], dtype=np.int64)
        term_start, term_ids, term_coef = [0], [], []
        for _, _, poly in basis:
            for ids, c in poly.items():
                term_ids.append(list(ids) + [-1] * (self.max_factors - len(ids)))
                term_coef.append(c)
            term_start.append(len(term_coef))
        # The basis is regenerated from the settings; a potential records its checksum so that a
        # change of the generator cannot silently change a fitted potential.
        digest = hashlib.sha256(json.dumps([[name, sorted((list(k), v) for k, v in poly.items())]
                                            for _, name, poly in basis]).encode()).hexdigest()[:16]
        if basis_checksum is not None and basis_checksum != digest:
            raise LinpotInputError(f"the moment-tensor basis generated here ({digest}) differs from the one the "
                                   f"potential was fitted with ({basis_checksum})")
        self.basis_checksum = digest
        self._kernel_tables = MomentTensorTables(
            components=MomentComponents(
                comp_species=np.array([ch[0] for ch, _, _ in components], dtype=np.int64),
                comp_mu=np.array([ch[1] for ch, _, _ in components], dtype=np.int64),
                comp_nu=np.array([nu for _, nu, _ in components], dtype=np.int64),
                comp_idx=np.array([list(ix) + [-1] * (6 - len(ix)) for _, _, ix in components], dtype=np.int64)),
            term_start=np.array(term_start, dtype=np.int64),
            term_ids=np.array(term_ids, dtype=np.int64).reshape(len(term_ids), self.max_factors),
            term_coef=np.array(term_coef))

    @property
    def n_features(self) -> int:
        return len(self._names)

    def feature_names(self) -> list[str]:
        return list(self._names)

    def basis_sizes(self) -> dict:
        """Number of basis functions per level."""
        levels, counts = np.unique(self.levels, return_counts=True)
        return {int(l): int(c) for l, c in zip(levels, counts)}

    def kernel_tables(self) -> MomentTensorTables:
        """The basis as the kernels' arguments."""
        return self._kernel_tables

    def compute(self, positions, numbers, cell, pbc) -> DescriptorResult:
        species, pairs, f, df = self.neighbours(positions, numbers, cell, pbc)
        G, dG = moment_tensor_features(pairs.pair_start, species[pairs.j], np.ascontiguousarray(pairs.vectors), f, df,
                                       self._kernel_tables, True)
        return DescriptorResult(G=G, dG=dG, pairs=pairs, species=species)

    def features(self, positions, numbers, cell, pbc):
        species, pairs, f, df = self.neighbours(positions, numbers, cell, pbc)
        G, _ = moment_tensor_features(pairs.pair_start, species[pairs.j], np.ascontiguousarray(pairs.vectors), f, df,
                                      self._kernel_tables, False)
        return G, _MomentContext(species, pairs, f, df)

    def backward(self, context, dEdG):
        c = context
        return moment_tensor_backward(c.pairs.pair_start, c.pairs.j, c.species[c.pairs.j],
                                      np.ascontiguousarray(c.pairs.vectors), c.f, c.df, self._kernel_tables,
                                      np.ascontiguousarray(dEdG))


class _MomentContext:
    def __init__(self, species, pairs, f, df):
        self.species, self.pairs, self.f, self.df = species, pairs, f, df
