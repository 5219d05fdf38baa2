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

**The structure (configuration) grade** (:class:`ConfigurationSet`, the optional
``configurations`` entry of the block) grades a structure's energy row as a whole, as MTP's
configuration-level grade does. The row is the per-atom mean of the structure's atomic rows,
``x = (1/N) sum_i B_i`` (all element blocks), which is the row of the energy per atom the fit
sees (so a supercell of a training structure has the training structure's row and grade; the sum
would grow with the cell). A potential usually has fewer training structures than columns, or
structures whose rows span only a few directions, so a square maxvol set does not exist; linpot
uses the training rows' principal subspace: ``V`` (W x r), the right singular vectors of the
training rows ``X`` (m x W) whose singular values exceed ``rtol`` times the largest (default
1e-3); maxvol over ``Z = X V`` selects ``r`` training structures, the active rows ``A`` (r x W),
and a row ``x`` gets

    c = (x V) (A V)^{-1},     gamma_in = max_j |c_j|,
    gamma_out = ||x - c A|| / tau,     tau = max(max_k ||x_k - c_k A||, rtol * s_max),
    gamma = max(gamma_in, gamma_out)

(``gamma_out = 0`` when ``r`` = W). ``gamma_in`` is the maxvol grade within the subspace (at most
the tolerance for every training structure), ``gamma_out`` the distance from the active rows'
span relative to the largest a training structure has (at most 1 for every training structure),
so ``gamma <= tolerance`` on the training structures and above 1 for a structure outside the
parallelotope or further from the span than any training structure. ``gamma_in`` is invariant to
linear transforms of the features; ``gamma_out`` is measured in the model's standardised
features (each divided by its spread over the training atoms). Stored as::

    "configurations": {"n": r, "width": W, "rows": "<base64 A>", "basis": "<base64 V>",
                       "residual_scale": tau, "sources": [structure, ...], "rtol": 1e-3, ...}
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


def _encode(a) -> str:
    return base64.b64encode(np.ascontiguousarray(a, dtype="<f8").tobytes()).decode("ascii")


def _decode(text: str, shape: tuple, what: str) -> np.ndarray:
    values = np.frombuffer(base64.b64decode(text, validate=True), dtype="<f8")
    if len(values) != int(np.prod(shape)):
        raise ValueError(f"{what} has {len(values)} values, expected {int(np.prod(shape))}")
    out = values.reshape(shape).astype(float)
    if not np.all(np.isfinite(out)):
        raise ValueError(f"{what} holds non-finite values")
    return out


def configuration_row(atomic_rows: np.ndarray) -> np.ndarray:
    """The row of a structure's energy per atom: the mean of its atomic rows (W,)."""
    return np.asarray(atomic_rows).mean(axis=0)


