"""Angular Fourier series and symmetry functions against their direct definitions, and the
cross-check between families: angular Fourier series lie in the span of the order-2 invariants
built on the same radial functions. (The shared physics tests run on these families in
test_physics.py.)"""

import numpy as np
import pytest

from linpot.descriptors import AngularFourierDescriptor, InvariantDescriptor, SymmetryFunctionDescriptor
from linpot.neighbours import neighbour_list
from linpot.descriptors.base import species_indices

from conftest import binary_cell, triclinic_cell
from reference import angular_fourier_direct, symmetry_functions_direct


def neighbourhood(atoms, cutoff, i):
    nl = neighbour_list(atoms.positions, atoms.cell.array, atoms.pbc, cutoff)
    m = nl.i == i
    return nl.vectors[m], nl.j[m]


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
    for i in range(len(atoms)):
        vectors, js = neighbourhood(atoms, 4.6, i)
        f, _ = d.radial(np.linalg.norm(vectors, axis=1))
        direct = angular_fourier_direct(vectors, species[js], f, d._c1, d._c2, d._l, 3)
        np.testing.assert_allclose(G[i], direct, rtol=1e-12, atol=1e-12 * np.abs(direct).max())


def test_angular_fourier_lies_in_the_span_of_order_two_invariants():
    rng = np.random.default_rng(3)
    radial = {"kind": "chebyshev", "n_basis": 4}
    afs = AngularFourierDescriptor(["Cu"], cutoff=5.0, radial=radial, l_max=6)
    inv = InvariantDescriptor(["Cu"], cutoff=5.0, radial=radial, orders=[[2, 4, 6]])
    A, B = [], []
    for _ in range(40):  # random environments: one atom and up to 12 neighbours in a large box
        from ase import Atoms

        n = rng.integers(3, 13)
        pos = np.vstack([[10, 10, 10], 10 + rng.normal(size=(n, 3)) * 1.6])
        atoms = Atoms(f"Cu{n + 1}", positions=pos, cell=np.eye(3) * 20, pbc=False)
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
