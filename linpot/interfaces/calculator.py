"""ASE calculator for linpot potentials: energy (eV), forces (eV/Å), stress (eV/Å^3, Voigt,
positive tensile, periodic cells only) and per-atom energies."""

from __future__ import annotations

from ase.calculators.calculator import Calculator as _ASECalculator
from ase.calculators.calculator import PropertyNotImplementedError, all_changes

from ..potential import Potential
from ..potential.committee import CommitteePotential


class Calculator(_ASECalculator):
    """``linpot.Calculator(path_or_potential)`` for ``ase.Atoms``."""

    implemented_properties = ["energy", "free_energy", "energies", "forces", "stress"]

    def __init__(self, potential, **kwargs):
        super().__init__(**kwargs)
        self.potential = potential if isinstance(potential, (Potential, CommitteePotential)) else Potential.load(potential)

    def calculate(self, atoms=None, properties=("energy",), system_changes=all_changes):
        super().calculate(atoms, properties, system_changes)
        out = self.potential.predict_atoms(self.atoms)
        self.results["energy"] = out["energy"]
        self.results["free_energy"] = out["energy"]
        self.results["energies"] = out["energies"]
        self.results["forces"] = out["forces"]
        if "stress" in out:
            self.results["stress"] = out["stress"]
        elif "stress" in properties:
            raise PropertyNotImplementedError("stress is defined only for structures periodic in 3 dimensions")
