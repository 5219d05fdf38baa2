"""Rotational-invariant coupling coefficients for products of spherical-harmonic expansions.

For a multiset of angular momenta ``ls = (l_1 <= ... <= l_p)`` we need real tensors
``c[m_1..m_p]`` such that ``B = sum_m c[m] a_{l_1 m_1} ... a_{l_p m_p}`` is invariant under O(3)
when the ``a_l`` transform as real spherical harmonics (inversion: ``(-1)^l``). Factors with the
same ``l`` are the same vector (the compact choice: one radial channel per invariant), so only
the part of ``c`` symmetric within equal-``l`` groups matters.

Construction:

1. Clebsch-Gordan coefficients ``<l1 m1 l2 m2 | L M>`` from Racah's formula in exact rational
   arithmetic (Python integers); only the final square root is rounded (float64). They agree with
   ``sympy.physics.wigner.clebsch_gordan`` (tested).
2. Coupling trees ``((l_1 l_2)L_2 l_3)L_3 ... l_p) 0`` in the complex basis, one per path of
   intermediate momenta allowed by the triangle rule (the last must equal ``l_p``).
3. Transformed to the real basis (``linpot.conventions.real_from_complex_matrix``); the real and
   imaginary parts of each tree are real invariant tensors, and together they span all of them.
   Parity: only ``sum(l)`` even is kept (O(3), not just SO(3)).
4. Rank-revealing selection: each candidate (path, part) is evaluated on random inputs in which
   equal-``l`` factors share one vector (so the values are those of the symmetrised tensor); a
   candidate is kept when its values are not within a relative residual of ``TOLERANCE`` of the
   span of those already kept (Gram-Schmidt with reorthogonalisation). This removes the
   combinations made dependent by repeated factors as well as linearly dependent paths.

The selection, a list of ``(path, part)`` per multiset, is what the shipped table
``coupling_tables.json`` stores; tensors are rebuilt from it exactly as above when needed.
Regenerate with ``linpot coupling-tables``.
"""

from __future__ import annotations

import itertools
import json
import math
from fractions import Fraction
from functools import cache, lru_cache
from pathlib import Path

import numpy as np

from ..conventions import real_from_complex_matrix

TOLERANCE = 1e-9
TABLE_PATH = Path(__file__).with_name("coupling_tables.json")
TABLE_FORMAT = "linpot-coupling-tables"
#: Largest l per order in the shipped table.
DEFAULT_REACH = {1: 0, 2: 12, 3: 12, 4: 8, 5: 4, 6: 4}


def _clebsch_gordan_exact(l1, m1, l2, m2, L, M) -> float:
    """<l1 m1 l2 m2 | L M> by Racah's formula, exact until the final square root."""
    if M != m1 + m2 or not (abs(l1 - l2) <= L <= l1 + l2) or abs(m1) > l1 or abs(m2) > l2 or abs(M) > L:
        return 0.0
    f = math.factorial
    pre = Fraction((2 * L + 1) * f(L + l1 - l2) * f(L - l1 + l2) * f(l1 + l2 - L), f(l1 + l2 + L + 1))
    pre *= f(L + M) * f(L - M) * f(l1 - m1) * f(l1 + m1) * f(l2 - m2) * f(l2 + m2)
    total = Fraction(0)
    for k in range(0, l1 + l2 - L + 1):
        args = (k, l1 + l2 - L - k, l1 - m1 - k, l2 + m2 - k, L - l2 + m1 + k, L - l1 - m2 + k)
        if min(args) < 0:
            continue
        denom = 1
        for a in args:
            denom *= f(a)
        total += Fraction((-1) ** k, denom)
    if total == 0:
        return 0.0
    sign = 1.0 if total > 0 else -1.0
    return sign * math.sqrt(pre * total * total)


@cache
def clebsch_gordan(l1: int, l2: int, L: int) -> np.ndarray:
    """Dense ``C[m1 + l1, m2 + l2, M + L] = <l1 m1 l2 m2 | L M>`` (complex basis, real values)."""
    C = np.zeros((2 * l1 + 1, 2 * l2 + 1, 2 * L + 1))
    for m1 in range(-l1, l1 + 1):
        for m2 in range(-l2, l2 + 1):
            M = m1 + m2
            if abs(M) <= L:
                C[m1 + l1, m2 + l2, M + L] = _clebsch_gordan_exact(l1, m1, l2, m2, L, M)
    C.setflags(write=False)
    return C


