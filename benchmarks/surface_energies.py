"""Surface energies of the mlearn slabs, from the DFT labels and from shipped potentials.

    python benchmarks/surface_energies.py --element Mo fits/mlearn-Mo.json fits/mlearn-Mo-afs.json

For every structure of config_type "Surface" in the train and test splits:
gamma = (E_slab - N E_bulk) / (2 A) in J/m^2, with E_bulk the energy per atom of the split's
"Ground state" structure (the relaxed bulk of the training split) and A the area spanned by the
first two cell vectors (the slab normal is the third). The same with each potential's own
energies (its slab energy and its bulk energy) shows how far each facet is from the facets the
model was trained on. Writes the table between the markers ``mlearn-<El>-surfaces`` in
docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import platform
import re
import time
from pathlib import Path

import ase.io
import numpy as np
from docs_table import write_between_markers

from linpot.potential import Potential

REPO = Path(__file__).resolve().parents[1]
EV_PER_A2_IN_J_PER_M2 = 16.0218


def surface_energy(energy: float, n_atoms: int, bulk_per_atom: float, cell) -> float:
    area = np.linalg.norm(np.cross(cell[0], cell[1]))
    return (energy - n_atoms * bulk_per_atom) / (2.0 * area) * EV_PER_A2_IN_J_PER_M2


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("potentials", nargs="*")
    parser.add_argument("--element", default="Mo")
    args = parser.parse_args()
    data = REPO / "data" / "mlearn" / args.element
    train = ase.io.read(data / "train.xyz", ":")
    bulk = [a for a in train if a.info.get("config_type") == "Ground state"][0]
    potentials = [(Path(p).stem, Potential.load(p)) for p in args.potentials]
    bulk_model = [pot.predict_atoms(bulk)["energy"] / len(bulk) for _, pot in potentials]
    dft_bulk = bulk.get_potential_energy() / len(bulk)
    head = "| split | facet | atoms | DFT gamma (J/m^2) |" + "".join(f" {name} |" for name, _ in potentials)
    lines = [head, "|" + "---|" * (head.count("|") - 1)]
    for split in ("train", "test"):
        for atoms in ase.io.read(data / f"{split}.xyz", ":"):
            if atoms.info.get("config_type") != "Surface":
                continue
            facet = re.search(r"\((\d)_(\d)_(\d)\)", atoms.info.get("description", ""))
            facet = "(" + "".join(facet.groups()) + ")" if facet else "?"
            cell = atoms.cell.array
            row = [split, facet, str(len(atoms)),
                   f"{surface_energy(atoms.get_potential_energy(), len(atoms), dft_bulk, cell):.3f}"]
            for (_, pot), e_bulk in zip(potentials, bulk_model):
                row.append(f"{surface_energy(pot.predict_atoms(atoms)['energy'], len(atoms), e_bulk, cell):.3f}")
            lines.append("| " + " | ".join(row) + " |")
    text = "\n".join(lines)
    stamp = (f"Made by `python benchmarks/surface_energies.py --element {args.element} {' '.join(args.potentials)}` on "
             f"{platform.processor() or platform.machine()}, {time.strftime('%Y-%m-%d')}, one process.")
    write_between_markers(f"mlearn-{args.element}-surfaces", text, stamp)


if __name__ == "__main__":
    main()
