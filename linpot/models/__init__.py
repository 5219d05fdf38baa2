"""Models: maps from per-atom descriptors to energies that stay linear in their coefficients."""

from .polynomial import PolynomialModel, StructureRows, model_from_spec

__all__ = ["PolynomialModel", "StructureRows", "model_from_spec"]
