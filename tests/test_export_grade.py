"""The extrapolation grade of an exported standalone module: a potential with an active set
exports ``grade``, ``atomic_grades`` and ``structure_grade``, equal to linpot.Calculator's, on
request or with every calculation, without changing energy, forces or stress; a potential
without one exports none. Small random binary models per family, active sets from a dozen
rattled cells."""

from __future__ import annotations

import io
import subprocess
import sys

import numpy as np
import pytest
from ase.calculators.calculator import PropertyNotImplementedError
from ase.io import read, write
from conftest import distorted_fcc, triclinic_cell
from test_export import load_module

import linpot
from linpot.descriptors import InvariantDescriptor, MomentTensorDescriptor, PairDescriptor
from linpot.evaluator import compile_tables
from linpot.fit.active_set import add_active_set
from linpot.interfaces.export import export_potential
from linpot.models import PolynomialModel
from linpot.potential import Potential
from linpot.structures import Dataset

ELEMENTS = ["Al", "Ni"]
RADIAL = {"kind": "chebyshev", "n_basis": 3}
#: per family: the model (small: the active set needs more training atoms than columns) and the
#: elements of the training structures (moment tensors: Ni only, so that Al has no active rows)
MODELS = {
    "pair": (lambda: PolynomialModel(PairDescriptor(ELEMENTS, cutoff=4.5, radial=RADIAL), degree=2), ELEMENTS),
    "invariants": (lambda: PolynomialModel(InvariantDescriptor(ELEMENTS, cutoff=4.5, radial=RADIAL,
                                                               orders=[[1, 3, 0], [2, 2, 2], [3, 1, 2]]),
                                           degree=2, product_orders=[1]), ELEMENTS),
    "moment-tensors": (lambda: PolynomialModel(MomentTensorDescriptor(ELEMENTS, cutoff=4.5, radial=RADIAL, level_max=8,
                                                                      nu_max=2, max_factors=2), degree=1), ["Ni"]),
}


def binary(seed, a=3.5, rattle=0.12, elements=ELEMENTS):
    """A rattled, strained 16-atom fcc cell, every third atom Al (all Ni with ``elements=["Ni"]``)."""
    atoms = distorted_fcc(seed=seed, repeat=(2, 1, 1), rattle=rattle, symbol="Ni", a=a)
    if "Al" in elements:
        atoms.set_chemical_symbols(["Al" if k % 3 == 0 else "Ni" for k in range(len(atoms))])
    return atoms


def compressed(seed=50):
    return binary(seed, a=3.5 * 0.85, rattle=0.02)


@pytest.fixture(scope="module", params=sorted(MODELS))
def graded(request, tmp_path_factory):
    """(potential, its file, the exported module, a training structure)."""
    make, elements = MODELS[request.param]
    model = make()
    rng = np.random.default_rng(4)
    model.standardise(rng.uniform(1.0, 3.0, model.descriptor.n_features), rng.uniform(1.0, 2.0, model.descriptor.n_features))
    potential = Potential(model, rng.normal(scale=0.05, size=model.n_coefficients), {"note": "test"})
    frames = [binary(seed, elements=elements) for seed in range(12)]
    add_active_set(potential, Dataset.from_atoms(frames, validate=False))
    d = tmp_path_factory.mktemp("export-grade")
    potential.save(d / "pot.json")
    path = d / f"graded_{request.param.replace('-', '_')}.py"
    export_potential(potential, path)
    return potential, d / "pot.json", load_module(path), frames[3]


def structures(training):
    return {"training": training, "compressed": compressed(), "triclinic": triclinic_cell(n_atoms=5, symbols=ELEMENTS)}


def test_the_exported_grade_is_linpots(graded):
    potential, pot_path, module, training = graded
    assert set(module.GRADE_PROPERTIES) == {"grade", "atomic_grades", "structure_grade"}
    for name, atoms in structures(training).items():
        ref = atoms.copy()
        ref.calc = linpot.Calculator(str(pot_path))
        atoms.calc = module.Calculator()
        for prop in ("grade", "structure_grade"):
            assert atoms.calc.get_property(prop, atoms) == pytest.approx(ref.calc.get_property(prop, ref), rel=1e-10), (name, prop)
        mine, theirs = atoms.calc.get_property("atomic_grades", atoms), ref.calc.get_property("atomic_grades", ref)
        np.testing.assert_allclose(mine, theirs, rtol=1e-10, err_msg=name)
        # the design rows themselves
        rows = module.atomic_rows(atoms.positions, atoms.numbers, atoms.cell.array, atoms.pbc)
        np.testing.assert_allclose(rows, potential.model.atomic_rows(atoms.positions, atoms.numbers, atoms.cell.array,
                                                                     atoms.pbc), rtol=1e-12, atol=1e-12)
        if name == "training":  # a training structure and its atoms are inside the active set's reach
            assert mine.max() <= 1.001 + 1e-8 and atoms.calc.results["structure_grade"] <= 1.001 + 1e-8
        if name == "compressed":
            assert atoms.calc.results["grade"] > 1.5 and atoms.calc.results["structure_grade"] > 1.5
        al = atoms.numbers == 13
        if "Al" not in potential.active_set.rows and al.any():  # no Al in training: its atoms extrapolate
            assert np.all(np.isinf(mine[al])) and np.all(np.isfinite(mine[~al]))


