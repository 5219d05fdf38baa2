"""Group-theoretical rotational invariants of the neighbour density, orders 1 to 6.

``a_{s n l m}(i) = sum_{j: element(j) = s} f_n(r_ij) Y_lm(r_ij/|r_ij|)`` and, for each order
``p``, multiset ``(l_1..l_p)`` with ``l_q <= l_max(p)`` and each independent coupling tensor ``c``
(:mod:`linpot.descriptors.coupling`),

    B(i) = sum_m c[m_1..m_p] a_{s n l_1 m_1}(i) ... a_{s n l_p m_p}(i)

with the same element ``s`` and radial index ``n < n_max(p)`` for all factors (the compact
choice). Order 1 is the pair descriptor (times ``Y_00``), order 2 the power spectrum, order 3
the bispectrum. Every B is invariant under rotations, inversion, translations and permutations
of neighbours.

Spec: ``orders = [[p, n_max, l_max], ...]`` (e.g. ``[[1, 10, 0], [2, 8, 6], [3, 6, 4], [4, 4, 2]]``).
"""

from __future__ import annotations

from functools import cache
from itertools import combinations_with_replacement

import numpy as np

from ..errors import LinpotInputError
from ..kernels.invariants import InvariantTables, invariant_backward, invariant_features, invariant_values
from .base import HarmonicExpansionDescriptor
from .coupling import invariant_tensors, multisets, select_invariants, table_selection

MAX_ORDER = 6


@cache
def coupling_type(ls: tuple) -> list[tuple[np.ndarray, np.ndarray]]:
    """Sparse coupling tensors of the multiset ``ls``: for each invariant, (lm indices per entry, coefficients)."""
    out = []
    offsets = [l * l for l in ls]  # lm index = l*l + (m + l)
    for T in invariant_tensors(ls, table_selection(ls)):
        idx = np.argwhere(np.abs(T) > 1e-14 * np.abs(T).max())
        coef = T[tuple(idx.T)]
        lm = idx + np.array(offsets)[None, :]
        out.append((lm.astype(np.int64), coef.astype(float)))
    return out


def mixed_multisets(order: int, n_max: int, l_max: int):
    """``(ls, ns, pattern)`` for every multiset of ``order`` factors ``(l, n)``, ``l <= l_max``,
    ``n < n_max``, ``sum(l)`` even, sorted by (l, n); ``pattern[q]`` numbers the distinct radial
    indices within each block of equal l (what decides which factors are the same vector)."""
    pairs = [(l, n) for l in range(l_max + 1) for n in range(n_max)]
    for combo in combinations_with_replacement(pairs, order):
        ls = tuple(l for l, _ in combo)
        if sum(ls) % 2:
            continue
        ns = tuple(n for _, n in combo)
        pattern, seen = [], {}
        for l, n in combo:
            block = seen.setdefault(l, {})
            pattern.append(block.setdefault(n, len(block)))
        yield ls, ns, tuple(pattern)


@cache
def mixed_coupling_type(ls: tuple, pattern: tuple) -> list[tuple[np.ndarray, np.ndarray]]:
    """Sparse coupling tensors of ``ls`` when factors with equal l and equal ``pattern`` label are
    the same vector and the others independent (mixed radial indices)."""
    out = []
    offsets = [l * l for l in ls]
    for T in invariant_tensors(ls, select_invariants(ls, groups=pattern)):
        idx = np.argwhere(np.abs(T) > 1e-14 * np.abs(T).max())
        coef = T[tuple(idx.T)]
        out.append(((idx + np.array(offsets)[None, :]).astype(np.int64), coef.astype(float)))
    return out


