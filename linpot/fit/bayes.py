"""Bayesian linear regression with evidence maximisation (MacKay), on streamed normal equations.

Model, in standardised columns: the weighted residuals are Gaussian with precision ``beta``,
penalised coefficients have the prior ``N(0, alpha^-1 I)``, the per-element constants a flat
prior; ``alpha`` and ``beta`` maximise the evidence (:meth:`BayesianRegression.fit_equations`).
The posterior covariance of all coefficients (original units) is
``Sigma = D^-1 (beta A_hat + alpha P)^+ D^-1``. The label noise of each quantity q is estimated
separately at the fitted coefficients (:meth:`BayesianRegression.fit_normal_equations`): one precision for all
weighted residuals is set by the ~10^5 force rows and misjudges the spread of the few hundred
energies by an order of magnitude. The predictive variance of a design row ``x`` of quantity q
is ``x^T Sigma x + sigma_q^2``.
"""

from __future__ import annotations

import numpy as np
import scipy.linalg

from .linear_problem import ReducedProblem, quadratic_loss
from .normal_equations import QUANTITIES
from .report import noise_fields
from .selection import as_folds, held_out_errors


class BayesianRegression:
    """Evidence-maximised Bayesian ridge with a label noise estimated per quantity (the
    :class:`~linpot.fit.estimators.Estimator` protocol).

    Hyperparameters: ``unpenalised`` (columns with a flat prior: the per-element constants),
    ``max_iter`` and ``tol`` of the fixed point. The evidence chooses ``alpha`` and ``beta``; no
    held-out structures are needed. Given held-out parts, :meth:`fit` also fits without each
    of them and scores the fit on it.

    Learned: ``coef_``, ``alpha_`` (prior precision of the standardised penalised coefficients),
    ``beta_`` (``{"weighted": noise precision of the weighted residuals}``), ``covariance_``
    (posterior, original coefficient units), ``noise_variance_`` (per quantity, its units
    squared), ``n_iter_``, ``chosen_`` (``alpha``, ``n_iter`` and the label noise per quantity,
    :func:`~linpot.fit.report.noise_fields`), ``validation_curve_`` (one entry: the held-out
    errors of the fits made without each part; empty without held-out parts), ``fold_coef_``,
    ``warnings_`` (none), ``uncertainty_`` (``{"covariance", "noise_variance"}`` for the file)."""

    has_posterior = True

    def __init__(self, unpenalised=(), max_iter: int = 10000, tol: float = 1e-9):
        self.unpenalised = tuple(unpenalised)
        self.max_iter = int(max_iter)
        self.tol = float(tol)

    @classmethod
    def from_recipe(cls, method: str, fit_cfg: dict, unpenalised) -> BayesianRegression:
        return cls(unpenalised=unpenalised)

    def fit_equations(self, A, b, yy, n_rows: int) -> BayesianRegression:
        """One noise precision for all rows (labelled ``weighted``): MacKay's fixed point on the
        reduced problem ``S = U diag(lam) U^T`` (constants eliminated, flat prior on them),

            m = beta (beta S + alpha)^-1 r,   gamma = sum_k beta lam_k / (beta lam_k + alpha),
            alpha <- gamma / |m|^2,           beta <- (N - n_u - gamma) / |y - X m|^2,

        each iteration O(n) after one eigendecomposition."""
        problem = ReducedProblem(A, b, yy, self.unpenalised)
        lam, U = scipy.linalg.eigh(problem.S)
        lam = np.clip(lam, 0.0, None)
        Ur = U.T @ problem.r
        n_eff = n_rows - len(problem.u)
        alpha, beta = 1.0, max(n_eff, 1) / max(problem.yy, 1e-300)
        for it in range(self.max_iter):  # noqa: B007 (the count is read after the loop)
            m = beta * Ur / (beta * lam + alpha)
            gamma = float(np.sum(beta * lam / (beta * lam + alpha)))
            residual = max(problem.yy - 2.0 * float(m @ Ur) + float(m @ (lam * m)), 1e-300)
            alpha_new = gamma / max(float(m @ m), 1e-300)
            beta_new = max(n_eff - gamma, 1e-12) / residual
            converged = abs(alpha_new - alpha) <= self.tol * alpha and abs(beta_new - beta) <= self.tol * beta
            alpha, beta = alpha_new, beta_new
            if converged:
                break
        self.n_iter_ = it + 1
        self.alpha_ = float(alpha)
        self.beta_ = {"weighted": float(beta)}
        self.coef_ = problem.full(U @ (beta * Ur / (beta * lam + alpha)))
        precision = beta * problem.A_hat
        precision[problem.p, problem.p] += alpha
        cov = np.linalg.pinv(0.5 * (precision + precision.T), rcond=1e-15, hermitian=True) / problem.d[:, None] / problem.d[None, :]
        self.covariance_ = 0.5 * (cov + cov.T)
        self.noise_variance_ = {"weighted": 1.0 / beta}
        return self

    def fit(self, total, weights: dict, folds=()) -> BayesianRegression:
        """Fit on :class:`~linpot.fit.normal_equations.NormalEquations` with loss weights
        (:meth:`fit_normal_equations`); with held-out parts (:class:`~linpot.fit.selection.Fold`),
        also fit the same way without each part, and score those fits on it."""
        self.fit_normal_equations(total, weights)
        self.chosen_ = {"alpha": self.alpha_, "n_iter": self.n_iter_, **noise_fields(self.noise_variance_)}
        folds = as_folds(folds)
        params = {"unpenalised": self.unpenalised, "max_iter": self.max_iter, "tol": self.tol}
        self.fold_coef_ = [BayesianRegression(**params).fit_normal_equations(f.train, weights).coef_ for f in folds]
        self.validation_curve_ = []
        if folds:
            loss = float(sum(quadratic_loss(w, *f.held_out.combined(weights)) for w, f in zip(self.fold_coef_, folds)))
            self.validation_curve_ = [{**self.chosen_, "n_nonzero": int(round(np.mean([np.count_nonzero(w) for w in self.fold_coef_]))),
                                       **held_out_errors(self.fold_coef_, folds), "loss": loss, "chosen": True}]
        self.warnings_ = []
        self.uncertainty_ = {"covariance": self.covariance_, "noise_variance": self.noise_variance_}
        return self

    def recipe_bounds(self) -> dict:
        return {}

    def fit_normal_equations(self, total, weights: dict) -> BayesianRegression:
        """Fit on :class:`~linpot.fit.normal_equations.NormalEquations` with loss weights.

        The coefficients and their covariance come from the evidence maximisation on the
        weighted residuals (one precision ``beta`` for them all: the posterior mean is the ridge
        solution of the user's loss). The label noise of each quantity is then estimated at that
        solution, ``sigma_q^2 = |y_q - X_q m|^2 / (N_q - gamma_q)`` with
        ``gamma_q = beta w_q^2 tr(A_q Sigma)`` the parameters that quantity determines: the loss
        weights need not be calibrated precisions, and a fixed point over all ``beta_q`` at once
        is avoided because it runs away when a few hundred energies meet 10^5 force rows."""
        qs = [q for q in QUANTITIES if weights.get(q) and total.n_rows[q]]
        A_w, b_w, yy_w = total.combined(weights)
        n_rows = sum(total.n_rows[q] for q in qs)
        self.fit_equations(A_w, b_w, yy_w, n_rows)
        m, beta = self.coef_, self.beta_["weighted"]
        self.noise_variance_ = {}
        for q in QUANTITIES:
            if q not in qs:
                self.noise_variance_[q] = None
                continue
            resid = max(float(m @ total.A[q] @ m - 2.0 * m @ total.b[q] + total.yy[q]), 0.0)
            gamma = beta * float(weights[q]) ** 2 * float(np.sum(total.A[q] * self.covariance_))
            self.noise_variance_[q] = resid / max(total.n_rows[q] - gamma, 1.0)
        return self

    def predictive_variance(self, X: np.ndarray, quantity: str | None = None) -> np.ndarray:
        """Variance of predictions of the rows ``X`` (model part, plus the noise of ``quantity`` if given)."""
        X = np.atleast_2d(X)
        var = np.einsum("ij,jk,ik->i", X, self.covariance_, X)
        if quantity is not None:
            var = var + self.noise_variance_[quantity]
        return np.clip(var, 0.0, None)
