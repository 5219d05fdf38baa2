"""The fast kernels against their slow, obviously correct twins (tests/reference.py):

* the invariant descriptor (expansion + coupling kernels): features and their per-pair
  derivatives against a numpy twin from docs/invariants.md (scipy harmonics, the density
  expansion summed over brute-force neighbours, dense contraction with the committed coupling
  tensors; derivatives by finite differences of the twin), one and two elements, orders 1-6,
  compact and mixed radial indices, both radial bases, clusters and small periodic cells;
* the compiled evaluator (compile_tables + runtime, merged monomials): energies, per-atom
  energies, forces and stress against the straightforward route, E = sum_i [c0 + sum_t c_t
  prod_k g_k] over twin features, forces and stress by central differences of that energy,
  for pair, invariant and moment-tensor models of degrees 1 and 2 (moment tensors: 1).
"""

import numpy as np
import pytest
from ase import Atoms
from conftest import small_cell, triclinic_cell
from reference import (
    density_expansion,
    environments,
    features_direct,
    features_direct_many,
    invariant_definitions,
    invariants_of_expansions,
    moment_tensor_features_direct,
    pair_derivatives_fd,
    polynomial_atomic_energies,
    radial_functions,
    species_of,
)

from linpot.descriptors import InvariantDescriptor, MomentTensorDescriptor, PairDescriptor
from linpot.evaluator import CompiledPotential, supports
from linpot.models import PolynomialModel
from linpot.potential import Potential

CUTOFF = 4.6


def cluster(symbols, seed, n_neighbours=7):
    """A non-periodic cluster: atom 0 with neighbours at 1.6 .. 4.3 Å in random directions."""
    rng = np.random.default_rng(seed)
    directions = rng.normal(size=(n_neighbours, 3))
    directions /= np.linalg.norm(directions, axis=1)[:, None]
    positions = np.vstack([[0.0, 0.0, 0.0], directions * rng.uniform(1.6, 4.3, size=(n_neighbours, 1))])
    return Atoms([symbols[k % len(symbols)] for k in range(n_neighbours + 1)], positions=positions + 10.0,
                 cell=np.eye(3) * 20.0, pbc=False)


def small_binary_cell():
    atoms = small_cell()
    atoms.set_chemical_symbols(["Ni", "Al"])
    return atoms


def structures(elements):
    """A cluster, a strongly triclinic cell smaller than the cutoff, and a two-atom cell whose
    neighbours are nearly all periodic images of the two atoms."""
    if len(elements) == 1:
        cell = small_cell()
        cell.set_chemical_symbols([elements[0]] * len(cell))
        return {"cluster": cluster(elements, 1), "triclinic": triclinic_cell(seed=4, n_atoms=3, symbols=elements),
                "small": cell}
    if len(elements) == 3:
        return {"cluster": cluster(elements, 3), "triclinic": triclinic_cell(seed=6, n_atoms=5, symbols=elements)}
    return {"cluster": cluster(elements, 2), "triclinic": triclinic_cell(seed=5, n_atoms=4, symbols=elements),
            "small": small_binary_cell()}


# --- the invariant descriptor ------------------------------------------------------------------

#: compact invariants of every order 1-6 (orders 5 and 6 at l <= 2), and mixed radial indices
INVARIANTS = {
    "compact": dict(orders=[[1, 3, 0], [2, 3, 4], [3, 2, 3], [4, 2, 2], [5, 1, 2], [6, 1, 2]]),
    "mixed": dict(orders=[[1, 2, 0], [2, 2, 3], [3, 2, 2], [4, 2, 1]], mixed_orders=[2, 3, 4]),
}
RADIAL = {"chebyshev": {"kind": "chebyshev", "n_basis": 3},
          "gaussian": {"kind": "gaussian", "n_basis": 3, "r_min": 1.2, "width": 0.9}}


def twin_invariants_of_vectors(descriptor, neighbour_species):
    """The twin as a function of one environment's neighbour vectors (a batch of them)."""
    spec = descriptor.spec()
    n_species = len(spec["elements"])
    l_max = max(o[2] for o in spec["orders"])
    weights = (spec.get("channels") or {}).get("weights")
    definitions = invariant_definitions(spec["orders"], n_species if weights is None else len(weights),
                                        spec.get("mixed_orders") or (), spec.get("element_coupling", "compact"))

    def features(batch):
        a = density_expansion(np.array(batch), neighbour_species, n_species, spec["radial"], spec["cutoff"], l_max)
        return invariants_of_expansions(a, definitions, weights)

    return features


