"""Rotational invariants: every invariant is O(3)-invariant, their number per multiset agrees
with group characters, they are linearly independent on real environments, order 2 and 3 are the
power spectrum and bispectrum built from sympy's Wigner 3j symbols, and the shipped coupling
table regenerates."""

import numpy as np
import pytest
from reference import trivial_multiplicity
from sympy.physics.wigner import clebsch_gordan as sympy_cg
from sympy.physics.wigner import wigner_3j

from linpot.conventions import real_from_complex_matrix
from linpot.descriptors import InvariantDescriptor
from linpot.descriptors.coupling import (
    DEFAULT_REACH,
    clebsch_gordan,
    coupling_paths,
    load_tables,
    multisets,
    select_invariants,
    table_selection,
)
from linpot.descriptors.invariants import coupling_type
from linpot.kernels.spherical_harmonics import real_spherical_harmonics


def random_rotation(rng):
    q, r = np.linalg.qr(rng.normal(size=(3, 3)))
    q = q @ np.diag(np.sign(np.diag(r)))
    return q if np.linalg.det(q) > 0 else -q


def cluster(rng, n=14):
    """A random environment: neighbours of atom 0 at 1.8 .. 4.5 Å."""
    directions = rng.normal(size=(n, 3))
    directions /= np.linalg.norm(directions, axis=1)[:, None]
    return np.vstack([[0, 0, 0], directions * rng.uniform(1.8, 4.5, size=(n, 1))])


def centre_features(descriptor, positions):
    numbers = np.full(len(positions), 29)
    out = descriptor.compute(positions, numbers, np.zeros((3, 3)), [False] * 3)
    return out.G[0]


def expansion(positions, l_max, radial):
    """a_lm of atom 0 for one radial function (index 0): sum_j f_0(r) Y_lm."""
    v = positions[1:] - positions[0]
    f, _ = radial(np.linalg.norm(v, axis=1))
    Y, _ = real_spherical_harmonics(v, l_max)
    return f[:, 0] @ Y


DESCRIPTOR = dict(cutoff=5.0, radial={"kind": "chebyshev", "n_basis": 3},
                  orders=[[1, 3, 0], [2, 3, 8], [3, 2, 6], [4, 2, 4], [5, 1, 3], [6, 1, 2]])


@pytest.mark.parametrize("improper", [False, True])
def test_every_invariant_is_invariant(improper):
    rng = np.random.default_rng(0)
    d = InvariantDescriptor(["Cu"], **DESCRIPTOR)
    for _ in range(3):
        pos = cluster(rng)
        R = random_rotation(rng) * (-1 if improper else 1)
        g0 = centre_features(d, pos)
        g1 = centre_features(d, pos @ R.T + rng.normal(size=3))
        g2 = centre_features(d, pos[np.r_[0, rng.permutation(np.arange(1, len(pos)))]])
        scale = np.abs(g0) + 1e-12 * np.abs(g0).max()
        assert np.max(np.abs(g1 - g0) / scale) < 1e-10
        assert np.max(np.abs(g2 - g0) / scale) < 1e-10


def test_a_non_invariant_is_detected():
    """Control: the same check flags a covariant quantity (a_1m itself)."""
    rng = np.random.default_rng(1)
    pos = cluster(rng)
    radial = InvariantDescriptor(["Cu"], **DESCRIPTOR).radial
    R = random_rotation(rng)
    a0, a1 = expansion(pos, 1, radial)[1:4], expansion(pos @ R.T, 1, radial)[1:4]
    assert np.max(np.abs(a1 - a0)) > 1e-3


@pytest.mark.parametrize("order", sorted(DEFAULT_REACH))
def test_counts_match_group_characters(order):
    """For every multiset in the shipped table, #invariants = multiplicity of the trivial
    representation of O(3) in the (symmetrised) product, computed from characters."""
    table = load_tables()["orders"][str(order)]
    listed = {tuple(e["l"]): len(e["invariants"]) for e in table["multisets"]}
    for ls in multisets(order, table["l_max"]):
        assert listed.get(ls, 0) == trivial_multiplicity(ls), ls


def test_character_count_is_not_trivially_equal():
    """Control: symmetrisation matters (4 identical l=2 factors: 1 invariant, while the
    unsymmetrised product has 5 coupling paths)."""
    assert trivial_multiplicity((2, 2, 2, 2)) == 1 and len(coupling_paths((2, 2, 2, 2))) == 5
    assert trivial_multiplicity((1, 1, 1)) == 0


def test_invariants_are_independent_on_environments():
    """The rank of all generated invariants of one channel, evaluated on many random
    environments, equals their number."""
    rng = np.random.default_rng(2)
    d = InvariantDescriptor(["Cu"], cutoff=5.0, radial={"kind": "chebyshev", "n_basis": 1},
                            orders=[[1, 1, 0], [2, 1, 6], [3, 1, 5], [4, 1, 3], [5, 1, 2], [6, 1, 2]])
    rows = np.array([centre_features(d, cluster(rng, n=rng.integers(10, 30))) for _ in range(3 * d.n_features)])
    rows /= np.linalg.norm(rows, axis=0)
    s = np.linalg.svd(rows, compute_uv=False)
    assert s[-1] / s[0] > 1e-9, s[-5:] / s[0]
    assert np.linalg.matrix_rank(rows, tol=1e-10 * s[0]) == d.n_features


def complex_expansion(a_real, l):
    """a^C_l = U^dagger a^R_l for the complex harmonics with the Condon-Shortley phase."""
    return np.conj(real_from_complex_matrix(l)).T @ a_real[l * l:(l + 1) ** 2]


