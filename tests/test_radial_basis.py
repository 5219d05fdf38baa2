import numpy as np
import pytest
from reference import chebyshev_basis, gaussian_basis

from linpot.descriptors.radial_basis import RadialBasis


@pytest.mark.parametrize("kind", ["chebyshev", "gaussian"])
def test_values_match_direct_formula(kind):
    basis = RadialBasis(kind, n_basis=7, r_cut=5.0, r_min=0.5 if kind == "gaussian" else 0.0)
    r = np.linspace(0.3, 6.0, 200)
    f, _ = basis(r)
    if kind == "chebyshev":
        expected = chebyshev_basis(r, 7, 0.0, 5.0)
    else:
        expected = gaussian_basis(r, basis.centres, basis.width, 5.0)
    np.testing.assert_allclose(f, expected, rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("kind", ["chebyshev", "gaussian"])
def test_derivative_is_finite_difference(kind):
    basis = RadialBasis(kind, n_basis=9, r_cut=5.0)
    r = np.linspace(0.5, 4.99, 97)
    h = 1e-6
    _, df = basis(r)
    fd = (basis(r + h)[0] - basis(r - h)[0]) / (2 * h)
    np.testing.assert_allclose(df, fd, rtol=1e-6, atol=1e-8)


@pytest.mark.parametrize("kind", ["chebyshev", "gaussian"])
def test_smooth_decay_at_cutoff(kind):
    basis = RadialBasis(kind, n_basis=6, r_cut=4.0)
    eps = np.array([1e-2, 1e-3, 1e-4])
    f, df = basis(4.0 - eps)
    # fc ~ (pi eps / rc)^2 / 4 and dfc ~ eps: values fall as eps^2, derivatives as eps
    assert np.all(np.abs(f[2]) <= np.abs(f[1]) * 1.1e-2 + 1e-300)
    assert np.all(np.abs(df[2]) <= np.abs(df[1]) * 1.1e-1 + 1e-300)
    f0, df0 = basis(np.array([4.0, 4.5, 100.0]))
    assert np.all(f0 == 0) and np.all(df0 == 0)


def test_chebyshev_family_is_orthogonal():
    """Without the cutoff factor, T_n are orthogonal under the Chebyshev weight on [r_min, r_cut]."""
    basis = RadialBasis("chebyshev", n_basis=6, r_cut=5.0)
    theta = (np.arange(4000) + 0.5) * np.pi / 4000  # Gauss-Chebyshev nodes
    r = (np.cos(theta) + 1) * 2.5
    f, _ = basis(r)
    T = f / (0.5 * (np.cos(np.pi * r / 5.0) + 1))[:, None]
    gram = T.T @ T * np.pi / 4000
    off = gram - np.diag(np.diag(gram))
    assert np.max(np.abs(off)) < 1e-10
    np.testing.assert_allclose(np.diag(gram), [np.pi] + [np.pi / 2] * 5, rtol=1e-10)


def test_bad_options_are_input_errors():
    from linpot.errors import LinpotInputError

    with pytest.raises(LinpotInputError):
        RadialBasis("bessel")
    with pytest.raises(LinpotInputError):
        RadialBasis("chebyshev", n_basis=0)
    with pytest.raises(LinpotInputError):
        RadialBasis("gaussian", r_min=6.0, r_cut=5.0)
