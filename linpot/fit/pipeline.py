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

from ..conventions import GPA
from ..descriptors import descriptor_from_spec
from ..errors import LinpotInputError
from ..models import model_from_spec
from ..potential import Potential
from ..version import __version__
from .accumulate import accumulate_normal_equations
from .channel_fit import resolve_fitted_channels
from .estimators import METHODS, estimator_class
from .normal_equations import QUANTITIES, NormalEquations, atom_density
from .report import FitReport, rmse_fields
from .selection import Fold, held_out_errors, kfold_assignment, validation_split

log = logging.getLogger(__name__)

__all__ = ["METHODS", "build_model", "fit_potential", "held_out_assignment", "make_estimator", "peak_memory_mb"]


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
            G, _ = model.descriptor.feature_values(ds.positions[s], ds.numbers[s], ds.cells[k], ds.pbc[k])
        blocks.append(G)
    G = np.concatenate(blocks)
    return G.mean(axis=0), G.std(axis=0)


def make_estimator(fit_cfg: dict, model):
    """The estimator of ``[fit] method`` (:data:`linpot.fit.estimators.ESTIMATORS`) built from the
    recipe, the model's per-element constants (and a Pulay stress column) unpenalised."""
    method = fit_cfg.get("method", "ridge")
    unpenalised = list(model.constant_columns())
    if fit_cfg.get("stress", "full") == "pulay":
        unpenalised.append(model.n_coefficients)
        if fit_cfg.get("max_features") is not None:
            # max_features counts the potential's coefficients; the Pulay column is not one of them
            fit_cfg = {**fit_cfg, "max_features": int(fit_cfg["max_features"]) + 1}
    return estimator_class(method).from_recipe(method, fit_cfg, unpenalised)


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


def pulay_record(pulay: float, train) -> dict:
    """The fitted Pulay stress (:func:`~linpot.fit.normal_equations.pulay_column`) for the file and
    report: ``eV_per_atom`` (the fitted constant) and the isotropic stress it gives, GPa, at the
    median atom density of the training structures with stress labels (negative = compressive)."""
    density = [atom_density(n, train.cells[k]) for k, n in enumerate(train.n_atoms) if train.has_stress[k]]
    return {"eV_per_atom": pulay, "GPa_at_median_density": float(pulay * np.median(density) / GPA)}


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


