"""Fitting: design rows streamed into normal equations, then regression.

:func:`fit_potential` is the whole pipeline from a training :class:`~linpot.structures.Dataset`
to a :class:`~linpot.potential.Potential`: build and standardise the model, accumulate the
normal equations per (validation part, config_type) -- serially or on a dask cluster --, weight
and combine them, choose the hyperparameters on held-out structures, refit on all of them.

Methods (``[fit] method``): ``ridge`` (dense, regularisation path), ``lasso``, ``elastic-net``,
``omp``, ``lars`` (compressed sensing, :mod:`linpot.fit.sparse`) and ``bayes`` (evidence-maximised
Bayesian regression with a posterior covariance, :mod:`linpot.fit.bayes`).
"""

from __future__ import annotations

import logging
import resource
import sys
import time

import numpy as np

from ..descriptors import descriptor_from_spec
from ..errors import LinpotInputError
from ..models import model_from_spec
from ..potential import Potential
from ..version import __version__
from .accumulate import accumulate_normal_equations, dask_client
from .bayes import BayesianRegression
from .normal_equations import NormalEquations
from .ridge import RidgePath, RidgeRegression, ridge_solve
from .selection import kfold_assignment, select_and_fit, validation_split
from .sparse import SPARSE_METHODS, SparseRegression

log = logging.getLogger(__name__)

METHODS = ("ridge", *SPARSE_METHODS, "bayes")

__all__ = ["METHODS", "NormalEquations", "RidgePath", "RidgeRegression", "SparseRegression", "BayesianRegression",
           "ridge_solve", "fit_potential", "validation_split", "kfold_assignment", "select_and_fit",
           "accumulate_normal_equations", "dask_client", "build_model", "peak_memory_mb", "held_out_assignment"]


