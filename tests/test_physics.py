"""Physics of every descriptor family with the polynomial model on it (pair features, rotational
invariants of orders 1-6): finite-difference forces and stress, O(3) / translation /
permutation / supercell invariance, smooth cutoff, small and triclinic cells, multi-element,
and the pair kernels against their slow twins."""

import numpy as np
import pytest
from ase import Atoms
from conftest import STRUCTURES, binary_cell, make_model
from reference import chebyshev_basis, gaussian_basis, pair_features, polynomial_energy

from linpot.descriptors import PairDescriptor
from linpot.kernels.polynomial import polynomial_features
from linpot.potential import Potential

#: Which evaluation the physics tests exercise: the model's own (generic reverse mode) or the
#: compiled evaluator (merged monomials; what linpot.Calculator and exported evaluators run).
EVALUATION = {"path": "model"}
_COMPILED = {}


@pytest.fixture(autouse=True, params=["model", "compiled"])
def evaluation(request):
    EVALUATION["path"] = request.param
    yield request.param
    EVALUATION["path"] = "model"


def predict(model, c, atoms):
    if EVALUATION["path"] == "compiled":
        key = (id(model), np.asarray(c).tobytes())
        if key not in _COMPILED:
            _COMPILED.clear()
            # Potential.predict runs the compiled evaluator where it knows the family
            _COMPILED[key] = Potential(model, c)
        return _COMPILED[key].predict(atoms.positions, atoms.numbers, atoms.cell.array, atoms.pbc)
    return model.predict(c, atoms.positions, atoms.numbers, atoms.cell.array, atoms.pbc)


def energy(model, c, atoms):
    return predict(model, c, atoms)["energy"]


def random_rotation(rng, proper=True):
    q, r = np.linalg.qr(rng.normal(size=(3, 3)))
    q = q @ np.diag(np.sign(np.diag(r)))
    if np.linalg.det(q) < 0:
        q[:, 0] *= -1
    return q if proper else -q


def ternary_cell() -> Atoms:
    """Al, Ni and Cu on a rattled fcc cell (every element pair and triple within the cutoff)."""
    atoms = binary_cell(seed=3)
    symbols = atoms.get_chemical_symbols()
    for k in range(1, len(atoms), 3):
        symbols[k] = "Cu"
    atoms.set_chemical_symbols(symbols)
    return atoms


ALL = dict(STRUCTURES, binary=binary_cell, ternary=ternary_cell)
ELEMENTS = {"binary": ("Al", "Ni"), "ternary": ("Al", "Ni", "Cu")}


def model_for(name, family):
    descriptor, radial_kind, degree = family
    elements = ELEMENTS.get(name, ("Cu",))
    return make_model(elements=elements, kind=radial_kind, degree=degree, n_basis=4, family=descriptor)


@pytest.mark.parametrize("name", sorted(ALL))
def test_forces_are_minus_energy_gradient(name, family):
    atoms = ALL[name]()
    model, c = model_for(name, family)
    forces = predict(model, c, atoms)["forces"]
    h = 1e-5
    fd = np.zeros_like(forces)
    for a in range(len(atoms)):
        for x in range(3):
            p = atoms.copy()
            p.positions[a, x] += h
            ep = energy(model, c, p)
            p.positions[a, x] -= 2 * h
            fd[a, x] = -(ep - energy(model, c, p)) / (2 * h)
    assert np.max(np.abs(forces)) > 1e-3
    assert np.max(np.abs(fd - forces)) / np.max(np.abs(forces)) < 1e-6


