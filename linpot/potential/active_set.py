"""The extrapolation grade of a potential: maxvol against an active set of training rows.

An atom's energy is ``c · B_i``, ``B_i`` its per-atom design row (:meth:`model.atomic_rows`).
For each element ``s`` the active set is ``n`` per-atom rows of that element's block (``n`` the
block's width, ``1 + n_terms``) chosen from the training atoms by maxvol
(:mod:`linpot.fit.active_set`): the square matrix ``A_s`` of largest ``|det|`` that the
selection found. Every row ``b`` of the block is a combination of the active rows,
``b = x A_s``, with the active coordinates ``x = b A_s^{-1}``; the grade of the atom is

    gamma_i = max_j |x_j|,

1 for the active rows themselves, at most the selection's tolerance (slightly above 1) for every
training atom (else swapping it in would have increased ``|det A_s|``), and above 1 for an atom
whose row the training rows reach only by extrapolating. The grade of a structure is the largest
of its atoms'. It does not depend on the scaling or any invertible linear transform of the
features (``b T (A T)^{-1} = b A^{-1}``), so the model's standardisation does not change it.

A file holds it as the optional ``active_set`` block of a potential::

    {"encoding": "base64 float64 little-endian row-major",
     "elements": {"Mo": {"n": 69, "rows": "<base64>", "sources": [[structure, atom], ...]}, ...},
     "tolerance": 1.001, "n_structures": 108, "n_atoms": 5832}

``sources`` names the training structure and atom of each active row (``[-1, -1]`` where the
training data did not span a direction of the block; see :mod:`linpot.fit.active_set`).
"""

from __future__ import annotations

import base64

import numpy as np

from ..descriptors import species_indices

ENCODING = "base64 float64 little-endian row-major"


def active_coordinates(rows: np.ndarray, inverse: np.ndarray) -> np.ndarray:
    """``rows @ inverse``: the coordinates of ``rows`` (m, n) in the basis of the active rows,
    ``inverse`` the inverse of the active set (n, n)."""
    return np.asarray(rows) @ inverse


def maxvol_grade(rows: np.ndarray, inverse: np.ndarray) -> np.ndarray:
    """The maxvol grade of each row: the largest absolute active coordinate (m,)."""
    if len(rows) == 0:
        return np.zeros(0)
    return np.abs(active_coordinates(rows, inverse)).max(axis=1)


class ActiveSet:
    """Per element, the active rows (n, n) of the element's block of the atomic rows.

    ``rows``: ``{element: (n, n) array}``; ``sources``: ``{element: (n, 2) int array}`` (training
    structure, atom) or None; ``info``: free-form record of how it was selected."""

    def __init__(self, rows: dict, sources: dict | None = None, info: dict | None = None):
        self.rows = {e: np.array(a, dtype=float) for e, a in rows.items()}
        for e, a in self.rows.items():
            if a.ndim != 2 or a.shape[0] != a.shape[1]:
                raise ValueError(f"active set of {e} is not square ({a.shape})")
        self.sources = {e: np.asarray(sources[e], dtype=np.int64).reshape(-1, 2) if sources and e in sources
                        else np.full((len(a), 2), -1, dtype=np.int64) for e, a in self.rows.items()}
        self.info = dict(info or {})
        self._inverse: dict = {}

    def inverse(self, element: str) -> np.ndarray:
        if element not in self._inverse:
            self._inverse[element] = np.linalg.inv(self.rows[element])
        return self._inverse[element]

    def check_model(self, model) -> None:
        width = 1 + model.n_terms
        for e, a in self.rows.items():
            if e not in model.elements:
                raise ValueError(f"active set names element {e}, not one of the model's")
            if a.shape != (width, width):
                raise ValueError(f"active set of {e} has shape {a.shape}, the model's rows have {width} columns")
            if not np.all(np.isfinite(self.inverse(e))):
                raise ValueError(f"active set of {e} is singular")

    def atomic_grades(self, model, atomic_rows: np.ndarray, numbers) -> np.ndarray:
        """The grade of each atom from its atomic rows (``model.atomic_rows``); ``inf`` for an
        element that has no active set (no training atoms)."""
        species = species_indices(numbers, model.elements)
        width = 1 + model.n_terms
        grades = np.full(len(species), np.inf)
        for s, e in enumerate(model.elements):
            mask = species == s
            if e in self.rows and mask.any():
                grades[mask] = maxvol_grade(atomic_rows[mask, s * width:(s + 1) * width], self.inverse(e))
        return grades

    def to_payload(self) -> dict:
        return {"encoding": ENCODING, **self.info,
                "elements": {e: {"n": int(len(a)), "sources": self.sources[e].tolist(),
                                 "rows": base64.b64encode(np.ascontiguousarray(a, dtype="<f8").tobytes()).decode("ascii")}
                             for e, a in self.rows.items()}}

    @classmethod
    def from_payload(cls, payload: dict) -> ActiveSet:
        if payload.get("encoding") != ENCODING:
            raise ValueError(f"active set encoding {payload.get('encoding')!r}, expected {ENCODING!r}")
        rows, sources = {}, {}
        for e, block in payload["elements"].items():
            n = int(block["n"])
            values = np.frombuffer(base64.b64decode(block["rows"], validate=True), dtype="<f8")
            if len(values) != n * n:
                raise ValueError(f"active set of {e} has {len(values)} values, expected {n * n}")
            rows[e] = values.reshape(n, n).astype(float)
            sources[e] = np.asarray(block["sources"], dtype=np.int64).reshape(n, 2)
            if not np.all(np.isfinite(rows[e])):
                raise ValueError(f"active set of {e} holds non-finite values")
        info = {k: v for k, v in payload.items() if k not in ("encoding", "elements")}
        return cls(rows, sources, info)
