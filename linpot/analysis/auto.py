"""``linpot fit --descriptor auto``: the most accurate model within a cost budget, without hand tuning.

A staged search on held-out training structures (k-fold cross-validation; a test split, if
given, is scored only after the choice):

1. **Cost first.** Every candidate of the search space is timed before it is fitted (random
   coefficients: the compiled evaluator's cost does not depend on their values, only on which
   are nonzero, and a fit keeps all of them) against a reference in the same run
   (:mod:`linpot.analysis.cost`); candidates above the budget are dropped. A budget below the
   cheapest candidate is a one-line error.
2. **Families.** The remaining candidates of stage 1 (:data:`STAGE_1`, cheap to rich; for two
   or three elements also complete element-resolved invariants) are fitted in turn while the
   time limit allows (the next fit is started only if the time it is
   expected to take, judged from the fits so far, still fits).
3. **Refinement.** Around the best so far: the cutoff 0.5 Å shorter and longer, the energy
   weight three times larger and smaller, and the family's size (moment-tensor level ±2, radial
   functions ±2); repeated around each new best until a round finds nothing better or the time
   limit is reached. No setting is fitted twice.

Candidates are compared by the score ``E_cv / 1 meV/atom + F_cv / 0.03 eV/Å`` (held-out RMSEs
relative to the accuracy users ask of DFT-fitted potentials, so neither quantity is given up for
the other); the chosen model is the one with the lowest score, already refitted on all training
structures by the fit.
"""

from __future__ import annotations

import copy
import json
import logging
import time

import numpy as np

from ..errors import LinpotInputError
from ..fit import build_model, fit_potential
from ..fit.config import DEFAULT_CONFIG, merge
from ..potential import Potential
from .cost import benchmark_cell, cost_reference, relative_costs
from .pareto import held_out_errors

log = logging.getLogger("linpot.auto")

#: µs per atom per step (energy + forces + stress, one core, compiled evaluator).
DEFAULT_BUDGET_US = 150.0
DEFAULT_TIME_LIMIT_MIN = 20.0
#: Held-out RMSEs are divided by these before they are added into the score.
SCORE_SCALES = {"energy_mev": 1.0, "force": 0.03}
KFOLD = 5

_INVARIANT_ORDERS = [[1, 10, 0], [2, 10, 8], [3, 8, 6], [4, 6, 4]]
#: Stage 1: (name, descriptor, model), cheapest first.
STAGE_1 = [
    ("pair-polynomial", {"kind": "pair", "cutoff": 6.0, "radial": {"kind": "chebyshev", "n_basis": 10}},
     {"kind": "polynomial", "degree": 3}),
    ("invariants-chebyshev", {"kind": "invariants", "cutoff": 5.5, "radial": {"kind": "chebyshev", "n_basis": 10},
                              "orders": _INVARIANT_ORDERS},
     {"kind": "polynomial", "degree": 2, "product_orders": [1]}),
    # Gaussian centres from 0 Å, wider than their spacing, and a long l reach at order 3: the
    # setting 5-fold cross-validation chose for mlearn Mo among 100 (fits/mlearn-Mo-gaussian.toml).
    ("invariants-gaussian", {"kind": "invariants", "cutoff": 6.0,
                             "radial": {"kind": "gaussian", "n_basis": 10, "r_min": 0.0, "width": 1.1},
                             "orders": [[1, 10, 0], [2, 10, 8], [3, 8, 12], [4, 6, 4]]},
     {"kind": "polynomial", "degree": 2, "product_orders": [1]}),
    ("moment-tensors", {"kind": "moment-tensors", "cutoff": 5.0, "radial": {"kind": "chebyshev", "n_basis": 8},
                        "level_max": 16, "nu_max": 6, "max_factors": 6, "mu_weight": 1},
     {"kind": "polynomial", "degree": 1}),
]


