"""Fit each mlearn element from its recipe and tabulate the test errors.

    python benchmarks/mlearn_table.py --recipe pair          # fits/mlearn-<El>-pair.toml
    python benchmarks/mlearn_table.py --recipe invariants    # fits/mlearn-<El>.toml
    python benchmarks/mlearn_table.py --recipe invariants --elements Cu

For each element: runs the recipe (train on the shipped train split, settings and ridge
strength chosen on training data only), writes the potential next to the recipe (``.json``),
scores it on the test split, and times the evaluation of the test set against ASE's
Lennard-Jones calculator in the same process (a ratio, so the number means something on another
machine). Rewrites the table between the markers ``<!-- mlearn-<recipe>:begin/end -->`` in
``docs/benchmarks.md`` and draws parity plots into ``docs/img/``.
Parity plots use matplotlib (a linpot dependency).
"""

from __future__ import annotations

import argparse
import logging
import platform
import time
from pathlib import Path

import numpy as np
from docs_table import write_between_markers

from linpot.analysis.metrics import error_table, predict_dataset
from linpot.analysis.plots import parity_plot
from linpot.fit import fit_potential
from linpot.fit.committee import fit_committee
from linpot.fit.config import load_config
from linpot.structures import read_datasets

REPO = Path(__file__).resolve().parents[1]
RECIPES = {"pair": "mlearn-{el}-pair", "invariants": "mlearn-{el}", "afs": "mlearn-{el}-afs",
           "sf": "mlearn-{el}-sf", "snap": "mlearn-{el}-snap", "mtp": "mlearn-{el}-mtp"}
HEADINGS = {"afs": "mlearn: angular Fourier series (preset `angular-fourier`)",
            "sf": "mlearn: symmetry functions (preset `symmetry-functions`)",
            "snap": "mlearn: SNAP (preset `snap`, 2J = 8, linear)",
            "mtp": "mlearn: moment tensors (level 16, radial weight 1, linear; recipes `fits/mlearn-<El>-mtp.toml`)"}
#: Test RMSE (meV/atom, eV/Å) of the peers on the same files, quoted in the invariants issue:
#: the published mlearn MTP models (Zuo et al. 2020) and pypolymlp 0.22.1 fitted on the same split.
PEERS = {"Ni": (0.75, 0.027, 0.90, 0.028), "Cu": (0.52, 0.014, 0.46, 0.010),
         "Li": (0.66, 0.013, 0.66, 0.010), "Mo": (3.98, 0.151, 2.95, 0.179)}


def time_per_atom(func, structures, repeat=3) -> float:
    """Best of ``repeat`` passes over ``structures``, seconds per atom."""
    n_atoms = sum(len(a) for a in structures)
    best = np.inf
    for _ in range(repeat):
        t0 = time.perf_counter()
        for atoms in structures:
            func(atoms)
        best = min(best, time.perf_counter() - t0)
    return best / n_atoms


def lennard_jones_reference(structures, cutoff):
    from ase.calculators.lj import LennardJones

    calc = LennardJones(sigma=2.3, epsilon=0.4, rc=cutoff, smooth=True)

    def run(atoms):
        atoms = atoms.copy()
        atoms.calc = calc
        atoms.get_forces()
        if atoms.pbc.all():
            atoms.get_stress()

    return run


def run_element(element: str, recipe_name: str) -> dict:
    import ase.io

    stem = RECIPES[recipe_name].format(el=element)
    recipe = REPO / "fits" / f"{stem}.toml"
    config = load_config(recipe)
    train = read_datasets(config["data"]["train"])
    test = read_datasets(config["data"]["test"])
    t0 = time.perf_counter()
    if config.get("committee"):
        potential, report = fit_committee(train, config)
    else:
        potential, report = fit_potential(train, config)
    fit_s = time.perf_counter() - t0
    out = REPO / "fits" / f"{stem}.json"
    datasets = [{"path": str(Path(p).relative_to(REPO)), "sha256": h} for p, h in sorted(train.file_hashes.items())]
    for pot in [potential, *getattr(potential, "members", [])]:
        pot.provenance["datasets"] = datasets
    potential.save(out)
    pred = predict_dataset(potential, test)
    errors = error_table(test, pred)["overall"]
    parity_plot(test, pred, REPO / "docs" / "img" / f"parity-{stem}.png",
                f"mlearn {element} test split, {potential.label}, {potential.n_features} coefficients")

    frames = ase.io.read(config["data"]["test"][0], ":")
    ours = time_per_atom(lambda atoms: potential.predict_atoms(atoms), frames)
    reference = time_per_atom(lennard_jones_reference(frames, potential.cutoff), frames)
    return {"element": element, "errors": errors, "n_coefficients": potential.n_features,
            "n_train": len(train), "n_train_atoms": int(train.offsets[-1]), "fit_s": fit_s,
            "design_matrix_s": report["times"]["design_matrix_s"], "alpha": report["alpha"],
            "eval_us_per_atom": ours * 1e6, "lj_us_per_atom": reference * 1e6}


def table(rows, peers: bool) -> str:
    def fmt(v, spec):
        return "-" if v is None else format(v, spec)
    head = ("| element | coefficients | train structures (atoms) | fit time (s) | E RMSE (meV/atom) | E MAE | F RMSE (eV/Å) | "
            "F MAE | stress RMSE (GPa) | evaluation (µs/atom) | ratio to ASE LJ |")
    if peers:
        head += " MTP E / F | pypolymlp E / F |"
    lines = [head, "|" + "---|" * (head.count("|") - 1)]
    for r in rows:
        e = r["errors"]
        line = (f"| {r['element']} | {r['n_coefficients']} | {r['n_train']} ({r['n_train_atoms']}) | {r['fit_s']:.1f} | "
                f"{fmt(e['energy_rmse_mev_per_atom'], '.2f')} | {fmt(e['energy_mae_mev_per_atom'], '.2f')} | "
                f"{fmt(e['force_rmse_ev_per_angstrom'], '.4f')} | {fmt(e['force_mae_ev_per_angstrom'], '.4f')} | "
                f"{fmt(e['stress_rmse_gpa'], '.2f')} | {r['eval_us_per_atom']:.1f} | "
                f"{r['eval_us_per_atom'] / r['lj_us_per_atom']:.2f} |")
        if peers:
            m_e, m_f, p_e, p_f = PEERS[r["element"]]
            line += f" {m_e} / {m_f} | {p_e} / {p_f} |"
        lines.append(line)
    return "\n".join(lines)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--elements", nargs="+", default=["Ni", "Cu", "Li", "Mo"])
    parser.add_argument("--recipe", choices=sorted(RECIPES), default="pair")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    (REPO / "docs" / "img").mkdir(parents=True, exist_ok=True)
    peers = args.recipe in ("invariants", "mtp")
    rows = []
    for element in args.elements:
        rows.append(run_element(element, args.recipe))
        print(table(rows[-1:], peers).splitlines()[-1], flush=True)
    text = table(rows, peers)
    stamp = (f"Made by `python benchmarks/mlearn_table.py --recipe {args.recipe} --elements {' '.join(args.elements)}` on "
             f"{platform.processor() or platform.machine()}, {time.strftime('%Y-%m-%d')}, one process.")
    write_between_markers(f"mlearn-{args.recipe}", text, stamp, heading=HEADINGS.get(args.recipe))


if __name__ == "__main__":
    main()
