"""Structures and their DFT labels, read with ``ase.io`` into a compact array form.

A :class:`Dataset` holds many structures as concatenated arrays (positions, atomic numbers,
forces) plus per-structure arrays (cell, pbc, energy, stress, config_type). Every label is
optional per structure: a missing energy is NaN with ``has_energy`` False, and so on.
Units and signs follow :mod:`linpot.conventions` (eV, Å, stress in eV/Å^3, positive tensile).
"""

from __future__ import annotations

import hashlib
import logging
import os
from contextlib import contextmanager
from dataclasses import dataclass, field

import numpy as np
from ase import Atoms
from ase.data import chemical_symbols

from .conventions import MIN_INTERATOMIC_DISTANCE, voigt_from_matrix
from .errors import LinpotInputError

log = logging.getLogger(__name__)

_LABEL_KEYS = {
    "energy": ("energy", "REF_energy", "dft_energy", "DFT_energy"),
    "forces": ("forces", "REF_forces", "dft_forces", "DFT_forces", "force"),
    "stress": ("stress", "REF_stress", "dft_stress", "DFT_stress"),
}


@dataclass
class Dataset:
    """Many structures in concatenated arrays.

    Per atom (``n_atoms_total`` rows): ``numbers``, ``positions`` (Å), ``forces`` (eV/Å, NaN where
    missing). Per structure: ``offsets`` (``n+1``; atoms of structure k are
    ``offsets[k]:offsets[k+1]``), ``cells`` (rows are cell vectors, Å), ``pbc``, ``energy`` (total,
    eV), ``stress`` (eV/Å^3, Voigt, positive tensile), ``config_type`` and ``origin`` (file path,
    index in that file). A missing label is NaN; ``has_energy``, ``has_forces`` and ``has_stress``
    are derived from those NaN masks (reading refuses a label that is given with NaN in it).
    """

    numbers: np.ndarray
    positions: np.ndarray
    forces: np.ndarray
    offsets: np.ndarray
    cells: np.ndarray
    pbc: np.ndarray
    energy: np.ndarray
    stress: np.ndarray
    config_type: list[str] = field(default_factory=list)
    origin: list[tuple[str, int]] = field(default_factory=list)
    file_hashes: dict[str, str] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.offsets) - 1

    @property
    def n_atoms(self) -> np.ndarray:
        """Number of atoms of each structure."""
        return np.diff(self.offsets)

    @property
    def has_energy(self) -> np.ndarray:
        """Per structure: the energy is labelled."""
        return np.isfinite(self.energy)

    @property
    def has_stress(self) -> np.ndarray:
        """Per structure: the stress is labelled."""
        return np.all(np.isfinite(self.stress), axis=1)

    @property
    def has_forces(self) -> np.ndarray:
        """Per structure: every atom's force is labelled (a structure with no atoms has none)."""
        missing = np.concatenate([[0], np.cumsum(~np.all(np.isfinite(self.forces), axis=1))])
        return (missing[self.offsets[1:]] == missing[self.offsets[:-1]]) & (self.n_atoms > 0)

    @property
    def elements(self) -> list[str]:
        """Chemical symbols present, sorted by atomic number."""
        return [chemical_symbols[z] for z in np.unique(self.numbers)]

    def atom_slice(self, k: int) -> slice:
        return slice(int(self.offsets[k]), int(self.offsets[k + 1]))

    def atoms(self, k: int) -> Atoms:
        """Structure ``k`` as an ``ase.Atoms`` (labels not attached)."""
        s = self.atom_slice(k)
        return Atoms(numbers=self.numbers[s], positions=self.positions[s], cell=self.cells[k], pbc=self.pbc[k])

    def file_records(self) -> list[dict]:
        """``[{"path", "sha256"}]`` of the files the structures came from, sorted by path (provenance)."""
        return [{"path": p, "sha256": h} for p, h in sorted(self.file_hashes.items())]

    @contextmanager
    def located(self, k: int):
        """Within this block, a :class:`LinpotInputError` about structure ``k`` names its file and index."""
        try:
            yield
        except LinpotInputError as exc:
            path, index = self.origin[k]
            raise LinpotInputError(exc.reason, path, index) from None

    def subset(self, indices) -> Dataset:
        """A new dataset of the structures ``indices`` (in that order)."""
        indices = np.asarray(indices, dtype=int)
        slices = [self.atom_slice(k) for k in indices]
        counts = np.array([s.stop - s.start for s in slices], dtype=np.int64)
        def cat(a):
            return (np.concatenate([a[s] for s in slices]) if len(slices) else a[:0])
        return Dataset(
            numbers=cat(self.numbers),
            positions=cat(self.positions),
            forces=cat(self.forces),
            offsets=np.concatenate([[0], np.cumsum(counts)]).astype(np.int64),
            cells=self.cells[indices],
            pbc=self.pbc[indices],
            energy=self.energy[indices],
            stress=self.stress[indices],
            config_type=[self.config_type[k] for k in indices],
            origin=[self.origin[k] for k in indices],
            file_hashes=dict(self.file_hashes),
        )

    @staticmethod
    def concatenate(parts: list[Dataset]) -> Dataset:
        parts = [p for p in parts if len(p)]
        if not parts:
            return Dataset.from_atoms([])
        offsets = [np.zeros(1, dtype=np.int64)]
        start = 0
        for p in parts:
            offsets.append(p.offsets[1:] + start)
            start += p.offsets[-1]
        hashes = {}
        for p in parts:
            hashes.update(p.file_hashes)
        return Dataset(
            numbers=np.concatenate([p.numbers for p in parts]),
            positions=np.concatenate([p.positions for p in parts]),
            forces=np.concatenate([p.forces for p in parts]),
            offsets=np.concatenate(offsets),
            cells=np.concatenate([p.cells for p in parts]),
            pbc=np.concatenate([p.pbc for p in parts]),
            energy=np.concatenate([p.energy for p in parts]),
            stress=np.concatenate([p.stress for p in parts]),
            config_type=sum((p.config_type for p in parts), []),
            origin=sum((p.origin for p in parts), []),
            file_hashes=hashes,
        )

    @staticmethod
    def from_atoms(frames: list[Atoms], path: str = "<memory>", validate: bool = True) -> Dataset:
        """Build a dataset from ``ase.Atoms`` objects carrying labels (calculator results or info/arrays)."""
        n = len(frames)
        counts = np.array([len(a) for a in frames], dtype=np.int64)
        offsets = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
        total = int(offsets[-1])
        ds = Dataset(
            numbers=np.zeros(total, dtype=np.int64),
            positions=np.zeros((total, 3)),
            forces=np.full((total, 3), np.nan),
            offsets=offsets,
            cells=np.zeros((n, 3, 3)),
            pbc=np.zeros((n, 3), dtype=bool),
            energy=np.full(n, np.nan),
            stress=np.full((n, 6), np.nan),
            config_type=[],
            origin=[],
        )
        for k, atoms in enumerate(frames):
            s = slice(int(offsets[k]), int(offsets[k + 1]))
            ds.numbers[s] = atoms.numbers
            ds.positions[s] = atoms.positions
            ds.cells[k] = atoms.cell.array
            ds.pbc[k] = atoms.pbc
            labels = _labels_of(atoms, path, k)
            if validate:
                _check_labels_finite(labels, path, k)
            if labels["energy"] is not None:
                ds.energy[k] = labels["energy"]
            if labels["forces"] is not None:
                ds.forces[s] = labels["forces"]
            if labels["stress"] is not None:
                ds.stress[k] = labels["stress"]
            ds.config_type.append(str(atoms.info.get("config_type", "default")))
            ds.origin.append((str(path), k))
            if validate:
                validate_structure(ds, k)
        return ds


