"""Molecular dynamics with ASE's integrators driven by a linpot potential.

Ensembles: ``nve`` (velocity Verlet), ``nvt`` (Langevin), ``npt`` (ASE's Langevin BAOAB with
variable cell: Langevin thermostat and barostat at ``pressure``, hydrostatic or full cell).
Any ASE calculator works (``linpot.Calculator`` or an exported module's ``Calculator``).
"""

from __future__ import annotations

import logging
import time
import warnings

import numpy as np
from ase import units

from ..conventions import GPA
from ..errors import LinpotInputError

log = logging.getLogger(__name__)

ENSEMBLES = ("nve", "nvt", "npt")


def make_dynamics(atoms, ensemble: str, timestep_fs: float, temperature_K: float, pressure_GPa: float = 0.0,
                  friction_per_fs: float = 0.01, hydrostatic: bool = True, seed: int = 0):
    """An ASE dynamics object for ``atoms`` (with a calculator attached)."""
    dt = timestep_fs * units.fs
    rng = np.random.default_rng(seed)
    if ensemble == "nve":
        from ase.md.verlet import VelocityVerlet

        return VelocityVerlet(atoms, timestep=dt)
    if ensemble == "nvt":
        from ase.md.langevin import Langevin

        return Langevin(atoms, timestep=dt, temperature_K=temperature_K, friction=friction_per_fs / units.fs, rng=rng,
                        fixcm=False)
    if ensemble == "npt":
        if not np.all(atoms.pbc):
            raise LinpotInputError("npt needs a structure periodic in all three directions")
        from ase.md.langevinbaoab import LangevinBAOAB

        P_tau = 20.0 / friction_per_fs
        log.info("npt: thermostat time %.0f fs, barostat time %.0f fs (barostat mass from ASE's heuristic)",
                 1.0 / friction_per_fs, P_tau)
        with warnings.catch_warnings():
            # ASE warns that it derives the barostat mass from P_tau; that is the intended setting here
            warnings.filterwarnings("ignore", message="Using heuristic P_mass")
            # ASE's external stress is minus the pressure, in eV/Å^3
            return LangevinBAOAB(atoms, timestep=dt, temperature_K=temperature_K, externalstress=-pressure_GPa * GPA,
                                 hydrostatic=hydrostatic, T_tau=1.0 / friction_per_fs * units.fs,
                                 P_tau=P_tau * units.fs, rng=rng)
    raise LinpotInputError(f"unknown ensemble {ensemble!r} (known: {', '.join(ENSEMBLES)})")


def run_md(atoms, ensemble: str, steps: int, timestep_fs: float = 1.0, temperature_K: float = 300.0,
           pressure_GPa: float = 0.0, interval: int = 10, seed: int = 0, on_frame=None) -> dict:
    """Run ``steps`` steps; every ``interval`` steps record time (ps), potential, kinetic and
    total energy per atom (eV), temperature (K), volume (Å^3) and call ``on_frame(atoms)``.

    Returns the records and, for ``nve``, the drift of the total energy per atom (eV/atom/ps,
    slope of a straight-line fit) and its peak-to-peak fluctuation."""
    from ase.md.velocitydistribution import Stationary, thermalize_momenta

    if steps < 1 or interval < 1 or timestep_fs <= 0:
        raise LinpotInputError("steps and interval must be >= 1 and the timestep positive")
    rng = np.random.default_rng(seed)
    if temperature_K > 0 and not np.any(atoms.get_momenta()):
        thermalize_momenta(atoms, temperature_K=temperature_K, rng=rng)
        Stationary(atoms)
    dyn = make_dynamics(atoms, ensemble, timestep_fs, temperature_K, pressure_GPa, seed=seed)
    n = len(atoms)
    records = {k: [] for k in ("time_ps", "potential", "kinetic", "total", "temperature", "volume")}

    def record():
        epot = atoms.get_potential_energy() / n
        ekin = atoms.get_kinetic_energy() / n
        records["time_ps"].append(dyn.nsteps * timestep_fs * 1e-3)
        records["potential"].append(epot)
        records["kinetic"].append(ekin)
        records["total"].append(epot + ekin)
        records["temperature"].append(atoms.get_temperature())
        records["volume"].append(atoms.get_volume() if np.all(atoms.pbc) else float("nan"))
        if on_frame is not None:
            on_frame(atoms)

    dyn.attach(record, interval=interval)
    t0 = time.perf_counter()
    dyn.run(steps)
    seconds = time.perf_counter() - t0
    out = {"records": records, "seconds": seconds, "us_per_atom_step": seconds / steps / n * 1e6, "ensemble": ensemble}
    if ensemble == "nve" and len(records["total"]) >= 2:
        t, e = np.array(records["time_ps"]), np.array(records["total"])
        out["drift_eV_per_atom_ps"] = float(np.polyfit(t, e, 1)[0])
        out["total_energy_ptp_eV_per_atom"] = float(np.ptp(e))
    return out
