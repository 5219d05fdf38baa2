"""Element channels of the neighbour density: ``a_{k n l m}(i) = sum_j w_k(s_j) f_n(r_ij) Y_lm``.

A multi-element descriptor sees its neighbours through ``K`` element channels, ``w[k, s]`` being
the weight of a neighbour of element ``s`` in channel ``k``:

* **one-hot** (the default): ``w = I``, one channel per element, the neighbour density of each
  element apart. Invariants coupling these channels independently are the *complete*
  element-resolved invariants; their number grows as ``S^p / p!`` with S elements at order p.
* **properties**: ``K <= S`` orthonormal channels over the potential's elements, a documented
  projection of element properties: channel 0 weighs every element equally (the total density,
  ``1 / sqrt(S)``); the next are the period, the group and the covalent radius of ASE's tables
  (:mod:`ase.data`), each standardised over the elements, made orthogonal to the channels before
  them (Gram-Schmidt) and dropped if nothing is left; one-hot directions complete the set if the
  properties run out. With ``K = S`` the channels span every element, so complete invariants of
  them span the one-hot complete invariants (an invertible change of variables per factor);
  with the *compact* coupling (the same channel in every factor of an invariant, the tensor-reduced
  form) the number of invariants grows as K, not as ``S^p``.
* **fitted**: ``K <= S`` orthonormal channels that jointly diagonalise the order-2 coefficients
  of a complete fit to the training data (:mod:`linpot.fit.channel_fit`; the fit resolves them,
  a descriptor takes them only with their weights written out).
* **weights**: a ``K x S`` table given by the user.

The weights are stored in the descriptor spec (``channels.weights``), so a potential file does
not depend on this module's defaults.
"""

from __future__ import annotations

import numpy as np
from ase.data import atomic_numbers, covalent_radii

from ..errors import LinpotInputError

CHANNEL_KINDS = ("one-hot", "properties", "fitted", "weights")

# last atomic number of each period (noble gases)
_PERIOD_ENDS = (2, 10, 18, 36, 54, 86, 118)


def period_and_group(z: int) -> tuple[int, int]:
    """Period (1-7) and IUPAC group (1-18; lanthanides and actinides 3) of atomic number ``z``."""
    start = 0
    for period, end in enumerate(_PERIOD_ENDS, start=1):
        if z <= end:
            pos = z - start  # 1-based position within the period
            if period == 1:
                return 1, 1 if z == 1 else 18
            if period <= 3:
                return period, pos if pos <= 2 else pos + 10
            if period <= 5:
                return period, pos
            # periods 6, 7: 14 f-block elements after group 2 share group 3
            if pos <= 2:
                return period, pos
            if pos <= 17:
                return period, 3
            return period, pos - 14
        start = end
    raise LinpotInputError(f"no period for atomic number {z}")


def property_channel_weights(elements: list[str], n_channels: int) -> np.ndarray:
    """The ``properties`` channels (module docstring): ``(n_channels, len(elements))``, rows orthonormal."""
    S = len(elements)
    if not 1 <= n_channels <= S:
        raise LinpotInputError(f"property channels: n_channels must be 1 to the number of elements ({S}), got {n_channels}")
    zs = [atomic_numbers[e] for e in elements]
    candidates = [np.ones(S)]
    for values in ([period_and_group(z)[0] for z in zs], [period_and_group(z)[1] for z in zs],
                   [covalent_radii[z] for z in zs]):
        v = np.asarray(values, dtype=float)
        if v.std() > 0:
            candidates.append((v - v.mean()) / v.std())
    candidates += list(np.eye(S))
    rows: list[np.ndarray] = []
    for v in candidates:
        for _ in range(2):  # Gram-Schmidt twice: orthogonal to round-off
            for r in rows:
                v = v - (r @ v) * r
        norm = np.linalg.norm(v)
        if norm > 1e-8:
            rows.append(v / norm)
        if len(rows) == n_channels:
            break
    return np.array(rows)


def channel_weights(elements: list[str], channels) -> tuple[np.ndarray, dict | None]:
    """``(weights[k, s], spec)`` of a ``channels`` option: None or ``{"kind": "one-hot"}`` (spec
    None), ``{"kind": "properties", "n_channels": K}`` or ``{"kind": "weights", "weights": [[...]]}``
    (spec with the weights written out)."""
    if channels is None:
        return np.eye(len(elements)), None
    if not isinstance(channels, dict):
        raise LinpotInputError(f"channels must be a table with a kind ({', '.join(CHANNEL_KINDS)}), got {channels!r}")
    kind = channels.get("kind", "weights" if "weights" in channels else None)
    if kind not in CHANNEL_KINDS:
        raise LinpotInputError(f"unknown channels kind {kind!r} (known: {', '.join(CHANNEL_KINDS)})")
    unknown = set(channels) - {"kind", "n_channels", "weights"}
    if unknown:
        raise LinpotInputError(f"unknown channels option(s): {', '.join(sorted(unknown))}")
    if kind == "one-hot":
        return np.eye(len(elements)), None
    if "weights" in channels:  # a stored spec, or the user's table
        w = np.array(channels["weights"], dtype=float)
        if w.ndim != 2 or w.shape[1] != len(elements) or not len(w) or not np.all(np.isfinite(w)):
            raise LinpotInputError(f"channels weights must be a K x {len(elements)} table of numbers (one column per "
                                   f"element: {', '.join(elements)})")
        if np.linalg.matrix_rank(w) < len(w):
            raise LinpotInputError("channels weights must be linearly independent rows")
    elif kind == "properties":
        w = property_channel_weights(elements, int(channels.get("n_channels", len(elements))))
    elif kind == "fitted":
        raise LinpotInputError("fitted channels are made by linpot fit (a complete order-2 fit first); a descriptor "
                               "takes them only with their weights")
    else:
        raise LinpotInputError("channels kind weights needs a weights table")
    spec = {"kind": kind, "weights": w.tolist()}
    if kind in ("properties", "fitted"):
        spec["n_channels"] = len(w)
    return w, spec
