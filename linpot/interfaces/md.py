"""Molecular dynamics with ASE's integrators driven by a linpot potential.

Ensembles: ``nve`` (velocity Verlet), ``nvt`` (Langevin), ``npt`` (ASE's Langevin BAOAB with
variable cell: Langevin thermostat and barostat at ``pressure``, hydrostatic or full cell).
Any ASE calculator works (``linpot.Calculator`` or an exported module's ``Calculator``).

:class:`GradeWatch` follows the extrapolation grade during a run (as MTP's active learning does
in LAMMPS): it keeps the frames whose grade exceeds ``record_above`` and stops the run at the
first above ``stop_above``.
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


#: What a :class:`GradeWatch` follows: the largest atomic grade (``grade``) or the structure grade
#: (``structure_grade``: the energy-per-atom row against the training structures).
GRADE_KINDS = {"atoms": "grade", "structure": "structure_grade"}


class GradeWatch:
    """Every ``interval`` steps, the structure's extrapolation grade (``atoms.calc``'s ``grade``
    property, the largest atomic grade, or with ``kind = "structure"`` its ``structure_grade``;
    :class:`linpot.Calculator`): frames above ``record_above`` are kept (copies, with ``grade`` and
    ``md_step`` in ``info``) in ``frames_``, and a grade above ``stop_above`` ends the run.
    ``grades_``: (step, grade) of every check; ``stopped_``: the step it stopped at, or None."""

    def __init__(self, record_above: float | None = None, stop_above: float | None = None, interval: int = 1,
                 kind: str = "atoms"):
        if kind not in GRADE_KINDS:
            raise LinpotInputError(f"unknown grade kind {kind!r} (known: {', '.join(GRADE_KINDS)})")
        self.kind = kind
        if record_above is not None and stop_above is not None and stop_above < record_above:
            raise LinpotInputError(f"the grade to stop at ({stop_above}) is below the grade to record at ({record_above})")
        if interval < 1:
            raise LinpotInputError(f"the grade interval must be at least 1, got {interval}")
        self.record_above = record_above
        self.stop_above = stop_above
        self.interval = int(interval)
        self.frames_, self.grades_, self.stopped_ = [], [], None

    def check(self, atoms, step: int) -> bool:
        """Record the frame if its grade is high; True if the run should stop."""
        grade = float(atoms.calc.get_property(GRADE_KINDS[self.kind], atoms))
        self.grades_.append((step, grade))
        if self.record_above is not None and grade > self.record_above:
            frame = atoms.copy()
            frame.info.update({"grade": grade, "md_step": step})
            self.frames_.append(frame)
        if self.stop_above is not None and grade > self.stop_above:
            self.stopped_ = step
            log.warning("step %d: extrapolation grade %.3g above %.3g, MD stopped", step, grade, self.stop_above)
            return True
        return False


class _Stop(Exception):
    pass


def run_md(atoms, ensemble: str, steps: int, timestep_fs: float = 1.0, temperature_K: float = 300.0,
           pressure_GPa: float = 0.0, interval: int = 10, seed: int = 0, on_frame=None, watch: GradeWatch | None = None) -> dict:
    """Run ``steps`` steps; every ``interval`` steps record time (ps), potential, kinetic and
    total energy per atom (eV), temperature (K), volume (Å^3) and call ``on_frame(atoms)``;
    ``watch`` (:class:`GradeWatch`) may end the run early (``steps_run`` says where).

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
    if watch is not None:
        def check():
            if watch.check(atoms, dyn.nsteps):
                raise _Stop

        dyn.attach(check, interval=watch.interval)
    t0 = time.perf_counter()
    try:
        dyn.run(steps)
    except _Stop:
        pass
    seconds = time.perf_counter() - t0
    steps_run = max(int(dyn.nsteps), 1)
    out = {"records": records, "seconds": seconds, "us_per_atom_step": seconds / steps_run / n * 1e6,
           "ensemble": ensemble, "steps_run": int(dyn.nsteps)}
    if ensemble == "nve" and len(records["total"]) >= 2:
        t, e = np.array(records["time_ps"]), np.array(records["total"])
        out["drift_eV_per_atom_ps"] = float(np.polyfit(t, e, 1)[0])
        out["total_energy_ptp_eV_per_atom"] = float(np.ptp(e))
    return out
