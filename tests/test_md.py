"""Molecular dynamics from the command line and the library: every ensemble runs, NVE conserves
energy, the Langevin thermostat heats a cold crystal, the barostat changes the volume, frames
are written whole."""

from pathlib import Path

import ase.io
import numpy as np
from ase.build import bulk

import linpot
from linpot.cli import main
from linpot.interfaces.md import run_md

POT = Path(__file__).resolve().parents[1] / "fits" / "mlearn-Cu-pair.json"


def cu(n=2):
    atoms = bulk("Cu", "fcc", a=3.62, cubic=True) * (n, n, n)
    atoms.calc = linpot.Calculator(str(POT))
    return atoms


def test_nve_conserves_energy():
    out = run_md(cu(), "nve", steps=400, timestep_fs=2.0, temperature_K=1000.0, interval=10)
    assert np.mean(out["records"]["temperature"][5:]) > 200
    assert abs(out["drift_eV_per_atom_ps"]) < 2e-4
    assert out["total_energy_ptp_eV_per_atom"] < 2e-3


def test_langevin_heats_a_cold_crystal():
    atoms = cu()
    atoms.set_momenta(np.zeros((len(atoms), 3)) + 1e-9)  # start cold, no initial velocities drawn
    out = run_md(atoms, "nvt", steps=300, timestep_fs=2.0, temperature_K=600.0, interval=50)
    assert np.mean(out["records"]["temperature"][-3:]) > 150


def test_npt_changes_the_volume_under_pressure():
    atoms = cu()
    v0 = atoms.get_volume()
    run_md(atoms, "npt", steps=400, timestep_fs=2.0, temperature_K=300.0, pressure_GPa=20.0, interval=100)
    assert atoms.get_volume() < 0.97 * v0


def test_cli_md_writes_frames(tmp_path, capsys):
    start = tmp_path / "start.xyz"
    ase.io.write(start, bulk("Cu", "fcc", a=3.62, cubic=True) * 2)
    traj = tmp_path / "traj.xyz"
    assert main(["md", str(POT), str(start), "--steps", "40", "--interval", "10", "--timestep", "2",
                 "--temperature", "500", "-o", str(traj)]) == 0
    out = capsys.readouterr().out
    assert "total energy drift" in out
    frames = ase.io.read(traj, ":")
    assert len(frames) == 5 and len(frames[0]) == 32


def test_cli_md_refuses_unknown_elements(tmp_path, capsys):
    start = tmp_path / "start.xyz"
    ase.io.write(start, bulk("Ni", "fcc", a=3.5) * 2)
    assert main(["md", str(POT), str(start), "--steps", "5", "-o", str(tmp_path / "t.xyz")]) == 2
    err = capsys.readouterr().err
    assert "Ni" in err and "Traceback" not in err
    assert not (tmp_path / "t.xyz").exists()
