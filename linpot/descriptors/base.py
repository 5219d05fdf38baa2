"""What every descriptor family returns, and the element -> species index mapping."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from ase.data import atomic_numbers, chemical_symbols

from ..errors import LinpotInputError
from ..neighbours import NeighbourList


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
