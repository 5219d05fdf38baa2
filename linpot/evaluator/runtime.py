"""Running a compiled potential: its tables (plain arrays, see :mod:`linpot.evaluator`) and a
structure in; energy, per-atom energies, forces and stress out.

This module and the kernels it calls are what ``linpot export`` copies into a standalone
evaluator, so it imports nothing from linpot but the kernels.
"""

from __future__ import annotations

import numpy as np

from ..kernels.evaluator import potential_energy_forces
from ..kernels.moment_tensors import moment_tensor_energy_forces
from ..kernels.neighbours import neighbour_pairs
from ..kernels.radial import radial_basis_of_kind


def run_tables(tables: dict, positions, species, cell, pbc) -> dict:
    """Energy (eV), ``energies`` (per atom), forces (eV/Å) and, for cells periodic in 3
    dimensions, stress (eV/Å^3, Voigt ``xx yy zz yz xz xy``, positive tensile).

    ``species[i]``: index of atom i's element in the potential's element list."""
    species = np.ascontiguousarray(species, dtype=np.int64)
    _, pair_j, vectors, distances, pair_start = neighbour_pairs(positions, cell, pbc, float(tables["cutoff"]))
    t = tables
    if t.get("family") == "moment-tensors":
        f, df = radial_basis_of_kind(distances, int(t["radial_kind"]),
                                     int(t["n_basis"]), float(t["r_min"]), t["centres"], float(t["width"]),
                                     float(t["cutoff"]))
        energies, forces, virial = moment_tensor_energy_forces(
            pair_start, pair_j, vectors, species, f, df, t["comp_species"], t["comp_mu"],
            t["comp_nu"], t["comp_idx"], t["poly_start"], t["poly_ids"], t["poly_coef"], t["const"])
    else:
        energies, forces, virial = _expansion_energy_forces(t, pair_start, pair_j, vectors, species)
    out = {"energy": float(energies.sum()), "energies": energies, "forces": forces}
    if np.all(pbc):
        out["stress"] = virial / abs(np.linalg.det(np.asarray(cell, dtype=float)))
    return out


def _expansion_energy_forces(t, pair_start, pair_j, vectors, species):
    return potential_energy_forces(
        pair_start, pair_j, vectors, species, int(t["n_species"]), int(t["radial_kind"]),
        int(t["n_basis"]), float(t["r_min"]), float(t["cutoff"]), t["centres"], float(t["width"]), int(t["l_max"]),
        t["tuple_start"], t["tuple_lm"], t["tuple_degree"], t["tuple_nch"], t["tuple_w"], t["const"],
        t["q_channel"], t["q_type"], t["type_entry_start"], t["entry_lm"], t["entry_degree"], t["entry_coef"], t["q_mean"], t["q_scale"],
        t["q_terms"], t["q_coef"])