def peak_memory_mb() -> float:
    """Peak resident memory of this process so far (MB)."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / 1024.0**2 if sys.platform == "darwin" else peak / 1024.0


def build_model(config: dict, elements: list[str]):
    descriptor_spec = dict(config["descriptor"])
    descriptor_spec["elements"] = list(elements)
    descriptor = descriptor_from_spec(descriptor_spec)
    model_spec = dict(config["model"])
    model_spec["descriptor"] = descriptor.spec()
    return model_from_spec(model_spec)


def _standardisation(model, ds, max_structures: int = 64):
    """Mean and standard deviation of each descriptor feature over (a sample of) the training atoms."""
    pick = np.unique(np.linspace(0, len(ds) - 1, min(len(ds), max_structures)).astype(int))
    blocks = []
    for k in pick:
        s = ds.atom_slice(k)
        with ds.located(k):
            G, _ = model.descriptor.features(ds.positions[s], ds.numbers[s], ds.cells[k], ds.pbc[k])
        blocks.append(G)
    G = np.concatenate(blocks)
    return G.mean(axis=0), G.std(axis=0)


def make_estimator(fit_cfg: dict, model):
    method = fit_cfg.get("method", "ridge")
    if method == "ridge":
        return RidgeRegression(alphas=fit_cfg["alphas"], unpenalised=model.constant_columns())
    if method in SPARSE_METHODS:
        return SparseRegression(method, max_features=fit_cfg.get("max_features"), l1_ratio=fit_cfg.get("l1_ratio", 0.5),
                                unpenalised=model.constant_columns())
    if method == "bayes":
        return BayesianRegression(unpenalised=model.constant_columns())
    raise LinpotInputError(f"unknown fit method {method!r} (known: {', '.join(METHODS)})")


def _weighted_parts(parts: list[NormalEquations], n_parts: int, types: list[str], type_weights: dict):
    """Per validation part, the normal equations of all config_types with their weights squared."""
    out = []
    for k in range(n_parts):
        eq = NormalEquations(parts[0].n_cols)
        for t, name in enumerate(types):
            eq.add_scaled(parts[k * len(types) + t], float(type_weights.get(name, 1.0)) ** 2)
        out.append(eq)
    return out


def _sum(equations: list[NormalEquations], n_cols: int) -> NormalEquations:
    total = NormalEquations(n_cols)
    for eq in equations:
        total += eq
    return total


def held_out_assignment(train, fit_cfg: dict) -> tuple[np.ndarray, int]:
    """``(part, n_parts)``: the part of every training structure, 0..K-1 for ``kfold = K >= 2``
    (each part held out in turn), else 0 (fit) or 1 (``validation_fraction`` held out)."""
    kfold = int(fit_cfg.get("kfold", 0) or 0)
    seed = int(fit_cfg["seed"])
    if kfold >= 2:
        if kfold > len(train):
            raise LinpotInputError(f"kfold = {kfold} needs at least {kfold} training structures, got {len(train)}")
        return kfold_assignment(train.config_type, kfold, seed), kfold
    return validation_split(train.config_type, float(fit_cfg["validation_fraction"]), seed).astype(np.int64), 2


def fit_potential(train, config: dict, client=None, fold_coefficients: list | None = None) -> tuple[Potential, dict]:
    """Fit a potential on ``train`` with ``config`` (see :mod:`linpot.fit.config`); returns it and a report.

    ``client``: a ``dask.distributed.Client`` to compute the design matrix on (optional).
    ``fold_coefficients``: a list that receives, per held-out part (each fold, or the one
    validation part), the chosen candidate's coefficients fitted without it (ridge and sparse
    fits with held-out structures; a committee scores its mean on them)."""
    if len(train) == 0:
        raise LinpotInputError("training dataset is empty")
    fit_cfg = config["fit"]
    method = fit_cfg.get("method", "ridge")
    elements = config.get("elements") or train.elements
    times, memory = {}, {}
    t0 = time.perf_counter()
    model = build_model(config, elements)
    estimator = make_estimator(fit_cfg, model)
    mean, scale = _standardisation(model, train)
    model.standardise(mean, scale)
    times["standardisation_s"] = time.perf_counter() - t0
    memory["standardisation_peak_mb"] = peak_memory_mb()

    types = sorted(set(train.config_type))
    type_index = np.array([types.index(t) for t in train.config_type], dtype=np.int64)
    kfold = int(fit_cfg.get("kfold", 0) or 0)
    seed = int(fit_cfg["seed"])
    part, n_parts = held_out_assignment(train, fit_cfg)
    if kfold >= 2:
        log.info("model: %s, %d coefficients; %d-fold cross-validation by structure on %d structures",
                 model.kind, model.n_coefficients, kfold, len(train))
    else:
        log.info("model: %s, %d coefficients; %d fit + %d validation structures",
                 model.kind, model.n_coefficients, int((part == 0).sum()), int((part == 1).sum()))

    t0 = time.perf_counter()
    raw = accumulate_normal_equations(model, train, part * len(types) + type_index, n_parts * len(types), client=client)
    times["design_matrix_s"] = time.perf_counter() - t0
    memory["design_matrix_peak_mb"] = peak_memory_mb()

    t0 = time.perf_counter()
    weights = dict(fit_cfg["weights"])
    type_weights = dict(fit_cfg["config_type_weights"])
    parts = _weighted_parts(raw, n_parts, types, type_weights)
    total = _sum(parts, model.n_coefficients)
    if kfold >= 2:
        folds = [(_sum([p for j, p in enumerate(parts) if j != k], model.n_coefficients), parts[k]) for k in range(kfold)]
    else:
        folds = [(parts[0], parts[1])] if parts[1].n_structures > 0 else []
    chosen, curve, fit_warnings = {}, [], []
    if method == "bayes":
        estimator.fit(total, weights)
        coef = estimator.coef_
        chosen = {"alpha": estimator.alpha_, "n_iter": estimator.n_iter_,
                  **{f"{q}_noise_std": float(np.sqrt(v)) for q, v in estimator.noise_variance_.items() if v is not None}}
        if folds:
            # Held-out errors of the same Bayesian fit made without the held-out structures.
            held = BayesianRegression(unpenalised=model.constant_columns()).fit(folds[0][0], weights)
            curve = [{**chosen, **{f"{q}_rmse": v for q, v in folds[0][1].rmse(held.coef_).items()}}]
    elif folds:
        max_nonzero = fit_cfg.get("max_features") if method in SPARSE_METHODS else None
        if max_nonzero is not None and int(max_nonzero) <= len(model.constant_columns()):
            raise LinpotInputError(f"max_features must exceed the {len(model.constant_columns())} per-element "
                                   f"constant(s), got {max_nonzero}")
        chosen, coef, curve, fold_coefs = select_and_fit(estimator, folds, total, weights, max_nonzero)
        if fold_coefficients is not None:
            fold_coefficients.extend(np.asarray(w).reshape(model.n_coefficients) for w in fold_coefs)
        estimator.set_choice(chosen, coef)
        if method == "ridge":
            fit_warnings.extend(_grid_edge_warnings(chosen["alpha"], estimator.alphas))
    else:
        if method != "ridge":
            raise LinpotInputError(f"fit method {method!r} needs held-out structures to choose its sparsity: "
                                   "set validation_fraction > 0 or kfold >= 2")
        alphas = estimator.alphas
        alpha = float(alphas[0] if len(alphas) == 1 else np.median(alphas))
        coef = RidgePath(*total.combined(weights)[:2], model.constant_columns()).solve(alpha)
        chosen = {"alpha": alpha}
    times["solve_s"] = time.perf_counter() - t0
    memory["solve_peak_mb"] = peak_memory_mb()
    log.info("%s: %s chosen on %s; %d of %d coefficients nonzero", method,
             ", ".join(f"{k} = {v:.3g}" for k, v in chosen.items()),
             f"{kfold} folds" if kfold >= 2 else f"{int((part == 1).sum())} validation structures",
             int(np.count_nonzero(coef)), len(coef))

    validation_by_type = {}
    if folds and method != "bayes":
        # Validation errors per config_type of the chosen candidate fitted without the held-out structures.
        for k, w in enumerate(fold_coefs):
            val_part = k if kfold >= 2 else 1
            for t, name in enumerate(types):
                eq = raw[val_part * len(types) + t]
                if eq.n_structures:
                    entry = validation_by_type.setdefault(name, {"sse": {}, "n": {}, "n_structures": 0})
                    entry["n_structures"] += eq.n_structures
                    for q, v in eq.sse(w).items():
                        entry["sse"][q] = entry["sse"].get(q, 0.0) + v
                        entry["n"][q] = entry["n"].get(q, 0) + eq.n_rows[q]
        validation_by_type = {name: {"n_structures": e["n_structures"],
                                     **{f"{q}_rmse": (float(np.sqrt(e["sse"][q] / e["n"][q])) if e["n"][q] else None)
                                        for q in e["sse"]}}
                              for name, e in validation_by_type.items()}

    fit_record = {"method": method, **chosen, "weights": weights, "config_type_weights": type_weights, "seed": seed}
    if kfold >= 2:
        fit_record["kfold"] = kfold
    else:
        fit_record["validation_fraction"] = float(fit_cfg["validation_fraction"])
    if fit_cfg.get("max_features") is not None and method in SPARSE_METHODS:
        fit_record["max_features"] = int(fit_cfg["max_features"])
    provenance = {
        "linpot_version": __version__,
        "datasets": train.file_records(),
        "n_structures": len(train),
        "n_atoms": int(train.offsets[-1]),
        "fit": fit_record,
    }
    uncertainty = None
    if method == "bayes":
        uncertainty = {"covariance": estimator.covariance_, "noise_variance": estimator.noise_variance_}
    potential = Potential(model, coef, provenance, uncertainty=uncertainty)
    report = {"method": method, "chosen": chosen, "alpha": chosen.get("alpha"), "validation_curve": curve,
              "validation_by_config_type": validation_by_type, "times": times, "peak_memory_mb": memory,
              "n_coefficients": model.n_coefficients, "n_nonzero": int(np.count_nonzero(coef)),
              "n_validation": int((part == 1).sum()) if kfold < 2 else len(train), "kfold": kfold,
              "dask_workers": len(client.scheduler_info()["workers"]) if client is not None else 0,
              "warnings": fit_warnings}
    return potential, report


#: Relative ridge strengths below this are at the round-off of the standardised normal
#: equations (unit diagonal, double precision): a grid reaching it is long enough at that end.
ROUND_OFF_ALPHA = 1e-15


def _grid_edge_warnings(alpha: float, alphas) -> list[str]:
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
