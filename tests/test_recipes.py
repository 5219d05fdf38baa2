"""The shipped fit recipes load and describe valid models; the shipped fitted potentials load
and still predict their own test data (a guard against format or model changes that would
silently break them)."""

import re
from itertools import combinations_with_replacement
from math import comb
from pathlib import Path

import numpy as np
import pytest
from reference import trivial_multiplicity

from linpot.fit import build_model
from linpot.fit.config import committee_member_config, load_config, load_preset, preset_names
from linpot.potential import Potential
from linpot.potential.committee import CommitteePotential
from linpot.structures import read_structures

REPO = Path(__file__).resolve().parents[1]
RECIPES = sorted((REPO / "fits").glob("*.toml"))
POTENTIALS = sorted((REPO / "fits").glob("*.json"))


#: Moment-tensor basis sizes stated in docs/families.md (the basis is found numerically, so it
#: has no closed-form count): (level_max, mu_weight, n_basis, nu_max, max_factors, elements) -> size
MOMENT_TENSOR_SIZES = {(12, 1, 8, 6, 6, 1): 153, (16, 1, 8, 6, 6, 1): 892, (16, 1, 8, 6, 6, 2): 8790}


def expected_features(descriptor: dict, n_elements: int) -> tuple[int, dict]:
    """Number of descriptor features from the spec's definition (docs/pair_model.md,
    docs/invariants.md, docs/families.md), and how many there are of each order."""
    kind, E = descriptor["kind"], n_elements
    if kind == "pair":
        n = E * descriptor["radial"]["n_basis"]
        return n, {1: n}
    if kind == "invariants":
        assert not descriptor.get("mixed_orders")
        # per channel (element, radial index): one invariant per copy of the trivial representation
        # of O(3) in each multiset's symmetrised product (characters, not the coupling trees)
        by_order = {}
        for p, n_max, l_max in descriptor["orders"]:
            if descriptor.get("element_coupling") == "complete":
                # per radial index: each multiset of factors (l, element), equal ones one vector
                items = [(l, s) for l in range(l_max + 1) for s in range(E)]
                per_radial = sum(trivial_multiplicity([l for l, _ in combo], [s for _, s in combo])
                                 for combo in combinations_with_replacement(items, p))
                by_order[p] = n_max * per_radial
                continue
            per_channel = sum(trivial_multiplicity(ls) for ls in combinations_with_replacement(range(l_max + 1), p))
            by_order[p] = E * n_max * per_channel
        return sum(by_order.values()), by_order
    if kind == "angular-fourier":
        N, L = descriptor["radial"]["n_basis"], descriptor["l_max"] + 1
        same = N * (N + 1) // 2 if descriptor.get("mixed_radial") else N  # radial pairs of one element pair s1 = s2
        other = N * N if descriptor.get("mixed_radial") else N  # s1 < s2
        n = L * (E * same + comb(E, 2) * other)
        return n, {2: n}
    if kind == "symmetry-functions":
        g2 = len(descriptor["g2"]["eta"]) * len(descriptor["g2"]["r_s"])
        g4 = len(descriptor["g4"]["eta"]) * len(descriptor["g4"]["zeta"]) * len(descriptor["g4"]["lambda"])
        return E * g2 + E * (E + 1) // 2 * g4, {1: E * g2, 2: E * (E + 1) // 2 * g4}
    if kind == "snap":
        # LAMMPS's count of bispectrum components for even 2J = 2m: (m+1)(m+2)(2m+3)/6, one set for all elements
        assert descriptor["twojmax"] % 2 == 0
        m = descriptor["twojmax"] // 2
        n = (m + 1) * (m + 2) * (2 * m + 3) // 6
        return n, {3: n}
    if kind == "moment-tensors":
        key = (descriptor["level_max"], descriptor["mu_weight"], descriptor["radial"]["n_basis"], descriptor["nu_max"],
               descriptor["max_factors"], E)
        return MOMENT_TENSOR_SIZES[key], {}
    raise AssertionError(f"no count for descriptor kind {kind}")


def expected_coefficients(config: dict, elements) -> int:
    """Per element: a constant and one coefficient per monomial of degree 1..D of the features,
    products of degree >= 2 only among the features of ``product_orders`` (all by default):
    F + sum_{d=2..D} C(P + d - 1, d) monomials (docs/pair_model.md: C(F + D, D) with the constant)."""
    n_features, by_order = expected_features(config["descriptor"], len(elements))
    degree = config["model"].get("degree", 2)
    orders = config["model"].get("product_orders")
    pool = n_features if orders is None else sum(by_order.get(p, 0) for p in orders)
    monomials = n_features + sum(comb(pool + d - 1, d) for d in range(2, degree + 1))
    return len(elements) * (1 + monomials)


