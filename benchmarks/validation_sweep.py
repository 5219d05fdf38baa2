"""Choose descriptor settings and loss weights for a training set on validation data only.

    python benchmarks/validation_sweep.py data/mlearn/Cu/train.xyz --grid benchmarks/grids/invariants.toml

The training structures are split once (10 % of each config_type, seeded) into fit and
validation parts, or with ``--kfold K`` into K folds (each held out in turn, errors pooled); for
each descriptor in the grid the normal equations of both parts are
accumulated once, then every weight setting is solved (ridge strength chosen on the validation
loss, as `linpot fit` does) and its validation RMSEs are printed. The test split is never read.
"""

from __future__ import annotations

import argparse
import itertools
import json
import sys
import time

import numpy as np

from linpot.fit import (
    Fold,
    NormalEquations,
    RidgeRegression,
    accumulate_normal_equations,
    build_model,
    kfold_assignment,
    validation_split,
)
from linpot.fit.config import load_config, merge
from linpot.fit.pipeline import _standardisation
from linpot.structures import read_datasets

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("train", nargs="+")
    parser.add_argument("--grid", required=True, help="TOML with [[descriptor]] tables and weights = [[wE, wF, wS], ...]")
    parser.add_argument("--kfold", type=int, default=0, help="k-fold cross-validation by structure instead of one 10 %% split")
    parser.add_argument("--seed", type=int, default=0,
                        help="seed of the split or fold assignment (repeat with others to see the selection noise)")
    args = parser.parse_args()
    with open(args.grid, "rb") as fh:
        grid = tomllib.load(fh)
    train = read_datasets(args.train)
    base = load_config()
    if args.kfold >= 2:
        part, n_parts = kfold_assignment(train.config_type, args.kfold, args.seed), args.kfold
        print(f"# {len(train)} structures, {args.kfold}-fold cross-validation; RMSE in meV/atom, eV/Å, GPa", flush=True)
    else:
        part, n_parts = validation_split(train.config_type, 0.1, args.seed).astype(int), 2
        print(f"# {len(train)} structures, {int(part.sum())} for validation; RMSE in meV/atom, eV/Å, GPa", flush=True)
    for entry in grid["descriptor"]:
        config = merge(base, {"descriptor": entry["descriptor"], "model": entry["model"]})
        config["descriptor"] = entry["descriptor"]
        model = build_model(config, train.elements)
        model.standardise(*_standardisation(model, train))
        t0 = time.perf_counter()
        types = sorted(set(train.config_type))
        type_index = np.array([types.index(t) for t in train.config_type])
        parts = accumulate_normal_equations(model, train, part * len(types) + type_index, n_parts * len(types))
        seconds = time.perf_counter() - t0
        for (w_e, w_f, w_s), type_weights in itertools.product(grid["weights"], grid.get("config_type_weights", [{}])):
            # Fit parts carry the config_type weights; held-out parts are scored unweighted, so
            # every setting is judged on the same loss.
            folds = []
            held_out = range(n_parts) if n_parts > 2 else [1]
            for k in held_out:
                fit_eq, val_eq = NormalEquations(model.n_coefficients), NormalEquations(model.n_coefficients)
                for j in range(n_parts):
                    for t, name in enumerate(types):
                        if j == k:
                            val_eq += parts[j * len(types) + t]
                        else:
                            fit_eq.add_scaled(parts[j * len(types) + t], float(type_weights.get(name, 1.0)) ** 2)
                folds.append(Fold(fit_eq, val_eq))
            ridge = RidgeRegression(base["fit"]["alphas"], model.constant_columns())
            # the estimator's protocol: the refit on all structures is not needed here
            ridge.fit(folds[0].train, {"energy": w_e, "forces": w_f, "stress": w_s}, folds)
            best = next(c for c in ridge.validation_curve_ if c["chosen"])

            def fmt(v, spec):
                return "-" if v is None else format(v, spec)
            print(f"{entry['name']:<14} coef={model.n_coefficients:<5} design={seconds:6.1f}s w=({w_e:g},{w_f:g},{w_s:g}) "
                  f"types={json.dumps(type_weights, separators=(',', ':'))} "
                  f"alpha={ridge.alpha_:.0e} val E={fmt(best['energy_rmse_mev_per_atom'], '.3f')} "
                  f"F={fmt(best['force_rmse_ev_per_angstrom'], '.4f')} S={fmt(best['stress_rmse_gpa'], '.3f')}", flush=True)


if __name__ == "__main__":
    main()
