"""Pair (radial) descriptor: the radial density of each neighbour element around an atom.

``G_i[s, n] = sum_{j: |r_ij| < r_cut, element(j) = s} f_n(|r_ij|)`` with ``f_n`` a radial basis
(:mod:`linpot.descriptors.radial_basis`). A linear model on G is a pair potential; a polynomial model on G
is an embedded-atom-like many-body model.
"""

from __future__ import annotations

from ..kernels.pair import pair_density
from .base import DescriptorResult, RadialDescriptor


class PairDescriptor(RadialDescriptor):
    kind = "pair"

    def __init__(self, elements: list[str], cutoff: float = 5.0, radial: dict | None = None):
        super().__init__(elements, cutoff, radial)

    @property
    def n_features(self) -> int:
        return len(self.elements) * self.radial.n_basis

    def feature_names(self) -> list[str]:
        return [f"pair[{e},{n}]" for e in self.elements for n in range(self.radial.n_basis)]

    def compute(self, positions, numbers, cell, pbc) -> DescriptorResult:
        species, pairs, f, df = self.neighbours(positions, numbers, cell, pbc)
        G, dG = pair_density(pairs.i, species[pairs.j], pairs.vectors, pairs.distances, f, df,
                             len(species), len(self.elements))
        return DescriptorResult(G=G, dG=dG, pairs=pairs, species=species)
