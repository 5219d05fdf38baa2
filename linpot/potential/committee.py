"""Committees of potentials: the mean of M independently fitted members, and their spread.

With members ``m = 1..M`` fitted on the same training data (each with its own descriptor,
model, loss weights and ridge strength), the committee predicts

    E = (1/M) sum_m E_m,   F = (1/M) sum_m F_m,   sigma = (1/M) sum_m sigma_m

(eV, eV/Å, eV/Å^3 Voigt), so forces stay minus the gradient of the energy and the stress its
strain derivative. Members whose errors are only partly correlated average out part of each
other's variance (the energy directions that forces leave ill-determined are fitted
differently by different descriptors). The members' disagreement is an uncertainty estimate:
``energy_std`` is the sample standard deviation (ddof = 1) of the members' energies per atom
times ``energy_std_scale``, a calibration set by the fit (the committee's held-out RMSE over
the root mean square of the held-out members' spread, so that on held-out training structures
the predicted standard deviation matches the actual error on average; 1 if not fitted so);
``atomic_energy_std`` is the unscaled spread of the per-atom energies, which members of
different descriptors may split differently between atoms even where their totals agree.

A committee file is one JSON document::

    {"format": "linpot-committee", "format_version": 1, "linpot_version": ..., "units": {...},
     "elements": [...], "cutoff": ..., "energy_std_scale": ...,
     "members": [potential payloads, see linpot.potential], "provenance": {...},
     "checksum": "sha256:<hex>"}

with the same canonical-JSON checksum as a single potential; each member keeps its own checksum.
"""

from __future__ import annotations

import numpy as np

from ..descriptors import species_indices
from ..errors import LinpotInputError, PotentialFileError
from ..version import __version__
from .envelope import UNITS, check_envelope, register_format, sealed, write_payload
from .single import Potential

COMMITTEE_FORMAT = "linpot-committee"
COMMITTEE_FORMAT_VERSION = 1


