"""Angular Fourier series and symmetry functions against their direct definitions, and the
cross-check between families: angular Fourier series lie in the span of the order-2 invariants
built on the same radial functions. (The shared physics tests run on these families in
test_physics.py.)"""

import numpy as np
import pytest
from conftest import binary_cell, triclinic_cell
from reference import angular_fourier_direct, symmetry_functions_direct

from linpot.descriptors import AngularFourierDescriptor, InvariantDescriptor, SymmetryFunctionDescriptor
from linpot.descriptors.base import species_indices
from linpot.neighbours import neighbour_list


def neighbourhood(atoms, cutoff, i):
    nl = neighbour_list(atoms.positions, atoms.cell.array, atoms.pbc, cutoff)
    m = nl.i == i
    return nl.vectors[m], nl.j[m]


def isolated_environment(rng, n_upper):
    """One Cu atom at the centre of a 20 Å box with 3 to ``n_upper - 1`` random neighbours."""
    from ase import Atoms

    n = rng.integers(3, n_upper)
    pos = np.vstack([[10, 10, 10], 10 + rng.normal(size=(n, 3)) * 1.6])
    return Atoms(f"Cu{n + 1}", positions=pos, cell=np.eye(3) * 20, pbc=False)


@pytest.mark.parametrize("mixed", [False, True])
@pytest.mark.parametrize("make", [binary_cell, triclinic_cell])
def test_angular_fourier_fast_equals_triple_loop(make, mixed):
    atoms = make()
    elements = sorted(set(atoms.get_chemical_symbols()), key=lambda e: atoms.numbers[atoms.get_chemical_symbols().index(e)])
    elements = [e for e in ("Al", "Ni", "Cu") if e in elements]
    d = AngularFourierDescriptor(elements, cutoff=4.6, radial={"kind": "gaussian", "n_basis": 3}, l_max=5,
                                 mixed_radial=mixed)
    G = d.compute(atoms.positions, atoms.numbers, atoms.cell.array, atoms.pbc).G
    species = species_indices(atoms.numbers, elements)
    tables = d.kernel_tables()
    for i in range(len(atoms)):
        vectors, js = neighbourhood(atoms, 4.6, i)
        f, _ = d.radial(np.linalg.norm(vectors, axis=1))
        direct = angular_fourier_direct(vectors, species[js], f, tables.c1, tables.c2, tables.l, 3)
        np.testing.assert_allclose(G[i], direct, rtol=1e-12, atol=1e-12 * np.abs(direct).max())


def test_angular_fourier_lies_in_the_span_of_order_two_invariants():
    rng = np.random.default_rng(3)
    radial = {"kind": "chebyshev", "n_basis": 4}
    afs = AngularFourierDescriptor(["Cu"], cutoff=5.0, radial=radial, l_max=6)
    inv = InvariantDescriptor(["Cu"], cutoff=5.0, radial=radial, orders=[[2, 4, 6]])
    A, B = [], []
    for _ in range(40):
        atoms = isolated_environment(rng, 13)
        A.append(afs.compute(atoms.positions, atoms.numbers, atoms.cell.array, atoms.pbc).G[0])
        B.append(inv.compute(atoms.positions, atoms.numbers, atoms.cell.array, atoms.pbc).G[0])
    A, B = np.array(A), np.array(B)
    coef, *_ = np.linalg.lstsq(B, A, rcond=None)
    residual = np.abs(B @ coef - A).max() / np.abs(A).max()
    assert residual < 1e-11
    # and not trivially: a random feature is not in that span
    assert np.abs(B @ np.linalg.lstsq(B, A[:, :1] ** 2, rcond=None)[0] - A[:, :1] ** 2).max() > 1e-3 * np.abs(A[:, 0] ** 2).max()


def test_symmetry_functions_equal_their_definitions():
    atoms = binary_cell()
    g2 = {"eta": [0.05, 0.5], "r_s": [0.0, 2.5]}
    g4 = {"eta": [0.01, 0.1], "zeta": [1.0, 2.0, 3.5], "lambda": [1.0, -1.0]}
    d = SymmetryFunctionDescriptor(["Al", "Ni"], cutoff=4.6, g2=g2, g4=g4)
    G = d.compute(atoms.positions, atoms.numbers, atoms.cell.array, atoms.pbc).G
    assert G.shape[1] == 2 * 4 + 3 * 12
    species = species_indices(atoms.numbers, ["Al", "Ni"])
    for i in range(len(atoms)):
        vectors, js = neighbourhood(atoms, 4.6, i)
        direct = symmetry_functions_direct(vectors, species[js], 2, 4.6, g2, g4)
        np.testing.assert_allclose(G[i], direct, rtol=1e-12, atol=1e-13)


def test_bad_options_are_clear_errors():
    from linpot.errors import LinpotInputError

    with pytest.raises(LinpotInputError, match="zeta"):
        SymmetryFunctionDescriptor(["Cu"], g4={"eta": [0.1], "zeta": [0.5], "lambda": [1.0]})
    with pytest.raises(LinpotInputError, match="l_max"):
        AngularFourierDescriptor(["Cu"], l_max=-1)


def test_moment_tensor_basis_sizes_by_level():
    """Counted by hand from the definition (moments M_{mu,nu} of level 2 + 4 mu + nu, contractions
    without traces): level 2: M00; 4: M00^2; 6: M00^3, M01.M01, M10; 8: M00^4, M00 M01.M01, M00 M10,
    M02:M02."""
    from linpot.descriptors.moment_tensors import MomentTensorDescriptor

    d = MomentTensorDescriptor(["Cu"], cutoff=5.0, radial={"kind": "chebyshev", "n_basis": 4}, level_max=8)
    assert d.basis_sizes() == {2: 1, 4: 1, 6: 3, 8: 4}


