"""Formation energies and the lower convex hull (``linpot.analysis.hull``, ``linpot hull``).

The hull is checked on a binary set placed by hand (vertices, a point on a facet, points above it
by known distances), on random ternary and quaternary sets against a brute-force twin (the hull
energy at x is the lowest interpolated energy over every simplex of data points containing x),
on degenerate inputs, and end to end through the command line with an EMT-labelled Cu-Ag set and
a small fitted potential. Nothing here reads ../shared.
"""

from __future__ import annotations

import itertools
import json

import ase.io
import numpy as np
import pytest
from ase.build import bulk
from ase.calculators.emt import EMT
from ase.calculators.singlepoint import SinglePointCalculator

from linpot.analysis import hull as H
from linpot.cli import main
from linpot.errors import LinpotInputError
from linpot.fit import fit_potential
from linpot.fit.config import load_config, merge
from linpot.structures import Dataset

# ---------------------------------------------------------------------------------------------
# the slow, obviously correct twin


def brute_hull_energy(fractions, e_f, x, exclude=()):
    """min over every simplex (1 ... m points) of the data whose convex hull contains ``x`` of the
    energy interpolated there (Carathéodory: m points suffice in an (m-1)-dimensional simplex)."""
    fractions, e_f, x = np.asarray(fractions, float), np.asarray(e_f, float), np.asarray(x, float)
    keep = [k for k in range(len(e_f)) if k not in set(exclude)]
    best = np.inf
    m = fractions.shape[1]
    for size in range(1, m + 1):
        for subset in itertools.combinations(keep, size):
            p = fractions[list(subset)]  # (size, m); x = lam @ p, lam >= 0, sum lam = 1
            a = np.vstack([p.T, np.ones(size)])
            lam, *_ = np.linalg.lstsq(a, np.append(x, 1.0), rcond=None)
            if np.abs(a @ lam - np.append(x, 1.0)).max() < 1e-10 and lam.min() > -1e-10:
                best = min(best, float(lam @ e_f[list(subset)]))
    return best


def brute_vertices(fractions, e_f, tol=H.ON_HULL_TOL):
    """Points on the hull that are no convex combination of the others: strictly below the hull
    without them, or the lowest of the points at a pure corner (nothing else reaches a corner)."""
    fractions, e_f = np.asarray(fractions, float), np.asarray(e_f, float)
    out = set()
    for k in range(len(e_f)):
        same = [j for j in range(len(e_f)) if np.allclose(fractions[j], fractions[k])]
        if min(same, key=lambda j: (e_f[j], j)) != k:
            continue  # only the lowest (first) point of a composition can be a vertex
        without = brute_hull_energy(fractions, e_f, fractions[k], exclude=same)
        if e_f[k] < without - tol:  # inf for a pure corner
            out.add(k)
    return out


# ---------------------------------------------------------------------------------------------
# a binary placed by hand

#: (x_B, E_f in eV/atom, distance or "vertex"): the lower hull is 0 -> (0.25, -0.3) -> (0.5, -0.4) ->
#: (0.75, -0.25) -> 1 (slopes -1.2, -0.4, 0.6, 1.0)
BINARY = [
    (0.0, 0.0, "vertex"),          # 0: pure A, its reference
    (1.0, 0.0, "vertex"),          # 1: pure B, its reference
    (0.25, -0.3, "vertex"),        # 2
    (0.5, -0.4, "vertex"),         # 3
    (0.75, -0.25, "vertex"),       # 4
    (0.375, -0.35, 0.0),           # 5: on the facet between 2 and 3, not a vertex
    (0.6, -0.34 + 0.05, 0.05),     # 6: hull at 0.6 is -0.4 + 0.1 * 0.6 = -0.34; 50 meV above
    (0.5, -0.1, 0.3),              # 7: the same composition as vertex 3, 0.3 above
    (1.0, 0.2, 0.2),               # 8: a higher pure-B structure
    (0.0, 0.125, 0.125),           # 9: a higher pure-A structure
    (0.875, -0.125 + 0.01, 0.01),  # 10: hull at 0.875 is -0.25 + 0.125 = -0.125; 10 meV above
    (0.625, -0.4 + 0.125 * 0.6, 0.0),  # 11: on the facet between 3 and 4, not a vertex
]


