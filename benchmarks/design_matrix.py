"""Time to compute features, derivatives and design-matrix rows for a whole dataset, per preset.

    python benchmarks/design_matrix.py                       # mlearn Cu train, invariants-medium
    python benchmarks/design_matrix.py --presets pair invariants-small invariants-medium invariants-large

One process, one thread (numba kernels are serial). Each preset is timed over the full dataset
after a warm-up structure (numba compilation excluded); the pair preset is timed in the same
run as the reference, and the table gives each preset's time as a ratio to it. Results are
written between the markers in docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import platform
import time
from pathlib import Path

from docs_table import write_between_markers

from linpot.fit import build_model
from linpot.fit.config import load_preset
from linpot.structures import read_datasets

REPO = Path(__file__).resolve().parents[1]
MARKER = "design-matrix"


def time_design_matrix(preset: str, ds) -> dict:
    model = build_model(load_preset(preset), ds.elements)
    s = ds.atom_slice(0)
    model.design_rows(ds.positions[s], ds.numbers[s], ds.cells[0], ds.pbc[0])  # compile
    t0 = time.perf_counter()
    for k in range(len(ds)):
        s = ds.atom_slice(k)
        model.design_rows(ds.positions[s], ds.numbers[s], ds.cells[k], ds.pbc[k])
    seconds = time.perf_counter() - t0
    return {"preset": preset, "n_features": model.descriptor.n_features, "n_coefficients": model.n_coefficients,
            "seconds": seconds, "us_per_atom": seconds / int(ds.offsets[-1]) * 1e6}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default=str(REPO / "data" / "mlearn" / "Cu" / "train.xyz"))
    parser.add_argument("--presets", nargs="+", default=["invariants-medium"])
    args = parser.parse_args()
    ds = read_datasets([args.data])
    reference = time_design_matrix("pair", ds)
    rows = [reference] + [time_design_matrix(p, ds) for p in args.presets if p != "pair"]
    lines = ["| preset | descriptor features | coefficients | design matrix (s) | µs/atom | ratio to pair |",
             "|---|---|---|---|---|---|"]
    for r in rows:
        lines.append(f"| {r['preset']} | {r['n_features']} | {r['n_coefficients']} | {r['seconds']:.1f} | "
                     f"{r['us_per_atom']:.0f} | {r['seconds'] / reference['seconds']:.2f} |")
    data = Path(args.data).resolve()
    try:
        data = data.relative_to(REPO)
    except ValueError:
        pass
    stamp = (f"{len(ds)} structures, {int(ds.offsets[-1])} atoms of `{data}`. Made by "
             f"`python benchmarks/design_matrix.py --presets {' '.join(args.presets)}` on "
             f"{platform.processor() or platform.machine()}, {time.strftime('%Y-%m-%d')}, one core.")
    write_between_markers(MARKER, "\n".join(lines), stamp)


if __name__ == "__main__":
    main()