#: element-resolved invariants: complete (independent element channels), complete with mixed
#: radial indices, and two weighted element channels (properties) coupled compactly and completely
ELEMENT_RESOLVED = {
    "complete": dict(orders=[[1, 2, 0], [2, 2, 3], [3, 2, 2], [4, 1, 2]], element_coupling="complete"),
    "complete-mixed": dict(orders=[[1, 2, 0], [2, 2, 2], [3, 2, 1]], mixed_orders=[2, 3], element_coupling="complete"),
    "channels-compact": dict(orders=[[1, 2, 0], [2, 2, 3], [3, 2, 2], [4, 1, 2]],
                             channels={"kind": "properties", "n_channels": 2}),
    "channels-complete": dict(orders=[[1, 2, 0], [2, 2, 3], [3, 2, 2]], element_coupling="complete",
                              channels={"kind": "properties", "n_channels": 2}),
}


@pytest.mark.parametrize("elements", [("Cu",), ("Al", "Ni")], ids=["one-element", "two-elements"])
@pytest.mark.parametrize("radial", sorted(RADIAL))
@pytest.mark.parametrize("kind", sorted(INVARIANTS))
def test_invariant_kernel_equals_its_twin(kind, radial, elements):
    check_invariants_against_twin(InvariantDescriptor(list(elements), cutoff=CUTOFF, radial=RADIAL[radial],
                                                      **INVARIANTS[kind]))


@pytest.mark.parametrize("elements", [("Al", "Ni"), ("Al", "Ni", "Cu")], ids=["two-elements", "three-elements"])
@pytest.mark.parametrize("kind", sorted(ELEMENT_RESOLVED))
def test_element_resolved_invariants_equal_their_twin(kind, elements):
    check_invariants_against_twin(InvariantDescriptor(list(elements), cutoff=CUTOFF, radial=RADIAL["gaussian"],
                                                      **ELEMENT_RESOLVED[kind]))


def check_invariants_against_twin(d):
    """Features and per-pair derivatives of the kernel against the twin on :func:`structures`."""
    elements = tuple(d.elements)
    spec = d.spec()
    weights = (spec.get("channels") or {}).get("weights")
    assert d.n_features == len(invariant_definitions(spec["orders"], len(elements) if weights is None else len(weights),
                                                     spec["mixed_orders"], spec.get("element_coupling", "compact")))
    cases = structures(elements)
    fast = {name: d.compute(atoms.positions, atoms.numbers, atoms.cell.array, atoms.pbc) for name, atoms in cases.items()}
    twin = {name: features_direct(d.spec(), atoms.positions, atoms.numbers, atoms.cell.array, atoms.pbc)
            for name, atoms in cases.items()}
    # each invariant on the scale of its largest value over all the structures (some nearly vanish
    # on the nearly fcc two-atom cell)
    scale = np.abs(np.concatenate(list(twin.values()))).max(axis=0)
    assert np.all(scale > 1e-8)  # none vanishes identically
    for name in cases:
        np.testing.assert_allclose(fast[name].G / scale, twin[name] / scale, rtol=0, atol=1e-12, err_msg=name)
    compare_pair_derivatives(d, cases, fast, lambda neighbours: twin_invariants_of_vectors(d, neighbours))


def compare_pair_derivatives(d, cases, fast, twin_of_vectors):
    """dG_i/dr_ij of the kernel for every pair of one atom per structure (the cluster's centre)
    against five-point differences of the twin, each feature on the scale of its largest
    derivative over the structures."""
    fd, kernel = [], []
    for name, atoms in cases.items():
        i = 0 if name == "cluster" else len(atoms) - 1
        vectors, j = environments(atoms.positions, atoms.cell.array, atoms.pbc, d.cutoff)[i]
        species = species_of(atoms.numbers, d.elements)
        twin = pair_derivatives_fd(twin_of_vectors(species[j]), vectors)
        pairs, dG = fast[name].pairs, fast[name].dG
        mine = np.nonzero(pairs.i == i)[0]
        assert len(mine) == len(vectors), name
        for p in mine:
            q = np.nonzero((j == pairs.j[p]) & (np.abs(vectors - pairs.vectors[p]).max(axis=1) < 1e-9))[0]
            assert len(q) == 1, (name, p)
            fd.append(twin[q[0]])
            kernel.append(dG[p])
    fd, kernel = np.array(fd), np.array(kernel)
    scale = np.abs(fd).max(axis=(0, 2))
    assert np.all(scale > 1e-8)
    np.testing.assert_allclose(kernel / scale[:, None], fd / scale[:, None], rtol=0, atol=1e-8)


