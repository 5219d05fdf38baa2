"""Cost of the extrapolation grade in the exported module, as a median ratio to one energy +
forces + stress evaluation of the same module, timed in turn in each round.

    linpot grade-setup fits/mlearn-Cu.json data/mlearn/Cu/train.xyz -o cu-grade.json   # 2-3 min
    python benchmarks/grade_cost.py cu-grade.json --rounds 9

The potential (with an active set) is exported by ``linpot export`` into a temporary folder and
imported; the cell is linpot.analysis.cost.benchmark_cell (a rattled bulk supercell of about 500
atoms of the potential's first element). Prints the median ratio, its range and both times.
"""

from __future__ import annotations

import argparse
import importlib
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from linpot.analysis.cost import benchmark_cell
from linpot.interfaces.export import export_potential
from linpot.potential import load


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("potential", help="a potential file with an active set (linpot grade-setup)")
    parser.add_argument("--atoms", type=int, default=500)
    parser.add_argument("--rounds", type=int, default=9)
    args = parser.parse_args()
    potential = load(args.potential)
    if getattr(potential, "active_set", None) is None:
        sys.exit(f"{args.potential}: no active set (add one with `linpot grade-setup`)")
    atoms = benchmark_cell(potential.elements, args.atoms)
    with tempfile.TemporaryDirectory() as folder:
        export_potential(potential, Path(folder) / "grade_cost_module.py", source=args.potential)
        sys.path.insert(0, folder)
        module = importlib.import_module("grade_cost_module")
        inputs = (atoms.positions, atoms.numbers, atoms.cell.array, atoms.pbc)
        module.evaluate(*inputs)   # compile
        module.predict_grade(*inputs)
        times = []
        for _ in range(args.rounds):
            t0 = time.perf_counter()
            module.evaluate(*inputs)
            t1 = time.perf_counter()
            module.predict_grade(*inputs)
            t2 = time.perf_counter()
            times.append((t1 - t0, t2 - t1))
    times = np.array(times)
    ratio = times[:, 1] / times[:, 0]
    print(f"{args.potential}: {len(atoms)} atoms, {args.rounds} rounds; grade / (energy + forces + stress): "
          f"median {np.median(ratio):.2f} (range {ratio.min():.2f}-{ratio.max():.2f}); "
          f"energy + forces + stress {1e6 * np.median(times[:, 0]) / len(atoms):.1f} µs/atom, "
          f"grade {1e6 * np.median(times[:, 1]) / len(atoms):.1f} µs/atom")


if __name__ == "__main__":
    main()