@pytest.mark.parametrize("name", sorted(ALL))
def test_stress_is_strain_derivative(name, family):
    """sigma_ab = (1/V) dE/d eps_ab (positive tensile), eps symmetric, Voigt order xx yy zz yz xz xy."""
    atoms = ALL[name]()
    model, c = model_for(name, family)
    stress = predict(model, c, atoms)["stress"]
    V = atoms.get_volume()
    h = 1e-6
    pairs = [(0, 0), (1, 1), (2, 2), (1, 2), (0, 2), (0, 1)]
    fd = np.zeros(6)
    for k, (a, b) in enumerate(pairs):
        values = []
        for sign in (1, -1):
            eps = np.zeros((3, 3))
            eps[a, b] += sign * h / (1 if a == b else 2)
            eps[b, a] += sign * h / (1 if a == b else 2) if a != b else 0
            p = atoms.copy()
            p.set_cell(atoms.cell.array @ (np.eye(3) + eps), scale_atoms=True)
            values.append(energy(model, c, p))
        fd[k] = (values[0] - values[1]) / (2 * h) / V
    assert np.max(np.abs(stress)) > 1e-4
    assert np.max(np.abs(fd - stress)) / np.max(np.abs(stress)) < 1e-6


@pytest.mark.parametrize("proper", [True, False])
@pytest.mark.parametrize("name", sorted(ALL))
def test_rotation_reflection_translation_invariance(name, proper, family):
    atoms = ALL[name]()
    model, c = model_for(name, family)
    rng = np.random.default_rng(7)
    R = random_rotation(rng, proper)
    ref = predict(model, c, atoms)
    moved = atoms.copy()
    moved.set_cell(atoms.cell.array @ R.T, scale_atoms=False)
    moved.positions = atoms.positions @ R.T + rng.normal(size=3) * 3.0
    out = predict(model, c, moved)
    assert abs(out["energy"] - ref["energy"]) < 1e-10 * max(1.0, abs(ref["energy"]))
    np.testing.assert_allclose(out["forces"], ref["forces"] @ R.T, atol=1e-10)
    def sigma(v):
        return np.array([[v[0], v[5], v[4]], [v[5], v[1], v[3]], [v[4], v[3], v[2]]])
    np.testing.assert_allclose(sigma(out["stress"]), R @ sigma(ref["stress"]) @ R.T, atol=1e-12)


@pytest.mark.parametrize("name", sorted(ALL))
def test_permutation_invariance(name, family):
    atoms = ALL[name]()
    model, c = model_for(name, family)
    perm = np.random.default_rng(3).permutation(len(atoms))
    ref = predict(model, c, atoms)
    out = predict(model, c, atoms[perm])
    assert abs(out["energy"] - ref["energy"]) < 1e-10 * max(1.0, abs(ref["energy"]))
    np.testing.assert_allclose(out["forces"], ref["forces"][perm], atol=1e-10)
    np.testing.assert_allclose(out["energies"], ref["energies"][perm], atol=1e-10)


@pytest.mark.parametrize("name", sorted(ALL))
def test_supercell_energy_per_atom(name, family):
    atoms = ALL[name]()
    model, c = model_for(name, family)
    ref = predict(model, c, atoms)
    big = atoms * (2, 2, 2)
    out = predict(model, c, big)
    assert abs(out["energy"] / len(big) - ref["energy"] / len(atoms)) < 1e-10
    np.testing.assert_allclose(out["stress"], ref["stress"], atol=1e-12)
    np.testing.assert_allclose(out["forces"][: len(atoms)], ref["forces"], atol=1e-10)