def _labels_of(atoms: Atoms, path, index: int) -> dict:
    """Energy (eV), forces (eV/Å) and Voigt stress (eV/Å^3) of one structure, None where absent."""
    results = dict(atoms.calc.results) if atoms.calc is not None else {}
    out = {}
    for name, keys in _LABEL_KEYS.items():
        value = results.get(name)
        if value is None:
            for key in keys:
                source = atoms.arrays if name == "forces" else atoms.info
                if key in source:
                    value = source[key]
                    break
        if value is not None:
            try:
                value = np.array(value, dtype=float)
            except (TypeError, ValueError):
                raise LinpotInputError(f"{name} label is not numeric", path, index) from None
            if name == "energy" and value.size != 1:
                raise LinpotInputError(f"energy label has {value.size} values, expected 1", path, index)
            if name == "energy":
                value = float(value.reshape(()))
            elif name == "forces" and value.shape != (len(atoms), 3):
                raise LinpotInputError(
                    f"forces have shape {value.shape}, expected ({len(atoms)}, 3)", path, index
                )
            elif name == "stress":
                if value.shape == (3, 3):
                    value = voigt_from_matrix(value)
                elif value.shape == (9,):
                    value = voigt_from_matrix(value.reshape(3, 3))
                elif value.shape != (6,):
                    raise LinpotInputError(f"stress has shape {value.shape}, expected 6 or 3x3", path, index)
        out[name] = value
    return out


def _check_labels_finite(labels: dict, path, index: int) -> None:
    """A label that is given must be finite: NaN marks a missing label in a :class:`Dataset`."""
    if labels["energy"] is not None and not np.isfinite(labels["energy"]):
        raise LinpotInputError("energy is NaN or infinite", path, index)
    forces = labels["forces"]
    if forces is not None and not np.all(np.isfinite(forces)):
        bad = int(np.nonzero(~np.all(np.isfinite(forces), axis=1))[0][0])
        raise LinpotInputError(f"forces contain NaN or infinity (atom {bad})", path, index)
    if labels["stress"] is not None and not np.all(np.isfinite(labels["stress"])):
        raise LinpotInputError("stress contains NaN or infinity", path, index)


