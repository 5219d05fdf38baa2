"""Compressed sensing: sparse linear models on streamed normal equations.

All methods work on the reduced problem (:class:`~linpot.fit.linear_problem.ReducedProblem`)
with its columns scaled once more to unit norm, ``S_n = s^-1 S s^-1``, ``r_n = s^-1 r``:

* ``lasso`` / ``elastic-net``: the coordinate-descent path of scikit-learn's ``enet_path`` on
  the square-root design ``X' = diag(sqrt(lam)) U^T``, ``y' = diag(lam^-1/2) U^T r_n``
  (``S_n = U diag(lam) U^T``), which has ``X'^T X' = S_n`` and ``X'^T y' = r_n``: the same
  least-squares objective as the full design matrix up to a constant, in ``rank`` rows;
* ``omp``: orthogonal matching pursuit on the Gram matrix (``orthogonal_mp_gram``);
* ``lars``: least-angle regression on the Gram matrix (``lars_path_gram``).

Each point of the path gives a support (the nonzero coefficients). The candidate models are
the least-squares refits on each support with a small ridge term (the "relaxed" sparse model,
without the shrinkage of the l1 penalty), for a few ridge strengths; the selection on held-out
structures picks the support size and strength. The chosen model keeps only its features: the
other coefficients are exactly zero.
"""

from __future__ import annotations

import warnings

import numpy as np
import scipy.linalg

from ..errors import LinpotInputError
from .linear_problem import ReducedProblem
from .selection import select_and_fit

SPARSE_METHODS = ("lasso", "elastic-net", "omp", "lars")


class SparseRegression:
    """Sparse estimator (the :class:`~linpot.fit.estimators.Estimator` protocol).

    Hyperparameters: ``method`` (one of :data:`SPARSE_METHODS`), ``max_features`` (most
    nonzero coefficients, constants included; default: no limit), ``n_path`` (points along the
    path), ``l1_ratio`` (elastic net), ``relax_alphas`` (ridge strengths of the refit on each
    support), ``unpenalised`` (columns always in the model: per-element constants).

    :meth:`fit` needs held-out structures: they choose the support size and the ridge strength.
    Learned: ``coef_``, ``alpha_`` (ridge strength of the refit on the support), ``chosen_``
    (``{"n_features", "alpha"}``), ``validation_curve_`` (one entry per candidate),
    ``fold_coef_`` (the chosen candidate fitted without each held-out part), ``warnings_``
    (none), ``uncertainty_`` (None).
    """

    has_posterior = False

    def __init__(self, method: str = "omp", max_features: int | None = None, n_path: int = 30, l1_ratio: float = 0.5,
                 relax_alphas=(1e-12, 1e-10, 1e-8, 1e-6), unpenalised=()):
        if method not in SPARSE_METHODS:
            raise ValueError(f"unknown sparse method {method!r} (known: {', '.join(SPARSE_METHODS)})")
        self.method = method
        self.max_features = max_features
        self.n_path = int(n_path)
        self.l1_ratio = float(l1_ratio)
        self.relax_alphas = tuple(float(a) for a in relax_alphas)
        self.unpenalised = tuple(unpenalised)

    def _supports(self, S: np.ndarray, r: np.ndarray) -> list[np.ndarray]:
        """Supports along the path, sparse to dense, in the order that aligns across folds."""
        n = len(r)
        k_max = n if self.max_features is None else max(1, min(n, int(self.max_features) - len(self.unpenalised)))
        with warnings.catch_warnings():
            # OMP and LARS stop early on collinear columns and say so; the path up to there is valid.
            warnings.simplefilter("ignore")
            if self.method in ("omp", "lars"):
                sizes = np.unique(np.round(np.geomspace(1, k_max, self.n_path)).astype(int))
                if self.method == "omp":
                    from sklearn.linear_model import orthogonal_mp_gram

                    path = orthogonal_mp_gram(S, r, n_nonzero_coefs=int(sizes[-1]), return_path=True)
                    path = path.reshape(n, -1)
                else:
                    from sklearn.linear_model import lars_path_gram

                    _, _, path = lars_path_gram(r, S, n_samples=n, max_iter=int(sizes[-1]), method="lar")
                    path = path[:, 1:]  # the first point is all zeros
                out = []
                for k in sizes:
                    col = path[:, min(k, path.shape[1]) - 1]
                    out.append(np.nonzero(col)[0])
                return out
            from sklearn.linear_model import enet_path

            lam, U = scipy.linalg.eigh(S)
            keep = lam > 1e-13 * max(lam.max(), 1e-300)
            X = np.sqrt(lam[keep])[:, None] * U[:, keep].T
            y = (U[:, keep].T @ r) / np.sqrt(lam[keep])
            l1 = 1.0 if self.method == "lasso" else self.l1_ratio
            _, coefs, _ = enet_path(X, y, l1_ratio=l1, eps=1e-5, n_alphas=self.n_path, precompute=S, Xy=r,
                                    max_iter=3000, tol=1e-6)
            return [np.nonzero(coefs[:, k])[0] for k in range(coefs.shape[1])]

    def candidates(self, A, b, yy):
        problem = ReducedProblem(A, b, yy, self.unpenalised)
        s = np.sqrt(np.clip(np.diag(problem.S), 0.0, None))
        s[s <= 1e-14] = 1.0
        S_n = problem.S / s[:, None] / s[None, :]
        r_n = problem.r / s
        out = []
        for support in self._supports(S_n, r_n):
            if len(support) == 0:
                for alpha in self.relax_alphas:
                    out.append(({"n_features": 0, "alpha": alpha}, problem.full(np.zeros(len(r_n)))))
                continue
            lam, U = scipy.linalg.eigh(S_n[np.ix_(support, support)])
            lam = np.clip(lam, 0.0, None)
            Ur = U.T @ r_n[support]
            for alpha in self.relax_alphas:
                w_n = np.zeros(len(r_n))
                w_n[support] = U @ (Ur / (lam + alpha))
                out.append(({"n_features": int(len(support)), "alpha": alpha}, problem.full(w_n / s)))
        return out

    @classmethod
    def from_recipe(cls, method: str, fit_cfg: dict, unpenalised) -> SparseRegression:
        max_features = fit_cfg.get("max_features")
        if max_features is not None and int(max_features) <= len(unpenalised):
            raise LinpotInputError(f"max_features must exceed the {len(unpenalised)} per-element "
                                   f"constant(s), got {max_features}")
        return cls(method, max_features=None if max_features is None else int(max_features),
                   l1_ratio=fit_cfg.get("l1_ratio", 0.5), unpenalised=unpenalised)

    def fit(self, total, weights: dict, folds=()) -> SparseRegression:
        if not folds:
            raise LinpotInputError(f"fit method {self.method!r} needs held-out structures to choose its sparsity: "
                                   "set validation_fraction > 0 or kfold >= 2")
        selection = select_and_fit(self, folds, total, weights, self.max_features)
        self.chosen_ = dict(selection.label)
        self.alpha_ = float(selection.label["alpha"])
        self.coef_ = selection.coef
        self.validation_curve_ = selection.curve
        self.fold_coef_ = selection.fold_coef
        self.warnings_ = []
        self.uncertainty_ = None
        return self

    def recipe_bounds(self) -> dict:
        """``max_features`` when set: it bounds the choice, so the provenance records it."""
        return {} if self.max_features is None else {"max_features": int(self.max_features)}
