"""Regenerate ``fit_predictions.npz``: what every shipped potential in ``fits/`` predicts
(energy, forces, stress) on two structures of its element's shipped test split.

The file pins the shipped potentials' predictions so that code reorganisations and kernel
rewrites are checked against them (``tests/test_shipped_potentials.py``, 1e-10 relative).
Regenerate only when a change is meant to alter predictions, and say so in the commit:

    python tests/data/make_fit_predictions.py
"""

from __future__ import annotations

from pathlib import Path

import ase.io
import numpy as np

ROOT = Path(__file__).resolve().parents[2]
OUT = Path(__file__).with_name("fit_predictions.npz")


def probe_structures(element: str):
    """The first AIMD snapshot and the smallest surface slab of the element's test split."""
    frames = ase.io.read(ROOT / "data" / "mlearn" / element / "test.xyz", ":")
    aimd = next(a for a in frames if a.info["config_type"] == "AIMD-NVT")
    slabs = [a for a in frames if a.info["config_type"] == "Surface"]
    return [aimd, min(slabs, key=len)]


def predictions(path: Path) -> dict:
    from linpot.potential import Potential

    pot = Potential.load(path)
    out = {}
    for k, atoms in enumerate(probe_structures(pot.elements[0])):
        pred = pot.predict_atoms(atoms)
        out[f"{path.name}/{k}/energy"] = np.asarray(pred["energy"], dtype=float)
        out[f"{path.name}/{k}/forces"] = np.asarray(pred["forces"], dtype=float)
        out[f"{path.name}/{k}/stress"] = np.asarray(pred["stress"], dtype=float)
    return out


def main() -> None:
    table = {}
    for path in sorted((ROOT / "fits").glob("*.json")):
        table.update(predictions(path))
        print(path.name)
    np.savez_compressed(OUT, **table)
    print(f"wrote {OUT} ({len(table)} arrays)")


if __name__ == "__main__":
    main()
