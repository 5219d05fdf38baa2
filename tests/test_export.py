"""The exported standalone evaluator: it imports without linpot's help, its calculator needs no
arguments, agrees with linpot.Calculator and with the model's generic evaluation, has correct
forces and stress, its own neighbour search agrees with ASE's, and NVE molecular dynamics
conserves energy."""

import importlib.util
import sys

import numpy as np
import pytest
from ase import units
from ase.build import bulk
from ase.md.velocitydistribution import thermalize_momenta
from ase.md.verlet import VelocityVerlet
from conftest import binary_cell, make_model, small_cell, triclinic_cell

import linpot
from linpot.cli import main
from linpot.potential import Potential


def load_module(path):
    spec = importlib.util.spec_from_file_location(path.stem, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[path.stem] = module  # as `import` would; numba's cache needs it
    spec.loader.exec_module(module)
    return module


#: model degree per exported family (moment-tensor models are linear in their basis)
DEGREE = {"pair": 3, "invariants": 2, "moment-tensors": 1}


@pytest.fixture(scope="module", params=sorted(DEGREE))
def exported(request, tmp_path_factory):
    elements = ("Al", "Ni")
    model, c = make_model(elements=elements, n_basis=4, degree=DEGREE[request.param], family=request.param, seed=3)
    c = c.copy()
    c[5] = 0.0  # a zero coefficient, pruned at export
    potential = Potential(model, c, {"note": "test"})
    d = tmp_path_factory.mktemp("export")
    pot_path = d / "pot.json"
    potential.save(pot_path)
    module_path = d / f"exported_{request.param.replace('-', '_')}.py"
    assert main(["export", str(pot_path), "-o", str(module_path)]) == 0
    return potential, pot_path, load_module(module_path)


def test_module_is_standalone(exported):
    """It runs in a Python where linpot cannot be imported."""
    import subprocess

    potential, _, module = exported
    code = ("import sys; sys.modules['linpot'] = None\n"
            "import importlib.util\n"
            f"spec = importlib.util.spec_from_file_location({module.__name__!r}, {module.__file__!r})\n"
            f"m = importlib.util.module_from_spec(spec); sys.modules[{module.__name__!r}] = m; spec.loader.exec_module(m)\n"
            "from ase.build import bulk\n"
            "a = bulk('Ni', 'fcc', a=3.5) * 2; a.calc = m.Calculator(); print(a.get_potential_energy())")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stderr
    # the energy it prints (repr: exact) is linpot's for the same structure
    atoms = bulk("Ni", "fcc", a=3.5) * 2
    expected = potential.predict(atoms.positions, atoms.numbers, atoms.cell.array, atoms.pbc)["energy"]
    assert float(out.stdout.split()[-1]) == pytest.approx(expected, rel=1e-10, abs=1e-12)
    assert module.ELEMENTS == ["Al", "Ni"] and module.METADATA["n_nonzero"] > 0


@pytest.mark.parametrize("make", [binary_cell, lambda: triclinic_cell(n_atoms=5, symbols=("Al", "Ni")),
                                  lambda: small_binary_cell()])
def test_agrees_with_linpot_and_the_generic_model(exported, make):
    potential, pot_path, module = exported
    atoms = make()
    atoms.calc = module.Calculator()
    ours = linpot.Calculator(str(pot_path))
    ref_atoms = atoms.copy()
    ref_atoms.calc = ours
    e, f, s = atoms.get_potential_energy(), atoms.get_forces(), atoms.get_stress()
    assert e == pytest.approx(ref_atoms.get_potential_energy(), rel=1e-10)
    np.testing.assert_allclose(f, ref_atoms.get_forces(), rtol=1e-10, atol=1e-10 * np.abs(f).max())
    np.testing.assert_allclose(s, ref_atoms.get_stress(), rtol=1e-10, atol=1e-10 * np.abs(s).max())
    generic = potential.model.predict(potential.coefficients, atoms.positions, atoms.numbers, atoms.cell.array, atoms.pbc)
    assert e == pytest.approx(generic["energy"], rel=1e-10)
    np.testing.assert_allclose(f, generic["forces"], atol=1e-9 * max(1.0, np.abs(f).max()))
    np.testing.assert_allclose(s, generic["stress"], atol=1e-11)


def small_binary_cell():
    atoms = small_cell()
    atoms.set_chemical_symbols(["Ni", "Al"])
    return atoms


def test_exported_forces_and_stress_are_derivatives(exported):
    _, _, module = exported
    atoms = binary_cell()
    atoms.calc = module.Calculator()
    f = atoms.get_forces()
    fd = np.zeros_like(f)
    h = 1e-5
    for a in range(len(atoms)):
        for x in range(3):
            p = atoms.copy()
            p.calc = module.Calculator()
            p.positions[a, x] += h
            ep = p.get_potential_energy()
            p.positions[a, x] -= 2 * h
            fd[a, x] = -(ep - p.get_potential_energy()) / (2 * h)
    assert np.abs(fd - f).max() < 1e-6 * np.abs(f).max()
    from ase.calculators.fd import calculate_numerical_stress

    np.testing.assert_allclose(atoms.get_stress(), calculate_numerical_stress(atoms, eps=1e-6), atol=1e-7)


def test_exported_neighbour_search_matches_ase(exported):
    from ase.neighborlist import neighbor_list

    _, _, module = exported
    for atoms in (triclinic_cell(n_atoms=6), small_cell(), binary_cell()):
        oi, oj, ovectors, _, pair_start = module.neighbour_pairs(atoms.positions, atoms.cell.array, atoms.pbc, 4.7)
        np.testing.assert_array_equal(pair_start, np.searchsorted(oi, np.arange(len(atoms) + 1)))
        i, j, D = neighbor_list("ijD", atoms, 4.7)
        def key(ii, jj, dd):
            return sorted(zip(ii, jj, np.round(dd, 8).tolist()))
        mine = key(oi, oj, [tuple(v) for v in ovectors])
        theirs = key(i, j, [tuple(v) for v in D])
        assert len(mine) == len(theirs)
        for (a, b, v), (a2, b2, v2) in zip(mine, theirs):
            assert (a, b) == (a2, b2) and np.allclose(v, v2, atol=1e-7)


def test_unknown_element_is_a_clear_error(exported):
    _, _, module = exported
    atoms = bulk("Cu", "fcc", a=3.6)
    atoms.calc = module.Calculator()
    with pytest.raises(ValueError, match="not one of the potential's elements"):
        atoms.get_potential_energy()


def test_nve_molecular_dynamics_conserves_energy(tmp_path):
    """The shipped Cu pair potential, exported, drives ASE's velocity Verlet at 600 K."""
    from pathlib import Path

    pot = Path(__file__).resolve().parents[1] / "fits" / "mlearn-Cu-pair.json"
    out = tmp_path / "cu_pair.py"
    assert main(["export", str(pot), "-o", str(out)]) == 0
    module = load_module(out)
    atoms = bulk("Cu", "fcc", a=3.62, cubic=True) * (2, 2, 2)
    atoms.calc = module.Calculator()
    thermalize_momenta(atoms, temperature_K=1200, rng=np.random.default_rng(0))
    dyn = VelocityVerlet(atoms, timestep=2.0 * units.fs)
    energies = []
    dyn.attach(lambda: energies.append(atoms.get_total_energy()), interval=5)
    dyn.run(500)  # 1 ps
    energies = np.array(energies) / len(atoms)
    kinetic = atoms.get_kinetic_energy() / len(atoms)
    assert kinetic > 0.02  # it moved: about 300-600 K after equipartition
    drift = abs(np.polyfit(np.arange(len(energies)) * 5 * 2.0e-3, energies, 1)[0])  # eV/atom/ps
    assert drift < 1e-4, drift
    assert np.ptp(energies) < 2e-3


def test_export_refuses_a_bad_output_name(exported, tmp_path, capsys):
    _, pot_path, _ = exported
    assert main(["export", str(pot_path), "-o", str(tmp_path / "not-a-module.py")]) == 2
    assert main(["export", str(pot_path), "-o", str(tmp_path / "x.txt")]) == 2
    assert not list(tmp_path.iterdir())
    assert "Traceback" not in capsys.readouterr().err


def test_export_refuses_families_it_cannot_compile(tmp_path, capsys):
    """A moment-tensor model of degree 2 and an angular Fourier model have no compiled evaluator:
    a one-line error, no output file."""
    for family, degree in (("moment-tensors", 2), ("angular-fourier", 1)):
        model, c = make_model(elements=("Cu",), n_basis=3, degree=degree, family=family, seed=1)
        pot_path = tmp_path / f"{family}.json"
        Potential(model, c, {"note": "test"}).save(pot_path)
        out = tmp_path / "out.py"
        assert main(["export", str(pot_path), "-o", str(out)]) != 0
        err = capsys.readouterr().err
        assert "standalone evaluator does not know" in err and family in err and "Traceback" not in err
        assert not out.exists()