def binary_set(mu=(-3.0, -5.0), n_atoms=40):
    """Counts and total energies whose formation energies are BINARY's, with chemical
    potentials ``mu`` (the energies are on an arbitrary total-energy scale)."""
    x = np.array([b[0] for b in BINARY])
    n_b = np.rint(x * n_atoms).astype(int)
    assert np.array_equal(n_b / n_atoms, x)  # every placed composition is one of n_atoms atoms
    counts = np.column_stack([n_atoms - n_b, n_b])
    e_f = np.array([b[1] for b in BINARY])
    energy = n_atoms * e_f + counts @ np.asarray(mu)
    return counts, energy, e_f


def test_binary_formation_energies_and_hull_known_by_construction():
    counts, energy, e_f = binary_set()
    mu, ref = H.chemical_potentials(energy, counts, ["A", "B"])
    assert np.allclose(mu, [-3.0, -5.0], atol=1e-12) and ref == [0, 1]
    computed = H.formation_energies(energy, counts, mu)
    assert np.allclose(computed, e_f, atol=1e-12)
    fractions = counts / counts.sum(axis=1, keepdims=True)
    hull = H.lower_hull(fractions, computed)
    assert sorted(hull.vertices.tolist()) == [k for k, b in enumerate(BINARY) if b[2] == "vertex"]
    expected = np.array([0.0 if b[2] == "vertex" else b[2] for b in BINARY])
    assert np.allclose(H.hull_distances(hull, fractions, computed), expected, atol=1e-12)
    # the hull between the vertices is piecewise linear
    for x_b, e in ((0.125, -0.15), (0.4, -0.36), (0.7, -0.28), (0.9, -0.1)):
        assert hull.energy([[1 - x_b, x_b]])[0] == pytest.approx(e, abs=1e-12)


def test_chemical_potential_is_the_lowest_pure_structure_per_atom():
    # pure A: 2 atoms at -6.2 (-3.1/atom) and 4 atoms at -12.0 (-3.0/atom); pure B: 1 atom
    counts = np.array([[2, 0], [4, 0], [0, 1], [1, 1]])
    energy = np.array([-6.2, -12.0, -5.0, -9.0])
    mu, ref = H.chemical_potentials(energy, counts, ["A", "B"])
    assert np.allclose(mu, [-3.1, -5.0]) and ref == [0, 2]
    assert H.formation_energies(energy, counts, mu)[3] == pytest.approx((-9.0 + 3.1 + 5.0) / 2)


def test_missing_pure_element_is_named():
    counts = np.array([[2, 0], [1, 1]])
    with pytest.raises(LinpotInputError, match="no structure of pure B"):
        H.chemical_potentials(np.array([-6.0, -8.0]), counts, ["A", "B"])


# ---------------------------------------------------------------------------------------------
# ternary and quaternary against the brute force


def random_set(m, n_mixed, seed, n_atoms=6):
    """Pure corners at 0 (and one higher pure structure each), ``n_mixed`` random compositions of
    ``n_atoms`` atoms (repeats allowed) with random formation energies, some on edges and faces."""
    rng = np.random.default_rng(seed)
    counts = [np.eye(m, dtype=int)[j] * n_atoms for j in range(m)] * 2
    e_f = [0.0] * m + list(rng.uniform(0.01, 0.2, m))
    for _ in range(n_mixed):
        c = rng.multinomial(n_atoms, rng.dirichlet(np.full(m, 0.7)))
        if c.max() == n_atoms:
            continue
        counts.append(c)
        e_f.append(float(rng.uniform(-0.3, 0.1)))
    counts = np.array(counts)
    return counts / n_atoms, np.array(e_f)


@pytest.mark.parametrize("m,n_mixed,seed", [(3, 18, 0), (3, 18, 1), (3, 25, 2), (4, 10, 3)])
def test_hull_matches_brute_force(m, n_mixed, seed):
    fractions, e_f = random_set(m, n_mixed, seed)
    hull = H.lower_hull(fractions, e_f)
    brute = np.array([brute_hull_energy(fractions, e_f, x) for x in fractions])
    assert np.allclose(hull.energy(fractions), brute, atol=1e-10)
    assert np.allclose(H.hull_distances(hull, fractions, e_f), e_f - brute, atol=1e-10)
    assert set(hull.vertices.tolist()) == brute_vertices(fractions, e_f)
    # and at compositions that are not data points
    rng = np.random.default_rng(seed + 100)
    queries = rng.dirichlet(np.ones(m), size=6)
    assert np.allclose(hull.energy(queries), [brute_hull_energy(fractions, e_f, q) for q in queries], atol=1e-10)


