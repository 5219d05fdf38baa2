"""Pair (radial) descriptor: the radial density of each neighbour element around an atom.

``G_i[s, n] = sum_{j: |r_ij| < r_cut, element(j) = s} f_n(|r_ij|)`` with ``f_n`` a radial basis
(:mod:`linpot.radial_basis`). A linear model on G is a pair potential; a polynomial model on G
is an embedded-atom-like many-body model.
"""

from __future__ import annotations

import numpy as np

from ..errors import LinpotInputError
from ..kernels.pair import pair_density
from ..neighbours import neighbour_list
from ..radial_basis import RadialBasis
from .base import DescriptorResult, species_indices


class PairDescriptor:
    kind = "pair"

    def __init__(self, elements: list[str], cutoff: float = 5.0, radial: dict | None = None):
        if not elements:
            raise LinpotInputError("descriptor needs at least one element")
        if not float(cutoff) > 0:
            raise LinpotInputError(f"cutoff must be positive, got {cutoff}")
        self.elements = list(elements)
        self.cutoff = float(cutoff)
        self.radial = RadialBasis.from_spec(radial or {"kind": "chebyshev", "n_basis": 8}, self.cutoff)

    @property
    def n_features(self) -> int:
        return len(self.elements) * self.radial.n_basis

    def feature_names(self) -> list[str]:
        return [f"pair[{e},{n}]" for e in self.elements for n in range(self.radial.n_basis)]

    def spec(self) -> dict:
        return {"kind": self.kind, "elements": list(self.elements), "cutoff": self.cutoff,
                "radial": self.radial.spec()}

    @classmethod
    def from_spec(cls, spec: dict) -> "PairDescriptor":
        spec = dict(spec)
        spec.pop("kind", None)
        unknown = set(spec) - {"elements", "cutoff", "radial"}
        if unknown:
            raise LinpotInputError(f"unknown pair descriptor option(s): {', '.join(sorted(unknown))}")
        return cls(**spec)

    def compute(self, positions, numbers, cell, pbc) -> DescriptorResult:
        species = species_indices(numbers, self.elements)
        pairs = neighbour_list(positions, cell, pbc, self.cutoff)
        f, df = self.radial(pairs.distances)
        G, dG = pair_density(pairs.i, species[pairs.j], pairs.vectors, pairs.distances, f, df,
                             len(species), len(self.elements))
        return DescriptorResult(G=G, dG=dG, pairs=pairs, species=species)
