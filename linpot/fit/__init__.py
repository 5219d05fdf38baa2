"""Fitting: design rows streamed into normal equations, then regression.

:func:`fit_potential` is the whole pipeline from a training :class:`~linpot.structures.Dataset`
to a :class:`~linpot.potential.Potential`.
"""

from __future__ import annotations

import logging
import time

import numpy as np

from .. import __version__
from ..descriptors import descriptor_from_spec
from ..errors import LinpotInputError
from ..models import model_from_spec
from ..potential import Potential
from .normal_equations import NormalEquations
from .ridge import RidgePath, RidgeRegression, ridge_solve

log = logging.getLogger(__name__)

__all__ = ["NormalEquations", "RidgePath", "RidgeRegression", "ridge_solve", "fit_potential", "validation_split",
           "accumulate_normal_equations", "build_model"]


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
        blocks.append(model.descriptor.compute(ds.positions[s], ds.numbers[s], ds.cells[k], ds.pbc[k]).G)
    G = np.concatenate(blocks)
    return G.mean(axis=0), G.std(axis=0)


def accumulate_normal_equations(model, ds, groups: np.ndarray, n_groups: int, config_type_weights: dict):
    """Stream every structure's rows into ``n_groups`` sets of normal equations (``groups[k]``)."""
    equations = [NormalEquations(model.n_coefficients) for _ in range(n_groups)]
    for k in range(len(ds)):
        s = ds.atom_slice(k)
        try:
            rows = model.design_rows(ds.positions[s], ds.numbers[s], ds.cells[k], ds.pbc[k])
        except LinpotInputError as exc:
            path, index = ds.origin[k]
            raise LinpotInputError(exc.reason, path, index) from None
        weight = float(config_type_weights.get(ds.config_type[k], 1.0)) ** 2
        equations[groups[k]].add_structure(
            rows, s.stop - s.start,
            energy=ds.energy[k] if ds.has_energy[k] else None,
            forces=ds.forces[s] if ds.has_forces[k] else None,
            stress=ds.stress[k] if ds.has_stress[k] else None,
            weight=weight,
        )
    return equations


def fit_potential(train, config: dict) -> tuple[Potential, dict]:
    """Fit a potential on ``train`` with ``config`` (see :mod:`linpot.config`); returns it and a report."""
    if len(train) == 0:
        raise LinpotInputError("training dataset is empty")
    fit_cfg = config["fit"]
    if fit_cfg.get("method", "ridge") != "ridge":
        raise LinpotInputError(f"unknown fit method {fit_cfg['method']!r} (this version has: ridge)")
    elements = config.get("elements") or train.elements
    times = {}
    t0 = time.perf_counter()
    model = build_model(config, elements)
    mean, scale = _standardisation(model, train)
    model.standardise(mean, scale)
    times["standardisation_s"] = time.perf_counter() - t0

    is_val = validation_split(train.config_type, float(fit_cfg["validation_fraction"]), int(fit_cfg["seed"]))
    log.info("model: %s, %d coefficients; %d fit + %d validation structures",
             model.kind, model.n_coefficients, int((~is_val).sum()), int(is_val.sum()))
    t0 = time.perf_counter()
    fit_eq, val_eq = accumulate_normal_equations(model, train, is_val.astype(int), 2, fit_cfg["config_type_weights"])
    times["design_matrix_s"] = time.perf_counter() - t0

    t0 = time.perf_counter()
    weights = dict(fit_cfg["weights"])
    ridge = RidgeRegression(alphas=fit_cfg["alphas"], weights=weights, unpenalised=model.constant_columns())
    ridge.fit(fit_eq, val_eq)
    times["solve_s"] = time.perf_counter() - t0
    log.info("ridge: alpha = %.3g chosen on %d validation structures", ridge.alpha_, int(is_val.sum()))

    provenance = {
        "linpot_version": __version__,
        "datasets": [{"path": p, "sha256": h} for p, h in sorted(train.file_hashes.items())],
        "n_structures": len(train),
        "n_atoms": int(train.offsets[-1]),
        "fit": {"method": "ridge", "alpha": ridge.alpha_, "weights": weights,
                "config_type_weights": dict(fit_cfg["config_type_weights"]),
                "validation_fraction": float(fit_cfg["validation_fraction"]), "seed": int(fit_cfg["seed"])},
    }
    potential = Potential(model, ridge.coef_, provenance)
    report = {"alpha": ridge.alpha_, "validation_curve": ridge.validation_curve_, "times": times,
              "n_coefficients": model.n_coefficients, "n_validation": int(is_val.sum())}
    return potential, report
