"""The predictive standard deviations of an exported standalone module: a potential with a
posterior (``fit --method bayes``) exports ``energy_std`` and ``atomic_energy_std``, equal to
linpot.Calculator's, beside the grade when it has an active set too, without changing energy or
forces. A small pair potential fitted on a dozen EMT-labelled Al-Ni cells; two exports (with and
without the active set)."""

from __future__ import annotations

import ast

import numpy as np
import pytest
from ase.calculators.calculator import PropertyNotImplementedError
from ase.calculators.emt import EMT
from ase.calculators.singlepoint import SinglePointCalculator
from conftest import triclinic_cell
from test_export import load_module
from test_export_grade import ELEMENTS, binary, compressed, indicators_with_every_calculation

import linpot
from linpot.fit import fit_potential
from linpot.fit.active_set import add_active_set
from linpot.fit.config import load_config, merge
from linpot.interfaces.export import export_potential, module_source
from linpot.potential import Potential
from linpot.potential.uncertainty import predictive_std
from linpot.structures import Dataset

RECIPE = {"descriptor": {"kind": "pair", "cutoff": 4.5, "radial": {"kind": "chebyshev", "n_basis": 3}},
          "model": {"kind": "polynomial", "degree": 2}, "fit": {"seed": 0, "method": "bayes"}}
STD = ("energy_std", "atomic_energy_std")
GRADES = ("grade", "atomic_grades", "structure_grade")


def labelled(atoms):
    atoms = atoms.copy()
    atoms.calc = EMT()
    e, f, s = atoms.get_potential_energy(), atoms.get_forces(), atoms.get_stress()
    atoms.calc = SinglePointCalculator(atoms, energy=e, forces=f, stress=s)
    return atoms


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    """{"both": (potential, file, module), "posterior": ...}: the Bayesian fit with and without an active set."""
    train = Dataset.from_atoms([labelled(binary(seed)) for seed in range(12)], path="train.xyz")
    bayes, _ = fit_potential(train, merge(load_config(None), RECIPE))
    assert bayes.uncertainty is not None and bayes.active_set is None
    graded = add_active_set(Potential(bayes.model, bayes.coefficients, bayes.provenance, bayes.uncertainty), train)
    d = tmp_path_factory.mktemp("export-uncertainty")
    out = {}
    for name, potential in (("both", graded), ("posterior", bayes)):
        potential.save(d / f"{name}.json")
        export_potential(potential, d / f"bayes_{name}.py")
        out[name] = potential, d / f"{name}.json", load_module(d / f"bayes_{name}.py")
    return out


def structures():
    return {"compressed": compressed(), "triclinic": triclinic_cell(n_atoms=5, symbols=ELEMENTS)}


@pytest.mark.parametrize("kind", ["both", "posterior"])
def test_the_exported_std_is_linpots(exported, kind):
    potential, pot_path, module = exported[kind]
    expected = STD if kind == "posterior" else GRADES + STD
    assert set(module.GRADE_PROPERTIES) == set(expected)
    assert set(expected) <= set(module.Calculator.implemented_properties)
    np.testing.assert_array_equal(module.COVARIANCE, potential.uncertainty["covariance"])
    assert module.NOISE_VARIANCE == potential.uncertainty["noise_variance"]["energy"] > 0
    for name, atoms in structures().items():
        ref = atoms.copy()
        ref.calc = linpot.Calculator(str(pot_path))
        atoms.calc = module.Calculator()
        std = atoms.calc.get_property("energy_std", atoms)
        assert std == pytest.approx(ref.calc.get_property("energy_std", ref), rel=1e-10, abs=0), name
        np.testing.assert_allclose(atoms.calc.get_property("atomic_energy_std", atoms),
                                   ref.calc.get_property("atomic_energy_std", ref), rtol=1e-10, atol=0, err_msg=name)
        assert set(expected) <= set(atoms.calc.results)  # one pass over the rows gives them all
        for prop in set(GRADES) & set(expected):
            np.testing.assert_allclose(atoms.calc.results[prop], ref.calc.get_property(prop, ref), rtol=1e-10, err_msg=name)
    if kind == "posterior":
        assert module.ACTIVE_SET is None and module.METADATA["grade"]["active_set"] is None
        with pytest.raises(PropertyNotImplementedError):
            atoms.calc.get_property("grade", atoms)


def test_the_std_with_every_calculation_leaves_energy_and_forces_as_they_were(exported):
    potential, _, module = exported["both"]
    atoms, plain, e = indicators_with_every_calculation(potential, module)
    assert {*GRADES, *STD, "energy", "forces"} <= set(atoms.calc.results)
    assert "energy_std" not in plain.calc.results  # computed only when asked for
    rows = module.atomic_rows(atoms.positions, atoms.numbers, atoms.cell.array, atoms.pbc)
    assert plain.calc.get_property("energy_std", plain) == atoms.calc.results["energy_std"] == \
        predictive_std(rows, module.COVARIANCE, module.NOISE_VARIANCE)["energy_std"]
    assert plain.calc.results["energy"] == e


def test_one_copy_of_the_rows_and_no_linpot_import(exported):
    potential, _, _ = exported["both"]
    text = module_source(potential)
    assert text.count("def atomic_rows(") == 1 and text.count("def predictive_std(") == 1
    assert text.count("# ---- from linpot/potential/uncertainty.py ----") == 1
    for node in ast.walk(ast.parse(text)):
        names = ([a.name for a in node.names] if isinstance(node, ast.Import)
                 else [node.module or ""] if isinstance(node, ast.ImportFrom) else [])
        assert not any(n.split(".")[0] == "linpot" for n in names), names
        assert not (isinstance(node, ast.ImportFrom) and node.level), ast.dump(node)


def test_a_potential_without_a_posterior_exports_no_std(exported):
    """Checked without computing anything: the active set alone gives the grade, nothing else."""
    potential, _, _ = exported["both"]
    graded_only = Potential(potential.model, potential.coefficients, potential.provenance, None, potential.active_set)
    text = module_source(graded_only)
    assert "def atomic_rows(" in text and "def predictive_std(" not in text and "COVARIANCE = NOISE_VARIANCE = None" in text
    plain = Potential(potential.model, potential.coefficients, potential.provenance)
    assert "def atomic_rows(" not in module_source(plain)
