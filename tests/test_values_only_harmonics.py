"""The values-only real spherical harmonics (``real_spherical_harmonics_values``, and
``real_spherical_harmonics_into`` with ``dY=None``) against the values of the full kernel, bit for
bit, and the descriptors' values-only features (``feature_values``: atomic rows, standardisation,
extrapolation grade) against ``features``. Correctness only; no timings."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import distorted_fcc

from linpot.descriptors import AngularFourierDescriptor, InvariantDescriptor
from linpot.kernels.spherical_harmonics import (
    _normalisation,
    real_spherical_harmonics,
    real_spherical_harmonics_into,
    real_spherical_harmonics_values,
)


def vectors(seed=0, n=200):
    """Random vectors of several lengths, with the axes (both poles and the equator), diagonals and
    a vector just off the pole among them."""
    rng = np.random.default_rng(seed)
    v = rng.normal(size=(n, 3)) * rng.uniform(0.3, 4.0, size=(n, 1))
    special = [[0, 0, 2.0], [0, 0, -1.5], [1.0, 0, 0], [-3.0, 0, 0], [0, 2.0, 0], [0, -0.7, 0],
               [1.0, 1.0, 1.0], [-1.0, 1.0, -1.0], [1e-9, 0, 1.0], [0, 1e-12, -2.5]]
    v[:len(special)] = special
    return v


@pytest.mark.parametrize("l_max", [0, 1, 2, 3, 4, 6, 8, 12])
def test_values_equal_full_kernel_values(l_max):
    for seed in range(3):
        v = vectors(seed)
        Y_full, _ = real_spherical_harmonics(v, l_max)
        Y = real_spherical_harmonics_values(v, l_max)
        assert Y.shape == Y_full.shape == (len(v), (l_max + 1) ** 2)
        np.testing.assert_array_equal(Y, Y_full)


@pytest.mark.parametrize("l_max", [0, 3, 6])
def test_into_without_gradients_fills_only_the_given_rows(l_max):
    v = vectors(7, n=40)
    n_lm = (l_max + 1) ** 2
    Y = np.full((len(v) + 5, n_lm), -7.0)  # a reused buffer longer than the vectors
    real_spherical_harmonics_into(v, l_max, _normalisation(l_max), Y, None)
    np.testing.assert_array_equal(Y[:len(v)], real_spherical_harmonics(v, l_max)[0])
    assert np.all(Y[len(v):] == -7.0)


def test_no_vectors():
    assert real_spherical_harmonics_values(np.zeros((0, 3)), 4).shape == (0, 25)


@pytest.mark.parametrize("descriptor", [
    InvariantDescriptor(["Cu", "Ni"], cutoff=4.5, radial={"kind": "chebyshev", "n_basis": 4},
                        orders=[[1, 4, 0], [2, 3, 4], [3, 2, 3], [4, 1, 2]]),
    AngularFourierDescriptor(["Cu", "Ni"], cutoff=4.5, radial={"kind": "chebyshev", "n_basis": 3}, l_max=5),
], ids=["invariants", "angular-fourier"])
def test_descriptor_feature_values_equal_features(descriptor):
    atoms = distorted_fcc(seed=2, repeat=(2, 2, 2))
    symbols = atoms.get_chemical_symbols()
    symbols[::3] = ["Ni"] * len(symbols[::3])
    atoms.set_chemical_symbols(symbols)
    args = (atoms.positions, atoms.numbers, atoms.cell.array, atoms.pbc)
    G, context = descriptor.features(*args)
    G_values, species = descriptor.feature_values(*args)
    np.testing.assert_array_equal(G_values, G)
    np.testing.assert_array_equal(species, context.species)