def test_ternary_with_a_point_on_an_edge_and_one_inside_a_facet():
    # corners at 0; AB at -0.2 (a vertex on the A-B edge); ABC at -0.1: above the plane? the facet
    # A-B-C-AB plane at (1/3,1/3,1/3) is -0.2 * (the AB weight): x = 1/3 A + 1/3 B + 1/3 C
    # = (2/3) AB + (1/3) C, so the hull there is -0.2 * 2/3 = -0.1333; ABC at -0.1 is 33.3 meV above
    fractions = np.array([[1, 0, 0], [0, 1, 0], [0, 0, 1], [0.5, 0.5, 0], [1 / 3, 1 / 3, 1 / 3],
                          [0.25, 0.25, 0.5]])
    e_f = np.array([0.0, 0.0, 0.0, -0.2, -0.1, -0.1])  # (1/4,1/4,1/2) = 1/2 AB + 1/2 C: on the hull
    hull = H.lower_hull(fractions, e_f)
    assert sorted(hull.vertices.tolist()) == [0, 1, 2, 3]
    assert np.allclose(H.hull_distances(hull, fractions, e_f), [0, 0, 0, 0, 0.1 / 3, 0], atol=1e-12)


def test_a_vertex_is_more_than_the_tolerance_below_the_others():
    # (0.5, -0.2) is a corner; (0.25, -0.1 - d) lies d below the segment from pure A to it
    fractions = np.array([[1.0, 0.0], [0.0, 1.0], [0.5, 0.5], [0.75, 0.25]])
    for d, corner in ((0.1 * H.ON_HULL_TOL, False), (10 * H.ON_HULL_TOL, True)):
        e_f = np.array([0.0, 0.0, -0.2, -0.1 - d])
        hull = H.lower_hull(fractions, e_f)
        assert (3 in hull.vertices.tolist()) == corner
        assert (3 in brute_vertices(fractions, e_f)) == corner
        assert H.hull_distances(hull, fractions, e_f)[3] == pytest.approx(0.0, abs=1e-12)
        assert hull.energy([[0.75, 0.25]])[0] == pytest.approx(-0.1 - d, abs=1e-12)


@pytest.mark.parametrize("m", [1, 2, 3])
def test_degenerate_inputs(m):
    # only pure structures: the hull is E_f = 0, its vertices the references
    fractions = np.vstack([np.eye(m), np.eye(m)])
    e_f = np.concatenate([np.zeros(m), np.full(m, 0.05)])
    hull = H.lower_hull(fractions, e_f)
    assert sorted(hull.vertices.tolist()) == list(range(m))
    assert np.allclose(H.hull_distances(hull, fractions, e_f), e_f)
    if m >= 2:
        # mixed points exactly on the zero plane, all collinear for a binary: on the hull, no vertices
        mixed = np.array([[0.5, 0.5] + [0] * (m - 2), [0.25, 0.75] + [0] * (m - 2)])
        hull = H.lower_hull(np.vstack([fractions, mixed]), np.concatenate([e_f, [0.0, 0.0]]))
        assert sorted(hull.vertices.tolist()) == list(range(m))
        assert np.allclose(hull.energy(mixed), 0.0, atol=1e-12)


def test_hull_needs_every_pure_corner():
    with pytest.raises(LinpotInputError, match="no pure structure"):
        H.lower_hull(np.array([[1.0, 0.0], [0.5, 0.5]]), np.array([0.0, -0.1]))


# ---------------------------------------------------------------------------------------------
# structures, the command line


def emt_labelled(atoms, config_type):
    atoms = atoms.copy()
    atoms.calc = EMT()
    e, f, s = atoms.get_potential_energy(), atoms.get_forces(), atoms.get_stress()
    atoms.calc = SinglePointCalculator(atoms, energy=e, forces=f, stress=s)
    atoms.info["config_type"] = config_type
    return atoms


