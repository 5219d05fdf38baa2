"""Every shipped potential in ``fits/`` predicts what it predicted when ``fit_predictions.npz``
was made (energy, forces, stress to 1e-10 relative): reorganising the code or rewriting a kernel
must not move a shipped model's numbers."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

from linpot.potential import Potential

ROOT = Path(__file__).resolve().parents[1]
DATA = Path(__file__).with_name("data")
sys.path.insert(0, str(DATA))
from make_fit_predictions import probe_structures  # noqa: E402

STORED = np.load(DATA / "fit_predictions.npz", allow_pickle=False)
FITS = sorted((ROOT / "fits").glob("*.json"))


def test_every_shipped_potential_is_pinned():
    pinned = {key.split("/")[0] for key in STORED.files}
    assert pinned == {p.name for p in FITS}


@pytest.mark.parametrize("path", FITS, ids=lambda p: p.stem)
def test_shipped_potential_predictions_unchanged(path):
    pot = Potential.load(path)
    for k, atoms in enumerate(probe_structures(pot.elements)):
        pred = pot.predict_atoms(atoms)
        for quantity in ("energy", "forces", "stress"):
            stored = STORED[f"{path.name}/{k}/{quantity}"]
            scale = max(np.max(np.abs(stored)), 1e-12)
            np.testing.assert_allclose(pred[quantity], stored, rtol=0, atol=1e-10 * scale,
                                       err_msg=f"{path.name} structure {k} {quantity}")
