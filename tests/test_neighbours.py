import numpy as np
import pytest
from ase.geometry import complete_cell
from ase.neighborlist import primitive_neighbor_list
from conftest import distorted_fcc, small_cell, triclinic_cell
from reference import brute_force_pairs

from linpot.neighbours import neighbour_list


def ours(positions, cell, pbc, cutoff):
    nl = neighbour_list(positions, cell, pbc, cutoff)
    assert np.all(np.diff(nl.i) >= 0), "pairs must come sorted by i"
    np.testing.assert_allclose(nl.distances, np.linalg.norm(nl.vectors, axis=1))
    return sorted(zip(nl.i.tolist(), nl.j.tolist(), *np.round(nl.vectors, 9).T.tolist()))


CASES = {
    "triclinic_small": lambda: (triclinic_cell(), 5.0),
    "small_cell": lambda: (small_cell(), 6.0),
    "distorted_fcc": lambda: (distorted_fcc(), 5.5),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_periodic_matches_brute_force(case):
    atoms, cutoff = CASES[case]()
    # unwrapped positions: atoms outside the cell must be handled too
    positions = atoms.positions + np.array([7.3, -4.1, 2.2])
    expected = brute_force_pairs(positions, atoms.cell.array, atoms.pbc, cutoff)
    assert len(expected) > 0
    assert ours(positions, atoms.cell.array, atoms.pbc, cutoff) == expected


def test_mixed_pbc_matches_ase():
    atoms = triclinic_cell(seed=4)
    pbc = np.array([True, False, True])
    positions = atoms.positions.copy()
    positions[0, 1] += 9.0  # far outside the box along the non-periodic direction
    i, j, D = primitive_neighbor_list("ijD", pbc, atoms.cell.array, positions, 5.0)
    expected = sorted(zip(i.tolist(), j.tolist(), *np.round(D, 9).T.tolist()))
    assert ours(positions, atoms.cell.array, pbc, 5.0) == expected


@pytest.mark.parametrize("cell", [np.zeros((3, 3)), np.diag([1.0, 1.0, 1.0])])
def test_non_periodic_cutoff_longer_than_box(cell):
    """A cluster in a box much smaller than the cutoff (or no box at all): only real pairs."""
    rng = np.random.default_rng(3)
    positions = rng.uniform(-3, 3, size=(25, 3))
    cutoff = 6.0
    d = np.linalg.norm(positions[:, None] - positions[None], axis=-1)
    expected = sorted((i, j, *np.round(positions[j] - positions[i], 9)) for i in range(25) for j in range(25) if 0 < d[i, j] < cutoff)
    assert ours(positions, cell, [False] * 3, cutoff) == expected


def test_many_atoms_against_ase():
    atoms = distorted_fcc(seed=5, repeat=(5, 5, 5))
    i, j, D = primitive_neighbor_list("ijD", atoms.pbc, complete_cell(atoms.cell.array), atoms.positions, 5.0)
    expected = sorted(zip(i.tolist(), j.tolist(), *np.round(D, 9).T.tolist()))
    assert ours(atoms.positions, atoms.cell.array, atoms.pbc, 5.0) == expected


def test_single_and_no_atoms():
    assert len(neighbour_list(np.zeros((1, 3)), np.zeros((3, 3)), [False] * 3, 5.0)) == 0
    assert len(neighbour_list(np.zeros((0, 3)), np.eye(3) * 3, [True] * 3, 5.0)) == 0
    # one atom, periodic: its own images are neighbours (6 at 3 Å within a 3.5 Å cutoff)
    nl = neighbour_list(np.zeros((1, 3)), np.eye(3) * 3, [True] * 3, 3.5)
    assert len(nl) == 6 and np.all(nl.i == 0) and np.all(nl.j == 0)