def cu_ag_frames(seed=0):
    """Pure Cu and Ag (strained, rattled) and random Cu-Ag fcc cells of 8 atoms, EMT-labelled."""
    rng = np.random.default_rng(seed)
    frames = []
    for symbol, a in (("Cu", 3.61), ("Ag", 4.09)):
        for k in range(4):
            atoms = bulk(symbol, "fcc", a=a * (1 + 0.015 * (k - 1)), cubic=True) * (1, 1, 2)
            if k:
                atoms.positions += 0.05 * rng.normal(size=atoms.positions.shape)
            frames.append(emt_labelled(atoms, f"{symbol}_bulk"))
    for k in range(14):
        n_ag = 1 + k % 7
        atoms = bulk("Cu", "fcc", a=3.61 + (4.09 - 3.61) * n_ag / 8, cubic=True) * (1, 1, 2)
        symbols = np.array(["Cu"] * 8)
        symbols[rng.choice(8, n_ag, replace=False)] = "Ag"
        atoms.set_chemical_symbols(symbols.tolist())
        atoms.positions += 0.03 * rng.normal(size=atoms.positions.shape)
        frames.append(emt_labelled(atoms, "CuAg_random"))
    return frames


SMALL = {"descriptor": {"kind": "pair", "cutoff": 4.5, "radial": {"kind": "chebyshev", "n_basis": 4}},
         "model": {"kind": "polynomial", "degree": 2}, "fit": {"seed": 0}}


@pytest.fixture(scope="module")
def cu_ag(tmp_path_factory):
    folder = tmp_path_factory.mktemp("cuag")
    frames = cu_ag_frames()
    data = folder / "cuag.xyz"
    ase.io.write(data, frames, format="extxyz")
    potential, _ = fit_potential(Dataset.from_atoms(frames, path=str(data)), merge(load_config(None), SMALL))
    pot = folder / "cuag.json"
    potential.save(pot)
    return data, pot, frames, potential