def test_the_counts_agree_with_the_documented_ones():
    """The counting rules above against numbers stated in the docs."""
    assert expected_coefficients({"descriptor": {"kind": "pair", "radial": {"n_basis": 10}}, "model": {"degree": 3}},
                                 ["Cu"]) == 286  # docs/pair_model.md
    counts = {p: expected_features({"kind": "invariants", "orders": [[p, 1, l]]}, 1)[0]
              for p, l in ((1, 0), (2, 12), (3, 12), (4, 8), (5, 4), (6, 4))}
    assert counts == {1: 1, 2: 13, 3: 140, 4: 567, 5: 154, 6: 510}  # docs/invariants.md
    assert expected_features({"kind": "snap", "twojmax": 6}, 1)[0] == 30  # docs/families.md


def recipe_members(recipe):
    config = load_config(recipe)
    return [committee_member_config(config, m) for m in config["committee"]] if "committee" in config else [config]


@pytest.mark.parametrize("recipe", RECIPES, ids=lambda p: p.name)
def test_recipe_is_valid(recipe):
    config = load_config(recipe)
    for path in config["data"]["train"] + config["data"]["test"]:
        assert Path(path).is_file(), path
    for member in recipe_members(recipe):
        assert build_model(member, ["Cu"]).n_coefficients == expected_coefficients(member, ["Cu"])


@pytest.mark.parametrize("recipe", RECIPES, ids=lambda p: p.name)
def test_recipe_describes_the_shipped_potential_of_its_name(recipe):
    """The potential fitted from each recipe (fits/NAME.json) has the recipe's model: the same
    number of coefficients per member, and the same descriptor and model settings."""
    pot = Potential.load(recipe.with_suffix(".json"))
    fitted = pot.members if isinstance(pot, CommitteePotential) else [pot]
    members = recipe_members(recipe)
    assert len(fitted) == len(members)
    for member, shipped in zip(members, fitted):
        model = build_model(member, shipped.elements)
        assert shipped.coefficients.size == model.n_coefficients == expected_coefficients(member, shipped.elements)
        assert shipped.model.descriptor.spec() == model.descriptor.spec()
        assert shipped.model.degree == model.degree and shipped.model.product_orders == model.product_orders


@pytest.mark.parametrize("name", preset_names())
def test_preset_is_valid(name):
    preset = load_preset(name)
    assert build_model(preset, ["Cu"]).n_coefficients == expected_coefficients(preset, ["Cu"])
    if preset["descriptor"]["kind"] != "moment-tensors":  # no documented two-element count at the preset's level
        assert build_model(preset, ["Cu", "Ni"]).n_coefficients == expected_coefficients(preset, ["Cu", "Ni"])


@pytest.mark.parametrize("path", POTENTIALS, ids=lambda p: p.name)
def test_shipped_potential_predicts_its_test_data(path):
    pot = Potential.load(path)
    # fits/<source>-<system>[-variant].json: the test split of data/<source>/<system> (an element, or
    # the elements of a multi-element set, e.g. NbMo)
    source, system = path.stem.split("-")[:2]
    assert set(pot.elements) == set(re.findall("[A-Z][a-z]?", system))
    test = read_structures(REPO / "data" / source / system / "test.xyz")
    squared, count = 0.0, 0
    for k in range(0, len(test), 8):
        s = test.atom_slice(k)
        out = pot.predict(test.positions[s], test.numbers[s], test.cells[k], test.pbc[k])
        n = s.stop - s.start
        assert abs(out["energy"] - test.energy[k]) / n < 0.03  # eV/atom
        squared += float(np.sum((out["forces"] - test.forces[s]) ** 2))
        count += 3 * n
    # a sanity bound, far above every shipped model's test RMSE (the worst, linear SNAP on Mo, 0.27 eV/Å)
    assert np.sqrt(squared / count) < 0.5


@pytest.mark.parametrize("path", POTENTIALS, ids=lambda p: p.name)
def test_info_describes_every_shipped_potential(path, capsys):
    from linpot.cli import main

    assert main(["info", str(path)]) == 0
    out = capsys.readouterr().out
    pot = Potential.load(path)
    if isinstance(pot, CommitteePotential):
        assert f"committee      {len(pot.members)} members" in out
        assert all(f"{m.model.descriptor.kind}, cutoff" in out for m in pot.members)
    else:
        assert pot.model.descriptor.kind in out and f"n_features     {pot.n_features}" in out
    assert main(["info", str(path), "--json"]) == 0
