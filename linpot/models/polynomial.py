"""Polynomial model: ``E = sum_i [ c[s_i, 0] + sum_t c[s_i, t] phi_t(G_i) ]``.

``phi_t`` are the monomials of the descriptor features of degree 1 .. ``degree`` (all products
``G_k``, ``G_k G_l`` (k <= l), ``G_k G_l G_m`` (k <= l <= m), ...). With ``degree = 1`` the model
is linear in the features; on pair features that is a pair potential, and degrees 2 and 3 give
an embedded-atom-like many-body model. The model stays linear in ``c``, so it is fitted by linear
least squares; ``c[s, 0]`` is the reference energy of element ``s``.

Any descriptor family plugs in: the model only needs ``G`` and ``dG/dr_ij``.
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import combinations_with_replacement

import numpy as np

from ..descriptors import descriptor_from_spec
from ..errors import LinpotInputError
from ..kernels.polynomial import polynomial_design_rows, polynomial_energy_gradient, polynomial_features


@dataclass
class StructureRows:
    """Design-matrix rows of one structure: energy (total, eV per unit coefficient), forces
    (``3 n_atoms`` rows, atom-major, xyz), stress (6 Voigt rows, eV/Å^3; None if not periodic)."""

    energy: np.ndarray
    forces: np.ndarray
    stress: np.ndarray | None


def monomial_terms(n_features: int, degree: int, product_features=None) -> np.ndarray:
    """Index rows of the monomials, -1 padded: every feature alone (degree 1), and all products
    of degree 2..``degree`` among ``product_features`` (all features by default)."""
    rows = [[k] + [-1] * (degree - 1) for k in range(n_features)]
    pool = range(n_features) if product_features is None else sorted(product_features)
    for d in range(2, degree + 1):
        for combo in combinations_with_replacement(pool, d):
            rows.append(list(combo) + [-1] * (degree - d))
    return np.array(rows, dtype=np.int64).reshape(len(rows), degree)


class PolynomialModel:
    kind = "polynomial"

    def __init__(self, descriptor, degree: int = 2, feature_mean=None, feature_scale=None, product_orders=None):
        if int(degree) < 1 or int(degree) > 4:
            raise LinpotInputError(f"polynomial degree must be 1 to 4, got {degree}")
        self.descriptor = descriptor
        self.degree = int(degree)
        # Selection rule for products: only features of these descriptor orders (1 = pair,
        # 2 = power spectrum, ...) enter monomials of degree >= 2; None means all features.
        self.product_orders = None if product_orders is None else sorted(int(p) for p in product_orders)
        product_features = None
        if self.product_orders is not None:
            orders = getattr(descriptor, "feature_orders", np.ones(descriptor.n_features, dtype=int))
            product_features = np.nonzero(np.isin(orders, self.product_orders))[0].tolist()
        self.terms = monomial_terms(descriptor.n_features, self.degree, product_features)
        n = descriptor.n_features
        self.feature_mean = np.zeros(n) if feature_mean is None else np.array(feature_mean, dtype=float)
        self.feature_scale = np.ones(n) if feature_scale is None else np.array(feature_scale, dtype=float)
        if self.feature_mean.shape != (n,) or self.feature_scale.shape != (n,) or np.any(self.feature_scale <= 0):
            raise LinpotInputError(f"feature_mean and feature_scale need {n} values (scale > 0)")

    def standardise(self, mean: np.ndarray, scale: np.ndarray) -> None:
        """Use ``(G - mean) / scale`` as the polynomial's variables.

        Polynomials of degree <= D in the shifted variables span the same space as in ``G`` (the
        constant column absorbs the rest), so this changes only the conditioning of the fit.
        """
        scale = np.where(np.asarray(scale) > 1e-12, scale, 1.0)
        self.feature_mean = np.array(mean, dtype=float)
        self.feature_scale = np.array(scale, dtype=float)

    def _standardised(self, positions, numbers, cell, pbc):
        d = self.descriptor.compute(positions, numbers, cell, pbc)
        inv = 1.0 / self.feature_scale
        G = (d.G - self.feature_mean) * inv
        dG = d.dG * inv[None, :, None]
        return d, G, dG

    @property
    def elements(self) -> list[str]:
        return self.descriptor.elements

    @property
    def n_terms(self) -> int:
        return len(self.terms)

    @property
    def n_coefficients(self) -> int:
        return len(self.elements) * (1 + self.n_terms)

    def constant_columns(self) -> np.ndarray:
        """Indices of the per-element constant (reference energy) columns."""
        return np.arange(len(self.elements)) * (1 + self.n_terms)

    def spec(self) -> dict:
        out = {"kind": self.kind, "degree": self.degree, "descriptor": self.descriptor.spec(),
               "feature_mean": self.feature_mean.tolist(), "feature_scale": self.feature_scale.tolist()}
        if self.product_orders is not None:
            out["product_orders"] = list(self.product_orders)
        return out

    @classmethod
    def from_spec(cls, spec: dict) -> PolynomialModel:
        unknown = set(spec) - {"kind", "degree", "descriptor", "feature_mean", "feature_scale", "product_orders"}
        if unknown:
            raise LinpotInputError(f"unknown model option(s): {', '.join(sorted(unknown))}")
        return cls(descriptor_from_spec(spec["descriptor"]), degree=spec.get("degree", 2),
                   feature_mean=spec.get("feature_mean"), feature_scale=spec.get("feature_scale"),
                   product_orders=spec.get("product_orders"))

    def design_rows(self, positions, numbers, cell, pbc) -> StructureRows:
        d, G, dG = self._standardised(positions, numbers, cell, pbc)
        e_row, f_rows, w_rows = polynomial_design_rows(
            G, dG, d.pairs.i, d.pairs.j, d.pairs.vectors, d.species, self.terms, len(self.elements))
        stress = None
        if np.all(pbc):
            stress = w_rows / abs(np.linalg.det(cell))
        return StructureRows(energy=e_row, forces=f_rows.reshape(-1, self.n_coefficients), stress=stress)

    def atomic_rows(self, positions, numbers, cell, pbc) -> np.ndarray:
        """Design rows of the atomic energies (``n_atoms, n_coefficients``): atom i's energy is
        ``rows[i] @ coefficients`` (its species' block holds 1 and the monomials, the rest zero)."""
        G_raw, species = self.descriptor.feature_values(positions, numbers, cell, pbc)
        phi = polynomial_features((G_raw - self.feature_mean) / self.feature_scale, self.terms)
        width = 1 + self.n_terms
        rows = np.zeros((len(phi), self.n_coefficients))
        for i, s in enumerate(species):
            rows[i, s * width] = 1.0
            rows[i, s * width + 1:(s + 1) * width] = phi[i]
        return rows

    def predict(self, coefficients: np.ndarray, positions, numbers, cell, pbc) -> dict:
        """Energy (eV), per-atom energies, forces (eV/Å) and stress (eV/Å^3, Voigt; periodic only)."""
        coefficients = np.ascontiguousarray(coefficients, dtype=float).reshape(len(self.elements), 1 + self.n_terms)
        G_raw, context = self.descriptor.features(positions, numbers, cell, pbc)
        inv = 1.0 / self.feature_scale
        energies, dEdG = polynomial_energy_gradient((G_raw - self.feature_mean) * inv, context.species, self.terms,
                                                    coefficients)
        forces, virial = self.descriptor.backward(context, dEdG * inv)
        out = {"energy": float(energies.sum()), "energies": energies, "forces": forces}
        if np.all(pbc):
            out["stress"] = virial / abs(np.linalg.det(cell))
        return out


MODEL_KINDS = {"polynomial": PolynomialModel}


def model_from_spec(spec: dict):
    kind = spec.get("kind")
    if kind not in MODEL_KINDS:
        raise LinpotInputError(f"unknown model kind {kind!r} (known: {', '.join(MODEL_KINDS)})")
    return MODEL_KINDS[kind].from_spec(spec)