@register_format(COMMITTEE_FORMAT)
class CommitteePotential:
    """The mean of ``members`` (:class:`~linpot.potential.Potential`) that share their elements."""

    def __init__(self, members, provenance: dict | None = None, energy_std_scale: float = 1.0):
        members = list(members)
        if len(members) < 2:
            raise LinpotInputError(f"a committee needs at least 2 members, got {len(members)}")
        elements = members[0].elements
        for k, m in enumerate(members[1:], start=2):
            if m.elements != elements:
                raise LinpotInputError(f"committee member {k} has elements {' '.join(m.elements)}, "
                                       f"member 1 has {' '.join(elements)}")
        if not (np.isfinite(energy_std_scale) and energy_std_scale > 0):
            raise LinpotInputError(f"committee energy_std_scale must be positive, got {energy_std_scale}")
        self.members = members
        self.provenance = dict(provenance or {})
        self.energy_std_scale = float(energy_std_scale)

    @property
    def elements(self) -> list[str]:
        return self.members[0].elements

    @property
    def cutoff(self) -> float:
        return max(m.cutoff for m in self.members)

    @property
    def reference_energies(self) -> dict:
        """Mean of the members' per-element constants (eV per atom)."""
        return {e: float(np.mean([m.reference_energies[e] for m in self.members])) for e in self.elements}

    @property
    def n_features(self) -> int:
        return sum(m.n_features for m in self.members)

    @property
    def n_nonzero(self) -> int:
        return sum(m.n_nonzero for m in self.members)

    @property
    def label(self) -> str:
        return f"committee of {len(self.members)} ({', '.join(m.label for m in self.members)})"

    def member_predictions(self, positions, numbers, cell, pbc) -> list[dict]:
        return [m.predict(positions, numbers, cell, pbc) for m in self.members]

    def predict(self, positions, numbers, cell, pbc) -> dict:
        """Energy (eV), per-atom energies, forces (eV/Å), stress (eV/Å^3, Voigt; periodic cells):
        the members' mean."""
        return _mean(self.member_predictions(positions, numbers, cell, pbc))

    def predict_atoms(self, atoms) -> dict:
        return self.predict(atoms.positions, atoms.numbers, atoms.cell.array, atoms.pbc)

    def predict_uncertainty(self, positions, numbers, cell, pbc) -> dict:
        """The members' spread: ``energy_std`` (eV/atom; calibrated, ``energy_std_scale`` times
        ``energy_std_raw``, the sample standard deviation over the members) and
        ``atomic_energy_std`` (n_atoms, eV; unscaled)."""
        preds = self.member_predictions(positions, numbers, cell, pbc)
        n_atoms = len(numbers)
        atomic = np.std([p["energies"] for p in preds], axis=0, ddof=1)
        per_atom = float(np.std([p["energy"] / n_atoms for p in preds], ddof=1))
        return {"atomic_energy_std": atomic, "energy_std": self.energy_std_scale * per_atom, "energy_std_raw": per_atom}

    @property
    def active_set(self):
        """The members' active sets (a list, None where a member has none), or None if no member has one."""
        sets = [m.active_set for m in self.members]
        return None if all(s is None for s in sets) else sets

    def predict_grade(self, positions, numbers, cell, pbc) -> dict:
        """The largest of the members' maxvol grades (per atom, per structure and, where members
        have it, the structure grade) and the members' spread (:meth:`predict_uncertainty`)."""
        self.check_elements(numbers)
        graded = [m.predict_grade(positions, numbers, cell, pbc) for m in self.members if m.active_set is not None]
        out = {}
        if graded:
            atomic = np.max([g["atomic_grades"] for g in graded], axis=0)
            out = {"atomic_grades": atomic, "grade": float(atomic.max()) if len(atomic) else 0.0}
            structure = [g["structure_grade"] for g in graded if "structure_grade" in g]
            if structure:
                out["structure_grade"] = float(max(structure))
        out.update(self.predict_uncertainty(positions, numbers, cell, pbc))
        return out

    def check_elements(self, numbers) -> None:
        species_indices(numbers, self.elements)

    def to_dict(self) -> dict:
        payload = {
            "format": COMMITTEE_FORMAT,
            "format_version": COMMITTEE_FORMAT_VERSION,
            "linpot_version": __version__,
            "units": UNITS,
            "elements": list(self.elements),
            "cutoff": self.cutoff,
            "reference_energies": self.reference_energies,
            "n_features": self.n_features,
            "n_nonzero": self.n_nonzero,
            "energy_std_scale": self.energy_std_scale,
            "members": [m.to_dict() for m in self.members],
            "provenance": self.provenance,
        }
        return sealed(payload)

    def save(self, path) -> None:
        write_payload(path, self.to_dict())

    @classmethod
    def from_dict(cls, payload: dict, path: str = "<dict>") -> CommitteePotential:
        check_envelope(payload, COMMITTEE_FORMAT, COMMITTEE_FORMAT_VERSION, "committee", path)
        members = payload.get("members")
        if not isinstance(members, list):
            raise PotentialFileError("invalid committee content (no list of members)", path)
        pots = [Potential.from_dict(m, f"{path} (member {k + 1})") for k, m in enumerate(members)]
        try:
            committee = cls(pots, payload.get("provenance"), float(payload.get("energy_std_scale", 1.0)))
        except (TypeError, ValueError) as exc:
            raise PotentialFileError(f"invalid committee content ({type(exc).__name__}: {exc})", path) from None
        except LinpotInputError as exc:
            raise PotentialFileError(f"invalid committee: {exc.reason}", path) from None
        if committee.elements != payload.get("elements"):
            raise PotentialFileError("elements disagree with the members' elements", path)
        return committee


def _mean(preds: list[dict]) -> dict:
    out = {"energy": float(np.mean([p["energy"] for p in preds])),
           "energies": np.mean([p["energies"] for p in preds], axis=0),
           "forces": np.mean([p["forces"] for p in preds], axis=0)}
    if "stress" in preds[0]:
        out["stress"] = np.mean([p["stress"] for p in preds], axis=0)
    return out