def test_energy_and_force_go_smoothly_to_zero_at_cutoff(family):
    """A dimer: the interaction energy and force vanish continuously as r -> r_cut."""
    descriptor, radial_kind, degree = family
    model, c = make_model(kind=radial_kind, degree=degree, cutoff=4.0, family=descriptor)

    def dimer(r):
        a = Atoms("Cu2", positions=[[0, 0, 0], [r, 0, 0]], pbc=False)
        return predict(model, c, a)

    far = dimer(4.0)
    far2 = dimer(10.0)
    assert far["energy"] == pytest.approx(far2["energy"], abs=0)
    assert np.all(far["forces"] == 0)
    previous = first = None
    for eps in [3e-2, 3e-3, 3e-4, 3e-5]:  # the asymptotic regime: (r_c - r)^2 and (r_c - r)
        out = dimer(4.0 - eps)
        de = abs(out["energy"] - far["energy"])
        f = abs(out["forces"][0, 0])
        if previous is not None:
            assert de <= previous[0] * 0.05 and f <= previous[1] * 0.2
        else:
            first = (de, f)
            assert de > 0 and f > 0
        previous = (de, f)
    # energy ~ (r_c - r)^2, force ~ (r_c - r): three decades closer, 1e-6 and 1e-3 of where they started
    assert previous[0] < 1e-5 * first[0] and previous[1] < 1e-2 * first[1]


def test_descriptor_matches_brute_force(radial_kind):
    atoms = binary_cell()
    d = PairDescriptor(["Al", "Ni"], cutoff=5.0, radial={"kind": radial_kind, "n_basis": 5})
    out = d.compute(atoms.positions, atoms.numbers, atoms.cell.array, atoms.pbc)
    if radial_kind == "chebyshev":
        def basis(r):
            return chebyshev_basis(r, 5, 0.0, 5.0)
    else:
        def basis(r):
            return gaussian_basis(r, d.radial.centres, d.radial.width, 5.0)
    np.testing.assert_allclose(out.G, pair_features(atoms, ["Al", "Ni"], basis, 5.0), rtol=1e-11, atol=1e-12)


def test_polynomial_energy_matches_direct_products():
    atoms = binary_cell()
    model, c = make_model(elements=("Al", "Ni"), degree=3, n_basis=3)
    d = model.descriptor.compute(atoms.positions, atoms.numbers, atoms.cell.array, atoms.pbc)
    G = (d.G - model.feature_mean) / model.feature_scale
    expected = polynomial_energy(G, d.species, model.terms, c.reshape(2, -1))
    assert energy(model, c, atoms) == pytest.approx(expected, rel=1e-12)
    phi = polynomial_features(G, model.terms)
    assert phi.shape == (len(atoms), model.n_terms)
    # 6 features: 6 linear + 21 quadratic + 56 cubic monomials
    assert model.n_terms == 6 + 21 + 56


@pytest.mark.parametrize("name", sorted(ALL))
def test_design_rows_reproduce_predictions(name, family):
    """The fit's rows times the coefficients equal the model's energy, forces and stress."""
    atoms = ALL[name]()
    model, c = model_for(name, family)
    rows = model.design_rows(atoms.positions, atoms.numbers, atoms.cell.array, atoms.pbc)
    out = predict(model, c, atoms)
    assert rows.energy @ c == pytest.approx(out["energy"], rel=1e-12)
    np.testing.assert_allclose(rows.forces @ c, out["forces"].ravel(), atol=1e-11)
    np.testing.assert_allclose(rows.stress @ c, out["stress"], atol=1e-13)


def test_degree_one_model_is_a_pair_potential():
    """A linear model on pair features: E = sum over pairs of a pair function, so a dimer's energy
    in a large box equals twice the per-atom pair sum of an isolated pair."""
    model, c = make_model(degree=1, cutoff=5.0)
    c = c.copy()
    c[0] = 0.0
    dimer = Atoms("Cu2", positions=[[0, 0, 0], [2.5, 0, 0]], pbc=False)
    trimer = Atoms("Cu3", positions=[[0, 0, 0], [2.5, 0, 0], [20.0, 0, 0]], pbc=False)
    single = Atoms("Cu", positions=[[0, 0, 0]], pbc=False)
    e_pair = energy(model, c, dimer) - 2 * energy(model, c, single)
    e3 = energy(model, c, trimer) - 3 * energy(model, c, single)
    assert e3 == pytest.approx(e_pair, rel=1e-12)
    assert abs(e_pair) > 1e-6
