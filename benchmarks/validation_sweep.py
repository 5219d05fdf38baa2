"""Choose descriptor settings and loss weights for a training set on validation data only.

    python benchmarks/validation_sweep.py data/mlearn/Cu/train.xyz --grid benchmarks/grids/invariants.toml

The training structures are split once (10 % of each config_type, seeded) into fit and
validation parts; for each descriptor in the grid the normal equations of both parts are
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

from linpot.config import load_config, merge
from linpot.fit import (
    NormalEquations,
    RidgeRegression,
    _standardisation,
    accumulate_normal_equations,
    build_model,
    select_and_fit,
    validation_split,
)
from linpot.structures import read_datasets

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("train", nargs="+")
    parser.add_argument("--grid", required=True, help="TOML with [[descriptor]] tables and weights = [[wE, wF, wS], ...]")
    args = parser.parse_args()
    with open(args.grid, "rb") as fh:
        grid = tomllib.load(fh)
    train = read_datasets(args.train)
    base = load_config()
    is_val = validation_split(train.config_type, 0.1, 0)
    print(f"# {len(train)} structures, {int(is_val.sum())} for validation; RMSE in meV/atom, eV/Å, GPa", flush=True)
    for entry in grid["descriptor"]:
        config = merge(base, {"descriptor": entry["descriptor"], "model": entry["model"]})
        config["descriptor"] = entry["descriptor"]
        model = build_model(config, train.elements)
        model.standardise(*_standardisation(model, train))
        t0 = time.perf_counter()
        types = sorted(set(train.config_type))
        type_index = np.array([types.index(t) for t in train.config_type])
        parts = accumulate_normal_equations(model, train, is_val.astype(int) * len(types) + type_index, 2 * len(types))
        seconds = time.perf_counter() - t0
        for (w_e, w_f, w_s), type_weights in itertools.product(grid["weights"], grid.get("config_type_weights", [{}])):
            fit_eq, val_eq = NormalEquations(model.n_coefficients), NormalEquations(model.n_coefficients)
            for k, t in enumerate(types):
                fit_eq.add_scaled(parts[k], float(type_weights.get(t, 1.0)) ** 2)
                val_eq += parts[len(types) + k]
            ridge = RidgeRegression(base["fit"]["alphas"], model.constant_columns())
            label, _, curve, _ = select_and_fit(ridge, [(fit_eq, val_eq)], fit_eq,
                                                {"energy": w_e, "forces": w_f, "stress": w_s})
            best = min(curve, key=lambda c: c["loss"])
            fmt = lambda v, scale, spec: "-" if v is None else format(v * scale, spec)
            print(f"{entry['name']:<14} coef={model.n_coefficients:<5} design={seconds:6.1f}s w=({w_e:g},{w_f:g},{w_s:g}) "
                  f"types={json.dumps(type_weights, separators=(',', ':'))} "
                  f"alpha={label['alpha']:.0e} val E={fmt(best['energy_rmse'], 1000, '.3f')} "
                  f"F={fmt(best['forces_rmse'], 1, '.4f')} S={fmt(best['stress_rmse'], 1, '.3f')}", flush=True)


if __name__ == "__main__":
    main()
