"""Bayesian linear regression with evidence maximisation (MacKay), on streamed normal equations.

Model, in the standardised reduced problem (:class:`~linpot.fit.linear_problem.ReducedProblem`):
weighted residuals ``y - X w`` are Gaussian with precision ``beta``, penalised coefficients
have the prior ``N(0, alpha^-1 I)``, the per-element constants a flat prior. With
``S = U diag(lam) U^T`` the evidence is maximised by the fixed point

    m = beta (beta S + alpha)^-1 r,      gamma = sum_k beta lam_k / (beta lam_k + alpha),
    alpha = gamma / |m|^2,               beta = (N - n_u - gamma) / |y - X m|^2,

``N`` the number of weighted rows and ``n_u`` the number of free constants. The posterior
covariance of all coefficients (original units) is ``Sigma = D^-1 (beta A_hat + alpha P)^+ D^-1``
(``P`` the identity on penalised columns). The predictive variance of a design row ``x`` of
quantity q (energy per atom, force component, stress component) is
``x^T Sigma x + 1 / (beta w_q^2)``, ``w_q`` the loss weight of q: the weights are the assumed
relative precisions of the labels.
"""

from __future__ import annotations

import numpy as np
import scipy.linalg

from .linear_problem import ReducedProblem
from .normal_equations import QUANTITIES


class BayesianRegression:
    """Evidence-maximised Bayesian ridge. Learned: ``coef_``, ``alpha_`` (prior precision),
    ``beta_`` (noise precision of weighted residuals), ``covariance_`` (posterior, original
    coefficient units), ``noise_variance_`` (per quantity, in its units squared), ``n_iter_``."""

    method = "bayes"

    def __init__(self, unpenalised=(), max_iter: int = 500, tol: float = 1e-10):
        self.unpenalised = tuple(unpenalised)
        self.max_iter = int(max_iter)
        self.tol = float(tol)

    def fit_equations(self, A, b, yy, n_rows: int, weights: dict | None = None) -> "BayesianRegression":
        problem = ReducedProblem(A, b, yy, self.unpenalised)
        lam, U = scipy.linalg.eigh(problem.S)
        lam = np.clip(lam, 0.0, None)
        Ur = U.T @ problem.r
        n_eff = n_rows - len(problem.u)
        alpha, beta = 1.0, 1.0 / max(problem.yy / max(n_eff, 1), 1e-300)
        for it in range(self.max_iter):
            m_u = beta * Ur / (beta * lam + alpha)
            gamma = float(np.sum(beta * lam / (beta * lam + alpha)))
            m2 = float(m_u @ m_u)
            # |y - X m|^2 in the eigenbasis: yy_r - 2 m.r + m S m
            residual = max(problem.yy - 2.0 * m_u @ Ur + float(m_u @ (lam * m_u)), 1e-300)
            alpha_new = gamma / max(m2, 1e-300)
            beta_new = max(n_eff - gamma, 1e-12) / residual
            converged = abs(alpha_new - alpha) <= self.tol * alpha and abs(beta_new - beta) <= self.tol * beta
            alpha, beta = alpha_new, beta_new
            if converged:
                break
        self.n_iter_ = it + 1
        self.alpha_, self.beta_ = float(alpha), float(beta)
        m_u = beta * Ur / (beta * lam + alpha)
        self.coef_ = problem.full(U @ m_u)
        precision = beta * problem.A_hat
        precision[problem.p, problem.p] += alpha
        cov_hat = np.linalg.pinv(precision, rcond=1e-14, hermitian=True)
        self.covariance_ = cov_hat / problem.d[:, None] / problem.d[None, :]
        self.covariance_ = 0.5 * (self.covariance_ + self.covariance_.T)
        weights = weights or {q: 1.0 for q in QUANTITIES}
        self.noise_variance_ = {q: (1.0 / (beta * float(weights[q]) ** 2) if weights.get(q) else None) for q in QUANTITIES}
        return self

    def fit(self, total, weights: dict) -> "BayesianRegression":
        """Fit on :class:`~linpot.fit.normal_equations.NormalEquations` with per-quantity weights."""
        A, b, yy = total.combined(weights)
        n_rows = sum(total.n_rows[q] for q in QUANTITIES if weights.get(q))
        return self.fit_equations(A, b, yy, n_rows, weights)

    def predictive_variance(self, X: np.ndarray, quantity: str | None = None) -> np.ndarray:
        """Variance of predictions of the rows ``X`` (model part, plus the noise of ``quantity`` if given)."""
        X = np.atleast_2d(X)
        var = np.einsum("ij,jk,ik->i", X, self.covariance_, X)
        if quantity is not None:
            var = var + self.noise_variance_[quantity]
        return np.clip(var, 0.0, None)