def fit_potential(train, config: dict, client=None, fold_coefficients: list | None = None,
                  fold_pulay: list | None = None) -> tuple[Potential, FitReport]:
    """Fit a potential on ``train`` with ``config`` (see :mod:`linpot.fit.config`); returns it and a
    report (:class:`~linpot.fit.report.FitReport`).

    ``client``: a ``dask.distributed.Client`` to compute the design matrix on (optional; the
    result is the same bit for bit, :mod:`linpot.fit.accumulate`).
    ``fold_coefficients``: a list that receives, per held-out part (each fold, or the one
    validation part), the chosen hyperparameters' coefficients fitted without it (a committee
    scores its mean on them). ``fold_pulay``: a list that receives, with ``stress = "pulay"``, the
    Pulay constant (eV/atom) fitted without each held-out part."""
    if len(train) == 0:
        raise LinpotInputError("training dataset is empty")
    fit_cfg = config["fit"]
    left_out = sorted(t for t, w in dict(fit_cfg.get("config_type_weights") or {}).items() if float(w) == 0.0)
    if left_out:
        # weight 0: the structures would add nothing but their design-matrix cost
        keep = np.nonzero(~np.isin(np.asarray(train.config_type), left_out))[0]
        log.info("config_type_weights: %d structures of weight 0 (%s) left out of the fit",
                 len(train) - len(keep), ", ".join(left_out))
        train = train.subset(keep)
        if len(train) == 0:
            raise LinpotInputError("every training structure has config_type weight 0")
    if fit_cfg.get("stress", "full") == "pulay":
        if not np.any(train.has_stress):
            raise LinpotInputError('[fit] stress = "pulay" needs stress labels, and the training structures have none')
        if not float(dict(fit_cfg.get("weights") or {}).get("stress", 0.0)):
            raise LinpotInputError('[fit] stress = "pulay" needs a nonzero stress weight')
    method = fit_cfg.get("method", "ridge")
    config = resolve_fitted_channels(train, config, lambda data, cfg: fit_potential(data, cfg, client=client))
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
    stress_part = fit_cfg.get("stress", "full")
    raw = accumulate_normal_equations(model, train, part * len(types) + type_index, n_parts * len(types), client=client,
                                      stress_part=stress_part)
    times["design_matrix_s"] = time.perf_counter() - t0
    memory["design_matrix_peak_mb"] = peak_memory_mb()

    t0 = time.perf_counter()
    weights = dict(fit_cfg["weights"])
    type_weights = dict(fit_cfg["config_type_weights"])
    parts = _weighted_parts(raw, n_parts, types, type_weights)
    n_cols = raw[0].n_cols  # the model's coefficients, then the Pulay stress if fitted
    total = _sum(parts, n_cols)
    # the held-out parts: every fold in turn, or the one validation part (part 1) if it has structures
    held_out = range(kfold) if kfold >= 2 else [1] if parts[1].n_structures > 0 else []
    unweighted = _weighted_parts(raw, n_parts, types, {}) if held_out else []
    folds = [Fold(train=_sum([p for j, p in enumerate(parts) if j != k], n_cols), held_out=parts[k],
                  unweighted=unweighted[k]) for k in held_out]
    estimator.fit(total, weights, folds)
    n = model.n_coefficients
    coef, chosen = estimator.coef_[:n], dict(estimator.chosen_)
    pulay = float(estimator.coef_[n]) if n_cols > n else None
    if fold_coefficients is not None:
        fold_coefficients.extend(np.asarray(w)[:n] for w in estimator.fold_coef_)
    if fold_pulay is not None and n_cols > n:
        fold_pulay.extend(float(np.asarray(w)[n]) for w in estimator.fold_coef_)
    uncertainty = estimator.uncertainty_
    if uncertainty is not None and n_cols > n:
        # the marginal posterior of the model's coefficients (the Pulay stress integrated out)
        uncertainty = {**uncertainty, "covariance": np.asarray(uncertainty["covariance"])[:n, :n]}
    times["solve_s"] = time.perf_counter() - t0
    memory["solve_peak_mb"] = peak_memory_mb()
    log.info("%s: %s chosen on %s; %d of %d coefficients nonzero", method,
             ", ".join(f"{k} = {v:.3g}" for k, v in chosen.items()),
             f"{kfold} folds" if kfold >= 2 else f"{int((part == 1).sum())} validation structures",
             int(np.count_nonzero(coef)), len(coef))

    held_out_report, validation_by_type = {}, {}
    if folds:
        held_out_report = {**held_out_errors(estimator.fold_coef_, folds),
                           "n_structures": int(sum(f.unweighted.n_structures for f in folds))}
        # per config_type: the chosen hyperparameters fitted without each held-out part, on it
        for w, k in zip(estimator.fold_coef_, held_out):
            for t, name in enumerate(types):
                eq = raw[k * len(types) + t]
                if eq.n_structures:
                    entry = validation_by_type.setdefault(name, {"sse": dict.fromkeys(QUANTITIES, 0.0),
                                                                 "n": dict.fromkeys(QUANTITIES, 0), "n_structures": 0})
                    entry["n_structures"] += eq.n_structures
                    for q, v in eq.sse(w).items():
                        entry["sse"][q] += v
                        entry["n"][q] += eq.n_rows[q]
        validation_by_type = {name: {"n_structures": e["n_structures"], **rmse_fields(e["sse"], e["n"])}
                              for name, e in sorted(validation_by_type.items())}

    fit_record = {"method": method, **chosen, "weights": weights, "config_type_weights": type_weights, "seed": seed}
    if stress_part != "full":
        fit_record["stress"] = stress_part
    if pulay is not None:
        fit_record["pulay_stress"] = pulay_record(pulay, train)
        log.info("Pulay stress of the labels: %.4g eV/atom, %.3f GPa at the training cells' median density",
                 pulay, fit_record["pulay_stress"]["GPa_at_median_density"])
    if kfold >= 2:
        fit_record["kfold"] = kfold
    else:
        fit_record["validation_fraction"] = float(fit_cfg["validation_fraction"])
    fit_record.update(estimator.recipe_bounds())
    provenance = {
        "linpot_version": __version__,
        "datasets": train.file_records(),
        "n_structures": len(train),
        "n_atoms": int(train.offsets[-1]),
        "fit": fit_record,
    }
    potential = Potential(model, coef, provenance, uncertainty=uncertainty)
    report: FitReport = {
        "method": method, "chosen": chosen, "alpha": chosen.get("alpha"), "held_out": held_out_report,
        "validation_curve": estimator.validation_curve_, "validation_by_config_type": validation_by_type,
        "times": times, "peak_memory_mb": memory,
        "n_coefficients": model.n_coefficients, "n_nonzero": int(np.count_nonzero(coef)),
        "n_validation": int((part == 1).sum()) if kfold < 2 else len(train), "kfold": kfold,
        "dask_workers": len(client.scheduler_info()["workers"]) if client is not None else 0,
        "warnings": list(estimator.warnings_)}
    return potential, report
