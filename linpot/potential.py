"""Fitted potentials and their file format.

A potential file is one JSON document (never pickle: loading executes nothing from the file)::

    {"format": "linpot-potential", "format_version": 1, "linpot_version": ...,
     "units": {...}, "elements": [...], "reference_energies": {element: eV},
     "model": {model spec, including the descriptor spec},
     "coefficients": [[...] per element], "n_features": ..., "n_nonzero": ...,
     "provenance": {"datasets": [{"path", "sha256", "n_structures"}], "fit": {...}},
     "checksum": "sha256:<hex>"}

The checksum is the SHA-256 of the canonical JSON (sorted keys, compact) of everything else, so a
truncated or edited file is refused. Floats are written with ``repr`` precision: a file
round-trips exactly.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile

import numpy as np

from . import __version__
from .descriptors import species_indices
from .errors import LinpotInputError, PotentialFileError
from .models import model_from_spec

FORMAT = "linpot-potential"
FORMAT_VERSION = 1
UNITS = {"energy": "eV", "length": "Angstrom", "forces": "eV/Angstrom",
         "stress": "eV/Angstrom^3, Voigt xx yy zz yz xz xy, positive tensile"}


def _canonical(payload: dict) -> bytes:
    return json.dumps(payload, sort_keys=True, separators=(",", ":"), allow_nan=False).encode()


def atomic_write_text(path, text: str) -> None:
    """Write ``text`` to ``path`` through a temporary file and a rename: no partial file on failure."""
    path = os.fspath(path)
    directory = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(prefix=".linpot-", suffix=".tmp", dir=directory)
    try:
        with os.fdopen(fd, "w") as fh:
            fh.write(text)
        # mkstemp creates the file 0600; give it the permissions a plain open() would.
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


class Potential:
    """A model plus its fitted coefficients and metadata."""

    def __init__(self, model, coefficients, provenance: dict | None = None):
        self.model = model
        self.coefficients = np.asarray(coefficients, dtype=float).reshape(len(model.elements), 1 + model.n_terms)
        self.provenance = dict(provenance or {})

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
    def n_nonzero(self) -> int:
        return int(np.count_nonzero(self.coefficients))

    def predict(self, positions, numbers, cell, pbc) -> dict:
        return self.model.predict(self.coefficients, positions, numbers, cell, pbc)

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
        payload["checksum"] = "sha256:" + hashlib.sha256(_canonical(payload)).hexdigest()
        return payload

    def save(self, path) -> None:
        atomic_write_text(path, json.dumps(self.to_dict(), indent=1, sort_keys=True, allow_nan=False) + "\n")

    @classmethod
    def from_dict(cls, payload: dict, path: str = "<dict>") -> "Potential":
        if not isinstance(payload, dict) or payload.get("format") != FORMAT:
            raise PotentialFileError("not a linpot potential file", path)
        version = payload.get("format_version")
        if version != FORMAT_VERSION:
            raise PotentialFileError(f"unsupported potential format_version {version!r} (this linpot reads {FORMAT_VERSION})", path)
        body = {k: v for k, v in payload.items() if k != "checksum"}
        expected = "sha256:" + hashlib.sha256(_canonical(body)).hexdigest()
        if payload.get("checksum") != expected:
            raise PotentialFileError("checksum mismatch: the file is corrupted or was edited", path)
        try:
            model = model_from_spec(payload["model"])
            pot = cls(model, payload["coefficients"], payload.get("provenance"))
        except LinpotInputError as exc:
            raise PotentialFileError(f"invalid model: {exc.reason}", path) from None
        except (KeyError, TypeError, ValueError) as exc:
            raise PotentialFileError(f"invalid potential content ({type(exc).__name__}: {exc})", path) from None
        if pot.elements != payload.get("elements"):
            raise PotentialFileError("elements disagree with the descriptor's elements", path)
        return pot

    @classmethod
    def load(cls, path) -> "Potential":
        path = os.fspath(path)
        try:
            with open(path, "rb") as fh:
                raw = fh.read()
        except OSError as exc:
            raise PotentialFileError(f"cannot open potential file ({exc.strerror})", path) from None
        try:
            payload = json.loads(raw.decode("utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise PotentialFileError(f"truncated or not a potential file (invalid JSON: {exc})", path) from None
        return cls.from_dict(payload, path)
