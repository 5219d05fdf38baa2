"""The regression problem every estimator solves, in the form they share.

From normal equations ``A = X^T X``, ``b = X^T y``, ``yy = y^T y`` (weighted, see
:mod:`linpot.fit.normal_equations`):

1. columns are standardised, ``A_hat = D^-1 A D^-1``, ``b_hat = D^-1 b`` with ``D = sqrt(diag A)``,
   so one penalty strength means the same for every column;
2. the unpenalised columns ``u`` (the per-element constants, i.e. reference energies) are
   eliminated exactly: for fixed penalised coefficients ``w_p`` the best constants are
   ``w_u = A_uu^+ (b_u - A_up w_p)``, which leaves the reduced problem

       min_{w_p}  w_p^T S w_p - 2 r^T w_p + yy_r,
       S = A_pp - A_pu A_uu^+ A_up,   r = b_p - A_pu A_uu^+ b_u,   yy_r = yy - b_u^T A_uu^+ b_u.

Ridge, the sparse methods and Bayesian regression all work on ``(S, r, yy_r)`` and map their
solution back with :meth:`ReducedProblem.full`.
"""

from __future__ import annotations

import numpy as np


class ReducedProblem:
    def __init__(self, A: np.ndarray, b: np.ndarray, yy: float = 0.0, unpenalised=()):
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
        self.A_up = A_hat[np.ix_(self.u, self.p)]
        # A_uu is singular when there are no energy labels: the constants are then undetermined
        # and the pseudo-inverse sets them to zero.
        self.A_uu_pinv = np.linalg.pinv(A_uu, rcond=1e-12) if len(self.u) else np.zeros((0, 0))
        self.b_u = b_hat[self.u]
        S = A_hat[np.ix_(self.p, self.p)] - self.A_up.T @ self.A_uu_pinv @ self.A_up
        self.S = 0.5 * (S + S.T)
        self.r = b_hat[self.p] - self.A_up.T @ (self.A_uu_pinv @ self.b_u)
        self.yy = float(yy - self.b_u @ self.A_uu_pinv @ self.b_u)
        self.A_hat = A_hat

    def full(self, w_p: np.ndarray) -> np.ndarray:
        """Coefficients in the original columns from penalised ones in standardised units."""
        w_hat = np.zeros(len(self.d))
        w_hat[self.p] = w_p
        w_hat[self.u] = self.A_uu_pinv @ (self.b_u - self.A_up @ w_p)
        return w_hat / self.d


def quadratic_loss(w: np.ndarray, A: np.ndarray, b: np.ndarray, yy: float) -> float:
    """``|X w - y|^2 = w^T A w - 2 b^T w + y^T y`` from normal equations."""
    return float(w @ A @ w - 2.0 * w @ b + yy)