#: Added to stage 1 for two or three elements: complete element-resolved invariants (factors of
#: different elements coupled), the model of fits/snap_nbmotaw-NbMo.toml. Beyond three elements
#: their number grows too fast (docs/multicomponent.md); the compact candidates stay.
COMPLETE_CANDIDATE = (
    "invariants-complete", {"kind": "invariants", "cutoff": 6.0,
                            "radial": {"kind": "gaussian", "n_basis": 10, "r_min": 0.0, "width": 1.1},
                            "orders": [[1, 10, 0], [2, 10, 6], [3, 6, 4], [4, 3, 2]], "element_coupling": "complete"},
    {"kind": "polynomial", "degree": 2, "product_orders": [1]})
MAX_COMPLETE_ELEMENTS = 3


def stage_1_candidates(elements) -> list:
    """:data:`STAGE_1`, with :data:`COMPLETE_CANDIDATE` second (right after the cheap pair model,
    so that the time limit reaches it on large alloy sets) for two or three elements."""
    out = list(STAGE_1)
    if 2 <= len(elements) <= MAX_COMPLETE_ELEMENTS:
        out.insert(min(1, len(out)), COMPLETE_CANDIDATE)
    return out


def score(record: dict) -> float:
    """The selection score of a fitted candidate (lower is better)."""
    return record["cv_energy_rmse"] / SCORE_SCALES["energy_mev"] + record["cv_force_rmse"] / SCORE_SCALES["force"]


def _recipe(base: dict, descriptor: dict, model: dict) -> dict:
    config = copy.deepcopy(base)
    config["descriptor"] = copy.deepcopy(descriptor)
    config["model"] = copy.deepcopy(model)
    return config


def _refinements(config: dict) -> list[tuple[str, dict]]:
    """Neighbours of ``config`` in the search space: cutoff ±0.5 Å, energy weight ×3 and ÷3, and
    the family's size (moment tensors: level ±2; radial bases: ±2 functions)."""
    out = []
    d = config["descriptor"]

    def variant(label, edit):
        c = copy.deepcopy(config)
        edit(c)
        out.append((label, c))

    key = "rcutfac" if d["kind"] == "snap" else "cutoff"
    for delta in (-0.5, 0.5):
        value = round(float(d[key]) + delta, 3)
        variant(f"cutoff {value:g} Å", lambda c, v=value: c["descriptor"].__setitem__(key, v))
    for factor in (3.0, 1.0 / 3.0):
        value = config["fit"]["weights"]["energy"] * factor
        variant(f"energy weight {value:g}",
                lambda c, v=value: c["fit"].__setitem__("weights", {**c["fit"]["weights"], "energy": v}))
    if d["kind"] == "moment-tensors":
        for delta in (-2, 2):
            level = int(d["level_max"]) + delta
            variant(f"level {level}", lambda c, v=level: c["descriptor"].__setitem__("level_max", v))
    elif "radial" in d and d["kind"] in ("pair", "invariants"):
        for delta in (-2, 2):
            n = int(d["radial"]["n_basis"]) + delta
            if n >= 2 and all(row[1] <= n for row in d.get("orders", [])):
                variant(f"{n} radial functions",
                        lambda c, v=n: c["descriptor"].__setitem__("radial", {**c["descriptor"]["radial"], "n_basis": v}))
    return out


def _signature(config: dict) -> str:
    return json.dumps({k: config.get(k) for k in ("descriptor", "model", "fit")}, sort_keys=True, default=str)


def candidate_costs(configs: list[dict], elements, reference_kind: str = "auto", rounds: int = 3) -> dict:
    """Cost (µs/atom) of each candidate with random coefficients, timed in one interleaved run."""
    rng = np.random.default_rng(0)
    potentials = []
    for config in configs:
        model = build_model(config, elements)
        potentials.append(Potential(model, 1e-3 * rng.normal(size=model.n_coefficients)))
    atoms = benchmark_cell(elements)
    reference = cost_reference(atoms, reference_kind)
    try:
        return relative_costs(potentials, atoms, reference, rounds=rounds)
    finally:
        reference.close()


