"""Potential files (exact round trip, refusal of damaged files) and the ASE calculator."""

import json

import numpy as np
import pytest
from conftest import binary_cell, distorted_fcc, make_model, triclinic_cell

import linpot
from linpot.errors import PotentialFileError
from linpot.potential import Potential


@pytest.fixture
def potential():
    model, c = make_model(elements=("Al", "Ni"), n_basis=4, degree=3)
    return Potential(model, c, {"datasets": [{"path": "x.xyz", "sha256": "0" * 64}], "linpot_version": linpot.__version__})


def test_round_trip_is_exact(tmp_path, potential):
    path = tmp_path / "pot.json"
    potential.save(path)
    loaded = Potential.load(path)
    assert np.array_equal(loaded.coefficients, potential.coefficients)
    assert loaded.model.spec() == potential.model.spec()
    assert loaded.provenance == potential.provenance
    atoms = binary_cell()
    a, b = potential.predict_atoms(atoms), loaded.predict_atoms(atoms)
    assert a["energy"] == b["energy"]
    assert np.array_equal(a["forces"], b["forces"]) and np.array_equal(a["stress"], b["stress"])
    # saving again gives the same bytes
    path2 = tmp_path / "pot2.json"
    loaded.save(path2)
    assert path.read_bytes() == path2.read_bytes()


def test_file_is_self_describing(tmp_path, potential):
    path = tmp_path / "pot.json"
    potential.save(path)
    doc = json.loads(path.read_text())
    for key in ("format", "format_version", "linpot_version", "units", "elements", "reference_energies",
                "model", "coefficients", "provenance", "checksum", "n_features", "n_nonzero", "cutoff"):
        assert key in doc
    assert doc["elements"] == ["Al", "Ni"]
    assert doc["model"]["descriptor"]["kind"] == "pair"
    assert set(doc["reference_energies"]) == {"Al", "Ni"}


@pytest.mark.parametrize("damage", ["truncate", "edit", "not_json", "version", "empty", "not_potential"])
def test_damaged_files_are_refused(tmp_path, potential, damage):
    path = tmp_path / "pot.json"
    potential.save(path)
    text = path.read_text()
    if damage == "truncate":
        path.write_text(text[: len(text) // 2])
    elif damage == "edit":
        doc = json.loads(text)
        doc["coefficients"][0][3] += 1e-3
        path.write_text(json.dumps(doc))
    elif damage == "not_json":
        path.write_bytes(b"\x80\x04\x95 pickle-like bytes")
    elif damage == "version":
        doc = json.loads(text)
        doc["format_version"] = 99
        path.write_text(json.dumps(doc))
    elif damage == "empty":
        path.write_text("")
    else:
        path.write_text(json.dumps({"hello": 1}))
    with pytest.raises(PotentialFileError) as info:
        Potential.load(path)
    assert str(path) in str(info.value) and "\n" not in str(info.value)


def test_calculator_matches_model_and_ase_numerical_stress(tmp_path, potential):
    path = tmp_path / "pot.json"
    potential.save(path)
    atoms = binary_cell()
    atoms.calc = linpot.Calculator(str(path))
    direct = potential.model.predict(potential.coefficients, atoms.positions, atoms.numbers, atoms.cell.array, atoms.pbc)
    rows = potential.model.design_rows(atoms.positions, atoms.numbers, atoms.cell.array, atoms.pbc)
    c = potential.coefficients.ravel()
    assert atoms.get_potential_energy() == pytest.approx(rows.energy @ c, rel=1e-12)
    # the calculator runs the compiled evaluator; the model its generic reverse mode
    assert atoms.get_potential_energy() == pytest.approx(direct["energy"], rel=1e-12)
    np.testing.assert_allclose(atoms.get_forces(), direct["forces"], atol=1e-11)
    np.testing.assert_allclose(atoms.get_forces().ravel(), rows.forces @ c, atol=1e-11)
    np.testing.assert_allclose(atoms.get_stress(), rows.stress @ c, atol=1e-13)
    np.testing.assert_allclose(atoms.get_potential_energies().sum(), atoms.get_potential_energy(), rtol=1e-12)
    # ASE's own finite-difference stress: same sign convention and Voigt order
    from ase.calculators.fd import calculate_numerical_stress

    numerical = calculate_numerical_stress(atoms, eps=1e-6, voigt=True)
    np.testing.assert_allclose(atoms.get_stress(), numerical, atol=1e-7 * np.abs(numerical).max() + 1e-9)


def test_calculator_accepts_potential_object_and_non_periodic():
    model, c = make_model(n_basis=3, degree=2)
    calc = linpot.Calculator(Potential(model, c))
    atoms = triclinic_cell()
    atoms.pbc = False
    atoms.calc = calc
    assert np.isfinite(atoms.get_potential_energy())
    assert atoms.get_forces().shape == (len(atoms), 3)
    np.testing.assert_allclose(atoms.get_forces().sum(axis=0), 0, atol=1e-12)


def test_unknown_element_is_an_input_error(potential):
    from linpot.errors import LinpotInputError

    atoms = distorted_fcc()  # Cu, not in (Al, Ni)
    with pytest.raises(LinpotInputError, match="element Cu"):
        potential.predict_atoms(atoms)
