"""Multi-element invariants: the complete element-resolved invariants are counted by group
characters per element pattern, weighted element channels span the same space when there are as
many as elements (and the compact coupling of them does not), the compact one-hot invariants are
among the complete ones, relabelling the elements in data and model gives the same fit, and an
element the potential was not fitted on is a one-line error. (The finite-difference, O(3),
permutation, supercell and cutoff tests of these forms run in test_physics.py on two- and
three-element cells; the kernels against their twin in test_twins.py.)"""

from collections import Counter
from itertools import combinations_with_replacement

import numpy as np
import pytest
from ase.build import bulk
from ase.calculators.emt import EMT
from ase.calculators.singlepoint import SinglePointCalculator
from reference import trivial_multiplicity
from test_cli import assert_one_line_error

from linpot.descriptors import InvariantDescriptor
from linpot.descriptors.element_channels import period_and_group, property_channel_weights
from linpot.errors import LinpotInputError

ELEMENTS = ["Al", "Ni", "Cu"]
RADIAL = {"kind": "chebyshev", "n_basis": 3}


def pattern_counts(d):
    """Number of invariants per (ls, channel of each factor) of a descriptor with n_max 1."""
    t = d.kernel_tables()
    counts = Counter()
    for k in range(d.n_features):
        ls = tuple(int(l) for l in t.type_pos_l[t.feat_type[k]] if l >= 0)
        counts[(ls, tuple(int(c) for c in t.feat_channel[k, :len(ls)]))] += 1
    return counts


@pytest.mark.parametrize("n_elements", [2, 3])
def test_complete_counts_per_element_pattern_match_group_characters(n_elements):
    """Per multiset of factors (l, element): as many invariants as the trivial representation
    occurs in the product of the symmetric powers of its distinct factors, and no others."""
    orders = [[2, 1, 4], [3, 1, 3], [4, 1, 2]]
    d = InvariantDescriptor(ELEMENTS[:n_elements], cutoff=5.0, radial={"kind": "chebyshev", "n_basis": 1},
                            orders=orders, element_coupling="complete")
    counts = pattern_counts(d)
    expected = Counter()
    for p, _, l_max in orders:
        items = [(l, s) for l in range(l_max + 1) for s in range(n_elements)]
        for combo in combinations_with_replacement(items, p):
            ls, ss = tuple(l for l, _ in combo), tuple(s for _, s in combo)
            m = trivial_multiplicity(ls, ss)
            if m:
                expected[(ls, ss)] = m
    assert counts == expected
    # the patterns really differ from the one-element counts: ((1, 1) 2 2) has one invariant
    # with both l=1 factors of one element and two with them of different elements ... and
    # (1, 1, 1) of three different elements is odd, so none
    assert trivial_multiplicity((1, 1, 2, 2), (0, 0, 0, 0)) == 2 and trivial_multiplicity((1, 1, 2, 2), (0, 1, 0, 1)) == 3
    assert counts[((2, 2, 2), (0, 0, 1))] == 1 and counts[((1, 1, 2, 2), (0, 1, 0, 1))] == 3


def environments(n_clusters=40, seed=0):
    """Per-atom environments of random three-element clusters (positions, numbers)."""
    rng = np.random.default_rng(seed)
    numbers = [13, 28, 29]
    out = []
    for _ in range(n_clusters):
        n = int(rng.integers(8, 14))
        while True:
            pos = rng.uniform(0.0, 5.0, size=(n, 3))
            d = np.linalg.norm(pos[:, None] - pos[None], axis=-1) + 10 * np.eye(n)
            if d.min() > 1.4:
                break
        out.append((pos + 10.0, rng.choice(numbers, size=n)))
    return out


def feature_rows(d, envs):
    return np.vstack([d.compute(pos, num, np.eye(3) * 30.0, [False] * 3).G for pos, num in envs])


def span_residual(basis, target):
    """Largest relative residual of the target columns projected on the span of the basis columns."""
    b = basis / np.abs(basis).max(axis=0)
    coef, *_ = np.linalg.lstsq(b, target, rcond=None)
    return np.abs(b @ coef - target).max() / np.abs(target).max()


def test_channels_span_the_complete_invariants_and_compact_is_a_subset():
    base = dict(cutoff=4.6, radial=RADIAL, orders=[[1, 2, 0], [2, 2, 3], [3, 2, 2]])
    complete = InvariantDescriptor(ELEMENTS, element_coupling="complete", **base)
    mixed = InvariantDescriptor(ELEMENTS, element_coupling="complete", channels={"kind": "properties", "n_channels": 3},
                                **base)
    compact = InvariantDescriptor(ELEMENTS, **base)
    compact_mixed = InvariantDescriptor(ELEMENTS, channels={"kind": "properties", "n_channels": 3}, **base)
    assert complete.n_features == mixed.n_features > compact.n_features == compact_mixed.n_features
    envs = environments()
    G_complete, G_mixed = feature_rows(complete, envs), feature_rows(mixed, envs)
    G_compact, G_compact_mixed = feature_rows(compact, envs), feature_rows(compact_mixed, envs)
    assert len(G_complete) > 2 * complete.n_features
    # one-hot compact invariants are columns of the complete ones (same coupling tensors)
    names = complete.feature_names()
    for k, name in enumerate(compact.feature_names()):
        np.testing.assert_array_equal(G_compact[:, k], G_complete[:, names.index(name)])
    # three channels on three elements: an invertible change of variables, the same space both ways
    assert span_residual(G_complete, G_mixed) < 1e-9
    assert span_residual(G_mixed, G_complete) < 1e-9
    # the compact coupling of the channels is a smaller space: it misses cross-element invariants
    assert span_residual(G_compact_mixed, G_complete) > 1e-3
    # and so do the compact one-hot invariants
    assert span_residual(G_compact, G_complete) > 1e-3


