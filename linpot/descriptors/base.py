"""What every descriptor family returns, and the element -> species index mapping."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from ase.data import atomic_numbers, chemical_symbols

from ..errors import LinpotInputError
from ..neighbours import NeighbourList, neighbour_list
from .radial_basis import RadialBasis


@dataclass
class DescriptorResult:
    """Features of one structure.

    ``G[i, k]``: feature k of atom i. ``dG[p, k, :]``: derivative of ``G[pairs.i[p], k]`` with
    respect to the pair vector ``r_ij`` of pair p (1/Å times feature units). ``species[i]``: index
    of atom i's element in the descriptor's element list.
    """

    G: np.ndarray
    dG: np.ndarray
    pairs: NeighbourList
    species: np.ndarray


@dataclass
class ExpansionInputs:
    """Neighbours, radial functions and harmonics of one structure, kept between the forward
    pass (features) and the reverse pass (forces)."""

    species: np.ndarray
    pairs: NeighbourList
    f: np.ndarray
    df: np.ndarray
    Y: np.ndarray
    dY: np.ndarray
    unit: np.ndarray


def check_elements_and_cutoff(elements, cutoff) -> None:
    if not elements:
        raise LinpotInputError("descriptor needs at least one element")
    if not float(cutoff) > 0:
        raise LinpotInputError(f"cutoff must be positive, got {cutoff}")


def species_indices(numbers, elements: list[str]) -> np.ndarray:
    """Index of each atom's element in ``elements``; an element not in the list is an input error."""
    lookup = {atomic_numbers[e]: k for k, e in enumerate(elements)}
    numbers = np.asarray(numbers)
    out = np.empty(len(numbers), dtype=np.int64)
    for z in np.unique(numbers):
        if int(z) not in lookup:
            symbol = chemical_symbols[z] if 0 < z < len(chemical_symbols) else str(z)
            raise LinpotInputError(f"element {symbol} is not one of the potential's elements ({', '.join(elements)})")
        out[numbers == z] = lookup[int(z)]
    return out


class Descriptor:
    """The reverse-mode interface every family offers to the models: ``features`` (values and a
    context) and ``backward`` (forces and virial from ``dE/dG``). The default goes through the
    full per-pair derivatives of :meth:`compute`."""

    def features(self, positions, numbers, cell, pbc):
        """Features ``G`` and a context for :meth:`backward` (with ``context.species``).

        The default keeps the full derivatives; families with a cheaper reverse mode override
        both methods."""
        result = self.compute(positions, numbers, cell, pbc)
        return result.G, result

    def feature_values(self, positions, numbers, cell, pbc):
        """Features ``G`` (the values of :meth:`features`) and each atom's species index, for the
        paths that need no forces (standardisation, atomic design rows, extrapolation grade).

        The default is :meth:`features`; families whose :meth:`features` keeps what
        :meth:`backward` needs override it with a cheaper values-only pass."""
        G, context = self.features(positions, numbers, cell, pbc)
        return G, context.species

    def backward(self, context, dEdG):
        """Forces (eV/Å) and virial (Voigt, eV) from ``dEdG[i, k] = dE/dG_ik``."""
        from ..kernels.forces import contract_pair_gradient

        p = context.pairs
        return contract_pair_gradient(p.i, p.j, p.vectors, dEdG, context.dG, len(context.species))


