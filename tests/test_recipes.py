"""The shipped fit recipes load and describe valid models; the shipped fitted potentials load
and still predict their own test data (a guard against format or model changes that would
silently break them)."""

from pathlib import Path

import numpy as np
import pytest

from linpot.fit import build_model
from linpot.fit.config import committee_member_config, load_config, load_preset, preset_names
from linpot.potential import Potential
from linpot.potential.committee import CommitteePotential
from linpot.structures import read_structures

REPO = Path(__file__).resolve().parents[1]
RECIPES = sorted((REPO / "fits").glob("*.toml"))
POTENTIALS = sorted((REPO / "fits").glob("*.json"))


@pytest.mark.parametrize("recipe", RECIPES, ids=lambda p: p.name)
def test_recipe_is_valid(recipe):
    config = load_config(recipe)
    for path in config["data"]["train"] + config["data"]["test"]:
        assert Path(path).is_file(), path
    configs = [committee_member_config(config, m) for m in config["committee"]] if "committee" in config else [config]
    for member in configs:
        assert build_model(member, ["Cu"]).n_coefficients > 0


@pytest.mark.parametrize("name", preset_names())
def test_preset_is_valid(name):
    assert build_model(load_preset(name), ["Cu", "Ni"]).n_coefficients > 0


@pytest.mark.parametrize("path", POTENTIALS, ids=lambda p: p.name)
def test_shipped_potential_predicts_its_test_data(path):
    pot = Potential.load(path)
    element = pot.elements[0]
    test = read_structures(REPO / "data" / "mlearn" / element / "test.xyz")
    squared, count = 0.0, 0
    for k in range(0, len(test), 8):
        s = test.atom_slice(k)
        out = pot.predict(test.positions[s], test.numbers[s], test.cells[k], test.pbc[k])
        n = s.stop - s.start
        assert abs(out["energy"] - test.energy[k]) / n < 0.03  # eV/atom
        squared += float(np.sum((out["forces"] - test.forces[s]) ** 2))
        count += 3 * n
    # a sanity bound, far above every shipped model's test RMSE (the worst, linear SNAP on Mo, 0.27 eV/Å)
    assert np.sqrt(squared / count) < 0.5


@pytest.mark.parametrize("path", POTENTIALS, ids=lambda p: p.name)
def test_info_describes_every_shipped_potential(path, capsys):
    from linpot.cli import main

    assert main(["info", str(path)]) == 0
    out = capsys.readouterr().out
    pot = Potential.load(path)
    if isinstance(pot, CommitteePotential):
        assert f"committee      {len(pot.members)} members" in out
        assert all(f"{m.model.descriptor.kind}, cutoff" in out for m in pot.members)
    else:
        assert pot.model.descriptor.kind in out and f"n_features     {pot.n_features}" in out
    assert main(["info", str(path), "--json"]) == 0
