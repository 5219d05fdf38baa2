"""Running a compiled potential: its tables (plain arrays, see :mod:`linpot.evaluator`) and a
structure in; energy, per-atom energies, forces and stress out.

The tables are stored as a flat dict of arrays and scalars (what ``linpot export`` serialises);
:func:`tables_from_arrays` reads them, field by field by name, into the kernels' named tables
(:class:`~linpot.kernels.evaluator.ExpansionPotentialTables`,
:class:`~linpot.kernels.moment_tensors.MomentPotentialTables`), and :func:`tables_to_arrays` writes
them. This module and the kernels it calls are what ``linpot export`` copies into a standalone
evaluator, so it imports nothing from linpot but the kernels.
"""

from __future__ import annotations

import typing

import numpy as np

from ..kernels.evaluator import ExpansionPotentialTables, potential_energy_forces
from ..kernels.moment_tensors import MomentPotentialTables, moment_tensor_energy_forces
from ..kernels.neighbours import neighbour_pairs
from ..kernels.radial import radial_basis_of_kind

#: The kernel tables of each family of compiled tables (``tables["family"]``).
FAMILY_TABLES = {"expansion": ExpansionPotentialTables, "moment-tensors": MomentPotentialTables}
_FIELD_TYPES: dict = {}


def _field_types(cls) -> dict:
    if cls not in _FIELD_TYPES:
        _FIELD_TYPES[cls] = typing.get_type_hints(cls)
    return _FIELD_TYPES[cls]


def tables_to_arrays(tables) -> dict:
    """Named kernel tables as one flat dict by field name, nested tables included (their field
    names are distinct from their parents'); the inverse of :func:`tables_from_arrays`."""
    out = {}
    for name, value in tables._asdict().items():
        items = tables_to_arrays(value).items() if hasattr(value, "_fields") else [(name, value)]
        for key, item in items:
            if key in out:
                raise ValueError(f"kernel tables {type(tables).__name__}: field {key!r} appears twice")
            out[key] = item
    return out


def tables_from_arrays(cls, arrays: dict):
    """The named kernel tables ``cls`` (a NamedTuple of arrays, scalars and nested tables) read
    from the flat dict ``arrays`` by field name; scalars take the field's type."""
    values = {}
    for name, kind in _field_types(cls).items():
        if hasattr(kind, "_fields"):
            values[name] = tables_from_arrays(kind, arrays)
        elif kind is np.ndarray:
            values[name] = arrays[name]
        else:
            values[name] = kind(arrays[name])
    return cls(**values)


def run_tables(tables: dict, positions, species, cell, pbc) -> dict:
    """Energy (eV), ``energies`` (per atom), forces (eV/Å) and, for cells periodic in 3
    dimensions, stress (eV/Å^3, Voigt ``xx yy zz yz xz xy``, positive tensile).

    ``species[i]``: index of atom i's element in the potential's element list."""
    species = np.ascontiguousarray(species, dtype=np.int64)
    t = tables_from_arrays(FAMILY_TABLES[tables["family"]], tables)
    _, pair_j, vectors, distances, pair_start = neighbour_pairs(positions, cell, pbc, t.radial.r_cut)
    if isinstance(t, MomentPotentialTables):
        f, df = radial_basis_of_kind(distances, t.radial)
        energies, forces, virial = moment_tensor_energy_forces(pair_start, pair_j, vectors, species, f, df, t)
    else:
        energies, forces, virial = potential_energy_forces(pair_start, pair_j, vectors, species, t)
    out = {"energy": float(energies.sum()), "energies": energies, "forces": forces}
    if np.all(pbc):
        out["stress"] = virial / abs(np.linalg.det(np.asarray(cell, dtype=float)))
    return out