def test_twin_orders_one_and_two_are_the_pair_density_and_power_spectrum():
    """The twin itself against docs/invariants.md without harmonics: order 1 is Y_00 times the pair
    density, order 2 the power spectrum sum_m a_lm^2 / sqrt(2l + 1), which by the addition theorem
    is sum_jk f_n(r_j) f_n(r_k) (2l + 1) / (4 pi) P_l(cos theta_jk) / sqrt(2l + 1). Coupling tensors
    have unit norm and a sign of their own, so magnitudes are compared."""
    rng = np.random.default_rng(7)
    vectors = rng.normal(size=(9, 3)) * 2.0
    r = np.linalg.norm(vectors, axis=1)
    cos = np.clip((vectors @ vectors.T) / np.outer(r, r), -1.0, 1.0)
    for radial in RADIAL.values():
        a = density_expansion(vectors, np.zeros(9, dtype=int), 1, radial, 6.0, 4)
        B = invariants_of_expansions(a[None], invariant_definitions([[1, 3, 0], [2, 3, 4]], 1))[0]
        f = radial_functions(r, radial, 6.0)
        np.testing.assert_allclose(np.abs(B[:3]), np.abs(f.sum(axis=0)) / np.sqrt(4 * np.pi), rtol=1e-12)
        expected = [f[:, n] @ np.polynomial.legendre.legval(cos, np.eye(l + 1)[l]) @ f[:, n] * np.sqrt(2 * l + 1) / (4 * np.pi)
                    for l in range(5) for n in range(3)]
        np.testing.assert_allclose(np.abs(B[3:]), np.abs(expected), rtol=1e-11)


def test_moment_tensor_kernel_equals_its_twin():
    d = MomentTensorDescriptor(["Al", "Ni"], cutoff=CUTOFF, radial=RADIAL["chebyshev"], level_max=10, nu_max=4,
                               max_factors=3, mu_weight=2)
    spec = d.spec()
    cases = structures(("Al", "Ni"))
    fast = {name: d.compute(atoms.positions, atoms.numbers, atoms.cell.array, atoms.pbc) for name, atoms in cases.items()}
    twin = {name: features_direct(spec, atoms.positions, atoms.numbers, atoms.cell.array, atoms.pbc)
            for name, atoms in cases.items()}
    scale = np.abs(np.concatenate(list(twin.values()))).max(axis=0)
    assert np.all(scale > 1e-8)
    for name in cases:
        np.testing.assert_allclose(fast[name].G / scale, twin[name] / scale, rtol=0, atol=1e-12, err_msg=name)

    def twin_of_vectors(neighbour_species):
        return lambda batch: moment_tensor_features_direct([(v, np.arange(len(v))) for v in batch], neighbour_species, 2,
                                                           spec["radial"], d.cutoff, 10, 4, 3, 2)

    compare_pair_derivatives(d, cases, fast, twin_of_vectors)


# --- the compiled evaluator --------------------------------------------------------------------


def descriptor_for(family, elements, radial):
    if family == "pair":
        return PairDescriptor(list(elements), cutoff=CUTOFF, radial=RADIAL[radial])
    if family == "moment-tensors":
        return MomentTensorDescriptor(list(elements), cutoff=CUTOFF, radial=RADIAL[radial], level_max=10, nu_max=4,
                                      max_factors=3, mu_weight=2)
    return InvariantDescriptor(list(elements), cutoff=CUTOFF, radial=RADIAL[radial], **INVARIANTS["compact"])


#: (family, elements, radial basis, degree, product_orders) of every model compared
MODELS = {
    "pair-Cu-deg1": ("pair", ("Cu",), "chebyshev", 1, None),
    "pair-AlNi-deg2": ("pair", ("Al", "Ni"), "gaussian", 2, None),
    "invariants-Cu-deg1": ("invariants", ("Cu",), "gaussian", 1, None),
    "invariants-AlNi-deg1": ("invariants", ("Al", "Ni"), "chebyshev", 1, None),
    "invariants-Cu-deg2": ("invariants", ("Cu",), "chebyshev", 2, None),
    "invariants-AlNi-deg2-products12": ("invariants", ("Al", "Ni"), "gaussian", 2, [1, 2]),
    "moment-tensors-AlNi-deg1": ("moment-tensors", ("Al", "Ni"), "chebyshev", 1, None),
}


