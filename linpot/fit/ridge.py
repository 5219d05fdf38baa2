"""Ridge regression on streamed normal equations.

Minimises ``w^T A w - 2 b^T w + alpha |D w|_p^2`` with ``D = sqrt(diag A)`` (column
standardisation) and the penalty on the penalised columns only (the per-element constants are
free); see :class:`~linpot.fit.linear_problem.ReducedProblem`. The whole path over ``alpha``
comes from one eigendecomposition of the reduced matrix ``S = U diag(lam) U^T``:
``w_p(alpha) = U (lam + alpha)^-1 U^T r``.
"""

from __future__ import annotations

import logging

import numpy as np
import scipy.linalg

from .linear_problem import ReducedProblem
from .selection import select_and_fit

log = logging.getLogger(__name__)

#: Relative ridge strengths below this are at the round-off of the standardised normal
#: equations (unit diagonal, double precision): a grid reaching it is long enough at that end.
ROUND_OFF_ALPHA = 1e-15


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


def grid_edge_warnings(alpha: float, alphas) -> list[str]:
    """A warning (logged and returned) when the chosen ridge strength is the smallest or largest
    of three or more tried: the held-out loss may still fall beyond the grid. Not at a smallest
    value already at round-off level (:data:`ROUND_OFF_ALPHA`): there the fit is as good as
    unregularised."""
    grid = sorted(float(a) for a in alphas)
    if len(grid) < 3 or grid[0] < alpha < grid[-1] or (alpha <= grid[0] and grid[0] <= ROUND_OFF_ALPHA):
        return []
    end, way = ("smallest", "smaller") if alpha <= grid[0] else ("largest", "larger")
    message = (f"the chosen ridge strength alpha = {alpha:.3g} is the {end} of the {len(grid)} tried; "
               f"add {way} values to [fit] alphas")
    log.warning(message)
    return [message]


class RidgeRegression:
    """Ridge estimator (the :class:`~linpot.fit.estimators.Estimator` protocol).

    Hyperparameters: ``alphas`` (relative regularisation strengths tried on held-out
    structures), ``unpenalised`` (columns without penalty: the per-element constants).
    Candidates (:meth:`candidates`) are the ridge solutions for each alpha; with held-out
    structures :meth:`fit` picks one (:func:`linpot.fit.selection.select_and_fit`), without
    them it takes the only alpha, or the median of several.

    Learned: ``coef_``, ``alpha_`` (chosen strength), ``chosen_`` (``{"alpha": alpha_}``),
    ``validation_curve_`` (one entry per alpha; empty without held-out structures),
    ``fold_coef_`` (the chosen alpha fitted without each held-out part), ``warnings_`` (the
    chosen alpha at an end of the grid), ``uncertainty_`` (None).
    """

    has_posterior = False

    def __init__(self, alphas=None, unpenalised=()):
        self.alphas = list(alphas) if alphas is not None else [float(a) for a in np.logspace(-16, -2, 29)]
        self.unpenalised = tuple(unpenalised)

    @classmethod
    def from_recipe(cls, method: str, fit_cfg: dict, unpenalised) -> RidgeRegression:
        return cls(alphas=fit_cfg["alphas"], unpenalised=unpenalised)

    def candidates(self, A, b, yy):
        path = RidgePath(A, b, self.unpenalised, yy)
        return [({"alpha": float(alpha)}, path.solve(alpha)) for alpha in self.alphas]

    def fit(self, total, weights: dict, folds=()) -> RidgeRegression:
        if folds:
            selection = select_and_fit(self, folds, total, weights)
            self.alpha_ = float(selection.label["alpha"])
            self.coef_ = selection.coef
            self.validation_curve_ = selection.curve
            self.fold_coef_ = selection.fold_coef
            self.warnings_ = grid_edge_warnings(self.alpha_, self.alphas)
        else:
            self.alpha_ = float(self.alphas[0] if len(self.alphas) == 1 else np.median(self.alphas))
            self.coef_ = RidgePath(*total.combined(weights)[:2], self.unpenalised).solve(self.alpha_)
            self.validation_curve_, self.fold_coef_, self.warnings_ = [], [], []
        self.chosen_ = {"alpha": self.alpha_}
        self.uncertainty_ = None
        return self

    def recipe_bounds(self) -> dict:
        return {}
