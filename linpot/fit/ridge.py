"""Ridge regression on streamed normal equations, regularisation chosen on held-out structures.

Solves ``(A_hat + alpha P) w_hat = b_hat`` with ``A_hat = D^-1 A D^-1``, ``D = sqrt(diag A)``
(each column standardised to unit norm in the weighted fit) and ``P`` the identity except for the
per-element constant columns, which are not penalised. ``w = D^-1 w_hat``.
"""

from __future__ import annotations

import logging

import numpy as np
import scipy.linalg

from .normal_equations import NormalEquations

log = logging.getLogger(__name__)


def ridge_solve(A: np.ndarray, b: np.ndarray, alpha: float, unpenalised=()) -> np.ndarray:
    """Minimise ``w^T A w - 2 b^T w + alpha |D w|^2`` over w, constant columns unpenalised."""
    d = np.sqrt(np.diag(A).copy())
    d[d <= 0] = 1.0
    A_hat = A / d[:, None] / d[None, :]
    b_hat = b / d
    penalty = np.ones(len(b))
    penalty[list(unpenalised)] = 0.0
    M = A_hat + alpha * np.diag(penalty)
    try:
        w_hat = scipy.linalg.solve(M, b_hat, assume_a="pos")
    except (np.linalg.LinAlgError, scipy.linalg.LinAlgError):
        w_hat = scipy.linalg.lstsq(M, b_hat)[0]
    return w_hat / d


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
            for alpha in self.alphas:
                w = ridge_solve(A, b, alpha, self.unpenalised)
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
