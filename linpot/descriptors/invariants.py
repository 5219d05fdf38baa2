"""Group-theoretical rotational invariants of the neighbour density, orders 1 to 6.

``a_{k n l m}(i) = sum_j w_k(s_j) f_n(r_ij) Y_lm(r_ij/|r_ij|)`` over element channels ``k``
(one per element by default: ``w_k(s) = 1`` if ``s = k``; see
:mod:`linpot.descriptors.element_channels`) and, for each order ``p``, multiset
``(l_1..l_p)`` with ``l_q <= l_max(p)`` and each independent coupling tensor ``c``
(:mod:`linpot.descriptors.coupling`),

    B(i) = sum_m c[m_1..m_p] a_{k_1 n_1 l_1 m_1}(i) ... a_{k_p n_p l_p m_p}(i)

Which factors may differ:

* ``element_coupling = "compact"`` (default): the same element channel ``k`` and radial index
  ``n < n_max(p)`` in all factors. S elements give S times the one-element invariants, but an
  invariant never couples the density of one element with that of another.
* ``element_coupling = "complete"``: independent element channels ``k_q`` (the same ``n``): every
  invariant polynomial of the element-resolved densities, as in the polynomial MLPs of Seko et
  al. The independent coupling tensors are selected again for each pattern of equal factors
  (equal l and channel are the same vector), as for mixed radial indices.
* ``mixed_orders``: orders whose factors also take independent radial indices.

Order 1 is the pair descriptor (times ``Y_00``), order 2 the power spectrum, order 3 the
bispectrum. Every B is invariant under rotations, inversion, translations and permutations of
neighbours.

Spec: ``orders = [[p, n_max, l_max], ...]`` (e.g. ``[[1, 10, 0], [2, 8, 6], [3, 6, 4], [4, 4, 2]]``),
optional ``mixed_orders``, ``element_coupling`` and ``channels``.
"""

from __future__ import annotations

from functools import cache
from itertools import combinations_with_replacement

import numpy as np

from ..errors import LinpotInputError
from ..kernels.invariants import InvariantTables, invariant_backward, invariant_features, invariant_values
from .base import HarmonicExpansionDescriptor
from .coupling import invariant_tensors, multisets, select_invariants, table_selection
from .element_channels import channel_weights

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


def factor_multisets(order: int, l_max: int, labels):
    """``(ls, cs, pattern)`` for every multiset of ``order`` factors ``(l, c)``, ``l <= l_max``,
    ``c`` one of ``labels`` (a factor's channel: radial index, element channel, or both), ``sum(l)``
    even, sorted by (l, label order); ``pattern[q]`` numbers the distinct channels within each
    block of equal l (what decides which factors are the same vector)."""
    pairs = [(l, c) for l in range(l_max + 1) for c in range(len(labels))]
    for combo in combinations_with_replacement(pairs, order):
        ls = tuple(l for l, _ in combo)
        if sum(ls) % 2:
            continue
        pattern, seen = [], {}
        for l, c in combo:
            block = seen.setdefault(l, {})
            pattern.append(block.setdefault(c, len(block)))
        yield ls, tuple(labels[c] for _, c in combo), tuple(pattern)


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


ELEMENT_COUPLINGS = ("compact", "complete")