def coupling_paths(ls) -> list[tuple[int, ...]]:
    """Intermediate momenta ``(L_2, ..., L_{p-2})`` of every coupling tree of ``ls`` to total 0.

    ``L_1 = l_1``; ``L_k`` couples ``L_{k-1}`` with ``l_k`` (triangle rule); the last,
    ``L_{p-1}``, must equal ``l_p`` so that ``(L_{p-1} l_p) 0`` exists. For p = 1 the only tree is
    l = 0; for p = 2, ``l_1 = l_2``.
    """
    ls = tuple(ls)
    p = len(ls)
    if p == 1:
        return [()] if ls[0] == 0 else []
    if p == 2:
        return [()] if ls[0] == ls[1] else []
    paths = []

    def extend(prefix, L_prev, k):
        if k == p - 1:
            if L_prev == ls[p - 1]:
                paths.append(tuple(prefix[:-1]))
            return
        for L in range(abs(L_prev - ls[k]), L_prev + ls[k] + 1):
            extend(prefix + [L], L, k + 1)

    extend([], ls[0], 1)
    return paths


def tree_tensor(ls, path) -> np.ndarray:
    """Coupling-tree tensor in the complex basis, shape ``(2 l_1 + 1, ..., 2 l_p + 1)``."""
    ls = tuple(ls)
    p = len(ls)
    if p == 1:
        return np.ones(1)
    intermediate = [ls[0], *path, ls[-1]]  # L_1 .. L_{p-1}
    T = np.eye(2 * ls[0] + 1)  # axes (m_1, M_1)
    for k in range(1, p - 1):
        C = clebsch_gordan(intermediate[k - 1], ls[k], intermediate[k])
        T = np.tensordot(T, C, axes=([T.ndim - 1], [0]))  # (..., m_k, M_k)
    C = clebsch_gordan(intermediate[-1], ls[-1], 0)[:, :, 0]
    return np.tensordot(T, C, axes=([T.ndim - 1], [0]))


def real_tree_tensor(ls, path) -> np.ndarray:
    """The tree tensor in the real-harmonic basis (complex values; Re and Im are invariants)."""
    T = tree_tensor(ls, path).astype(complex)
    for axis, l in enumerate(ls):
        Uc = np.conj(real_from_complex_matrix(l))
        T = np.moveaxis(np.tensordot(Uc, T, axes=([1], [axis])), 0, axis)
    return T


def _l_of(key) -> int:
    """The angular momentum of a factor key: ``l`` or ``(l, group)``."""
    return key[0] if isinstance(key, tuple) else key


def _random_inputs(keys, n_samples, seed):
    """One random vector per distinct key ``(l, group)`` (or ``l``), per sample."""
    rng = np.random.default_rng(seed)
    return {key: rng.normal(size=(n_samples, 2 * _l_of(key) + 1)) for key in sorted(set(keys))}


def tree_values(ls, path, complex_inputs: dict, keys=None) -> np.ndarray:
    """Value of the complex coupling tree on each sample, coupling the vectors step by step
    (no full tensor): ``A_k[M'] = sum <L_{k-1} M, l_k m | L_k M'> A_{k-1}[M] a_{l_k}[m]``.
    Factor q takes ``complex_inputs[keys[q]]`` (default: keyed by its l)."""
    ls = tuple(ls)
    keys = ls if keys is None else tuple(keys)
    A = complex_inputs[keys[0]]
    if len(ls) == 1:
        return A[:, 0]
    intermediate = [ls[0], *path, ls[-1]]
    for k in range(1, len(ls) - 1):
        C = clebsch_gordan(intermediate[k - 1], ls[k], intermediate[k])
        A = np.einsum("sa,sb,abc->sc", A, complex_inputs[keys[k]], C)
    C = clebsch_gordan(intermediate[-1], ls[-1], 0)[:, :, 0]
    return np.einsum("sa,sb,ab->s", A, complex_inputs[keys[-1]], C)


def select_invariants(ls, tolerance: float = TOLERANCE, seed: int = 0, groups=None) -> list[tuple[tuple[int, ...], str]]:
    """Independent invariant candidates ``(path, "re"|"im")`` for the multiset ``ls``.

    ``groups`` (one label per factor, ``ls`` sorted): factors with equal ``l`` and equal label are
    the same vector, factors with equal ``l`` and different labels are different vectors (mixed
    radial indices). Default: every equal-``l`` factor is the same vector (the compact choice)."""
    if groups is None:
        ls = tuple(sorted(ls))
        keys = ls
    else:
        order = sorted(range(len(ls)), key=lambda q: (ls[q], groups[q]))
        ls = tuple(ls[q] for q in order)
        keys = tuple((ls[k], groups[order[k]]) for k in range(len(ls)))
    if sum(ls) % 2:
        return []
    paths = coupling_paths(ls)
    if not paths:
        return []
    n_samples = 2 * len(paths) + 24
    inputs = _random_inputs(keys, n_samples, seed)
    complex_inputs = {key: a @ np.conj(real_from_complex_matrix(_l_of(key))) for key, a in inputs.items()}
    # Each tree is a unit vector in the product space (orthonormal coupling), so
    # |value| <= prod_q |a_q|; a part far below that bound is round-off (the imaginary part of a
    # real tree, or a tree that vanishes when equal-l factors are identical).
    bound = np.linalg.norm(np.prod([np.linalg.norm(inputs[key], axis=1) for key in keys], axis=0))
    basis: list[np.ndarray] = []
    chosen = []
    for path in paths:
        values = tree_values(ls, path, complex_inputs, keys)
        for part, v in (("re", values.real), ("im", values.imag)):
            norm = np.linalg.norm(v)
            if norm <= 1e3 * np.finfo(float).eps * bound:
                continue
            r = v / norm
            for _ in range(2):
                for b in basis:
                    r = r - (b @ r) * b
            if np.linalg.norm(r) > tolerance:
                basis.append(r / np.linalg.norm(r))
                chosen.append((tuple(path), part))
    return chosen