def test_moment_tensor_basis_is_independent_and_complete_as_a_whole():
    """The generator tests independence within groups of candidates that share their moments'
    (element, radial index) labels. Checked here against the whole set at once, on a two-element
    basis and fresh random environments: the kept functions have full rank together, and every
    candidate contraction lies in their span (none dropped that was independent)."""
    from linpot.descriptors.moment_tensors import (
        _canonical,
        _component_values,
        _contraction_graphs,
        _expand,
        _moment_multisets,
        moment_tensor_basis,
    )

    n_mu, nu_max, level_max, max_factors, n_species, weight = 1, 6, 16, 4, 2, 4
    components, kept = moment_tensor_basis(n_mu, nu_max, level_max, max_factors, n_species, weight)
    index = {c: i for i, c in enumerate(components)}
    candidates, seen = [], set()
    for _, combo in sorted(_moment_multisets(n_species, n_mu, nu_max, level_max, max_factors, weight)):
        for edges in _contraction_graphs([nu for _, nu in combo]):
            if _canonical(combo, edges) not in seen:
                seen.add(_canonical(combo, edges))
                candidates.append(_expand(combo, edges, index))
    rng = np.random.default_rng(123)
    samples = []
    for _ in range(3 * len(candidates) + 50):
        n = rng.integers(3, 14)
        samples.append(_component_values(rng.normal(size=(n, 3)), rng.integers(0, n_species, size=n),
                                         rng.uniform(-1, 1, size=(n, n_mu)), components))
    samples = np.array(samples)

    def values(poly):
        return sum(c * np.prod(samples[:, list(ids)], axis=1) for ids, c in poly.items())

    K = np.column_stack([values(poly) for _, _, poly in kept])
    C = np.column_stack([values(poly) for poly in candidates])
    K, C = K / np.linalg.norm(K, axis=0), C / np.linalg.norm(C, axis=0)
    assert len(kept) < len(candidates)  # some candidates are dependent and were dropped
    assert np.linalg.matrix_rank(K, tol=1e-8) == len(kept)
    assert np.linalg.matrix_rank(np.column_stack([K, C]), tol=1e-8) == len(kept)


def test_moment_tensors_equal_their_contractions_and_lie_in_the_span_of_invariants():
    """Each basis function equals its contraction evaluated with numpy einsum on explicit tensors,
    and the basis functions of degree <= 3 lie in the span of the (mixed-radial) invariants of
    orders 1-3 built on the same radial functions."""

    from linpot.descriptors.moment_tensors import MomentTensorDescriptor

    radial = {"kind": "chebyshev", "n_basis": 3}
    mtp = MomentTensorDescriptor(["Cu"], cutoff=5.0, radial=radial, level_max=10, nu_max=4, max_factors=3)
    inv = InvariantDescriptor(["Cu"], cutoff=5.0, radial=radial, orders=[[1, 3, 0], [2, 3, 4], [3, 3, 4]],
                              mixed_orders=[2, 3])
    rng = np.random.default_rng(5)
    A, B = [], []
    for _ in range(3 * inv.n_features // 2):
        atoms = isolated_environment(rng, 12)
        A.append(mtp.compute(atoms.positions, atoms.numbers, atoms.cell.array, atoms.pbc).G[0])
        B.append(inv.compute(atoms.positions, atoms.numbers, atoms.cell.array, atoms.pbc).G[0])
    A, B = np.array(A), np.array(B)
    # explicit tensors for the last environment: M_{mu,nu} = sum_j f_mu u^(x nu)
    vectors = atoms.positions[1:] - atoms.positions[0]
    r = np.linalg.norm(vectors, axis=1)
    f, _ = mtp.radial(r)
    u = vectors / r[:, None]
    M = {}
    for mu in range(3):
        for nu in range(5):
            T = f[:, mu]
            for _ in range(nu):
                T = T[..., None] * u.reshape((len(r),) + (1,) * (T.ndim - 1) + (3,))
            M[(mu, nu)] = T.sum(axis=0)
    assert A[-1][0] == pytest.approx(M[(0, 0)])                                    # M00
    i = mtp.feature_names().index("M0,1*M0,1|((0, 1),)")
    assert A[-1][i] == pytest.approx(M[(0, 1)] @ M[(0, 1)], rel=1e-12)
    i = mtp.feature_names().index("M0,2*M0,2|((0, 1), (0, 1))")
    assert A[-1][i] == pytest.approx(np.einsum("ab,ab->", M[(0, 2)], M[(0, 2)]), rel=1e-12)
    coef, *_ = np.linalg.lstsq(np.column_stack([B, np.ones(len(B))]), A, rcond=None)
    residual = np.abs(np.column_stack([B, np.ones(len(B))]) @ coef - A).max() / np.abs(A).max()
    assert residual < 1e-9


def test_moment_tensor_potential_records_its_basis():
    from linpot.descriptors import descriptor_from_spec
    from linpot.descriptors.moment_tensors import MomentTensorDescriptor
    from linpot.errors import LinpotInputError

    d = MomentTensorDescriptor(["Cu"], cutoff=5.0, radial={"kind": "chebyshev", "n_basis": 3}, level_max=8)
    spec = d.spec()
    assert descriptor_from_spec(spec).basis_checksum == spec["basis_checksum"]
    spec["basis_checksum"] = "0" * 16
    with pytest.raises(LinpotInputError, match="differs"):
        descriptor_from_spec(spec)
