"""A single fitted potential: a model (descriptor + polynomial) and its coefficients.

Its file is the ``linpot-potential`` document described in :mod:`linpot.potential.envelope`.
"""

from __future__ import annotations

import base64

import numpy as np

from ..descriptors import species_indices
from ..errors import LinpotInputError, PotentialFileError
from ..models import model_from_spec
from ..version import __version__
from .active_set import ActiveSet
from .envelope import UNITS, check_envelope, load, register_format, sealed, tables_block, write_payload
from .uncertainty import predictive_std, symmetric_from_upper, upper_triangle

FORMAT = "linpot-potential"
FORMAT_VERSION = 1


@register_format(FORMAT)
class Potential:
    """A model plus its fitted coefficients and metadata."""

    def __init__(self, model, coefficients, provenance: dict | None = None, uncertainty: dict | None = None,
                 active_set=None):
        self.model = model
        self.coefficients = np.asarray(coefficients, dtype=float).reshape(len(model.elements), 1 + model.n_terms)
        self.provenance = dict(provenance or {})
        # {"covariance": (n, n) array, "noise_variance": {quantity: variance or None}} or None
        self.uncertainty = uncertainty
        # the maxvol active set of the extrapolation grade (linpot.potential.active_set) or None
        self.active_set = active_set
        self._compiled = None

    def predict_uncertainty(self, positions, numbers, cell, pbc) -> dict:
        """Predictive standard deviations of a Bayesian potential.

        ``atomic_energy_std`` (n_atoms, eV): from the posterior of the coefficients, per atom;
        ``energy_std`` (eV/atom): of the energy per atom of the structure, posterior plus the
        fitted label noise (:func:`linpot.potential.uncertainty.predictive_std`)."""
        if self.uncertainty is None:
            raise LinpotInputError("this potential has no uncertainty model (fit it with --method bayes)")
        return self._uncertainty_of_rows(self.model.atomic_rows(positions, numbers, cell, pbc))

    def _uncertainty_of_rows(self, rows) -> dict:
        return predictive_std(rows, self.uncertainty["covariance"], self.uncertainty["noise_variance"].get("energy"))

    def predict_grade(self, positions, numbers, cell, pbc) -> dict:
        """Extrapolation indicators from one pass over the atomic rows: the maxvol grade
        (``atomic_grades`` (n_atoms,), ``grade`` their maximum; :mod:`linpot.potential.active_set`)
        where the potential has an active set, ``structure_grade`` (the grade of the structure's
        energy-per-atom row) where the active set has a configuration set, and the predictive
        standard deviations of
        :meth:`predict_uncertainty` where it has a posterior."""
        if self.active_set is None and self.uncertainty is None:
            raise LinpotInputError("this potential has no active set (add one with `linpot grade-setup POT TRAIN...` or "
                                   "fit with --active-set) and no uncertainty model")
        self.check_elements(numbers)
        rows = self.model.atomic_rows(positions, numbers, cell, pbc)
        out = {}
        if self.active_set is not None:
            grades = self.active_set.atomic_grades(self.model, rows, numbers)
            out = {"atomic_grades": grades, "grade": float(grades.max()) if len(grades) else 0.0}
            if self.active_set.configurations is not None and len(grades):
                out["structure_grade"] = self.active_set.structure_grade(rows)
        if self.uncertainty is not None:
            out.update(self._uncertainty_of_rows(rows))
        return out

    def _uncertainty_payload(self):
        cov = np.asarray(self.uncertainty["covariance"], dtype="<f8")
        upper = upper_triangle(cov)
        return {"noise_variance": dict(self.uncertainty["noise_variance"]), "encoding": "base64 float64 little-endian upper triangle",
                "n": int(len(cov)), "covariance": base64.b64encode(upper.tobytes()).decode("ascii")}

    @staticmethod
    def _uncertainty_from_payload(payload: dict) -> dict:
        n = int(payload["n"])
        upper = np.frombuffer(base64.b64decode(payload["covariance"], validate=True), dtype="<f8")
        if len(upper) != n * (n + 1) // 2:
            raise ValueError(f"covariance has {len(upper)} values, expected {n * (n + 1) // 2}")
        cov = symmetric_from_upper(upper, n)
        return {"covariance": cov, "noise_variance": dict(payload["noise_variance"])}

    @property
    def elements(self) -> list[str]:
        return self.model.elements

    @property
    def cutoff(self) -> float:
        return self.model.descriptor.cutoff

    @property
    def reference_energies(self) -> dict:
        """The per-element constant of the model (eV per atom)."""
        return {e: float(self.coefficients[k, 0]) for k, e in enumerate(self.elements)}

    @property
    def n_features(self) -> int:
        return int(self.coefficients.size)

    @property
    def label(self) -> str:
        """The descriptor family, for plot titles and summaries."""
        return self.model.descriptor.kind

    @property
    def n_nonzero(self) -> int:
        return int(np.count_nonzero(self.coefficients))

    def predict(self, positions, numbers, cell, pbc) -> dict:
        """Energy (eV), per-atom energies, forces (eV/Å), stress (eV/Å^3, Voigt; periodic cells)
        by the compiled evaluator (:mod:`linpot.evaluator`), built on first use."""
        if self._compiled is None:
            from ..evaluator import CompiledPotential, supports

            self._compiled = CompiledPotential(self) if supports(self) else False
        if self._compiled is False:  # a descriptor family the compiled evaluator does not know
            return self.model.predict(self.coefficients, positions, numbers, cell, pbc)
        return self._compiled.predict(positions, numbers, cell, pbc)

    def predict_atoms(self, atoms) -> dict:
        return self.predict(atoms.positions, atoms.numbers, atoms.cell.array, atoms.pbc)

    def check_elements(self, numbers) -> None:
        species_indices(numbers, self.elements)

    def to_dict(self) -> dict:
        payload = {
            "format": FORMAT,
            "format_version": FORMAT_VERSION,
            "linpot_version": __version__,
            "units": UNITS,
            "elements": list(self.elements),
            "reference_energies": self.reference_energies,
            "cutoff": self.cutoff,
            "model": self.model.spec(),
            "coefficients": self.coefficients.tolist(),
            "n_features": self.n_features,
            "n_nonzero": self.n_nonzero,
            "provenance": self.provenance,
        }
        if self.uncertainty is not None:
            payload["uncertainty"] = self._uncertainty_payload()
        if self.active_set is not None:
            payload["active_set"] = self.active_set.to_payload()
        tables = self.evaluator_tables()
        if tables is not None:
            payload["evaluator_tables"] = tables_block(tables)
        return sealed(payload)

    def evaluator_tables(self) -> dict | None:
        """The compiled evaluator's tables (:func:`linpot.evaluator.compile_tables`), or None for a
        family it does not run; saved with the potential (the LAMMPS ``pair_style linpot`` reads them)."""
        from ..evaluator import compile_tables, supports

        if not supports(self):
            return None
        return self._compiled.tables if self._compiled else compile_tables(self)

    def save(self, path) -> None:
        write_payload(path, self.to_dict())

    @classmethod
    def from_dict(cls, payload: dict, path: str = "<dict>") -> Potential:
        check_envelope(payload, FORMAT, FORMAT_VERSION, "potential", path)
        try:
            model = model_from_spec(payload["model"])
            uncertainty = cls._uncertainty_from_payload(payload["uncertainty"]) if "uncertainty" in payload else None
            active_set = ActiveSet.from_payload(payload["active_set"]) if "active_set" in payload else None
            pot = cls(model, payload["coefficients"], payload.get("provenance"), uncertainty, active_set)
            if active_set is not None:
                active_set.check_model(model)
            if uncertainty is not None and uncertainty["covariance"].shape != (pot.n_features, pot.n_features):
                raise ValueError("covariance does not match the number of coefficients")
        except LinpotInputError as exc:
            raise PotentialFileError(f"invalid model: {exc.reason}", path) from None
        except (KeyError, TypeError, ValueError, base64.binascii.Error) as exc:
            raise PotentialFileError(f"invalid potential content ({type(exc).__name__}: {exc})", path) from None
        if pot.elements != payload.get("elements"):
            raise PotentialFileError("elements disagree with the descriptor's elements", path)
        return pot

    @classmethod
    def load(cls, path):
        """The potential in the file at ``path``: a :class:`Potential`, or a
        :class:`~linpot.potential.committee.CommitteePotential` when the file holds a committee
        (the same as :func:`linpot.potential.load`)."""
        return load(path)