def random_potential(family, elements, radial, degree, product_orders, seed=0):
    """A potential with random standardisation and coefficients, a fifth of them zero (the
    compiler prunes zeros, and a zero weight must not drop a feature used elsewhere)."""
    model = PolynomialModel(descriptor_for(family, elements, radial), degree=degree, product_orders=product_orders)
    rng = np.random.default_rng(seed)
    n = model.descriptor.n_features
    model.standardise(rng.uniform(0.5, 3.0, n) * rng.choice([-1, 1], n), rng.uniform(1.0, 4.0, n))
    c = rng.normal(scale=0.05, size=model.n_coefficients)
    c[rng.uniform(size=c.size) < 0.2] = 0.0
    return Potential(model, c)


def twin_energies(potential, geometries, numbers, pbc):
    """Per-atom energies of each geometry by the straightforward route."""
    model = potential.model
    species = species_of(numbers, model.elements)
    out = []
    for G in features_direct_many(model.descriptor.spec(), geometries, numbers, pbc):
        g = (G - model.feature_mean) / model.feature_scale
        out.append(polynomial_atomic_energies(g, species, model.terms, potential.coefficients))
    return out


def twin_predict(potential, atoms, h=1e-5):
    """Energy, per-atom energies, forces (-dE/dx) and stress ((1/V) dE/d strain, positive tensile)
    of the twin, by central differences."""
    positions, cell = atoms.positions, atoms.cell.array
    geometries = [(positions, cell)]
    for a in range(len(atoms)):
        for x in range(3):
            for sign in (1, -1):
                p = positions.copy()
                p[a, x] += sign * h
                geometries.append((p, cell))
    periodic = bool(np.all(atoms.pbc))
    if periodic:
        for a, b in ((0, 0), (1, 1), (2, 2), (1, 2), (0, 2), (0, 1)):
            for sign in (1, -1):
                strain = np.eye(3)
                strain[a, b] += sign * h / (1 if a == b else 2)
                strain[b, a] = strain[a, b]
                geometries.append((positions @ strain, cell @ strain))
    E = twin_energies(potential, geometries, atoms.numbers, atoms.pbc)
    total = np.array([e.sum() for e in E])
    out = {"energy": total[0], "energies": E[0]}
    n = 3 * len(atoms)
    out["forces"] = -((total[1:n * 2 + 1:2] - total[2:n * 2 + 2:2]) / (2 * h)).reshape(len(atoms), 3)
    if periodic:
        s = total[n * 2 + 1:]
        out["stress"] = (s[0::2] - s[1::2]) / (2 * h) / abs(np.linalg.det(cell))
    return out


@pytest.mark.parametrize("name", sorted(MODELS))
def test_compiled_evaluator_equals_its_twin(name):
    family, elements, radial, degree, product_orders = MODELS[name]
    potential = random_potential(family, elements, radial, degree, product_orders, seed=len(name))
    assert supports(potential)
    compiled = CompiledPotential(potential)
    for structure, atoms in structures(elements).items():
        args = (atoms.positions, atoms.numbers, atoms.cell.array, atoms.pbc)
        fast = compiled.predict(*args)
        twin = twin_predict(potential, atoms)
        assert fast["energy"] == pytest.approx(twin["energy"], rel=1e-10, abs=1e-10), structure
        np.testing.assert_allclose(fast["energies"], twin["energies"], rtol=1e-10, atol=1e-10, err_msg=structure)
        f_scale = max(1.0, np.abs(twin["forces"]).max())
        np.testing.assert_allclose(fast["forces"], twin["forces"], rtol=0, atol=1e-6 * f_scale, err_msg=structure)
        assert ("stress" in fast) == bool(np.all(atoms.pbc))
        if "stress" in fast:
            s_scale = max(1e-3, np.abs(twin["stress"]).max())
            np.testing.assert_allclose(fast["stress"], twin["stress"], rtol=0, atol=1e-6 * s_scale, err_msg=structure)
        # and what a Potential predicts is the compiled evaluator's answer
        assert potential.predict(*args)["energy"] == fast["energy"]
