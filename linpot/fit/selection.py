"""Choosing hyperparameters on held-out structures: a validation split or k folds, always by
structure (never by row), then the refit on everything.

An estimator offers ``candidates(A, b, yy) -> [(label, coefficients), ...]`` (ridge strengths,
points of a sparse path), listed in the same order whatever the training data, so that the
k-th candidate means the same thing in every fold. The candidate with the smallest weighted
validation loss, summed over folds, is refitted on all training structures.
"""

from __future__ import annotations

import logging

import numpy as np

from .linear_problem import quadratic_loss
from .normal_equations import NormalEquations

log = logging.getLogger(__name__)


def validation_split(config_types: list[str], fraction: float, seed: int) -> np.ndarray:
    """Boolean mask of validation structures: a ``fraction`` of each config_type, chosen at random
    (seeded). Split by structure, never by row; a config_type with one structure stays in the fit."""
    rng = np.random.default_rng(seed)
    types = np.array(config_types)
    mask = np.zeros(len(types), dtype=bool)
    if fraction <= 0:
        return mask
    for t in sorted(set(config_types)):
        idx = np.nonzero(types == t)[0]
        n_val = int(round(fraction * len(idx)))
        if len(idx) < 2 or n_val == 0:
            continue
        mask[rng.choice(idx, size=min(n_val, len(idx) - 1), replace=False)] = True
    return mask


def kfold_assignment(config_types: list[str], k: int, seed: int) -> np.ndarray:
    """Fold index (0..k-1) of each structure: each config_type dealt round-robin over the folds
    in a seeded random order, so every fold sees every config_type that has k or more structures."""
    if k < 2:
        raise ValueError("k-fold needs k >= 2")
    rng = np.random.default_rng(seed)
    types = np.array(config_types)
    fold = np.zeros(len(types), dtype=np.int64)
    start = 0
    for t in sorted(set(config_types)):
        idx = rng.permutation(np.nonzero(types == t)[0])
        fold[idx] = (np.arange(len(idx)) + start) % k
        start += len(idx)
    return fold


def select_and_fit(estimator, folds: list[tuple[NormalEquations, NormalEquations]], total: NormalEquations,
                   weights: dict, max_nonzero: int | None = None):
    """Choose the estimator's candidate on the folds, refit it on ``total``.

    Returns ``(label, coefficients, curve, fold_coefficients)``; ``fold_coefficients`` are the
    chosen candidate fitted without each fold's held-out structures; ``curve`` has one entry per candidate with the
    validation RMSE per quantity (mean over folds), the loss and the number of nonzero
    coefficients. Candidates with more than ``max_nonzero`` nonzero coefficients are not chosen.
    """
    losses, curves, fold_cands = None, None, []
    for train_eq, val_eq in folds:
        cands = estimator.candidates(*train_eq.combined(weights))
        fold_cands.append([w for _, w in cands])
        Av, bv, yyv = val_eq.combined(weights)
        fold_loss = [quadratic_loss(w, Av, bv, yyv) for _, w in cands]
        fold_curve = [{**label, "n_nonzero": int(np.count_nonzero(w)), **{f"{q}_rmse": v for q, v in val_eq.rmse(w).items()}}
                      for label, w in cands]
        if losses is None:
            losses, curves = [fold_loss], [fold_curve]
        else:
            n = min(len(losses[0]), len(fold_loss))
            losses = [l[:n] for l in losses] + [fold_loss[:n]]
            curves = [c[:n] for c in curves] + [fold_curve[:n]]
    n_cand = len(losses[0])
    total_loss = np.sum(np.array(losses), axis=0)
    curve = []
    for k in range(n_cand):
        entry = dict(curves[0][k])
        for key in entry:
            if key.endswith("_rmse") or key == "n_nonzero":
                vals = [c[k][key] for c in curves if c[k][key] is not None]
                entry[key] = (float(np.mean(vals)) if key != "n_nonzero" else int(round(np.mean(vals)))) if vals else None
        entry["loss"] = float(total_loss[k])
        curve.append(entry)
    allowed = [k for k in range(n_cand) if max_nonzero is None or curve[k]["n_nonzero"] <= max_nonzero]
    if not allowed:
        raise ValueError(f"no candidate has at most {max_nonzero} nonzero coefficients")
    best = min(allowed, key=lambda k: total_loss[k])
    final = estimator.candidates(*total.combined(weights))
    best = min(best, len(final) - 1)
    # Paths run from sparse to dense: if the refit on all data went past the limit, step back.
    while best > 0 and max_nonzero is not None and np.count_nonzero(final[best][1]) > max_nonzero:
        best -= 1
    label, coef = final[best]
    log.debug("chose candidate %d of %d: %s", best, n_cand, label)
    return label, coef, curve, [c[min(best, len(c) - 1)] for c in fold_cands]
