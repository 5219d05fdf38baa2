"""Regenerate ``fit_predictions.npz``: what every shipped potential in ``fits/`` predicts
(energy, forces, stress) on two structures of its element's shipped test split.

The file pins the shipped potentials' predictions so that code reorganisations and kernel
rewrites are checked against them (``tests/test_shipped_potentials.py``, 1e-10 relative).
Regenerate only when a change is meant to alter predictions, and say so in the commit:

    python tests/data/make_fit_predictions.py                     # every potential
    python tests/data/make_fit_predictions.py fits/NEW.json ...   # add or replace these, keep the rest
"""

from __future__ import annotations

from itertools import permutations
from pathlib import Path

import ase.io
import numpy as np

ROOT = Path(__file__).resolve().parents[2]
OUT = Path(__file__).with_name("fit_predictions.npz")


def probe_structures(elements):
    """The first AIMD snapshot and the smallest surface slab of the test split of the potential's
    system (mlearn's, else the first shipped source with a folder named after the elements, e.g.
    ``NbMo``; for one element, that element); without those, the first and the smallest structure."""
    elements = [elements] if isinstance(elements, str) else list(elements)
    names = ["".join(order) for order in permutations(elements)]
    sources = [ROOT / "data" / "mlearn" / n for n in names] + sorted(f for n in names for f in ROOT.glob(f"data/*/{n}"))
    folder = next(f for f in sources if (f / "test.xyz").is_file())
    frames = ase.io.read(folder / "test.xyz", ":")
    aimd = next((a for a in frames if "AIMD" in a.info.get("config_type", "")), frames[0])
    slabs = [a for a in frames if "Surface" in a.info.get("config_type", "")]
    return [aimd, min(slabs or frames, key=len)]


def predictions(path: Path) -> dict:
    from linpot.potential import Potential

    pot = Potential.load(path)
    out = {}
    for k, atoms in enumerate(probe_structures(pot.elements)):
        pred = pot.predict_atoms(atoms)
        out[f"{path.name}/{k}/energy"] = np.asarray(pred["energy"], dtype=float)
        out[f"{path.name}/{k}/forces"] = np.asarray(pred["forces"], dtype=float)
        out[f"{path.name}/{k}/stress"] = np.asarray(pred["stress"], dtype=float)
    return out


def main(paths: list[str]) -> None:
    table = {}
    if paths:
        kept = np.load(OUT, allow_pickle=False)
        names = {Path(p).name for p in paths}
        table = {key: kept[key] for key in kept.files if key.split("/")[0] not in names}
    for path in [Path(p).resolve() for p in paths] or sorted((ROOT / "fits").glob("*.json")):
        table.update(predictions(path))
        print(path.name)
    np.savez_compressed(OUT, **table)
    print(f"wrote {OUT} ({len(table)} arrays)")


if __name__ == "__main__":
    import sys

    main(sys.argv[1:])