class InvariantDescriptor(HarmonicExpansionDescriptor):
    kind = "invariants"
    _features_kernel = staticmethod(invariant_features)
    _values_kernel = staticmethod(invariant_values)
    _backward_kernel = staticmethod(invariant_backward)
    extra_options = ("orders", "mixed_orders")

    def __init__(self, elements: list[str], cutoff: float = 5.0, radial: dict | None = None, orders=None,
                 mixed_orders=None):
        super().__init__(elements, cutoff, radial)
        self.mixed_orders = sorted({int(p) for p in (mixed_orders or [])})
        if any(not 2 <= p <= MAX_ORDER for p in self.mixed_orders):
            raise LinpotInputError(f"mixed_orders must be orders 2 to {MAX_ORDER}, got {mixed_orders}")
        orders = orders if orders is not None else [[1, 8, 0], [2, 8, 4], [3, 4, 3]]
        self.orders = []
        for entry in orders:
            if len(entry) != 3:
                raise LinpotInputError(f"each order needs [order, n_max, l_max], got {entry}")
            p, n_max, l_max = (int(v) for v in entry)
            if not 1 <= p <= MAX_ORDER:
                raise LinpotInputError(f"invariant order must be 1 to {MAX_ORDER}, got {p}")
            if not 1 <= n_max <= self.radial.n_basis:
                raise LinpotInputError(f"order {p}: n_max must be 1 to n_basis={self.radial.n_basis}, got {n_max}")
            if l_max < 0:
                raise LinpotInputError(f"order {p}: l_max must be >= 0, got {l_max}")
            self.orders.append([p, n_max, l_max])
        self._build_tables()

    def _build_tables(self):
        types, entry_lm, entry_coef, entry_start, pos_l = [], [], [], [0], []
        self.feature_labels = []
        feat_species, feat_nq, feat_type, feat_order = [], [], [], []
        type_index = {}
        self.l_max = 0

        def add_type(key, ls, lm, coef):
            if key not in type_index:
                type_index[key] = len(types)
                types.append(key)
                padded = np.full((len(lm), MAX_ORDER), -1, dtype=np.int64)
                padded[:, :len(ls)] = lm
                entry_lm.append(padded)
                entry_coef.append(coef)
                entry_start.append(entry_start[-1] + len(lm))
                pos_l.append(list(ls) + [-1] * (MAX_ORDER - len(ls)))
                self.l_max = max(self.l_max, max(ls))
            return type_index[key]

        def add_feature(s, ns, t, p, label):
            feat_species.append(s)
            feat_nq.append(list(ns) + [0] * (MAX_ORDER - len(ns)))
            feat_type.append(t)
            feat_order.append(p)
            self.feature_labels.append(label)

        for p, n_max, l_max in self.orders:
            if p in self.mixed_orders:
                for ls, ns, pattern in mixed_multisets(p, n_max, l_max):
                    for t_local, (lm, coef) in enumerate(mixed_coupling_type(ls, pattern)):
                        t = add_type(("mixed", ls, pattern, t_local), ls, lm, coef)
                        for s in range(len(self.elements)):
                            add_feature(s, ns, t, p, f"B{p}[{self.elements[s]},n={','.join(map(str, ns))},"
                                                     f"l={','.join(map(str, ls))},#{t_local}]")
                continue
            for ls in multisets(p, l_max):
                for t_local, (lm, coef) in enumerate(coupling_type(ls)):
                    t = add_type((ls, t_local), ls, lm, coef)
                    for s in range(len(self.elements)):
                        for n in range(n_max):
                            add_feature(s, [n] * p, t, p, f"B{p}[{self.elements[s]},n={n},l={','.join(map(str, ls))},#{t_local}]")
        feat_nq = np.array(feat_nq, dtype=np.int64).reshape(len(feat_nq), MAX_ORDER)
        feat_type = np.array(feat_type, dtype=np.int64)
        self.feature_orders = np.array(feat_order, dtype=np.int64)
        type_pos_l = np.array(pos_l, dtype=np.int64).reshape(len(pos_l), MAX_ORDER)
        # slot of each factor: the first factor with the same l and radial index (the same vector)
        slots = np.zeros_like(feat_nq)
        for k in range(len(feat_type)):
            ls_k, ns_k = type_pos_l[feat_type[k]], feat_nq[k]
            for q in range(MAX_ORDER):
                slots[k, q] = next(r for r in range(q + 1) if ls_k[r] == ls_k[q] and ns_k[r] == ns_k[q])
        if not len(feat_type):
            raise LinpotInputError("the invariant orders given define no features")
        self._kernel_tables = InvariantTables(
            feat_species=np.array(feat_species, dtype=np.int64), feat_nq=feat_nq, feat_slot=slots, feat_type=feat_type,
            type_entry_start=np.array(entry_start, dtype=np.int64),
            entry_lm=np.concatenate(entry_lm) if entry_lm else np.zeros((0, MAX_ORDER), dtype=np.int64),
            entry_coef=np.concatenate(entry_coef) if entry_coef else np.zeros(0), type_pos_l=type_pos_l)

    @property
    def n_features(self) -> int:
        return len(self._kernel_tables.feat_type)

    def feature_names(self) -> list[str]:
        return list(self.feature_labels)

    def _option_spec(self, key):
        if key == "mixed_orders":
            return list(self.mixed_orders)
        return [list(o) for o in self.orders]

    def kernel_tables(self) -> InvariantTables:
        return self._kernel_tables