class RadialDescriptor(Descriptor):
    """What every neighbour-density descriptor shares: elements, cutoff (Å), a radial basis,
    the spec round trip, and the neighbours with their radial functions.

    Subclasses set ``kind`` and ``extra_options`` (spec keys beyond elements/cutoff/radial).
    """

    kind = ""
    extra_options: tuple[str, ...] = ()

    def __init__(self, elements: list[str], cutoff: float, radial: dict | None):
        check_elements_and_cutoff(elements, cutoff)
        self.elements = list(elements)
        self.cutoff = float(cutoff)
        self.radial = RadialBasis.from_spec(radial or {"kind": "chebyshev", "n_basis": 8}, self.cutoff)

    def spec(self) -> dict:
        out = {"kind": self.kind, "elements": list(self.elements), "cutoff": self.cutoff, "radial": self.radial.spec()}
        for key in self.extra_options:
            out[key] = self._option_spec(key)
        return out

    def _option_spec(self, key):
        return getattr(self, key)

    @classmethod
    def from_spec(cls, spec: dict):
        spec = dict(spec)
        spec.pop("kind", None)
        unknown = set(spec) - {"elements", "cutoff", "radial", *cls.extra_options}
        if unknown:
            raise LinpotInputError(f"unknown {cls.kind} descriptor option(s): {', '.join(sorted(unknown))}")
        return cls(**spec)

    def harmonic_expansion_inputs(self, positions, numbers, cell, pbc, l_max: int) -> ExpansionInputs:
        """Neighbours with ``f_n``, ``f_n'``, real harmonics to ``l_max`` and their gradients, and unit vectors."""
        from ..kernels.spherical_harmonics import real_spherical_harmonics

        species, pairs, f, df = self.neighbours(positions, numbers, cell, pbc)
        Y, dY = real_spherical_harmonics(pairs.vectors, l_max)
        unit = pairs.vectors / pairs.distances[:, None] if len(pairs) else pairs.vectors
        return ExpansionInputs(species, pairs, f, df, Y, dY, unit)

    def neighbours(self, positions, numbers, cell, pbc):
        """Species index of each atom, the neighbour pairs and ``f_n(r_ij)``, ``f_n'(r_ij)``."""
        species = species_indices(numbers, self.elements)
        pairs = neighbour_list(positions, cell, pbc, self.cutoff)
        f, df = self.radial(pairs.distances)
        return species, pairs, f, df


class HarmonicExpansionDescriptor(RadialDescriptor):
    """A family computed from the expansion ``a_nlm = sum_j f_n(r_ij) Y_lm(r_hat_ij)`` up to
    ``self.l_max`` by three kernels with one calling convention (neighbour data, number of
    elements, then the family's named tables, :meth:`kernel_tables`): ``_features_kernel``
    (values and per-pair derivatives), ``_values_kernel`` (values only) and ``_backward_kernel``
    (forces and virial from ``dE/dG``).
    """

    # subclasses set them with staticmethod(kernel)
    _features_kernel = _values_kernel = _backward_kernel = None
    l_max = 0

    def kernel_tables(self):
        """The family's tables as the kernels' arguments (a NamedTuple of its kernel module)."""
        raise NotImplementedError

    def _expansion_inputs(self, positions, numbers, cell, pbc) -> ExpansionInputs:
        return self.harmonic_expansion_inputs(positions, numbers, cell, pbc, self.l_max)

    def compute(self, positions, numbers, cell, pbc) -> DescriptorResult:
        c = self._expansion_inputs(positions, numbers, cell, pbc)
        G, dG = self._features_kernel(c.pairs.pair_start, c.species[c.pairs.j], c.f, c.df, c.Y, c.dY, c.unit,
                                      len(self.elements), self.kernel_tables())
        return DescriptorResult(G=G, dG=dG, pairs=c.pairs, species=c.species)

    def features(self, positions, numbers, cell, pbc):
        c = self._expansion_inputs(positions, numbers, cell, pbc)
        G = self._values_kernel(c.pairs.pair_start, c.species[c.pairs.j], c.f, c.Y, len(self.elements),
                                self.kernel_tables())
        return G, c

    def feature_values(self, positions, numbers, cell, pbc):
        """The values of :meth:`features` (bit for bit) and the species, from the harmonics' values
        alone: no harmonic gradients, which only :meth:`backward` needs."""
        from ..kernels.spherical_harmonics import real_spherical_harmonics_values

        species, pairs, f, _ = self.neighbours(positions, numbers, cell, pbc)
        Y = real_spherical_harmonics_values(pairs.vectors, self.l_max)
        G = self._values_kernel(pairs.pair_start, species[pairs.j], f, Y, len(self.elements), self.kernel_tables())
        return G, species

    def backward(self, c: ExpansionInputs, dEdG):
        return self._backward_kernel(c.pairs.pair_start, c.pairs.j, c.species[c.pairs.j], c.pairs.vectors, c.f, c.df,
                                     c.Y, c.dY, c.unit, len(self.elements), self.kernel_tables(),
                                     np.ascontiguousarray(dEdG))
