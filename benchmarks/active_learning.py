"""Active learning without a DFT code: ASE's EMT copper is the reference ("DFT"), linpot learns it.

Start: a few hot bulk cells. Each round: molecular dynamics with the current potential from
eight starting structures (six bulk cells at 300-1200 K and +-3 % strain, one (111) slab, one
cell with a vacancy: the rare environments are a quarter of the pool, as in a production run
that meets a surface or a defect now and then), the grade watched (a run stops above
``--stop-grade``); from the recorded frames ``--per-round`` structures are chosen, labelled with
EMT, added to the training set, and the potential is refitted (with its active set). Strategies:
``maxvol`` (greedy maxvol grade, ``linpot select --by grade``), ``pca`` (farthest points in the
descriptors' principal components, ``--by pca``) and ``random`` (uniform over the same kind of
pool, several seeds). The test set: EMT's own MD of bulk (300-1500 K, strained), (111), (100)
and (110) slabs and vacancy cells.

Reported: test RMSE of the energy (meV/atom) and forces (eV/Å) against the number of added
structures, and how many added structures each strategy needs to reach the force error that
maxvol reaches at its last round.

    python benchmarks/active_learning.py --plot docs/img/active-learning.png --json docs/active-learning.json
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import time
from pathlib import Path

import numpy as np
from ase.build import bulk, fcc100, fcc110, fcc111
from ase.calculators.emt import EMT
from ase.calculators.singlepoint import SinglePointCalculator

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from linpot import Calculator  # noqa: E402
from linpot.analysis.metrics import error_summary, predict_dataset  # noqa: E402
from linpot.analysis.selection import (  # noqa: E402
    PrincipalComponents,
    farthest_point_sampling,
    mean_descriptors,
    select_by_grade,
    select_by_variance,
)
from linpot.fit import fit_potential  # noqa: E402
from linpot.fit.active_set import add_active_set  # noqa: E402
from linpot.fit.config import apply_preset, load_config, merge  # noqa: E402
from linpot.interfaces.md import GradeWatch, run_md  # noqa: E402
from linpot.structures import Dataset  # noqa: E402

A_CU = 3.6


def label(atoms):
    """EMT energy, forces and stress as the structure's labels (the "DFT" of this example)."""
    atoms = atoms.copy()
    atoms.calc = EMT()
    kw = {"energy": atoms.get_potential_energy(), "forces": atoms.get_forces()}
    if atoms.pbc.all():
        kw["stress"] = atoms.get_stress()
    atoms.calc = SinglePointCalculator(atoms, **kw)
    return atoms


def bulk_cell(strain=0.0, vacancy=False, config_type="bulk"):
    atoms = bulk("Cu", "fcc", a=A_CU * (1 + strain), cubic=True) * (2, 2, 2)
    if vacancy:
        del atoms[0]
    atoms.info["config_type"] = config_type
    return atoms


def slab(maker, size, config_type):
    atoms = maker("Cu", size=size, a=A_CU, vacuum=6.0, periodic=True)
    atoms.info.clear()
    atoms.info["config_type"] = config_type
    return atoms


def md_frames(atoms, calc, temperature, steps, every, seed, stop_grade=None):
    """Frames every ``every`` steps of Langevin MD with ``calc`` (the start included)."""
    atoms = atoms.copy()
    atoms.calc = calc
    frames = []
    watch = GradeWatch(stop_above=stop_grade, interval=every) if stop_grade else None

    def keep(a):
        f = a.copy()
        f.info["config_type"] = atoms.info["config_type"]
        frames.append(f)

    run_md(atoms, "nvt", steps, timestep_fs=2.0, temperature_K=temperature, interval=every, seed=seed, on_frame=keep,
           watch=watch)
    return frames


def starts():
    """(structure, temperature K) of each round's MD: mostly bulk, one slab, one vacancy."""
    return [(bulk_cell(), 300), (bulk_cell(), 600), (bulk_cell(), 900), (bulk_cell(), 1200),
            (bulk_cell(-0.03, config_type="bulk"), 600), (bulk_cell(0.03, config_type="bulk"), 600),
            (slab(fcc111, (2, 2, 4), "surface"), 600), (bulk_cell(vacancy=True, config_type="vacancy"), 900)]