class InvariantDescriptor(HarmonicExpansionDescriptor):
    kind = "invariants"
    _features_kernel = staticmethod(invariant_features)
    _values_kernel = staticmethod(invariant_values)
    _backward_kernel = staticmethod(invariant_backward)
    extra_options = ("orders", "mixed_orders", "element_coupling", "channels")

    def __init__(self, elements: list[str], cutoff: float = 5.0, radial: dict | None = None, orders=None,
                 mixed_orders=None, element_coupling: str = "compact", channels=None):
        super().__init__(elements, cutoff, radial)
        self.mixed_orders = sorted({int(p) for p in (mixed_orders or [])})
        if any(not 2 <= p <= MAX_ORDER for p in self.mixed_orders):
            raise LinpotInputError(f"mixed_orders must be orders 2 to {MAX_ORDER}, got {mixed_orders}")
        if element_coupling not in ELEMENT_COUPLINGS:
            raise LinpotInputError(f"element_coupling must be one of {', '.join(ELEMENT_COUPLINGS)}, got {element_coupling!r}")
        self.element_coupling = element_coupling
        self.channel_weights, self.channels = channel_weights(self.elements, channels)
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

    @property
    def n_channels(self) -> int:
        """Number of element channels K (the number of elements for one-hot channels)."""
        return len(self.channel_weights)

    @property
    def compiles(self) -> bool:
        """Whether the compiled evaluator (and pair_style linpot) can run these invariants: one-hot
        element channels and one radial index per invariant (compact or complete); see
        :func:`linpot.evaluator.supports` for the model's part."""
        return self.channels is None and not self.mixed_orders

    def _channel_names(self) -> list[str]:
        return list(self.elements) if self.channels is None else [f"k{k}" for k in range(self.n_channels)]

    def _build_tables(self):
        types, entry_lm, entry_coef, entry_start, pos_l = [], [], [], [0], []
        self.feature_labels = []
        feat_channel, feat_type, feat_order = [], [], []
        type_index = {}
        self.l_max = 0
        N = self.radial.n_basis
        names = self._channel_names()
        K = len(names)

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

        def add_feature(ks, ns, t, p, ls, t_local, mixed):
            """Invariant of type t whose factor q is channel ``ks[q] * N + ns[q]``."""
            feat_channel.append([k * N + n for k, n in zip(ks, ns)] + [0] * (MAX_ORDER - p))
            feat_type.append(t)
            feat_order.append(p)
            who = names[ks[0]] if len(set(ks)) == 1 else ",".join(names[k] for k in ks)
            radial = ",".join(map(str, ns)) if mixed else str(ns[0])
            self.feature_labels.append(f"B{p}[{who},n={radial},l={','.join(map(str, ls))},#{t_local}]")

        def shared_tensors(ls, pattern):
            """Coupling tensors of ``ls`` with factors grouped by ``pattern``: the committed ones
            when all factors of equal l are one vector (so the complete invariants include the
            compact ones exactly), the selection for the pattern otherwise."""
            if not any(pattern):
                return [(("compact", ls, t), lm, coef) for t, (lm, coef) in enumerate(coupling_type(ls))]
            return [(("mixed", ls, pattern, t), lm, coef) for t, (lm, coef) in enumerate(mixed_coupling_type(ls, pattern))]

        for p, n_max, l_max in self.orders:
            mixed = p in self.mixed_orders
            if self.element_coupling == "compact" and not mixed:
                # one channel and one radial index for all factors (the order of features of
                # every earlier linpot: loaded coefficients keep their meaning)
                for ls in multisets(p, l_max):
                    for t_local, (lm, coef) in enumerate(coupling_type(ls)):
                        t = add_type((ls, t_local), ls, lm, coef)
                        for k in range(K):
                            for n in range(n_max):
                                add_feature([k] * p, [n] * p, t, p, ls, t_local, False)
            elif self.element_coupling == "compact":
                # one element channel, independent radial indices
                for ls, ns, pattern in factor_multisets(p, l_max, list(range(n_max))):
                    for t_local, (lm, coef) in enumerate(mixed_coupling_type(ls, pattern)):
                        t = add_type(("mixed", ls, pattern, t_local), ls, lm, coef)
                        for k in range(K):
                            add_feature([k] * p, ns, t, p, ls, t_local, True)
            elif not mixed:
                # complete: independent element channels, one radial index
                for ls, ks, pattern in factor_multisets(p, l_max, list(range(K))):
                    for t_local, (key, lm, coef) in enumerate(shared_tensors(ls, pattern)):
                        t = add_type(key, ls, lm, coef)
                        for n in range(n_max):
                            add_feature(ks, [n] * p, t, p, ls, t_local, False)
            else:
                # complete and mixed: independent (element channel, radial index) per factor
                labels = [(k, n) for k in range(K) for n in range(n_max)]
                for ls, kns, pattern in factor_multisets(p, l_max, labels):
                    for t_local, (lm, coef) in enumerate(mixed_coupling_type(ls, pattern)):
                        t = add_type(("mixed", ls, pattern, t_local), ls, lm, coef)
                        add_feature([k for k, _ in kns], [n for _, n in kns], t, p, ls, t_local, True)
        if not feat_type:
            raise LinpotInputError("the invariant orders given define no features")
        feat_channel = np.array(feat_channel, dtype=np.int64).reshape(len(feat_channel), MAX_ORDER)
        feat_type = np.array(feat_type, dtype=np.int64)
        self.feature_orders = np.array(feat_order, dtype=np.int64)
        type_pos_l = np.array(pos_l, dtype=np.int64).reshape(len(pos_l), MAX_ORDER)
        # slot of each factor: the first factor with the same l and channel (the same vector)
        slots = np.zeros_like(feat_channel)
        for k in range(len(feat_type)):
            ls_k, cs_k = type_pos_l[feat_type[k]], feat_channel[k]
            for q in range(MAX_ORDER):
                slots[k, q] = next(r for r in range(q + 1) if ls_k[r] == ls_k[q] and cs_k[r] == cs_k[q])
        self._kernel_tables = InvariantTables(
            channel_weights=np.ascontiguousarray(self.channel_weights, dtype=float), feat_channel=feat_channel,
            feat_slot=slots, feat_type=feat_type, type_entry_start=np.array(entry_start, dtype=np.int64),
            entry_lm=np.concatenate(entry_lm) if entry_lm else np.zeros((0, MAX_ORDER), dtype=np.int64),
            entry_coef=np.concatenate(entry_coef) if entry_coef else np.zeros(0), type_pos_l=type_pos_l)

    @property
    def n_features(self) -> int:
        return len(self._kernel_tables.feat_type)

    def feature_names(self) -> list[str]:
        return list(self.feature_labels)

    def spec(self) -> dict:
        out = super().spec()
        # the defaults are left out: specs of compact one-hot invariants read as before
        if self.element_coupling == "compact":
            del out["element_coupling"]
        if self.channels is None:
            del out["channels"]
        return out

    def _option_spec(self, key):
        if key == "mixed_orders":
            return list(self.mixed_orders)
        if key == "orders":
            return [list(o) for o in self.orders]
        return getattr(self, key)

    def kernel_tables(self) -> InvariantTables:
        return self._kernel_tables