def test_cli_end_to_end(cu_ag, tmp_path, capsys):
    data, pot, frames, potential = cu_ag
    out = tmp_path / "hull"
    assert main(["hull", str(pot), str(data), "-o", str(out)]) == 0
    assert "## DFT hull vertices" in capsys.readouterr().out
    record = json.loads((out / "hull.json").read_text())
    assert (out / "hull.md").read_text().startswith("# Formation energies and convex hull")
    assert (out / "hull.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert record["elements"] == ["Cu", "Ag"]
    s = record["structures"]
    assert len(s) == len(frames) and [r["config_type"] for r in s] == [a.info["config_type"] for a in frames]

    # DFT formation energies recomputed here from the EMT energies
    per_atom = np.array([a.get_potential_energy() / len(a) for a in frames])
    n_ag = np.array([a.get_chemical_symbols().count("Ag") for a in frames])
    n = np.array([len(a) for a in frames])
    pure_cu, pure_ag = n_ag == 0, n_ag == n
    mu_cu, mu_ag = per_atom[pure_cu].min(), per_atom[pure_ag].min()
    e_f = per_atom - ((n - n_ag) * mu_cu + n_ag * mu_ag) / n
    assert np.allclose([r["e_f_dft"] for r in s], e_f, atol=1e-10)
    assert record["chemical_potentials"]["dft"]["Ag"]["mu_eV_per_atom"] == pytest.approx(mu_ag, abs=1e-12)
    # the model's, from its own energies and its own references
    model = np.array([potential.predict_atoms(a)["energy"] / len(a) for a in frames])
    mu_model = model[pure_cu].min(), model[pure_ag].min()
    e_f_model = model - ((n - n_ag) * mu_model[0] + n_ag * mu_model[1]) / n
    assert np.allclose([r["e_f_model"] for r in s], e_f_model, atol=1e-9)
    # distances against the brute-force twin; vertices
    fractions = np.column_stack([(n - n_ag) / n, n_ag / n])
    for what, values in (("dft", e_f), ("model", e_f_model)):
        brute = np.array([brute_hull_energy(fractions, values, x) for x in fractions])
        assert np.allclose([r[f"distance_{what}"] for r in s], values - brute, atol=1e-9)
        assert min(r[f"distance_{what}"] for r in s) >= 0.0
        vertices = record["vertices"][what]
        assert {tuple(fractions[v]) for v in vertices} == {tuple(fractions[v]) for v in brute_vertices(fractions, values)}
        assert all(s[v][f"on_hull_{what}"] for v in vertices)
    # errors per config_type, meV/atom
    err = record["errors"]["by_config_type"]["CuAg_random"]
    mixed = n_ag % n != 0
    assert err["n_structures"] == int(mixed.sum())
    assert err["e_f_mae"] == pytest.approx(1000 * np.abs(e_f_model - e_f)[mixed].mean(), abs=1e-5)  # xyz rounding


def test_cli_config_type_selection(cu_ag, tmp_path):
    data, pot, frames, _ = cu_ag
    out = tmp_path / "hull"
    assert main(["-q", "hull", str(pot), str(data), "--config-type", "Cu_bulk", "Ag_bulk", "-o", str(out)]) == 0
    record = json.loads((out / "hull.json").read_text())
    assert {r["config_type"] for r in record["structures"]} == {"Cu_bulk", "Ag_bulk"}
    assert len(record["structures"]) == 8


def test_cli_missing_pure_element_is_one_line(cu_ag, tmp_path, capsys):
    data, pot, frames, _ = cu_ag
    no_ag = tmp_path / "no_ag.xyz"
    ase.io.write(no_ag, [a for a in frames if a.info["config_type"] != "Ag_bulk"], format="extxyz")
    out = tmp_path / "hull"
    assert main(["hull", str(pot), str(no_ag), "-o", str(out)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1].startswith("linpot: error: ") and "pure Ag" in err[-1]
    assert not any("Traceback" in line for line in err)
    assert not out.exists()
    # an unknown config_type and an element the potential lacks: one line, no output either
    assert main(["hull", str(pot), str(data), "--config-type", "nope", "-o", str(out)]) == 2
    assert "config_type 'nope'" in capsys.readouterr().err
    au = tmp_path / "au.xyz"
    ase.io.write(au, [emt_labelled(bulk("Au", "fcc", a=4.08, cubic=True), "Au_bulk")] + frames, format="extxyz")
    assert main(["hull", str(pot), str(au), "-o", str(out)]) == 2
    assert "no element Au" in capsys.readouterr().err
    assert not out.exists()


class EMTPotential:
    """A stand-in potential: EMT energies, forces and stress, as a potential's ``predict`` returns
    them (the model then equals the DFT labels exactly)."""

    elements = ["Cu", "Ag", "Au"]

    def predict(self, positions, numbers, cell, pbc):
        from ase import Atoms

        atoms = Atoms(numbers=numbers, positions=positions, cell=cell, pbc=pbc)
        atoms.calc = EMT()
        return {"energy": atoms.get_potential_energy(), "forces": atoms.get_forces(), "stress": atoms.get_stress()}


def test_ternary_report_without_plot(tmp_path):
    rng = np.random.default_rng(4)
    frames = [emt_labelled(bulk(el, "fcc", a=a, cubic=True), f"{el}_bulk")
              for el, a in (("Cu", 3.61), ("Ag", 4.09), ("Au", 4.08))]
    for _ in range(10):
        atoms = bulk("Cu", "fcc", a=3.9, cubic=True) * (1, 1, 2)
        atoms.set_chemical_symbols(rng.choice(["Cu", "Ag", "Au"], 8).tolist())
        frames.append(emt_labelled(atoms, "random"))
    ds = Dataset.from_atoms(frames, path="ternary.xyz")
    record, markdown = H.hull_report(EMTPotential(), ds, tmp_path / "out")
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["hull.json", "hull.md"]
    assert record["vertices"]["dft"] == record["vertices"]["model"]
    assert record["errors"]["overall"]["e_f_mae"] == pytest.approx(0.0, abs=1e-9)
    fractions = np.array([list(r["x"].values()) for r in record["structures"]])
    e_f = np.array([r["e_f_dft"] for r in record["structures"]])
    brute = np.array([brute_hull_energy(fractions, e_f, x) for x in fractions])
    assert np.allclose([r["distance_dft"] for r in record["structures"]], e_f - brute, atol=1e-10)
    assert "| all | 13 |" in markdown
