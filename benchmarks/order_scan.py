"""Test accuracy of linear invariant models as a function of the maximum order, at a fixed cutoff.

    python benchmarks/order_scan.py --elements Cu Mo

For maximum order P = 1..6 the descriptor holds the invariants of orders 1..P with the
(n_max, l_max) of ORDERS below, cutoff 5.5 Å, 10 Chebyshev functions; each model is fitted on the
mlearn training split (ridge strength chosen on held-out training structures, weights fixed)
and scored on the test split. Writes the table between the markers in docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import platform
import time
from pathlib import Path

from docs_table import write_between_markers

from linpot.analysis.metrics import error_table, predict_dataset
from linpot.fit import fit_potential
from linpot.fit.config import load_config, merge
from linpot.structures import read_datasets

REPO = Path(__file__).resolve().parents[1]
MARKER = "order-scan"
ORDERS = [[1, 10, 0], [2, 10, 8], [3, 8, 6], [4, 6, 4], [5, 3, 2], [6, 2, 2]]
WEIGHTS = {"energy": 10000.0, "forces": 100.0, "stress": 1.0}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--elements", nargs="+", default=["Cu", "Mo"])
    parser.add_argument("--max-order", type=int, default=6)
    parser.add_argument("--kfold", type=int, default=0, help="choose the ridge strength by k-fold cross-validation")
    args = parser.parse_args()
    lines = ["| element | max order | features | fit (s) | E RMSE (meV/atom) | F RMSE (eV/Å) | stress RMSE (GPa) |",
             "|---|---|---|---|---|---|---|"]
    for element in args.elements:
        train = read_datasets([REPO / "data" / "mlearn" / element / "train.xyz"])
        test = read_datasets([REPO / "data" / "mlearn" / element / "test.xyz"])
        for P in range(1, args.max_order + 1):
            config = merge(load_config(), {"model": {"kind": "polynomial", "degree": 1},
                                           "fit": {"weights": WEIGHTS, "kfold": args.kfold}})
            config["descriptor"] = {"kind": "invariants", "cutoff": 5.5, "radial": {"kind": "chebyshev", "n_basis": 10},
                                    "orders": ORDERS[:P]}
            t0 = time.perf_counter()
            potential, _ = fit_potential(train, config)
            seconds = time.perf_counter() - t0
            e = error_table(test, predict_dataset(potential, test))["overall"]
            stress = "-" if e["stress_rmse_gpa"] is None else f"{e['stress_rmse_gpa']:.2f}"
            line = (f"| {element} | {P} | {potential.model.descriptor.n_features} | {seconds:.0f} | "
                    f"{e['energy_rmse_mev_per_atom']:.2f} | {e['force_rmse_ev_per_angstrom']:.4f} | {stress} |")
            print(line, flush=True)
            lines.append(line)
    held_out = f"{args.kfold}-fold cross-validation" if args.kfold >= 2 else "a 10 % validation split"
    stamp = (f"Orders (order, n_max, l_max): {ORDERS[:args.max_order]}; cutoff 5.5 Å; weights {WEIGHTS}; ridge "
             f"strength chosen by {held_out} of the training split. "
             f"Made by `python benchmarks/order_scan.py --elements {' '.join(args.elements)}"
             f"{f' --kfold {args.kfold}' if args.kfold >= 2 else ''}` on "
             f"{platform.processor() or platform.machine()}, {time.strftime('%Y-%m-%d')}, one process.")
    write_between_markers(MARKER, "\n".join(lines), stamp)


if __name__ == "__main__":
    main()