def validate_structure(ds: Dataset, k: int) -> None:
    """Raise :class:`LinpotInputError` if structure ``k`` is unusable; the message names it."""
    path, index = ds.origin[k]
    s = ds.atom_slice(k)
    n = s.stop - s.start
    if n == 0:
        raise LinpotInputError("structure has no atoms", path, index)
    if not (ds.has_energy[k] or ds.has_forces[k] or ds.has_stress[k]):
        raise LinpotInputError("structure has no labels (no energy, forces or stress)", path, index)
    if not np.all(np.isfinite(ds.positions[s])):
        raise LinpotInputError("positions contain NaN or infinity", path, index)
    if not np.all(np.isfinite(ds.cells[k])):
        raise LinpotInputError("cell contains NaN or infinity", path, index)
    unknown = [int(z) for z in np.unique(ds.numbers[s]) if z <= 0 or z >= len(chemical_symbols)]
    if unknown:
        raise LinpotInputError(f"unknown atomic number {unknown[0]}", path, index)
    pbc = ds.pbc[k]
    if pbc.any():
        cell = ds.cells[k]
        lengths = np.linalg.norm(cell, axis=1)
        if np.any(lengths[pbc] < 1e-8):
            raise LinpotInputError("a periodic direction has a zero-length cell vector", path, index)
        if pbc.all() and abs(np.linalg.det(cell)) < 1e-8:
            raise LinpotInputError("periodic cell has zero volume", path, index)
    if ds.has_stress[k] and not pbc.all():
        raise LinpotInputError("stress is given for a structure that is not periodic in 3 dimensions", path, index)
    _check_overlaps(ds, k, path, index)


def _check_overlaps(ds: Dataset, k: int, path, index) -> None:
    from .neighbours import neighbour_list

    s = ds.atom_slice(k)
    pairs = neighbour_list(ds.positions[s], ds.cells[k], ds.pbc[k], MIN_INTERATOMIC_DISTANCE)
    if len(pairs.i):
        a, b = int(pairs.i[0]), int(pairs.j[0])
        d = float(np.linalg.norm(pairs.vectors[0]))
        raise LinpotInputError(
            f"atoms {a} and {b} are {d:.3g} Å apart (closer than {MIN_INTERATOMIC_DISTANCE} Å)", path, index
        )
    # An atom overlapping its own periodic image happens only for a degenerate cell.
    if ds.pbc[k].any():
        lengths = np.linalg.norm(ds.cells[k][ds.pbc[k]], axis=1)
        if np.any(lengths < MIN_INTERATOMIC_DISTANCE):
            raise LinpotInputError("a periodic cell vector is shorter than 0.1 Å", path, index)


def file_sha256(path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def read_structures(path, format: str | None = None, validate: bool = True) -> Dataset:
    """Read every structure of ``path`` (any format ``ase.io`` reads) into a :class:`Dataset`.

    Raises :class:`LinpotInputError` naming the file (and the structure index where known) when the
    file is missing, unreadable, malformed or empty, or a structure is invalid.
    """
    import ase.io

    path = str(path)
    if not os.path.exists(path):
        raise LinpotInputError("file not found", path)
    if os.path.isdir(path):
        raise LinpotInputError("is a directory, expected a structure file", path)
    if os.path.getsize(path) < (1 << 16):
        with open(path, "rb") as fh:
            if not fh.read().strip():
                raise LinpotInputError("file holds no structures (it is empty)", path)
    frames = []
    try:
        for atoms in ase.io.iread(path, index=":", format=format):
            frames.append(atoms)
    except Exception as exc:  # ase raises many kinds for a malformed file
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        reason = reason.replace(f": {path}", "").replace(path, "<file>")
        raise LinpotInputError(f"cannot read ({type(exc).__name__}: {reason})", path, len(frames)) from None
    if not frames:
        raise LinpotInputError("file holds no structures", path)
    ds = Dataset.from_atoms(frames, path=path, validate=validate)
    ds.file_hashes = {path: file_sha256(path)}
    log.info("read %d structures (%d atoms) from %s", len(ds), int(ds.offsets[-1]), path)
    return ds


def read_datasets(paths, format: str | None = None) -> Dataset:
    """Read and concatenate several files; an empty list or an empty result is an error."""
    paths = list(paths)
    if not paths:
        raise LinpotInputError("no structure files given")
    ds = Dataset.concatenate([read_structures(p, format=format) for p in paths])
    if len(ds) == 0:
        raise LinpotInputError("dataset is empty", ", ".join(map(str, paths)))
    return ds
