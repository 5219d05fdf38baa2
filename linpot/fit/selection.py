"""Choosing hyperparameters on held-out structures: a validation split or k folds, always by
structure (never by row), then the refit on everything.

A path estimator (ridge, the sparse methods) offers ``candidates(A, b, yy) -> [(label,
coefficients), ...]`` (ridge strengths, points of a sparse path), listed in the same order
whatever the training data, so that the k-th candidate means the same thing in every fold. The
candidate with the smallest weighted held-out loss, summed over folds, is refitted on all
training structures (:func:`select_and_fit`). Held-out errors are reported unweighted and pooled
over all held-out rows (:func:`held_out_errors`), in the report's names and units
(:mod:`linpot.fit.report`).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np

from .linear_problem import quadratic_loss
from .normal_equations import QUANTITIES, NormalEquations
from .report import HeldOutErrors, rmse_fields

log = logging.getLogger(__name__)


@dataclass
class Fold:
    """One held-out part: ``train``, the weighted normal equations of the structures fitted
    without it; ``held_out``, its weighted equations (the selection loss); ``unweighted``, its
    equations without config_type weights (the errors reported; ``held_out`` if not given)."""

    train: NormalEquations
    held_out: NormalEquations
    unweighted: NormalEquations | None = None

    def __post_init__(self):
        if self.unweighted is None:
            self.unweighted = self.held_out


def as_folds(folds) -> list[Fold]:
    """:class:`Fold` objects from folds or ``(train, held_out[, unweighted])`` tuples."""
    return [f if isinstance(f, Fold) else Fold(*f) for f in folds]


class Selection(NamedTuple):
    """What :func:`select_and_fit` chose: the candidate's ``label`` and coefficients refitted on all
    structures, the ``curve`` (one :class:`~linpot.fit.report.CurveEntry` per candidate), the
    chosen candidate's coefficients fitted without each fold, and its index in the curve."""

    label: dict
    coef: np.ndarray
    curve: list[dict]
    fold_coef: list[np.ndarray]
    index: int


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


def held_out_errors(fold_coef, folds) -> HeldOutErrors:
    """RMSE per quantity of ``fold_coef[k]`` on fold k's held-out structures, pooled over all
    held-out rows of all folds, unweighted (meV/atom, eV/Å, GPa)."""
    sse = dict.fromkeys(QUANTITIES, 0.0)
    n_rows = dict.fromkeys(QUANTITIES, 0)
    for w, fold in zip(fold_coef, as_folds(folds)):
        for q, v in fold.unweighted.sse(w).items():
            sse[q] += v
            n_rows[q] += fold.unweighted.n_rows[q]
    return rmse_fields(sse, n_rows)


def held_out_loss(fold_coef, folds, weights: dict) -> float:
    """The weighted held-out loss of ``fold_coef[k]`` on fold k, summed over folds."""
    return float(sum(quadratic_loss(w, *fold.held_out.combined(weights)) for w, fold in zip(fold_coef, as_folds(folds))))


def select_and_fit(estimator, folds, total: NormalEquations, weights: dict, max_nonzero: int | None = None) -> Selection:
    """Choose the estimator's candidate on the folds, refit it on ``total``.

    Every candidate's curve entry has its label, the number of nonzero coefficients (mean over
    folds), the held-out RMSEs (:func:`held_out_errors`), the weighted held-out loss summed over
    folds, and ``chosen``. Candidates with more than ``max_nonzero`` nonzero coefficients are not
    chosen."""
    folds = as_folds(folds)
    fold_cands = [estimator.candidates(*fold.train.combined(weights)) for fold in folds]
    held = [fold.held_out.combined(weights) for fold in folds]
    # sparse paths may stop early on some folds: the curve runs as far as every fold's does
    n_cand = min(len(c) for c in fold_cands)
    curve, losses = [], []
    for k in range(n_cand):
        coefs = [c[k][1] for c in fold_cands]
        loss = float(sum(quadratic_loss(w, *eq) for w, eq in zip(coefs, held)))
        losses.append(loss)
        curve.append({**fold_cands[0][k][0], "n_nonzero": int(round(np.mean([np.count_nonzero(w) for w in coefs]))),
                      **held_out_errors(coefs, folds), "loss": loss, "chosen": False})
    allowed = [k for k in range(n_cand) if max_nonzero is None or curve[k]["n_nonzero"] <= max_nonzero]
    if not allowed:
        raise ValueError(f"no candidate has at most {max_nonzero} nonzero coefficients")
    best = min(allowed, key=lambda k: losses[k])
    final = estimator.candidates(*total.combined(weights))
    best = min(best, len(final) - 1)
    # Paths run from sparse to dense: if the refit on all data went past the limit, step back.
    while best > 0 and max_nonzero is not None and np.count_nonzero(final[best][1]) > max_nonzero:
        best -= 1
    label, coef = final[best]
    curve[best]["chosen"] = True
    log.debug("chose candidate %d of %d: %s", best, n_cand, label)
    return Selection(label, coef, curve, [c[best][1] for c in fold_cands], best)