def test_property_channels_are_orthonormal_and_documented():
    assert period_and_group(29) == (4, 11) and period_and_group(8) == (2, 16) and period_and_group(42) == (5, 6)
    assert period_and_group(79) == (6, 11) and period_and_group(57) == (6, 3) and period_and_group(1) == (1, 1)
    w = property_channel_weights(["Cu", "Ag", "Au", "Ni"], 4)
    np.testing.assert_allclose(w @ w.T, np.eye(4), atol=1e-12)
    np.testing.assert_allclose(w[0], 0.5)  # channel 0: the total density
    # Cu, Ag, Au share the group; the second channel is the period, standardised
    assert np.argmax(np.abs(w[1])) in (0, 2, 3) and abs(w[1] @ np.ones(4)) < 1e-12
    with pytest.raises(LinpotInputError, match="n_channels"):
        property_channel_weights(["Cu", "Ag"], 3)
    with pytest.raises(LinpotInputError, match="element_coupling"):
        InvariantDescriptor(["Cu"], element_coupling="full")
    with pytest.raises(LinpotInputError, match="2 table"):
        InvariantDescriptor(["Cu", "Ni"], channels={"kind": "weights", "weights": [[1.0, 0.0, 0.0]]})


def emt_structures(symbols, n, seed):
    """Rattled, strained fcc Cu-Ni cells with EMT energies and forces."""
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(n):
        atoms = bulk("Cu", "fcc", a=3.55, cubic=True) * (1, 1, 2)
        atoms.set_chemical_symbols(list(rng.choice(symbols, size=len(atoms))))
        atoms.set_cell(atoms.cell.array @ (np.eye(3) + 0.02 * rng.normal(size=(3, 3))), scale_atoms=True)
        atoms.positions += 0.1 * rng.normal(size=atoms.positions.shape)
        atoms.calc = EMT()
        e, f, s = atoms.get_potential_energy(), atoms.get_forces(), atoms.get_stress()
        atoms.calc = SinglePointCalculator(atoms, energy=e, forces=f, stress=s)
        out.append(atoms)
    return out


def swapped(frames, a, b):
    out = []
    for atoms in frames:
        new = atoms.copy()
        numbers = new.numbers.copy()
        new.numbers[numbers == a] = b
        new.numbers[numbers == b] = a
        new.calc = SinglePointCalculator(new, **atoms.calc.results)
        out.append(new)
    return out


def fit_config(element_coupling):
    from linpot.fit.config import load_config, merge

    return merge(load_config(), {
        "descriptor": {"kind": "invariants", "cutoff": 4.5, "radial": {"kind": "chebyshev", "n_basis": 3},
                       "orders": [[1, 3, 0], [2, 3, 2], [3, 1, 2]], "element_coupling": element_coupling},
        "model": {"kind": "polynomial", "degree": 1},
        "fit": {"method": "ridge", "validation_fraction": 0.0, "alphas": [1e-12], "seed": 0,
                "weights": {"energy": 100.0, "forces": 10.0, "stress": 0.0}}})


@pytest.mark.parametrize("element_coupling", ["complete", "compact"])
def test_relabelling_elements_in_data_and_model_gives_the_same_energies(element_coupling):
    from linpot.fit.pipeline import fit_potential
    from linpot.structures import Dataset

    train = emt_structures(["Cu", "Ni"], 24, seed=1)
    test = emt_structures(["Cu", "Ni"], 3, seed=2)
    config = dict(fit_config(element_coupling), elements=["Cu", "Ni"])
    pot, _ = fit_potential(Dataset.from_atoms(train), config)
    pot_swapped, _ = fit_potential(Dataset.from_atoms(swapped(train, 28, 29)), config)
    for atoms, other in zip(test, swapped(test, 28, 29)):
        ref = pot.predict(atoms.positions, atoms.numbers, atoms.cell.array, atoms.pbc)
        out = pot_swapped.predict(other.positions, other.numbers, other.cell.array, other.pbc)
        assert out["energy"] == pytest.approx(ref["energy"], abs=1e-7 * len(atoms))
        np.testing.assert_allclose(out["forces"], ref["forces"], atol=1e-6)
    # and the fit is not blind to the labels: the swapped potential on the unswapped cell differs
    atoms = test[0]
    other = pot_swapped.predict(atoms.positions, atoms.numbers, atoms.cell.array, atoms.pbc)
    assert abs(other["energy"] - pot.predict(atoms.positions, atoms.numbers, atoms.cell.array, atoms.pbc)["energy"]) > 1e-3