def choose_model(train, base_config: dict | None = None, budget_us: float = DEFAULT_BUDGET_US,
                 time_limit_min: float = DEFAULT_TIME_LIMIT_MIN, client=None, reference: str = "auto"):
    """The most accurate candidate within ``budget_us`` found within ``time_limit_min``.

    Returns ``(potential, report, history)``: the chosen fit (refitted on all of ``train``), its
    fit report with ``auto`` added (the choice, its score and cost), and every candidate tried."""
    t_start = time.perf_counter()
    deadline = t_start + 60.0 * float(time_limit_min)
    elements = (base_config or {}).get("elements") or train.elements
    base = merge(DEFAULT_CONFIG, base_config or {})
    # The loss weights are the fit's (defaults 1e4 / 30 / 1, or --energy-weight and the like).
    base["fit"] = merge(base["fit"], {"kfold": KFOLD})
    stage_1 = [(name, _recipe(base, d, m)) for name, d, m in stage_1_candidates(elements)]
    costs = candidate_costs([c for _, c in stage_1], elements, reference)
    log.info("auto: candidate costs against %s (%.1f µs/atom in this run): %s", costs["reference"],
             costs["reference_us_per_atom"],
             ", ".join(f"{n} {us:.1f}" for (n, _), us in zip(stage_1, costs["us_per_atom"])))
    cheapest = min(costs["us_per_atom"])
    if budget_us < cheapest:
        raise LinpotInputError(f"budget {budget_us:g} µs/atom is below the cheapest candidate "
                               f"({cheapest:.1f} µs/atom measured in this run)")
    queue = [(n, c, us) for (n, c), us in zip(stage_1, costs["us_per_atom"]) if us <= budget_us]
    history, best, best_fit = [], None, None
    fit_seconds: list[float] = []

    def run(name, config, us):
        nonlocal best, best_fit
        expected = max(fit_seconds) if fit_seconds else 0.0
        left = deadline - time.perf_counter()
        if fit_seconds and expected > left:
            log.info("auto: skipping %s: about %.0f s expected, %.0f s left", name, expected, left)
            return
        t0 = time.perf_counter()
        potential, report = fit_potential(train, config, client=client)
        seconds = time.perf_counter() - t0
        fit_seconds.append(seconds)
        record = {"name": name, "recipe": {k: v for k, v in config.items() if k != "data"}, "cost_us_per_atom": us,
                  "n_coefficients": potential.n_features, "fit_s": seconds, **held_out_errors(report)}
        record["score"] = score(record)
        history.append(record)
        if best is None or record["score"] < best["score"]:
            best, best_fit = record, (potential, report)
        left = max(deadline - time.perf_counter(), 0.0)
        log.info("auto: %d. %s: held-out %.2f meV/atom, %.4f eV/Å, %.1f µs/atom (%.0f s); best %s; %.0f min left",
                 len(history), name, record["cv_energy_rmse"], record["cv_force_rmse"], us, seconds, best["name"], left / 60)

    tried = set()
    for name, config, us in queue:
        tried.add(_signature(config))
        run(name, config, us)
    # Refine around the best until a round finds nothing better or the time is spent.
    refined = set()
    while best is not None and best["name"] not in refined and time.perf_counter() < deadline:
        refined.add(best["name"])
        centre = best
        moves = [(f"{centre['name']}, {label}", c) for label, c in _refinements(centre["recipe"])
                 if _signature(c) not in tried]
        for _, c in moves:
            tried.add(_signature(c))
        if not moves:
            break
        refine_costs = candidate_costs([c for _, c in moves], elements, reference)
        for (name, config), us in zip(moves, refine_costs["us_per_atom"]):
            if us <= budget_us:
                run(name, config, us)
    if best is None:
        raise LinpotInputError(f"no candidate could be fitted within the time limit of {time_limit_min:g} min")
    potential, report = best_fit
    report = {**report, "auto": {"chosen": best["name"], "score": best["score"], "budget_us_per_atom": budget_us,
                                 "time_limit_min": time_limit_min, "cost_reference": costs["reference"],
                                 "seconds": time.perf_counter() - t_start, "candidates": history}}
    potential.provenance.setdefault("fit", {})["auto"] = {"chosen": best["name"], "budget_us_per_atom": budget_us,
                                                           "n_candidates": len(history)}
    return potential, report, history
