"""The mlearn test errors of every descriptor family side by side, from the shipped potentials.

    python benchmarks/families_table.py

Loads `fits/mlearn-<El><suffix>.json` for each family (fitted by `benchmarks/mlearn_table.py
--recipe <family>`, whose tables give the fit details), scores each on the test split of its
element and times energy + forces + stress over the Cu test structures (best of three passes,
one process) against ASE's Lennard-Jones calculator at the same cutoff in the same run (a ratio,
as in `mlearn_table.py`). Writes the table between the markers in docs/benchmarks.md, and the Cu errors
against that cost, with their Pareto front, to docs/img/families-cost-accuracy-Cu.png.
"""

from __future__ import annotations

import platform
import time
from pathlib import Path

from docs_table import write_between_markers
from mlearn_table import lennard_jones_reference, time_per_atom

from linpot.analysis.metrics import error_table, predict_dataset
from linpot.analysis.plots import cost_accuracy_plot
from linpot.potential import Potential
from linpot.structures import read_datasets

REPO = Path(__file__).resolve().parents[1]
FAMILIES = [("pair polynomial", "-pair"), ("invariants", ""), ("angular Fourier series", "-afs"),
            ("symmetry functions", "-sf"), ("moment tensors", "-mtp"), ("SNAP 2J=8", "-snap")]
ELEMENTS = ["Ni", "Cu", "Li", "Mo"]
MTP = {"Ni": (0.75, 0.027), "Cu": (0.52, 0.014), "Li": (0.66, 0.013), "Mo": (3.98, 0.151)}


def main():
    import ase.io

    head = ("| family | " + " | ".join(f"{el} E / F" for el in ELEMENTS)
            + " | coefficients (Cu) | µs/atom (Cu) | ratio to ASE LJ (Cu) |")
    lines = [head, "|" + "---|" * (len(ELEMENTS) + 4)]
    cu_frames = ase.io.read(REPO / "data" / "mlearn" / "Cu" / "test.xyz", ":")
    cu_points = []  # (family, µs/atom, E RMSE, F RMSE) on Cu
    for name, suffix in FAMILIES:
        cells, n_coef, cost, ratio = [], None, None, None
        for el in ELEMENTS:
            path = REPO / "fits" / f"mlearn-{el}{suffix}.json"
            if not path.is_file():
                cells.append("-")
                continue
            pot = Potential.load(path)
            test = read_datasets([REPO / "data" / "mlearn" / el / "test.xyz"])
            pred = predict_dataset(pot, test)
            e = error_table(test, pred)["overall"]
            cells.append(f"{e['energy_rmse_mev_per_atom']:.2f} / {e['force_rmse_ev_per_angstrom']:.4f}")
            if el == "Cu":
                n_coef = pot.n_features
                pot.predict_atoms(cu_frames[0])  # compile
                cost = time_per_atom(pot.predict_atoms, cu_frames) * 1e6
                ratio = cost / (time_per_atom(lennard_jones_reference(cu_frames, pot.cutoff), cu_frames) * 1e6)
                cu_points.append((name, cost, e["energy_rmse_mev_per_atom"], e["force_rmse_ev_per_angstrom"]))
        lines.append(f"| {name} | " + " | ".join(cells) + f" | {n_coef} | {cost:.0f} | {ratio:.2f} |")
        print(lines[-1], flush=True)
    lines.append("| published mlearn MTP | " + " | ".join(f"{e} / {f}" for e, f in MTP.values()) + " | - | - | - |")
    stamp = ("Test RMSE, energy in meV/atom and forces in eV/Å. Made by `python benchmarks/families_table.py` on "
             f"{platform.processor() or platform.machine()}, {time.strftime('%Y-%m-%d')}, one process.")
    write_between_markers("families", "\n".join(lines), stamp, heading="mlearn: descriptor families side by side")
    labels, costs, e_rmse, f_rmse = zip(*cu_points)
    cost_accuracy_plot(labels, costs, e_rmse, f_rmse, REPO / "docs" / "img" / "families-cost-accuracy-Cu.png",
                       title="mlearn Cu test split: accuracy against evaluation cost (shipped potentials)")


if __name__ == "__main__":
    main()
