"""Ridge regression on streamed normal equations, regularisation chosen on held-out structures.

Solves ``(A_hat + alpha P) w_hat = b_hat`` with ``A_hat = D^-1 A D^-1``, ``D = sqrt(diag A)``
(each column standardised to unit norm in the weighted fit) and ``P`` the identity except for the
per-element constant columns, which are not penalised. ``w = D^-1 w_hat``. The whole path over
``alpha`` comes from one eigendecomposition (:class:`RidgePath`).
"""

from __future__ import annotations

import logging

import numpy as np
import scipy.linalg

from .normal_equations import NormalEquations

log = logging.getLogger(__name__)


class RidgePath:
    """Ridge solutions for any ``alpha`` from one eigendecomposition.

    Minimises ``w^T A w - 2 b^T w + alpha |D w|^2`` with ``D = sqrt(diag A)`` (column
    standardisation), the ``unpenalised`` columns (per-element constants) excluded from the
    penalty. Those are eliminated exactly (Schur complement), the reduced matrix
    ``S = A_pp - A_pu A_uu^+ A_up`` is diagonalised once, ``S = U diag(lam) U^T``, and
    ``w_p(alpha) = U (lam + alpha)^-1 U^T r``.
    """

    def __init__(self, A: np.ndarray, b: np.ndarray, unpenalised=()):
        n = len(b)
        d = np.sqrt(np.clip(np.diag(A), 0.0, None))
        d[d <= 0] = 1.0
        self.d = d
        A_hat = A / d[:, None] / d[None, :]
        b_hat = b / d
        u = np.zeros(n, dtype=bool)
        u[list(unpenalised)] = True
        self.u, self.p = np.nonzero(u)[0], np.nonzero(~u)[0]
        A_uu = A_hat[np.ix_(self.u, self.u)]
        A_up = A_hat[np.ix_(self.u, self.p)]
        # A_uu is singular when there are no energy labels: the constants are then undetermined
        # and the pseudo-inverse sets them to zero.
        self.A_uu_pinv = np.linalg.pinv(A_uu, rcond=1e-12) if len(self.u) else np.zeros((0, 0))
        self.A_up = A_up
        self.b_u = b_hat[self.u]
        S = A_hat[np.ix_(self.p, self.p)] - A_up.T @ self.A_uu_pinv @ A_up
        r = b_hat[self.p] - A_up.T @ (self.A_uu_pinv @ self.b_u)
        lam, U = scipy.linalg.eigh(0.5 * (S + S.T))
        self.lam = np.clip(lam, 0.0, None)
        self.U = U
        self.Ur = U.T @ r

    def solve(self, alpha: float) -> np.ndarray:
        w_hat = np.zeros(len(self.d))
        lam = self.lam + alpha
        inv = np.divide(1.0, lam, out=np.zeros_like(lam), where=lam > 0)
        w_p = self.U @ (inv * self.Ur)
        w_hat[self.p] = w_p
        w_hat[self.u] = self.A_uu_pinv @ (self.b_u - self.A_up @ w_p)
        return w_hat / self.d


def ridge_solve(A: np.ndarray, b: np.ndarray, alpha: float, unpenalised=()) -> np.ndarray:
    """Minimise ``w^T A w - 2 b^T w + alpha |D w|^2`` over w, constant columns unpenalised."""
    return RidgePath(A, b, unpenalised).solve(alpha)


class RidgeRegression:
    """Ridge estimator on normal equations.

    Parameters: ``alphas`` (relative regularisation strengths to try), ``weights`` (per-quantity
    weights in 1/(eV/atom), 1/(eV/Å), 1/GPa). ``fit(fit_equations, validation_equations)``
    chooses ``alpha_`` minimising the weighted validation loss, then refits on both.
    Learned: ``coef_``, ``alpha_``, ``validation_curve_`` (list of dicts).
    """

    def __init__(self, alphas=None, weights=None, unpenalised=()):
        self.alphas = list(alphas) if alphas is not None else list(np.logspace(-12, -2, 21))
        self.weights = dict(weights or {"energy": 1.0, "forces": 1.0, "stress": 1.0})
        self.unpenalised = tuple(unpenalised)

    def fit(self, fit_eq: NormalEquations, validation_eq: NormalEquations | None = None) -> "RidgeRegression":
        A, b, _ = fit_eq.combined(self.weights)
        self.validation_curve_ = []
        if validation_eq is not None and validation_eq.n_structures > 0 and len(self.alphas) > 1:
            Av, bv, yyv = validation_eq.combined(self.weights)
            best = None
            path = RidgePath(A, b, self.unpenalised)
            for alpha in self.alphas:
                w = path.solve(alpha)
                loss = float(w @ Av @ w - 2 * w @ bv + yyv)
                entry = {"alpha": float(alpha), "loss": loss, **{f"{q}_rmse": v for q, v in validation_eq.rmse(w).items()}}
                self.validation_curve_.append(entry)
                log.debug("alpha %.3g: validation %s", alpha, entry)
                if best is None or loss < best[0]:
                    best = (loss, alpha)
            self.alpha_ = float(best[1])
            total = NormalEquations(fit_eq.n_cols)
            total += fit_eq
            total += validation_eq
            A, b, _ = total.combined(self.weights)
        else:
            self.alpha_ = float(self.alphas[0] if len(self.alphas) == 1 else np.median(self.alphas))
        self.coef_ = ridge_solve(A, b, self.alpha_, self.unpenalised)
        return self
