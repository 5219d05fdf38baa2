"""ASE calculator for linpot potentials: energy (eV), forces (eV/Å), stress (eV/Å^3, Voigt,
positive tensile, periodic cells only) and per-atom energies.

Extrapolation indicators (:meth:`linpot.potential.Potential.predict_grade`): ``grade`` (the
largest per-atom maxvol grade), ``atomic_grades`` (per atom) where the potential has an active set,
``structure_grade`` (the maxvol grade of the structure's energy-per-atom row) where the active set
has a configuration set (potentials given their active set by this linpot),
``energy_std`` (eV/atom) and ``atomic_energy_std`` (eV) where it has a posterior or is a
committee. They are computed when asked for (``atoms.calc.get_property("grade")``, which
reuses the energy and forces of the same positions) or with every calculation when the calculator
is made with ``grade=True``; either costs one more evaluation of the descriptor features, no
derivatives."""

from __future__ import annotations

from ase.calculators.calculator import Calculator as _ASECalculator
from ase.calculators.calculator import PropertyNotImplementedError, all_changes

from ..potential import Potential
from ..potential.committee import CommitteePotential

GRADE_PROPERTIES = ("grade", "atomic_grades", "structure_grade", "energy_std", "atomic_energy_std")


class Calculator(_ASECalculator):
    """``linpot.Calculator(path_or_potential)`` for ``ase.Atoms``."""

    implemented_properties = ["energy", "free_energy", "energies", "forces", "stress", *GRADE_PROPERTIES]

    def __init__(self, potential, grade: bool = False, **kwargs):
        super().__init__(**kwargs)
        self.potential = potential if isinstance(potential, (Potential, CommitteePotential)) else Potential.load(potential)
        self.grade = bool(grade)

    def calculate(self, atoms=None, properties=("energy",), system_changes=all_changes):
        super().calculate(atoms, properties, system_changes)
        if self.grade or set(properties) & set(GRADE_PROPERTIES):
            a = self.atoms
            self.results.update(self.potential.predict_grade(a.positions, a.numbers, a.cell.array, a.pbc))
        if "energy" in self.results and not set(properties) - set(GRADE_PROPERTIES):
            return  # only an indicator was asked for, at positions whose energy and forces are known
        out = self.potential.predict_atoms(self.atoms)
        self.results["energy"] = out["energy"]
        self.results["free_energy"] = out["energy"]
        self.results["energies"] = out["energies"]
        self.results["forces"] = out["forces"]
        if "stress" in out:
            self.results["stress"] = out["stress"]
        elif "stress" in properties:
            raise PropertyNotImplementedError("stress is defined only for structures periodic in 3 dimensions")
