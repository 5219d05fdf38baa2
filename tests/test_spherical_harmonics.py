"""Real spherical harmonics against scipy (converted to real form) and finite differences."""

import numpy as np
import pytest
from scipy.special import sph_harm_y

from linpot.conventions import lm_index, real_from_complex_matrix
from linpot.kernels.spherical_harmonics import real_spherical_harmonics

L_MAX = 14


def random_vectors(n=50, seed=0):
    rng = np.random.default_rng(seed)
    v = rng.normal(size=(n, 3)) * rng.uniform(0.5, 3.0, size=(n, 1))
    # include the poles and the equator, where naive formulas break
    v[:4] = [[0, 0, 2.0], [0, 0, -1.5], [1.0, 0, 0], [0, -2.0, 0]]
    return v


def scipy_complex(l, vectors):
    r = np.linalg.norm(vectors, axis=1)
    theta = np.arccos(vectors[:, 2] / r)
    phi = np.arctan2(vectors[:, 1], vectors[:, 0])
    return np.stack([sph_harm_y(l, m, theta, phi) for m in range(-l, l + 1)], axis=1)


def test_matches_scipy_in_real_form():
    v = random_vectors()
    Y, _ = real_spherical_harmonics(v, L_MAX)
    for l in range(L_MAX + 1):
        expected = scipy_complex(l, v) @ real_from_complex_matrix(l).T
        assert np.max(np.abs(expected.imag)) < 1e-12
        np.testing.assert_allclose(Y[:, lm_index(l, -l):lm_index(l, l) + 1], expected.real, atol=1e-11)


def test_explicit_low_orders():
    """Y_1 = sqrt(3/4pi) (y, z, x)/r for m = -1, 0, 1: the documented order and sign."""
    v = random_vectors()
    Y, _ = real_spherical_harmonics(v, 2)
    u = v / np.linalg.norm(v, axis=1)[:, None]
    c = np.sqrt(3 / (4 * np.pi))
    np.testing.assert_allclose(Y[:, 0], np.sqrt(1 / (4 * np.pi)))
    np.testing.assert_allclose(Y[:, 1:4], c * u[:, [1, 2, 0]], atol=1e-14)
    np.testing.assert_allclose(Y[:, lm_index(2, -2)], np.sqrt(15 / (4 * np.pi)) * u[:, 0] * u[:, 1], atol=1e-14)


def test_orthonormal_on_the_sphere():
    # Lebedev-free check: Monte Carlo would be noisy; use a product Gauss-Legendre x uniform grid.
    x, w = np.polynomial.legendre.leggauss(40)
    phi = np.linspace(0, 2 * np.pi, 81)[:-1]
    Z, PHI = np.meshgrid(x, phi, indexing="ij")
    s = np.sqrt(1 - Z**2)
    v = np.stack([s * np.cos(PHI), s * np.sin(PHI), Z], axis=-1).reshape(-1, 3)
    weights = (w[:, None] * np.full(phi.shape, 2 * np.pi / len(phi))[None]).ravel()
    Y, _ = real_spherical_harmonics(v, 10)
    gram = (Y * weights[:, None]).T @ Y
    np.testing.assert_allclose(gram, np.eye(len(gram)), atol=1e-12)


def test_gradient_is_finite_difference():
    v = random_vectors(30, seed=1)
    v[:2] += 1e-3  # keep FD steps off the exact poles
    Y, dY = real_spherical_harmonics(v, L_MAX)
    h = 1e-6
    for k in range(3):
        e = np.zeros(3)
        e[k] = h
        fd = (real_spherical_harmonics(v + e, L_MAX)[0] - real_spherical_harmonics(v - e, L_MAX)[0]) / (2 * h)
        np.testing.assert_allclose(dY[:, :, k], fd, atol=2e-6 * np.abs(fd).max())


def test_gradient_is_tangential_and_scales_as_one_over_r():
    v = random_vectors(20, seed=2)
    _, d1 = real_spherical_harmonics(v, 6)
    _, d2 = real_spherical_harmonics(2.0 * v, 6)
    np.testing.assert_allclose(np.einsum("plk,pk->pl", d1, v), 0, atol=1e-11)
    np.testing.assert_allclose(d2, d1 / 2.0, atol=1e-12)


@pytest.mark.parametrize("l", [1, 2, 5])
def test_parity(l):
    v = random_vectors(10, seed=3)
    Y, _ = real_spherical_harmonics(v, l)
    Ym, _ = real_spherical_harmonics(-v, l)
    sl = slice(l * l, (l + 1) ** 2)
    np.testing.assert_allclose(Ym[:, sl], (-1) ** l * Y[:, sl], atol=1e-13)