@pytest.mark.parametrize("l", [0, 1, 3, 6])
def test_order_two_is_the_power_spectrum(l):
    rng = np.random.default_rng(3)
    (lm, coef), = coupling_type((l, l))
    for _ in range(3):
        pos = cluster(rng)
        a = expansion(pos, l, InvariantDescriptor(["Cu"], **DESCRIPTOR).radial)
        ours = sum(c * a[i] * a[j] for (i, j), c in zip(lm, coef))
        power = np.sum(a[l * l:(l + 1) ** 2] ** 2) / np.sqrt(2 * l + 1)
        assert abs(abs(ours) - power) < 1e-12 * power


@pytest.mark.parametrize("ls", [(1, 1, 2), (2, 2, 2), (1, 2, 3), (2, 3, 3), (4, 4, 4)])
def test_order_three_is_the_bispectrum_from_sympy_3j(ls):
    """B = sum_m (l1 l2 l3; m1 m2 m3) a_l1m1 a_l2m2 a_l3m3 (complex basis, sympy's 3j)."""
    rng = np.random.default_rng(4)
    radial = InvariantDescriptor(["Cu"], **DESCRIPTOR).radial
    (lm, coef), = coupling_type(ls)
    l1, l2, l3 = ls
    w3j = {(m1, m2): float(wigner_3j(l1, l2, l3, m1, m2, -m1 - m2))
           for m1 in range(-l1, l1 + 1) for m2 in range(-l2, l2 + 1) if abs(m1 + m2) <= l3}
    ratios = []
    for _ in range(4):
        a = expansion(cluster(rng), max(ls), radial)
        ours = sum(c * a[i] * a[j] * a[k] for (i, j, k), c in zip(lm, coef))
        A = [complex_expansion(a, l) for l in ls]
        ref = sum(v * A[0][m1 + l1] * A[1][m2 + l2] * A[2][-m1 - m2 + l3] for (m1, m2), v in w3j.items())
        assert abs(ref.imag) < 1e-12 * abs(ref)
        ratios.append(ours / ref.real)
    np.testing.assert_allclose(np.abs(ratios), 1.0, rtol=1e-10)
    assert len(set(np.sign(ratios))) == 1  # one fixed sign convention, not a coincidence


@pytest.mark.parametrize("l1,l2,L", [(1, 1, 0), (2, 3, 4), (4, 4, 6), (6, 5, 3)])
def test_clebsch_gordan_matches_sympy(l1, l2, L):
    C = clebsch_gordan(l1, l2, L)
    for m1 in range(-l1, l1 + 1):
        for m2 in range(-l2, l2 + 1):
            M = m1 + m2
            expected = float(sympy_cg(l1, l2, L, m1, m2, M)) if abs(M) <= L else 0.0
            got = C[m1 + l1, m2 + l2, M + L] if abs(M) <= L else 0.0
            assert got == pytest.approx(expected, abs=1e-15)


@pytest.mark.parametrize("ls", [(2, 2), (1, 2, 3), (3, 3, 3, 3), (1, 2, 2, 3), (2, 2, 2, 2, 2), (1, 1, 2, 2, 2, 2), (8, 8, 8)])
def test_shipped_table_regenerates(ls):
    assert table_selection(ls) == select_invariants(ls)


def test_mixed_radial_invariants_are_invariant_independent_and_counted():
    """Mixed radial indices: every invariant unchanged by random proper and improper rotations,
    none dependent on the others (rank on random environments), and per (l_1..l_p) with distinct
    factors as many as the trivial representation occurs in the product."""
    from linpot.descriptors import InvariantDescriptor
    from linpot.descriptors.invariants import mixed_coupling_type

    d = InvariantDescriptor(["Cu"], cutoff=5.0, radial={"kind": "chebyshev", "n_basis": 3},
                            orders=[[2, 3, 3], [3, 2, 2]], mixed_orders=[2, 3])
    rng = np.random.default_rng(4)
    rows, rotated = [], []
    for _ in range(3 * d.n_features):
        n = rng.integers(4, 12)
        pos = np.vstack([[10, 10, 10], 10 + rng.normal(size=(n, 3)) * 1.7])
        G = d.compute(pos, np.full(n + 1, 29), np.eye(3) * 30, [False] * 3).G[0]
        R = np.linalg.qr(rng.normal(size=(3, 3)))[0]
        Gr = d.compute((pos - 10) @ R.T + 10, np.full(n + 1, 29), np.eye(3) * 30, [False] * 3).G[0]
        rows.append(G)
        rotated.append(Gr)
    rows, rotated = np.array(rows), np.array(rotated)
    np.testing.assert_allclose(rotated, rows, rtol=1e-10, atol=1e-10 * np.abs(rows).max())
    assert np.linalg.matrix_rank(rows / np.abs(rows).max(axis=0), tol=1e-8) == d.n_features
    # distinct factors: (1, 1, 2) has one invariant ((1 1)2 2)0, (1, 1) with different n one
    assert len(mixed_coupling_type((1, 1, 2), (0, 1, 0))) == 1
    assert len(mixed_coupling_type((2, 2, 2), (0, 1, 2))) == 1
    assert len(mixed_coupling_type((1, 1, 2, 2), (0, 1, 0, 1))) == 3   # L = 0, 1, 2
    assert len(mixed_coupling_type((1, 1, 2, 2), (0, 0, 0, 0))) == 2   # symmetric: L = 0, 2
    # a mixed pair invariant <a_n1, a_n2>_l is not a product of compact ones: it is there
    assert any("n=0,1" in name for name in d.feature_names())