def invariant_tensors(ls, selection) -> list[np.ndarray]:
    """Real tensors of the selected invariants, each scaled to unit Frobenius norm."""
    out = []
    for path, part in selection:
        T = real_tree_tensor(ls, path)
        T = T.real if part == "re" else T.imag
        out.append(T / np.linalg.norm(T))
    return out


def multisets(order: int, l_max: int):
    """Sorted tuples (l_1 <= ... <= l_p <= l_max) with even sum."""
    for ls in itertools.combinations_with_replacement(range(l_max + 1), order):
        if sum(ls) % 2 == 0:
            yield ls


def generate_tables(reach: dict | None = None, tolerance: float = TOLERANCE) -> dict:
    """The coupling table for every order p and multiset with l <= reach[p]."""
    reach = dict(DEFAULT_REACH if reach is None else reach)
    orders = {}
    for p, l_max in sorted(reach.items()):
        entries = []
        for ls in multisets(int(p), int(l_max)):
            selection = select_invariants(ls, tolerance)
            if selection:
                entries.append({"l": list(ls), "invariants": [[list(path), part] for path, part in selection]})
        orders[str(p)] = {"l_max": int(l_max), "multisets": entries}
    return {"format": TABLE_FORMAT, "version": 1, "tolerance": tolerance,
            "convention": "real spherical harmonics without Condon-Shortley phase, see linpot.conventions",
            "orders": orders}


def write_tables(path, table: dict) -> None:
    from ..io import atomic_write_text

    # One multiset per line: readable diffs when the table is regenerated.
    lines = ["{"]
    for key in ("format", "version", "tolerance", "convention"):
        lines.append(f"{json.dumps(key)}: {json.dumps(table[key])},")
    lines.append('"orders": {')
    orders = list(table["orders"].items())
    for k, (p, order) in enumerate(orders):
        lines.append(f"{json.dumps(p)}: {{\"l_max\": {order['l_max']}, \"multisets\": [")
        entries = order["multisets"]
        for e, entry in enumerate(entries):
            lines.append(json.dumps(entry, separators=(",", ":")) + ("," if e < len(entries) - 1 else ""))
        lines.append("]}" + ("," if k < len(orders) - 1 else ""))
    lines.append("}}")
    atomic_write_text(path, "\n".join(lines) + "\n")


@lru_cache(maxsize=1)
def load_tables(path: str | None = None) -> dict:
    with open(path or TABLE_PATH) as fh:
        table = json.load(fh)
    if table.get("format") != TABLE_FORMAT:
        raise ValueError(f"{path or TABLE_PATH} is not a coupling table")
    return table


def check_tables(reach: dict | None = None) -> str | None:
    """Regenerate the table up to ``reach`` (default: the shipped reach) and compare it with the
    shipped one; returns a description of the first difference, or None."""
    shipped = load_tables()
    reach = reach or {int(p): o["l_max"] for p, o in shipped["orders"].items()}
    for p, order in generate_tables(reach)["orders"].items():
        if order["l_max"] > shipped["orders"].get(p, {}).get("l_max", -1):
            return f"order {p}: the shipped table stops below l = {order['l_max']}"
        expected = [e for e in shipped["orders"][p]["multisets"] if max(e["l"]) <= order["l_max"]]
        if expected != order["multisets"]:
            return f"order {p}: the regenerated table differs from the shipped one"
    return None


def table_selection(ls) -> list[tuple[tuple[int, ...], str]]:
    """The shipped selection for ``ls``; falls back to generating it when beyond the table."""
    ls = tuple(sorted(ls))
    table = load_tables()
    order = table["orders"].get(str(len(ls)))
    if order is not None and max(ls) <= order["l_max"]:
        for entry in order["multisets"]:
            if tuple(entry["l"]) == ls:
                return [(tuple(path), part) for path, part in entry["invariants"]]
        return []
    return select_invariants(ls)
