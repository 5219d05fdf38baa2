"""Streamed normal equations: ``X^T X``, ``X^T y`` and ``y^T y`` per quantity, accumulated
structure by structure, so memory does not grow with the number of structures.

Rows per structure (see :class:`linpot.models.StructureRows`):

* energy: one row, ``X_E / N`` against ``E / N`` (eV/atom);
* forces: ``3N`` rows against the force components (eV/Å);
* stress: 6 rows in GPa against the Voigt stress (GPa); with ``stress_part="deviatoric"`` the
  rows and labels are first projected on the traceless part (:func:`deviatoric_projection`);
  with ``stress_part="pulay"`` the rows get one more column, :func:`pulay_column`, whose
  coefficient (fitted, unpenalised, not part of the model) is the labels' Pulay stress.

Each structure's rows are multiplied by its config_type weight (squared in the normal
equations); the per-quantity weights are applied later, when the equations are combined, so
they can change without recomputing features.
"""

from __future__ import annotations

import numpy as np

from ..conventions import GPA
from .linear_problem import quadratic_loss

QUANTITIES = ("energy", "forces", "stress")
#: Which part of the stress enters the loss: all six components, or the traceless part only.
STRESS_PARTS = ("full", "deviatoric", "pulay")


def atom_density(n_atoms: int, cell) -> float:
    """``N/V``, atoms per Å^3 of a periodic cell."""
    return n_atoms / abs(float(np.linalg.det(np.asarray(cell, dtype=float))))


def pulay_column(density: float) -> np.ndarray:
    """The stress rows' extra column of a ``stress_part="pulay"`` fit, in GPa per (eV/atom):
    ``(N/V) (1, 1, 1, 0, 0, 0)``, ``density`` = N/V (:func:`atom_density`).

    The labels are modelled as ``sigma_DFT = sigma_model + p_P (N/V) (1, 1, 1, 0, 0, 0)`` with one
    constant ``p_P`` (eV/atom) for the whole dataset: the Pulay stress of a plane-wave basis that is
    incomplete at the cutoff used is isotropic and, at a fixed cutoff, proportional to the electron
    (here: atom) density, so a slab with vacuum carries less of it than the bulk cell. Unlike the
    deviatoric fit, which gives every structure its own free pressure, this keeps how the pressure
    changes with volume -- the bulk modulus -- in the fit."""
    u = np.zeros(6)
    u[:3] = density / GPA
    return u


def deviatoric_projection() -> np.ndarray:
    """The 6x6 projection of a Voigt stress (xx yy zz yz xz xy) on its traceless part,
    ``s - tr(s)/3 (1, 1, 1, 0, 0, 0)``: symmetric and idempotent, so ``X^T P X = (P X)^T (P X)``.

    Fitting only this part ignores an isotropic error in the stress labels that the energies do
    not share: the Pulay stress of a plane-wave basis that is incomplete at the cutoff used, which
    pushes VASP stresses towards compression while the energy-volume curve at that cutoff stays
    right. The shear and normal-difference components, which carry C44 and C11 - C12, are kept."""
    P = np.eye(6)
    P[:3, :3] -= 1.0 / 3.0
    return P


class NormalEquations:
    """``A[q] = sum w X_q^T X_q``, ``b[q] = sum w X_q^T y_q``, ``yy[q] = sum w y_q^T y_q``, row counts."""

    def __init__(self, n_cols: int):
        self.n_cols = n_cols
        self.A = {q: np.zeros((n_cols, n_cols)) for q in QUANTITIES}
        self.b = {q: np.zeros(n_cols) for q in QUANTITIES}
        self.yy = {q: 0.0 for q in QUANTITIES}
        self.n_rows = {q: 0 for q in QUANTITIES}
        self.n_structures = 0

    def add_rows(self, quantity: str, X: np.ndarray, y: np.ndarray, weight: float = 1.0) -> None:
        """Add rows ``X`` against ``y``; rows with fewer than ``n_cols`` columns are zero in the rest
        (the energy and force rows of a fit with a Pulay column)."""
        X = np.atleast_2d(X)
        y = np.atleast_1d(y)
        k = X.shape[1]
        self.A[quantity][:k, :k] += weight * (X.T @ X)
        self.b[quantity][:k] += weight * (X.T @ y)
        self.yy[quantity] += weight * float(y @ y)
        self.n_rows[quantity] += len(y)

    def add_structure(self, rows, n_atoms: int, energy=None, forces=None, stress=None, weight: float = 1.0,
                      stress_part: str = "full", density: float | None = None) -> None:
        """Add one structure's rows; ``None`` labels are skipped (stress in eV/Å^3, Voigt; ``stress_part``
        one of :data:`STRESS_PARTS`; ``"pulay"`` needs the atom ``density`` (:func:`atom_density`) and equations
        with one column more than the model)."""
        if energy is not None:
            self.add_rows("energy", rows.energy[None, :] / n_atoms, np.array([energy / n_atoms]), weight)
        if forces is not None:
            self.add_rows("forces", rows.forces, np.asarray(forces).ravel(), weight)
        if stress is not None and rows.stress is not None:
            X, y = rows.stress / GPA, np.asarray(stress) / GPA
            if stress_part == "deviatoric":
                P = deviatoric_projection()
                X, y = P @ X, P @ y
            elif stress_part == "pulay":
                if density is None or not density > 0:
                    raise ValueError("a Pulay stress column needs the atom density")
                X = np.column_stack([X, pulay_column(density)])
            self.add_rows("stress", X, y, weight)
        self.n_structures += 1

    def __iadd__(self, other: NormalEquations) -> NormalEquations:
        return self.add_scaled(other, 1.0)

    def add_scaled(self, other: NormalEquations, weight: float) -> NormalEquations:
        """Add ``weight`` times ``other`` (a config_type weight squared, applied after accumulation)."""
        for q in QUANTITIES:
            self.A[q] += weight * other.A[q]
            self.b[q] += weight * other.b[q]
            self.yy[q] += weight * other.yy[q]
            self.n_rows[q] += other.n_rows[q]
        self.n_structures += other.n_structures
        return self

    def combined(self, quantity_weights: dict) -> tuple[np.ndarray, np.ndarray, float]:
        """``A = sum_q w_q^2 A_q`` etc. for weights in 1/(eV/atom), 1/(eV/Å), 1/GPa."""
        A = np.zeros((self.n_cols, self.n_cols))
        b = np.zeros(self.n_cols)
        yy = 0.0
        for q in QUANTITIES:
            w2 = float(quantity_weights.get(q, 0.0)) ** 2
            A += w2 * self.A[q]
            b += w2 * self.b[q]
            yy += w2 * self.yy[q]
        return A, b, yy

    def sse(self, coefficients: np.ndarray) -> dict:
        """Sum of squared residuals per quantity (quantities without rows left out)."""
        return {q: max(quadratic_loss(coefficients, self.A[q], self.b[q], self.yy[q]), 0.0)
                for q in QUANTITIES if self.n_rows[q]}

    def rmse(self, coefficients: np.ndarray) -> dict:
        """RMSE per quantity from the normal equations alone, as weighted as they are, in their units
        (eV/atom, eV/Å, GPa); None if no rows. (Reports use :func:`linpot.fit.report.rmse_fields`.)"""
        sse = self.sse(coefficients)
        return {q: (float(np.sqrt(sse[q] / self.n_rows[q])) if q in sse else None) for q in QUANTITIES}