def test_an_element_absent_from_training_is_a_one_line_error(tmp_path, capsys):
    import ase.io

    from linpot.cli import main
    from linpot.fit.pipeline import fit_potential
    from linpot.structures import Dataset

    pot, _ = fit_potential(Dataset.from_atoms(emt_structures(["Cu", "Ni"], 12, seed=3)), fit_config("complete"))
    path = tmp_path / "cuni.json"
    pot.save(path)
    data = tmp_path / "with_ag.xyz"
    frames = emt_structures(["Cu", "Ni"], 2, seed=4) + emt_structures(["Cu", "Ag"], 1, seed=5)
    ase.io.write(data, frames, format="extxyz")
    capsys.readouterr()  # what the fit above logged
    code = main(["evaluate", str(path), str(data)])
    assert_one_line_error(capsys, code, str(data), "structure 2", "element Ag")


def test_joint_diagonalisation_recovers_a_common_basis():
    from linpot.fit.channel_fit import joint_diagonalisation

    rng = np.random.default_rng(2)
    Q = np.linalg.qr(rng.normal(size=(4, 4)))[0]
    matrices = [Q.T @ np.diag(rng.normal(size=4)) @ Q for _ in range(6)]
    V = joint_diagonalisation(matrices)
    np.testing.assert_allclose(V @ V.T, np.eye(4), atol=1e-12)
    for M in matrices:
        D = V @ M @ V.T
        assert np.abs(D - np.diag(np.diag(D))).max() < 1e-10 * np.abs(M).max()
    # V is Q up to the order and signs of its rows
    np.testing.assert_allclose(np.abs(V @ Q.T).max(axis=1), 1.0, atol=1e-10)
    # control: matrices with no common eigenbasis are not diagonalised
    other = [rng.normal(size=(4, 4)) for _ in range(6)]
    V = joint_diagonalisation([m + m.T for m in other])
    assert max(np.abs(V @ (m + m.T) @ V.T - np.diag(np.diag(V @ (m + m.T) @ V.T))).max() for m in other) > 1e-3


def test_fitted_channels_come_from_a_complete_order_two_fit():
    """``channels = {kind = "fitted"}``: the fit makes orthonormal weights that diagonalise the
    order-2 coefficients of a complete fit better than one-hot or property channels do, writes them
    into the spec, and the potential reloads with them; a descriptor refuses fitted channels
    without weights."""
    from linpot.fit.channel_fit import fitted_channel_weights, order_two_matrices
    from linpot.fit.pipeline import fit_potential
    from linpot.potential import Potential
    from linpot.structures import Dataset

    train = Dataset.from_atoms(emt_structures(["Cu", "Ni", "Ag"], 20, seed=6))
    config = fit_config("compact")
    config["descriptor"]["channels"] = {"kind": "fitted", "n_channels": 2}
    config["elements"] = ["Cu", "Ni", "Ag"]
    pot, _ = fit_potential(train, config)
    spec = pot.model.descriptor.spec()["channels"]
    w = np.array(spec["weights"])
    assert spec["kind"] == "fitted" and w.shape == (2, 3)
    np.testing.assert_allclose(w @ w.T, np.eye(2), atol=1e-10)
    # the weights are those of the complete order-2 fit's joint diagonaliser
    pre = dict(config, descriptor=dict(config["descriptor"], element_coupling="complete",
                                       orders=[[1, 3, 0], [2, 3, 2]]), model={"kind": "polynomial", "degree": 1})
    del pre["descriptor"]["channels"]
    complete, _ = fit_potential(train, pre)
    np.testing.assert_allclose(fitted_channel_weights(complete, 2), w, atol=1e-8)
    full = fitted_channel_weights(complete, 3)
    props = property_channel_weights(["Cu", "Ni", "Ag"], 3)

    def off_diagonal(V):
        return sum(float(np.sum((V @ M @ V.T - np.diag(np.diag(V @ M @ V.T))) ** 2)) for M in order_two_matrices(complete))

    # the joint diagonaliser leaves less off the diagonal than one-hot or property channels
    assert off_diagonal(full) < 0.9 * min(off_diagonal(props), off_diagonal(np.eye(3)))
    path_atoms = emt_structures(["Cu", "Ni", "Ag"], 1, seed=7)[0]
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        pot.save(f"{tmp}/fitted.json")
        again = Potential.load(f"{tmp}/fitted.json")
    a = again.predict(path_atoms.positions, path_atoms.numbers, path_atoms.cell.array, path_atoms.pbc)
    b = pot.predict(path_atoms.positions, path_atoms.numbers, path_atoms.cell.array, path_atoms.pbc)
    assert a["energy"] == b["energy"]
    with pytest.raises(LinpotInputError, match="fitted channels"):
        InvariantDescriptor(["Cu", "Ni"], channels={"kind": "fitted", "n_channels": 2})
