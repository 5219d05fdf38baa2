"""Behler-Parrinello atom-centred symmetry functions, radial G2 and angular G4, as a baseline
family for the same linear and polynomial models (:mod:`linpot.kernels.symmetry_functions`).

Spec::

    {"kind": "symmetry-functions", "cutoff": 5.0,
     "g2": {"eta": [...], "r_s": [...]},                # every (eta, r_s) pair; 1/Å^2, Å
     "g4": {"eta": [...], "zeta": [...], "lambda": [1, -1]}}   # every combination

Features: per neighbour element the G2 grid, per unordered element pair the G4 grid. The
cutoff function is the cosine cutoff of the radial bases.
"""

from __future__ import annotations

import itertools

import numpy as np

from ..errors import LinpotInputError
from ..kernels.symmetry_functions import SymmetryFunctionTables, symmetry_functions
from ..neighbours import neighbour_list
from .base import Descriptor, DescriptorResult, check_elements_and_cutoff, species_indices

DEFAULT_G2 = {"eta": [0.01, 0.1, 0.5], "r_s": [0.0, 2.0, 2.5, 3.0, 3.5, 4.0]}
DEFAULT_G4 = {"eta": [0.005, 0.05], "zeta": [1.0, 2.0, 4.0, 16.0], "lambda": [1.0, -1.0]}


class SymmetryFunctionDescriptor(Descriptor):
    kind = "symmetry-functions"

    def __init__(self, elements: list[str], cutoff: float = 5.0, g2: dict | None = None, g4: dict | None = None):
        check_elements_and_cutoff(elements, cutoff)
        self.elements = list(elements)
        self.cutoff = float(cutoff)
        self.g2 = {k: [float(v) for v in vals] for k, vals in (g2 if g2 is not None else DEFAULT_G2).items()}
        self.g4 = {k: [float(v) for v in vals] for k, vals in (g4 if g4 is not None else DEFAULT_G4).items()}
        if set(self.g2) != {"eta", "r_s"} or (self.g4 and set(self.g4) != {"eta", "zeta", "lambda"}):
            raise LinpotInputError("g2 needs eta and r_s; g4 needs eta, zeta and lambda")
        grid2 = list(itertools.product(self.g2["eta"], self.g2["r_s"]))
        grid4 = list(itertools.product(self.g4.get("eta", []), self.g4.get("zeta", []), self.g4.get("lambda", [])))
        if any(z < 1 for _, z, _ in grid4) or any(abs(l) != 1 for _, _, l in grid4) or any(e < 0 for e, _ in grid2):
            raise LinpotInputError("symmetry functions need eta >= 0, zeta >= 1 and lambda = +1 or -1")
        n = len(self.elements)
        pair_index = np.zeros((n, n), dtype=np.int64)
        names, orders = [], []
        for s in range(n):
            names += [f"G2[{self.elements[s]},eta={e:g},rs={r:g}]" for e, r in grid2]
            orders += [1] * len(grid2)
        k = 0
        for s1 in range(n):
            for s2 in range(s1, n):
                pair_index[s1, s2] = pair_index[s2, s1] = k
                k += 1
                names += [f"G4[{self.elements[s1]}{self.elements[s2]},eta={e:g},zeta={z:g},lambda={l:+g}]"
                          for e, z, l in grid4]
                orders += [2] * len(grid4)
        self._names = names
        self.feature_orders = np.array(orders, dtype=np.int64)
        self._kernel_tables = SymmetryFunctionTables(
            rc=self.cutoff, n_species=n, g2_eta=np.array([e for e, _ in grid2], dtype=float),
            g2_rs=np.array([r for _, r in grid2], dtype=float), g4_eta=np.array([e for e, _, _ in grid4], dtype=float),
            g4_zeta=np.array([z for _, z, _ in grid4], dtype=float),
            g4_lambda=np.array([l for _, _, l in grid4], dtype=float), pair_index=pair_index)

    @property
    def n_features(self) -> int:
        return len(self._names)

    def feature_names(self) -> list[str]:
        return list(self._names)

    def spec(self) -> dict:
        return {"kind": self.kind, "elements": list(self.elements), "cutoff": self.cutoff, "g2": self.g2, "g4": self.g4}

    @classmethod
    def from_spec(cls, spec: dict):
        spec = dict(spec)
        spec.pop("kind", None)
        unknown = set(spec) - {"elements", "cutoff", "g2", "g4"}
        if unknown:
            raise LinpotInputError(f"unknown symmetry-functions option(s): {', '.join(sorted(unknown))}")
        return cls(**spec)

    def kernel_tables(self) -> SymmetryFunctionTables:
        """The grids as the kernels' arguments."""
        return self._kernel_tables

    def compute(self, positions, numbers, cell, pbc) -> DescriptorResult:
        species = species_indices(numbers, self.elements)
        pairs = neighbour_list(positions, cell, pbc, self.cutoff)
        G, dG = symmetry_functions(pairs.pair_start, species[pairs.j], np.ascontiguousarray(pairs.vectors),
                                   self._kernel_tables)
        return DescriptorResult(G=G, dG=dG, pairs=pairs, species=species)
