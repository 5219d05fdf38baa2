"""Descriptors of an atom's neighbourhood: ``spec`` -> ``compute(structure)``.

Every descriptor returns, for one structure, per-atom features ``G`` (``n_atoms, n_features``)
and their derivatives ``dG`` (``n_pairs, n_features, 3``) with respect to each neighbour vector
``r_ij``, together with the pairs. Models (``linpot.models``) turn those into energies, forces
and stresses by the chain rule, whatever the family.
"""

from __future__ import annotations

from ..errors import LinpotInputError
from .angular_fourier import AngularFourierDescriptor
from .base import DescriptorResult, species_indices
from .invariants import InvariantDescriptor
from .moment_tensors import MomentTensorDescriptor
from .pair import PairDescriptor
from .snap import SnapDescriptor
from .symmetry_functions import SymmetryFunctionDescriptor

DESCRIPTOR_KINDS = {"pair": PairDescriptor, "invariants": InvariantDescriptor, "snap": SnapDescriptor,
                    "angular-fourier": AngularFourierDescriptor, "symmetry-functions": SymmetryFunctionDescriptor,
                    "moment-tensors": MomentTensorDescriptor}


def descriptor_from_spec(spec: dict):
    """Build a descriptor from its spec dict (``kind`` selects the family)."""
    kind = spec.get("kind")
    if kind not in DESCRIPTOR_KINDS:
        raise LinpotInputError(f"unknown descriptor kind {kind!r} (known: {', '.join(DESCRIPTOR_KINDS)})")
    return DESCRIPTOR_KINDS[kind].from_spec(spec)


__all__ = ["AngularFourierDescriptor", "DescriptorResult", "InvariantDescriptor", "MomentTensorDescriptor", "PairDescriptor",
           "SnapDescriptor", "SymmetryFunctionDescriptor", "descriptor_from_spec",
           "species_indices"]