class ConfigurationSet:
    """The active set of the structure grade (see the module's docstring): ``rows`` ``A`` (r, W),
    the training structures' energy-per-atom rows that maxvol selected; ``basis`` ``V`` (W, r),
    the training rows' principal subspace; ``residual_scale`` ``tau`` (None when ``r`` = W: no
    out-of-span part); ``sources`` (r,) their training structures (-1: not a training structure,
    e.g. added by a selection); ``info``: how it was selected."""

    def __init__(self, rows, basis, residual_scale=None, sources=None, info: dict | None = None):
        self.rows = np.array(rows, dtype=float)
        self.basis = np.array(basis, dtype=float)
        r, width = self.rows.shape if self.rows.ndim == 2 else (-1, -1)
        if self.basis.shape != (width, r) or r < 1:
            raise ValueError(f"configuration set: rows {self.rows.shape} and basis {self.basis.shape} do not match")
        self.residual_scale = None if residual_scale is None else float(residual_scale)
        if self.residual_scale is not None and not self.residual_scale > 0:
            raise ValueError(f"configuration set: residual scale {residual_scale} is not positive")
        self.sources = np.full(r, -1, dtype=np.int64) if sources is None else np.asarray(sources, dtype=np.int64).reshape(r)
        self.info = dict(info or {})
        self.inverse = np.linalg.inv(self.rows @ self.basis)

    @property
    def width(self) -> int:
        return self.rows.shape[1]

    def components(self, rows) -> tuple[np.ndarray, np.ndarray]:
        """``(c, residual)``: the active coordinates (m, r) of ``rows`` (m, W) within the subspace
        and the rows' parts outside the active rows' span (m, W)."""
        rows = np.atleast_2d(np.asarray(rows, dtype=float))
        c = rows @ self.basis @ self.inverse
        return c, rows - c @ self.rows

    def grades(self, rows) -> np.ndarray:
        """``gamma = max(gamma_in, gamma_out)`` of each row (m,)."""
        c, residual = self.components(rows)
        g = np.abs(c).max(axis=1)
        if self.residual_scale is not None:
            g = np.maximum(g, np.linalg.norm(residual, axis=1) / self.residual_scale)
        return g

    def grade(self, atomic_rows) -> float:
        """The structure grade of one structure from its atomic rows (n_atoms, W)."""
        return float(self.grades(configuration_row(atomic_rows))[0])

    def with_structure(self, row, tolerance: float = 1.001) -> ConfigurationSet:
        """A copy to which the structure of energy-per-atom row ``row`` (W,) was added, as a
        greedy selection does: a row further from the span than ``tau`` extends the subspace
        by its out-of-span direction (and joins the active rows); else a row with an active
        coordinate above ``tolerance`` replaces that active row (maxvol swap). Afterwards the row
        (and any copy of it) has grade at most 1 (to round-off)."""
        row = np.asarray(row, dtype=float)
        c, residual = self.components(row)
        norm = float(np.linalg.norm(residual[0]))
        rows, basis, sources = self.rows, self.basis, self.sources
        if self.residual_scale is not None and norm > self.residual_scale:
            q = residual[0] / norm
            q -= basis @ (basis.T @ q)  # keep the basis orthonormal to round-off
            q /= np.linalg.norm(q)
            rows, basis, sources = np.vstack([rows, row]), np.column_stack([basis, q]), np.append(sources, -1)
        elif np.abs(c).max() > tolerance:
            j = int(np.argmax(np.abs(c[0])))
            rows, sources = rows.copy(), sources.copy()
            rows[j], sources[j] = row, -1
        else:
            return self
        scale = self.residual_scale if basis.shape[1] < self.width else None
        return ConfigurationSet(rows, basis, scale, sources, self.info)

    def to_payload(self) -> dict:
        return {**self.info, "n": int(len(self.rows)), "width": int(self.width), "rows": _encode(self.rows),
                "basis": _encode(self.basis), "residual_scale": self.residual_scale, "sources": self.sources.tolist()}

    @classmethod
    def from_payload(cls, payload: dict) -> ConfigurationSet:
        r, width = int(payload["n"]), int(payload["width"])
        rows = _decode(payload["rows"], (r, width), "the configuration set's rows")
        basis = _decode(payload["basis"], (width, r), "the configuration set's basis")
        info = {k: v for k, v in payload.items() if k not in ("n", "width", "rows", "basis", "residual_scale", "sources")}
        out = cls(rows, basis, payload.get("residual_scale"), payload.get("sources"), info)
        if not np.all(np.isfinite(out.inverse)):
            raise ValueError("the configuration set is singular")
        return out


class ActiveSet:
    """Per element, the active rows (n, n) of the element's block of the atomic rows.

    ``rows``: ``{element: (n, n) array}``; ``sources``: ``{element: (n, 2) int array}`` (training
    structure, atom) or None; ``info``: free-form record of how it was selected;
    ``configurations``: the :class:`ConfigurationSet` of the structure grade, or None."""

    def __init__(self, rows: dict, sources: dict | None = None, info: dict | None = None,
                 configurations: ConfigurationSet | None = None):
        self.rows = {e: np.array(a, dtype=float) for e, a in rows.items()}
        for e, a in self.rows.items():
            if a.ndim != 2 or a.shape[0] != a.shape[1]:
                raise ValueError(f"active set of {e} is not square ({a.shape})")
        self.sources = {e: np.asarray(sources[e], dtype=np.int64).reshape(-1, 2) if sources and e in sources
                        else np.full((len(a), 2), -1, dtype=np.int64) for e, a in self.rows.items()}
        self.info = dict(info or {})
        self.configurations = configurations
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
        if self.configurations is not None and self.configurations.width != width * len(model.elements):
            raise ValueError(f"the configuration set has {self.configurations.width} columns, the model's rows "
                             f"{width * len(model.elements)}")

    def structure_grade(self, atomic_rows: np.ndarray) -> float | None:
        """The structure grade from the structure's atomic rows, or None without a configuration set."""
        return None if self.configurations is None else self.configurations.grade(atomic_rows)

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
        out = {"encoding": ENCODING, **self.info,
               "elements": {e: {"n": int(len(a)), "sources": self.sources[e].tolist(), "rows": _encode(a)}
                            for e, a in self.rows.items()}}
        if self.configurations is not None:
            out["configurations"] = self.configurations.to_payload()
        return out

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
        info = {k: v for k, v in payload.items() if k not in ("encoding", "elements", "configurations")}
        configurations = ConfigurationSet.from_payload(payload["configurations"]) if "configurations" in payload else None
        return cls(rows, sources, info, configurations)