def indicators_with_every_calculation(potential, module):
    """A compressed cell run by ``module.Calculator(grade=True)`` and by a plain one: the module
    runs the tables of the potential without indicators, and the energy, forces and stress of both
    are the same bits. Returns ``(atoms, plain, energy)``."""
    for key, value in compile_tables(potential).items():
        assert np.array_equal(module.TABLES[key], value) if isinstance(value, np.ndarray) else module.TABLES[key] == value
    atoms = compressed()
    plain = atoms.copy()
    plain.calc = module.Calculator()
    atoms.calc = module.Calculator(grade=True)
    e = atoms.get_potential_energy()
    assert e == plain.get_potential_energy()
    assert np.array_equal(atoms.get_forces(), plain.get_forces()) and np.array_equal(atoms.get_stress(), plain.get_stress())
    return atoms, plain, e


def test_grade_with_every_calculation_leaves_energy_forces_and_stress_as_they_were(graded):
    potential, _, module, _ = graded
    atoms, plain, e = indicators_with_every_calculation(potential, module)
    assert {"grade", "atomic_grades", "structure_grade", "energy", "forces"} <= set(atoms.calc.results)
    assert "grade" not in plain.calc.results  # computed only when asked for
    g = plain.calc.get_property("grade", plain)  # after the energy, at the same positions
    assert g == atoms.calc.results["grade"] and plain.calc.results["energy"] == e


def test_the_module_with_its_grade_runs_without_linpot(graded):
    _, _, module, training = graded
    code = ("import sys; sys.modules['linpot'] = None\n"
            "import importlib.util\n"
            f"spec = importlib.util.spec_from_file_location({module.__name__!r}, {module.__file__!r})\n"
            f"m = importlib.util.module_from_spec(spec); sys.modules[{module.__name__!r}] = m; spec.loader.exec_module(m)\n"
            "from ase.io import read; import io\n"
            "a = read(io.StringIO(sys.stdin.read()), format='extxyz'); a.calc = m.Calculator(grade=True)\n"
            "a.get_potential_energy(); print(repr(a.calc.results['grade']), repr(a.calc.results['structure_grade']))")
    text = io.StringIO()
    write(text, compressed(), format="extxyz")
    atoms = read(io.StringIO(text.getvalue()), format="extxyz")  # what the other Python reads
    out = subprocess.run([sys.executable, "-c", code], input=text.getvalue(), capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stderr
    grade, structure_grade = (float(v) for v in out.stdout.split())
    expected = module.predict_grade(atoms.positions, atoms.numbers, atoms.cell.array, atoms.pbc)
    assert grade == pytest.approx(expected["grade"], rel=1e-10)
    assert structure_grade == pytest.approx(expected["structure_grade"], rel=1e-10)


def test_without_an_active_set_or_configuration_set_no_such_property(tmp_path):
    """Checked without computing anything (no kernel compiles): what the module offers."""
    model = MODELS["pair"][0]()
    potential = Potential(model, np.random.default_rng(0).normal(scale=0.05, size=model.n_coefficients))
    export_potential(potential, tmp_path / "plain_pair.py")
    module = load_module(tmp_path / "plain_pair.py")
    assert module.GRADE_PROPERTIES == () and "grade" not in module.Calculator.implemented_properties
    assert "GRADE" not in vars(module) and "grade" not in module.METADATA
    with pytest.raises(ValueError, match="no active set"):
        module.Calculator(grade=True)
    atoms = binary(0)
    atoms.calc = module.Calculator()
    with pytest.raises(PropertyNotImplementedError):
        atoms.calc.get_property("grade", atoms)

    add_active_set(potential, Dataset.from_atoms([binary(seed) for seed in range(3)], validate=False))
    potential.active_set.configurations = None  # an active set written before the structure grade
    export_potential(potential, tmp_path / "atoms_only_pair.py")
    module = load_module(tmp_path / "atoms_only_pair.py")
    assert module.GRADE_PROPERTIES == ("grade", "atomic_grades")
    assert "structure_grade" not in module.Calculator.implemented_properties
    assert module.METADATA["grade"]["configurations"] is None and module.ACTIVE_SET.configurations is None