def test_set(seed=123):
    """EMT's own MD: hot and strained bulk, three slabs, vacancy cells (labelled)."""
    emt, frames = EMT(), []
    cases = [(bulk_cell(), 300), (bulk_cell(), 900), (bulk_cell(), 1500), (bulk_cell(-0.04), 600), (bulk_cell(0.04), 600),
             (slab(fcc111, (2, 2, 4), "surface"), 700), (slab(fcc100, (2, 2, 4), "surface"), 700),
             (slab(fcc110, (2, 2, 4), "surface"), 700), (bulk_cell(vacancy=True, config_type="vacancy"), 600),
             (bulk_cell(vacancy=True, config_type="vacancy"), 1200)]
    for k, (atoms, T) in enumerate(cases):
        frames += md_frames(atoms, emt, T, steps=300, every=60, seed=seed + k)[1:]
    return [label(f) for f in frames]


def initial_set(seed=7):
    frames = md_frames(bulk_cell(), EMT(), 600, steps=60, every=20, seed=seed)[1:]
    return [label(f) for f in frames]


def fit(frames, config):
    ds = Dataset.from_atoms(frames, path="training")
    pot, _ = fit_potential(ds, config)
    return add_active_set(pot, ds)


def choose(strategy, pot, pool_frames, n, rng):
    pool = Dataset.from_atoms(pool_frames, path="pool", validate=False)
    if strategy == "maxvol":
        return select_by_grade(pot, pool, n)[0]
    if strategy == "variance":
        return select_by_variance(pot, pool, n)[0]
    if strategy == "pca":
        X = mean_descriptors(pot, pool)
        return farthest_point_sampling(PrincipalComponents(0.99).fit(X).transform(X), n)[0]
    return rng.choice(len(pool_frames), size=n, replace=False)


