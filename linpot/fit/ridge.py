"""Ridge regression on streamed normal equations.

Minimises ``w^T A w - 2 b^T w + alpha |D w|_p^2`` with ``D = sqrt(diag A)`` (column
standardisation) and the penalty on the penalised columns only (the per-element constants are
free); see :class:`~linpot.fit.linear_problem.ReducedProblem`. The whole path over ``alpha``
comes from one eigendecomposition of the reduced matrix ``S = U diag(lam) U^T``:
``w_p(alpha) = U (lam + alpha)^-1 U^T r``.
"""

from __future__ import annotations

import numpy as np
import scipy.linalg

from .linear_problem import ReducedProblem


class RidgePath:
    """Ridge solutions for any ``alpha`` from one eigendecomposition."""

    def __init__(self, A: np.ndarray, b: np.ndarray, unpenalised=(), yy: float = 0.0):
        self.problem = ReducedProblem(A, b, yy, unpenalised)
        lam, U = scipy.linalg.eigh(self.problem.S)
        self.lam = np.clip(lam, 0.0, None)
        self.U = U
        self.Ur = U.T @ self.problem.r

    def solve_reduced(self, alpha: float) -> np.ndarray:
        lam = self.lam + alpha
        inv = np.divide(1.0, lam, out=np.zeros_like(lam), where=lam > 0)
        return self.U @ (inv * self.Ur)

    def solve(self, alpha: float) -> np.ndarray:
        return self.problem.full(self.solve_reduced(alpha))


def ridge_solve(A: np.ndarray, b: np.ndarray, alpha: float, unpenalised=()) -> np.ndarray:
    """Minimise ``w^T A w - 2 b^T w + alpha |D w|^2`` over w, constant columns unpenalised."""
    return RidgePath(A, b, unpenalised).solve(alpha)


class RidgeRegression:
    """Ridge estimator. ``alphas``: relative regularisation strengths tried on validation data.

    Candidates (:meth:`candidates`) are the ridge solutions for each alpha; the selection
    (:func:`linpot.fit.selection.select_and_fit`) picks one on held-out structures.
    Learned: ``coef_``, ``alpha_``, ``validation_curve_``.
    """

    method = "ridge"

    def __init__(self, alphas=None, unpenalised=()):
        self.alphas = list(alphas) if alphas is not None else [float(a) for a in np.logspace(-16, -2, 29)]
        self.unpenalised = tuple(unpenalised)

    def candidates(self, A, b, yy):
        path = RidgePath(A, b, self.unpenalised, yy)
        return [({"alpha": float(alpha)}, path.solve(alpha)) for alpha in self.alphas]

    def set_choice(self, label: dict, coef: np.ndarray) -> None:
        self.alpha_ = label["alpha"]
        self.coef_ = coef
