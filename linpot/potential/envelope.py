"""Potential files: one JSON document (never pickle: loading executes nothing from the file).

A single potential (:mod:`linpot.potential.single`)::

    {"format": "linpot-potential", "format_version": 1, "linpot_version": ...,
     "units": {...}, "elements": [...], "reference_energies": {element: eV},
     "model": {model spec, including the descriptor spec},
     "coefficients": [[...] per element], "n_features": ..., "n_nonzero": ...,
     "provenance": {"datasets": [{"path", "sha256", "n_structures"}], "fit": {...}},
     "uncertainty": {...},       # Bayesian fits only, see below
     "checksum": "sha256:<hex>"}

``evaluator_tables`` (every potential the compiled evaluator runs): the tables of
:func:`linpot.evaluator.compile_tables`, so that programs other than linpot (the LAMMPS
``pair_style linpot``, :mod:`linpot.interfaces.lammps_plugin`) run exactly what linpot runs without
re-deriving them: ``{"format": "linpot-evaluator-tables", "version": 1, "family", "elements",
"scalars": {name: number}, "arrays": {name: {"dtype": "int32" | "int64" | "float64", "shape": [...],
"data": base64 of the little-endian values in C order}}}``, int32 or int64 for integer tables (:func:`tables_block`). Written on every
save; linpot itself compiles the tables from the model and ignores the block when reading.

``uncertainty`` (``linpot fit --method bayes``): ``noise_variance`` per quantity ((eV/atom)^2,
(eV/Å)^2, GPa^2) and ``covariance``, the posterior covariance of the coefficients (original
units, in the order of the flattened ``coefficients``), stored as its upper triangle (row by
row) of little-endian float64 in base64 (``encoding`` says so). A committee
(:mod:`linpot.potential.committee`) is a ``linpot-committee`` document holding its members.

The checksum is the SHA-256 of the canonical JSON (sorted keys, compact) of everything else, so a
truncated or edited file is refused. Floats are written with ``repr`` precision: a file
round-trips exactly. Each file kind registers its ``format`` name here
(:func:`register_format`), so :func:`load` returns whichever kind a file holds.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os

import numpy as np

from ..errors import PotentialFileError
from ..io import atomic_write_text

UNITS = {"energy": "eV", "length": "Angstrom", "forces": "eV/Angstrom",
         "stress": "eV/Angstrom^3, Voigt xx yy zz yz xz xy, positive tensile"}

TABLES_FORMAT = "linpot-evaluator-tables"
#: Version of the ``evaluator_tables`` block: raised whenever the meaning of a table changes.
#: Version 2 added the channel offsets ``tuple_off`` (complete element-resolved invariants);
#: tables without offsets are still written as version 1, which every reader since runs.
TABLES_VERSION = 2
TABLES_VERSIONS_READ = (1, 2)
_TABLE_DTYPES = {"int32": "<i4", "int64": "<i8", "float64": "<f8"}


def tables_block(tables: dict) -> dict:
    """The ``evaluator_tables`` block of a potential file for compiled tables (the dict of
    :func:`linpot.evaluator.compile_tables`): arrays as base64 little-endian float64, and int32
    (int64 where a value does not fit) for the integer tables."""
    scalars, arrays = {}, {}
    offsets = tables.get("tuple_off")
    for name, value in tables.items():
        if name in ("format", "family", "elements"):
            continue
        if name == "tuple_off" and not np.any(value):
            continue  # all zero (compact invariants): the tables of version 1, as before
        if isinstance(value, np.ndarray):
            dtype = "float64"
            if value.dtype.kind in "iub":
                small = value.size == 0 or (value.min() >= -(2 ** 31) and value.max() < 2 ** 31)
                dtype = "int32" if small else "int64"
            data = np.ascontiguousarray(value, dtype=_TABLE_DTYPES[dtype])
            arrays[name] = {"dtype": dtype, "shape": list(data.shape), "data": base64.b64encode(data.tobytes()).decode("ascii")}
        else:
            scalars[name] = value
    version = TABLES_VERSION if offsets is not None and np.any(offsets) else 1
    return {"format": TABLES_FORMAT, "version": version, "family": tables["family"],
            "elements": list(tables["elements"]), "scalars": scalars, "arrays": arrays}


def tables_from_block(block: dict) -> dict:
    """The compiled tables (as :func:`linpot.evaluator.compile_tables` returns them) stored in an
    ``evaluator_tables`` block: the inverse of :func:`tables_block`."""
    if block.get("format") != TABLES_FORMAT or block.get("version") not in TABLES_VERSIONS_READ:
        raise ValueError(f"evaluator tables of format {block.get('format')!r} version {block.get('version')!r}, "
                         f"expected {TABLES_FORMAT!r} version {' or '.join(map(str, TABLES_VERSIONS_READ))}")
    out = {"format": TABLES_FORMAT, "family": block["family"], "elements": list(block["elements"]), **block["scalars"]}
    for name, item in block["arrays"].items():
        data = np.frombuffer(base64.b64decode(item["data"], validate=True), dtype=_TABLE_DTYPES[item["dtype"]])
        out[name] = data.reshape(item["shape"]).astype(np.float64 if item["dtype"] == "float64" else np.int64)
    if "tuple_lm" in out and "tuple_off" not in out:
        out["tuple_off"] = np.zeros_like(out["tuple_lm"])  # version 1, or offsets all zero
    return out


#: format name -> class with ``from_dict(payload, path)``
FORMATS: dict = {}


def register_format(name: str):
    """Class decorator: files whose ``format`` is ``name`` load through ``cls.from_dict``."""
    def register(cls):
        FORMATS[name] = cls
        return cls
    return register


def _canonical(payload: dict) -> bytes:
    return json.dumps(payload, sort_keys=True, separators=(",", ":"), allow_nan=False).encode()


def _checksum(body: dict) -> str:
    """The ``checksum`` field of a file whose other fields are ``body``."""
    return "sha256:" + hashlib.sha256(_canonical(body)).hexdigest()


def sealed(payload: dict) -> dict:
    """``payload`` with its ``checksum`` added (what :func:`check_envelope` verifies)."""
    payload["checksum"] = _checksum(payload)
    return payload


def write_payload(path, payload: dict) -> None:
    """Write a sealed payload as indented JSON, atomically (no partial file on failure)."""
    atomic_write_text(path, json.dumps(payload, indent=1, sort_keys=True, allow_nan=False) + "\n")


def check_envelope(payload, fmt: str, version: int, what: str, path: str) -> None:
    """Refuse (PotentialFileError) a payload that is not ``fmt`` at ``version`` or whose
    checksum (SHA-256 of the canonical JSON of the rest) does not match."""
    if not isinstance(payload, dict) or payload.get("format") != fmt:
        raise PotentialFileError(f"not a linpot {what} file", path)
    found = payload.get("format_version")
    if found != version:
        raise PotentialFileError(f"unsupported {what} format_version {found!r} (this linpot reads {version})", path)
    body = {k: v for k, v in payload.items() if k != "checksum"}
    if payload.get("checksum") != _checksum(body):
        raise PotentialFileError("checksum mismatch: the file is corrupted or was edited", path)


def load(path):
    """The potential in the file at ``path``, of whichever registered kind it holds (a single
    potential when the format is not recognised, so that its loader names what is wrong)."""
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
    fmt = payload.get("format") if isinstance(payload, dict) else None
    cls = FORMATS.get(fmt, FORMATS["linpot-potential"])
    return cls.from_dict(payload, path)