def run(strategy, rounds, per_round, config, test, seed, stop_grade, md_steps, log):
    rng = np.random.default_rng(seed)
    training = initial_set()
    n0 = len(training)
    test_ds = Dataset.from_atoms(test, path="test")
    curve = []
    for r in range(rounds + 1):
        t0 = time.perf_counter()
        pot = fit(training, config)
        err = error_summary(test_ds, predict_dataset(pot, test_ds))
        added = len(training) - n0
        curve.append({"added": added, "energy_rmse_mev_per_atom": err["energy_rmse_mev_per_atom"],
                      "force_rmse_ev_per_angstrom": err["force_rmse_ev_per_angstrom"]})
        if r == rounds:
            break
        calc = Calculator(pot)
        pool = []
        for k, (atoms, T) in enumerate(starts()):
            pool += md_frames(atoms, calc, T, steps=md_steps, every=max(1, md_steps // 10), seed=1000 * r + 10 * seed + k,
                              stop_grade=stop_grade)
        picked = choose(strategy, pot, pool, per_round, rng)
        kinds = [pool[int(i)].info["config_type"] for i in picked]
        training += [label(pool[int(i)]) for i in picked]
        log(f"{strategy} seed {seed} round {r + 1}/{rounds}: {added} added, test E {curve[-1]['energy_rmse_mev_per_atom']:.2f} "
            f"meV/atom, F {curve[-1]['force_rmse_ev_per_angstrom']:.3f} eV/Å; pool {len(pool)}, picked {', '.join(kinds)} "
            f"({time.perf_counter() - t0:.0f} s)")
    return curve


def median_curve(curves, key):
    return [p["added"] for p in curves[0]], np.median([[p[key] for p in c] for c in curves], axis=0)


def needed(curves, key, target):
    """The fewest added structures at which the median over seeds of ``key`` is at or below
    ``target`` (None if never)."""
    for added, value in zip(*median_curve(curves, key)):
        if value <= target * (1 + 1e-9):
            return int(added)
    return None


#: test errors at which the strategies are compared: maxvol's final median, and fixed levels
TARGETS = {"force_rmse_ev_per_angstrom": [0.05, 0.04], "energy_rmse_mev_per_atom": [10.0, 5.0]}


def summarise(results) -> dict:
    """Per error kind: the median curves and, for maxvol's final median error and the fixed
    :data:`TARGETS`, the added structures each strategy first needs to reach it (median over runs)."""
    out = {}
    for key, levels in TARGETS.items():
        added, median = median_curve(results["maxvol"], key)
        targets = [float(median[-1])] + levels
        out[key] = {"maxvol_final": {"added": int(added[-1]), "median": float(median[-1])},
                    "needed": {f"{t:.4g}": {s: needed(c, key, t) for s, c in results.items()} for t in targets},
                    "median_curves": {s: [[int(a), float(v)] for a, v in zip(*median_curve(c, key))]
                                      for s, c in results.items()}}
    return out


def plot(results, path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(10, 4))
    colours = {"maxvol": "C3", "variance": "C1", "pca": "C2", "random": "C0"}
    for strategy, curves in results.items():
        for key, ax in (("force_rmse_ev_per_angstrom", axes[0]), ("energy_rmse_mev_per_atom", axes[1])):
            x, median = median_curve(curves, key)
            y = np.array([[p[key] for p in c] for c in curves])
            label_ = f"{strategy} (median, range of {len(curves)} runs)" if len(curves) > 1 else strategy
            ax.plot(x, median, "o-", ms=3, color=colours.get(strategy), label=label_)
            if len(curves) > 1:
                ax.fill_between(x, y.min(axis=0), y.max(axis=0), color=colours.get(strategy), alpha=0.2, lw=0)
    axes[0].set_ylabel("test force RMSE (eV/Å)")
    axes[1].set_ylabel("test energy RMSE (meV/atom)")
    for ax in axes:
        ax.set_xlabel("structures added to the training set")
        ax.set_yscale("log")
        ax.grid(alpha=0.3)
    axes[0].legend()
    fig.suptitle("active learning of EMT Cu: MD, select, label, refit")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--strategies", nargs="+", default=["maxvol", "variance", "pca", "random"])
    parser.add_argument("--rounds", type=int, default=10, help="rounds of every strategy but random")
    parser.add_argument("--random-rounds", type=int, default=30, help="rounds of random selection")
    parser.add_argument("--per-round", type=int, default=2)
    parser.add_argument("--seeds", type=int, default=3, help="runs of each strategy (MD seeds, random draws)")
    parser.add_argument("--md-steps", type=int, default=200, help="MD steps per starting structure and round")
    parser.add_argument("--stop-grade", type=float, default=30.0, help="an MD run stops above this grade")
    parser.add_argument("--preset", default="invariants-small")
    parser.add_argument("--plot", help="PNG of the learning curves")
    parser.add_argument("--json", help="write the curves and the summary here")
    parser.add_argument("--replot", metavar="JSON", help="no runs: the summary and plot of an earlier --json")
    args = parser.parse_args()
    if args.replot:
        results = json.loads(Path(args.replot).read_text())["curves"]
        print(json.dumps(summarise(results), indent=1))
        if args.plot:
            plot(results, args.plot)
        return 0
    logging.basicConfig(level=logging.ERROR)
    # Bayesian regression: the regularisation from the evidence (no held-out split of a handful of
    # structures to choose it on), and the posterior that the variance strategy needs
    config = merge(apply_preset(load_config(None), args.preset), {"fit": {"seed": 0, "method": "bayes"}})
    t0 = time.perf_counter()

    def log(text):
        print(f"[{time.perf_counter() - t0:6.0f} s] {text}", flush=True)

    test = test_set()
    log(f"initial training set {len(initial_set())} bulk structures; test set {len(test)} structures")
    results = {s: [run(s, args.random_rounds if s == "random" else args.rounds, args.per_round, config, test, seed,
                       args.stop_grade, args.md_steps, log) for seed in range(args.seeds)] for s in args.strategies}
    summary = {"settings": vars(args), **summarise(results)}
    for key in TARGETS:
        for target, needs in summary[key]["needed"].items():
            log(f"median {key} <= {target}: first with " + "; ".join(f"{s} {n}" for s, n in needs.items())
                + " added structures (None: not within the run)")
    if args.plot:
        plot(results, args.plot)
        log(f"wrote {args.plot}")
    if args.json:
        Path(args.json).write_text(json.dumps({"curves": results, "summary": summary}, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
