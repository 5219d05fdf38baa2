"""Knowing when a potential extrapolates: the maxvol grade and its active set, the structure grade
and its configuration set, the predictive
variance, the selections of new structures (grade, variance, PCA), the grade in MD, and the
commands (fit --active-set, grade-setup, evaluate --grade, select, md --grade-*), bad input
included. Tiny fits on EMT-labelled copper."""

from __future__ import annotations

import json

import ase.io
import numpy as np
import pytest
from ase.build import bulk, fcc111
from ase.calculators.emt import EMT
from ase.calculators.singlepoint import SinglePointCalculator

from linpot import Calculator
from linpot.analysis.selection import (
    PrincipalComponents,
    farthest_point_sampling,
    select_by_grade,
    select_by_structure_grade,
    select_by_variance,
    select_structures,
)
from linpot.cli import main
from linpot.errors import LinpotInputError, PotentialFileError
from linpot.fit import fit_potential
from linpot.fit.active_set import ActiveSetSelector, add_active_set, maxvol_update, select_configurations
from linpot.fit.config import load_config, merge
from linpot.interfaces.md import GradeWatch, run_md
from linpot.potential import Potential, load
from linpot.potential.active_set import ConfigurationSet, active_coordinates, maxvol_grade
from linpot.structures import Dataset

TOL = 1.001
SMALL = {"descriptor": {"kind": "invariants", "cutoff": 4.5, "radial": {"kind": "chebyshev", "n_basis": 4},
                        "orders": [[1, 4, 0], [2, 4, 2]]},
         "model": {"kind": "polynomial", "degree": 1}, "fit": {"seed": 0}}


def labelled_emt(atoms):
    atoms = atoms.copy()
    atoms.calc = EMT()
    e, f, s = atoms.get_potential_energy(), atoms.get_forces(), atoms.get_stress() if atoms.pbc.all() else None
    atoms.calc = SinglePointCalculator(atoms, energy=e, forces=f, **({"stress": s} if s is not None else {}))
    return atoms


def rattled_cu(seed, rattle=0.08, strain=0.01):
    rng = np.random.default_rng(seed)
    atoms = bulk("Cu", "fcc", a=3.61, cubic=True) * (2, 2, 2)
    atoms.set_cell(atoms.cell.array @ (np.eye(3) + strain * rng.normal(size=(3, 3))), scale_atoms=True)
    atoms.positions += rattle * rng.normal(size=atoms.positions.shape)
    atoms.info["config_type"] = "bulk"
    return atoms


def compressed_cu(factor=0.8):
    atoms = bulk("Cu", "fcc", a=3.61 * factor, cubic=True) * (2, 2, 2)
    atoms.positions += 0.02 * np.random.default_rng(9).normal(size=atoms.positions.shape)
    atoms.info["config_type"] = "compressed"
    return atoms


def surface_cu():
    atoms = fcc111("Cu", size=(2, 2, 4), a=3.61, vacuum=6.0, periodic=True)
    atoms.info.pop("adsorbate_info", None)
    atoms.info["config_type"] = "surface"
    return atoms


@pytest.fixture(scope="module")
def train_frames():
    return [labelled_emt(rattled_cu(seed)) for seed in range(8)]


@pytest.fixture(scope="module")
def train_ds(train_frames):
    return Dataset.from_atoms(train_frames, path="train.xyz")


@pytest.fixture(scope="module")
def graded(train_ds):
    pot, _ = fit_potential(train_ds, merge(load_config(None), SMALL))
    return add_active_set(pot, train_ds, tolerance=TOL)


def grade_of(pot, atoms):
    return pot.predict_grade(atoms.positions, atoms.numbers, atoms.cell.array, atoms.pbc)


# ---- the grade and the active set ----------------------------------------------------------

def test_grade_is_one_on_the_active_set_and_at_most_the_tolerance_on_the_training_atoms(graded, train_ds):
    a = graded.active_set
    A = a.rows["Cu"]
    assert A.shape == (1 + graded.model.n_terms,) * 2
    assert np.allclose(active_coordinates(A, a.inverse("Cu")), np.eye(len(A)), atol=1e-8)
    assert np.allclose(maxvol_grade(A, a.inverse("Cu")), 1.0, atol=1e-8)
    assert (a.sources["Cu"][:, 0] >= 0).all()  # the training rows span the block: no placeholder left
    for k in range(len(train_ds)):
        s = train_ds.atom_slice(k)
        g = graded.predict_grade(train_ds.positions[s], train_ds.numbers[s], train_ds.cells[k], train_ds.pbc[k])
        assert g["atomic_grades"].max() <= TOL + 1e-8
        assert g["grade"] == pytest.approx(g["atomic_grades"].max())


def test_each_active_row_is_the_training_row_it_names(graded, train_ds):
    a = graded.active_set
    for row, (k, atom) in zip(a.rows["Cu"], a.sources["Cu"]):
        s = train_ds.atom_slice(k)
        rows = graded.model.atomic_rows(train_ds.positions[s], train_ds.numbers[s], train_ds.cells[k], train_ds.pbc[k])
        assert np.allclose(rows[atom], row)


@pytest.mark.parametrize("make", [compressed_cu, surface_cu])
def test_grade_exceeds_one_out_of_distribution(graded, make):
    g = grade_of(graded, make())
    assert g["grade"] > 2.0, g["grade"]


def test_each_maxvol_swap_increases_the_determinant():
    rng = np.random.default_rng(0)
    n = 6
    active = 1e-3 * np.eye(n)
    inverse = np.linalg.inv(active)
    dets = [np.linalg.slogdet(active)[1]]
    factors = []

    def on_swap(j, i, x):
        dets.append(np.linalg.slogdet(active)[1])
        factors.append(abs(x))

    for _ in range(5):
        rows = rng.normal(size=(40, n)) * rng.uniform(0.1, 3.0, size=n)
        maxvol_update(active, inverse, rows, tolerance=1.01, on_swap=on_swap)
    assert len(factors) >= n
    steps = np.diff(dets)
    assert np.all(steps > np.log(1.01) - 1e-9)
    assert np.allclose(steps, np.log(factors))  # |det| grows by exactly |x| per swap
    assert np.allclose(inverse, np.linalg.inv(active), rtol=1e-6, atol=1e-9)
    assert maxvol_grade(rows, inverse).max() <= 1.01 + 1e-9


def test_maxvol_refuses_a_tolerance_of_one():
    with pytest.raises(LinpotInputError, match="exceed 1"):
        maxvol_update(np.eye(2), np.eye(2), np.ones((1, 2)), tolerance=1.0)


def test_selector_stops_after_a_pass_without_swaps(graded, train_ds):
    sel = ActiveSetSelector(tolerance=TOL, n_passes=4).fit(graded.model, train_ds)
    assert sel.n_swaps_[-1] == 0 and len(sel.n_swaps_) <= 4
    assert sel.max_training_grade_ <= TOL + 1e-8
    assert np.allclose(sel.active_set_.rows["Cu"], graded.active_set.rows["Cu"])


# ---- the structure grade ---------------------------------------------------------------------

def vacancy_cu(seed):
    atoms = rattled_cu(seed)
    del atoms[seed % len(atoms)]
    atoms.info["config_type"] = "vacancy"
    return atoms


@pytest.fixture(scope="module")
def bulk24():
    """More bulk structures (24) than the energy rows have columns (17), so that the training rows
    leave a genuine out-of-span residual."""
    frames = [labelled_emt(rattled_cu(seed)) for seed in range(24)]
    ds = Dataset.from_atoms(frames, path="bulk24.xyz")
    pot, _ = fit_potential(ds, merge(load_config(None), SMALL))
    return frames, ds, add_active_set(pot, ds, tolerance=TOL)


def energy_rows(pot, frames):
    return np.array([pot.model.atomic_rows(a.positions, a.numbers, a.cell.array, a.pbc).mean(axis=0) for a in frames])


def test_structure_grade_at_most_one_on_the_training_structures_above_one_for_a_vacancy(bulk24):
    frames, _, pot = bulk24
    c = pot.active_set.configurations
    assert c.width == 1 + pot.model.n_terms and c.info["rank"] < c.width and c.residual_scale is not None
    training = [grade_of(pot, a)["structure_grade"] for a in frames]
    assert max(training) <= TOL + 1e-8
    assert c.info["max_training_grade"] == pytest.approx(max(training), abs=1e-8)
    assert np.allclose(c.grades(c.rows), 1.0, atol=1e-8)  # the active structures themselves
    vacancies = [grade_of(pot, vacancy_cu(200 + k))["structure_grade"] for k in range(3)]
    fresh_bulk = [grade_of(pot, rattled_cu(300 + k))["structure_grade"] for k in range(3)]
    assert min(vacancies) > 2.0 and min(vacancies) > max(fresh_bulk), (vacancies, fresh_bulk)
    # the row is the energy per atom's: a supercell of a training structure is a training structure
    assert grade_of(pot, frames[5] * (2, 1, 1))["structure_grade"] <= TOL + 1e-8
    # a vacancy's atoms look like hot bulk atom by atom more than its energy row does
    g = grade_of(pot, vacancy_cu(200))
    assert g["structure_grade"] > g["grade"]


def test_structure_grade_out_of_the_span_is_the_residual_over_the_training_structures_largest(bulk24):
    frames, _, pot = bulk24
    c = pot.active_set.configurations
    X = energy_rows(pot, frames)
    _, residual = c.components(X)
    norms = np.linalg.norm(residual, axis=1)
    # tau: the largest training residual, at least rtol times the largest singular value
    assert c.residual_scale == pytest.approx(max(norms.max(), 1e-3 * c.info["singular_values"][0]), rel=1e-10)
    assert norms.max() <= c.residual_scale
    # a training structure moved by 3 tau along a direction outside the subspace and its own residual
    k = int(np.argmax(norms))
    Q, _ = np.linalg.qr(np.column_stack([c.basis, residual[k]]))
    q = np.random.default_rng(0).normal(size=c.width)
    q -= Q @ (Q.T @ q)
    q /= np.linalg.norm(q)
    moved = X[k] + 3 * c.residual_scale * q
    coefficients, _ = c.components(moved)
    assert np.abs(coefficients).max() <= TOL + 1e-8  # within the subspace it is the training structure
    assert c.grades(moved)[0] == pytest.approx(np.hypot(3.0, norms[k] / c.residual_scale), rel=1e-8)


def test_configuration_selection_is_a_local_maximum_of_the_volume(bulk24):
    frames, _, pot = bulk24
    X = energy_rows(pot, frames)
    c = select_configurations(X, rtol=1e-3, tolerance=TOL)
    assert np.allclose(c.rows, X[c.sources])  # each active row is the training structure it names
    M = c.rows @ c.basis
    logdet = np.linalg.slogdet(M)[1]
    for i in range(len(X)):  # no single swap of a training structure in grows |det(A V)| beyond the tolerance
        for j in range(len(M)):
            swapped = M.copy()
            swapped[j] = X[i] @ c.basis
            assert np.linalg.slogdet(swapped)[1] <= logdet + np.log(TOL) + 1e-9
    # the pivoted-QR start alone is not a local maximum here: the swaps did something
    assert sum(c.info["n_swaps"]) >= 1


def test_adding_a_structure_to_the_configuration_set(bulk24):
    frames, _, pot = bulk24
    c = pot.active_set.configurations
    X = energy_rows(pot, frames)
    vac = energy_rows(pot, [vacancy_cu(201)])[0]
    assert c.grades(vac)[0] > 2
    extended = c.with_structure(vac, TOL)  # out of span: the subspace grows by one direction
    assert extended.basis.shape[1] == c.basis.shape[1] + 1
    assert np.allclose(extended.basis.T @ extended.basis, np.eye(extended.basis.shape[1]), atol=1e-10)
    assert extended.grades(vac)[0] <= 1 + 1e-8
    # the training structures may be lifted a little above 1 (as by the per-atom greedy swaps), not to extrapolation
    assert extended.grades(X).max() < 2
    other = energy_rows(pot, [vacancy_cu(205)])[0]  # another vacancy: its direction is now mostly spanned
    assert extended.grades(other)[0] < 0.5 * c.grades(other)[0]
    inside = X[c.sources[0]] * 0.5 + X[c.sources[1]] * 2.0  # in the span, outside the parallelotope
    assert c.grades(inside)[0] > TOL
    swapped = c.with_structure(inside, TOL)
    assert swapped.basis.shape == c.basis.shape and swapped.grades(inside)[0] <= 1 + 1e-8
    assert abs(np.linalg.det(swapped.rows @ swapped.basis)) > abs(np.linalg.det(c.rows @ c.basis))
    assert c.with_structure(X[3], TOL) is c  # a training structure changes nothing


def test_structure_grade_selection_takes_an_extrapolating_structure_once(bulk24):
    _, _, pot = bulk24
    frames = [rattled_cu(70), vacancy_cu(71), vacancy_cu(71), surface_cu(), rattled_cu(72)]
    pool = Dataset.from_atoms(frames, path="pool.xyz", validate=False)
    idx, scores = select_by_structure_grade(pot, pool, 3)
    assert set(idx[:2].tolist()) in ({1, 3}, {2, 3})  # the surface and one copy of the vacancy first
    assert scores[0] > 2 and scores[1] > 2


def test_configuration_set_validates_its_shapes():
    with pytest.raises(ValueError, match="do not match"):
        ConfigurationSet(np.eye(3), np.eye(4)[:, :3])
    with pytest.raises(LinpotInputError, match="rtol"):
        select_configurations(np.ones((4, 3)), rtol=0.0)


# ---- the file ------------------------------------------------------------------------------

def test_file_round_trip_of_the_configuration_set(bulk24, tmp_path):
    from linpot.potential.envelope import sealed

    frames, _, pot = bulk24
    pot.save(tmp_path / "pot.json")
    back = load(tmp_path / "pot.json")
    c, b = pot.active_set.configurations, back.active_set.configurations
    assert np.array_equal(b.rows, c.rows) and np.array_equal(b.basis, c.basis)
    assert b.residual_scale == c.residual_scale and np.array_equal(b.sources, c.sources) and b.info == c.info
    atoms = vacancy_cu(202)
    assert grade_of(back, atoms)["structure_grade"] == pytest.approx(grade_of(pot, atoms)["structure_grade"], rel=1e-12)
    payload = pot.to_dict()
    payload.pop("checksum")
    older = json.loads(json.dumps(payload))
    del older["active_set"]["configurations"]  # a file written before the structure grade
    (tmp_path / "older.json").write_text(json.dumps(sealed(older)))
    old = load(tmp_path / "older.json")
    assert old.active_set.configurations is None
    out = grade_of(old, atoms)
    assert "structure_grade" not in out and out["grade"] == pytest.approx(grade_of(pot, atoms)["grade"])
    payload["active_set"]["configurations"]["n"] += 1
    (tmp_path / "bad.json").write_text(json.dumps(sealed(payload)))
    with pytest.raises(PotentialFileError, match="configuration set"):
        load(tmp_path / "bad.json")


# ---- the file ------------------------------------------------------------------------------

def test_file_round_trip_with_and_without_the_block(graded, tmp_path):
    path = tmp_path / "pot.json"
    graded.save(path)
    back = load(path)
    assert np.array_equal(back.active_set.rows["Cu"], graded.active_set.rows["Cu"])
    atoms = surface_cu()
    assert grade_of(back, atoms)["grade"] == pytest.approx(grade_of(graded, atoms)["grade"], rel=1e-10)
    payload = json.loads(path.read_text())
    assert payload["active_set"]["encoding"] == "base64 float64 little-endian row-major"
    plain = Potential(graded.model, graded.coefficients, graded.provenance)
    plain.save(tmp_path / "plain.json")
    assert load(tmp_path / "plain.json").active_set is None
    with pytest.raises(LinpotInputError, match="no active set"):
        grade_of(load(tmp_path / "plain.json"), atoms)


def test_a_damaged_active_set_is_a_file_error(graded, tmp_path):
    from linpot.potential.envelope import sealed

    payload = graded.to_dict()
    payload.pop("checksum")
    payload["active_set"]["elements"]["Cu"]["n"] += 1
    (tmp_path / "bad.json").write_text(json.dumps(sealed(payload)))
    with pytest.raises(PotentialFileError, match="active set"):
        load(tmp_path / "bad.json")


# ---- the Bayesian variance and the calculator ------------------------------------------------

@pytest.fixture(scope="module")
def bayes(train_ds):
    pot, _ = fit_potential(train_ds, merge(load_config(None), {**SMALL, "fit": {"seed": 0, "method": "bayes"}}))
    return add_active_set(pot, train_ds, tolerance=TOL)


def test_predictive_variance_equals_the_posterior_directly(bayes):
    atoms = rattled_cu(42, rattle=0.2)
    out = grade_of(bayes, atoms)
    rows = bayes.model.atomic_rows(atoms.positions, atoms.numbers, atoms.cell.array, atoms.pbc)
    cov = bayes.uncertainty["covariance"]
    noise = bayes.uncertainty["noise_variance"]["energy"] or 0.0
    for i, b in enumerate(rows):  # Var[c · b] for c ~ N(mean, cov)
        assert out["atomic_energy_std"][i] ** 2 == pytest.approx(sum(b[p] * cov[p, q] * b[q] for p in range(len(b))
                                                                    for q in range(len(b))), rel=1e-8, abs=1e-14)
    x = rows.sum(axis=0) / len(atoms)  # the energy per atom's row
    assert out["energy_std"] == pytest.approx(np.sqrt(x @ cov @ x + noise), rel=1e-10)
    assert out["energy_std"] == pytest.approx(bayes.predict_uncertainty(atoms.positions, atoms.numbers,
                                                                         atoms.cell.array, atoms.pbc)["energy_std"])


def test_calculator_gives_grade_and_std_on_request(bayes):
    atoms = surface_cu()
    atoms.calc = Calculator(bayes)
    e = atoms.get_potential_energy()
    grade = atoms.calc.get_property("grade", atoms)
    direct = grade_of(bayes, atoms)
    assert grade == pytest.approx(direct["grade"])
    assert atoms.calc.get_property("energy_std", atoms) == pytest.approx(direct["energy_std"])
    assert atoms.get_potential_energy() == e
    atoms.calc = Calculator(bayes, grade=True)
    atoms.get_forces()
    assert np.allclose(atoms.calc.results["atomic_grades"], direct["atomic_grades"])
    assert atoms.calc.results["structure_grade"] == pytest.approx(direct["structure_grade"])
    assert direct["structure_grade"] > 2
    atoms.calc = Calculator(bayes)
    assert atoms.calc.get_property("structure_grade", atoms) == pytest.approx(direct["structure_grade"])


# ---- selections ------------------------------------------------------------------------------

def pool_with_copies(n_distinct=5, copies=3):
    frames = []
    for k in range(n_distinct):
        atoms = rattled_cu(100 + k, rattle=0.05 + 0.06 * k, strain=0.03)
        frames += [atoms.copy() for _ in range(copies)]
    return Dataset.from_atoms(frames, path="pool.xyz", validate=False)


def distinct(pool, indices):
    keys = {tuple(np.round(pool.positions[pool.atom_slice(int(k))].ravel(), 8)) for k in indices}
    return len(keys)


def test_pca_selection_never_picks_two_copies(graded):
    pool = pool_with_copies()
    out = select_structures(graded, pool, 5, by="pca")
    assert len(out["indices"]) == 5 and distinct(pool, out["indices"]) == 5
    fewer = select_structures(graded, pool, 9, by="pca")  # only 5 distinct structures exist
    assert len(fewer["indices"]) == 5 and distinct(pool, fewer["indices"]) == 5


def test_farthest_point_sampling_and_pca():
    pts = np.array([[0.0, 0], [0, 0], [10, 0], [10, 0], [0, 5], [5, 2]])
    idx, dist = farthest_point_sampling(pts, 6)
    assert len(idx) == 4 and len({tuple(p) for p in pts[idx].tolist()}) == 4  # the 4 distinct points, no copy
    assert np.all(dist[1:] > 0) and np.all(np.diff(dist[1:]) <= 0)
    X = np.random.default_rng(0).normal(size=(50, 3)) * [5.0, 1.0, 0.01]
    pca = PrincipalComponents(2).fit(X)
    assert np.allclose(np.abs(pca.components_[0]), [1, 0, 0], atol=0.05)
    assert np.allclose(pca.transform(X).mean(axis=0), 0.0)


def test_grade_selection_takes_an_extrapolating_structure_once(graded):
    frames = [rattled_cu(7), surface_cu(), surface_cu(), compressed_cu(), rattled_cu(8)]
    pool = Dataset.from_atoms(frames, path="pool.xyz", validate=False)
    idx, scores = select_by_grade(graded, pool, 3)
    assert set(idx[:2].tolist()) in ({1, 3}, {2, 3})  # one surface and the compressed cell first
    assert scores[0] > 2 and scores[1] > 2


def test_variance_selection_conditions_on_its_picks(bayes):
    pool = pool_with_copies(n_distinct=3, copies=2)
    idx, scores = select_by_variance(bayes, pool, 3)
    assert distinct(pool, idx) == 3
    k = int(idx[0])
    s = pool.atom_slice(k)
    assert scores[0] == pytest.approx(bayes.predict_uncertainty(pool.positions[s], pool.numbers[s], pool.cells[k],
                                                                 pool.pbc[k])["energy_std"])


# ---- MD ----------------------------------------------------------------------------------------

def test_md_records_and_stops_on_the_grade(graded):
    atoms = rattled_cu(3)
    atoms.calc = Calculator(graded)
    watch = GradeWatch(record_above=0.0, stop_above=0.5, interval=2)
    out = run_md(atoms, "nvt", steps=50, timestep_fs=1.0, temperature_K=300.0, interval=5, watch=watch)
    assert watch.stopped_ == 0 and out["steps_run"] == 0 and len(watch.frames_) == 1
    assert watch.frames_[0].info["grade"] > 0.5
    calm = GradeWatch(record_above=50.0, stop_above=100.0, interval=5)
    atoms.calc = Calculator(graded)
    out = run_md(atoms, "nvt", steps=20, timestep_fs=1.0, temperature_K=300.0, interval=5, watch=calm)
    assert calm.stopped_ is None and out["steps_run"] == 20 and len(calm.grades_) == 5 and not calm.frames_
    with pytest.raises(LinpotInputError):
        GradeWatch(record_above=3.0, stop_above=2.0)


def test_md_can_follow_the_structure_grade(graded):
    """``kind = "structure"``: the watch reads the calculator's structure grade, not the atoms'
    largest grade, at every check."""
    atoms = rattled_cu(3)
    atoms.calc = Calculator(graded)
    watch = GradeWatch(record_above=0.0, interval=5, kind="structure")
    run_md(atoms, "nvt", steps=10, timestep_fs=1.0, temperature_K=300.0, interval=5, watch=watch)
    assert len(watch.grades_) == 3 and len(watch.frames_) == 3  # steps 0, 5, 10
    frame = watch.frames_[-1].copy()
    frame.calc = Calculator(graded)
    structure, largest = frame.calc.get_property("structure_grade", frame), frame.calc.get_property("grade", frame)
    assert watch.frames_[-1].info["grade"] == pytest.approx(structure) and structure != pytest.approx(largest)
    with pytest.raises(LinpotInputError, match="grade kind"):
        GradeWatch(kind="energy")


# ---- the commands ------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def files(train_frames, tmp_path_factory):
    d = tmp_path_factory.mktemp("al")
    ase.io.write(d / "train.xyz", train_frames, format="extxyz")
    test = [labelled_emt(rattled_cu(50)), labelled_emt(surface_cu())]
    ase.io.write(d / "test.xyz", test, format="extxyz")
    ase.io.write(d / "pool.xyz", [rattled_cu(60), surface_cu(), compressed_cu(), rattled_cu(61)], format="extxyz")
    return d


FAST = ["--descriptor", "invariants-small", "--cutoff", "4.5"]


def test_cli_fit_evaluate_select_md(files, capsys):
    d = files
    assert main(["fit", "--train", str(d / "train.xyz"), "-o", str(d / "pot.json"), "--active-set", *FAST]) == 0
    assert load(d / "pot.json").active_set is not None
    capsys.readouterr()
    assert main(["evaluate", str(d / "pot.json"), str(d / "test.xyz"), "--grade", "--json"]) == 0
    table = json.loads(capsys.readouterr().out)
    structures = table["structures"]
    assert [s["index"] for s in structures] == [0, 1] and [s["config_type"] for s in structures] == ["bulk", "surface"]
    assert structures[1]["grade"] > 2 > structures[0]["grade"]
    assert structures[1]["structure_grade"] > structures[0]["structure_grade"] > 0
    assert "energy_error_mev_per_atom" in structures[0] and "force_rmse_ev_per_angstrom" in structures[0]
    assert main(["evaluate", str(d / "pot.json"), str(d / "test.xyz"), "--grade"]) == 0
    assert "grade" in capsys.readouterr().out
    for by in ("grade", "structure-grade", "pca"):
        out = d / f"sel-{by}.xyz"
        assert main(["select", str(d / "pot.json"), str(d / "pool.xyz"), "-n", "2", "-o", str(out), "--by", by]) == 0
        chosen = ase.io.read(out, ":")
        assert len(chosen) == 2 and all(a.info["selection_by"] == by for a in chosen)
        assert (d / f"sel-{by}-pca.png").stat().st_size > 1000
        if by in ("grade", "structure-grade"):
            assert {a.info["pool_index"] for a in chosen} == {1, 2} and chosen[0].info["selection_score"] > 2
    ase.io.write(d / "start.xyz", surface_cu(), format="extxyz")
    capsys.readouterr()
    assert main(["md", str(d / "pot.json"), str(d / "start.xyz"), "--steps", "20", "--interval", "5",
                 "--grade-record", "1.5", "--grade-stop", "2.0", "--extrapolated", str(d / "extra.xyz")]) == 0
    assert "stopped at step 0" in capsys.readouterr().out
    assert len(ase.io.read(d / "extra.xyz", ":")) == 1


def test_cli_grade_setup_adds_the_block(files, capsys):
    d = files
    assert main(["fit", "--train", str(d / "train.xyz"), "-o", str(d / "plain.json"), *FAST]) == 0
    assert load(d / "plain.json").active_set is None
    assert main(["grade-setup", str(d / "plain.json"), str(d / "train.xyz"), "-o", str(d / "graded.json")]) == 0
    assert "active set of Cu" in capsys.readouterr().out
    assert main(["grade-setup", str(d / "plain.json"), str(d / "train.xyz"), "-o", str(d / "graded.json"),
                 "--rtol", "0.01"]) == 0
    assert "structure grade: " in capsys.readouterr().out
    assert load(d / "graded.json").active_set.configurations.info["rtol"] == 0.01
    assert load(d / "graded.json").active_set is not None and load(d / "plain.json").active_set is None


def assert_one_line_error(capsys, code, *fragments):
    err = capsys.readouterr().err
    assert code == 2
    lines = [line for line in err.splitlines() if "error" in line]
    assert len(lines) == 1 and "Traceback" not in err, err
    for fragment in fragments:
        assert fragment in lines[0], lines[0]


def test_cli_bad_input(files, capsys, tmp_path):
    d = files
    if not (d / "pot.json").exists():
        assert main(["fit", "--train", str(d / "train.xyz"), "-o", str(d / "pot.json"), "--active-set", *FAST]) == 0
    pot = str(d / "pot.json")
    out = str(tmp_path / "out.xyz")
    ni = bulk("Ni", "fcc", a=3.5, cubic=True)
    ase.io.write(tmp_path / "ni.xyz", [rattled_cu(1), ni], format="extxyz")
    capsys.readouterr()
    assert_one_line_error(capsys, main(["select", pot, str(tmp_path / "ni.xyz"), "-n", "1", "-o", out]),
                          "ni.xyz", "structure 1", "element Ni")
    close = rattled_cu(2)
    close.positions[1] = close.positions[0] + [0.05, 0, 0]
    ase.io.write(tmp_path / "close.xyz", [rattled_cu(1), rattled_cu(3), close], format="extxyz")
    assert_one_line_error(capsys, main(["select", pot, str(tmp_path / "close.xyz"), "-n", "1", "-o", out]),
                          "close.xyz", "structure 2", "apart")
    assert_one_line_error(capsys, main(["select", pot, str(d / "pool.xyz"), "-n", "9", "-o", out]), "pool has 4")
    assert_one_line_error(capsys, main(["select", pot, str(d / "pool.xyz"), "-n", "0", "-o", out]), "at least 1")
    assert_one_line_error(capsys, main(["select", pot, str(d / "pool.xyz"), "-n", "1", "-o", str(tmp_path / "o.json")]),
                          "extended XYZ")
    assert_one_line_error(capsys, main(["select", pot, str(tmp_path / "missing.xyz"), "-n", "1", "-o", out]),
                          "missing.xyz", "not found")
    assert_one_line_error(capsys, main(["select", pot, str(d / "pool.xyz"), "-n", "1", "-o", out, "--by", "variance"]),
                          "posterior")
    assert not (tmp_path / "out.xyz").exists()
    assert main(["fit", "--train", str(d / "train.xyz"), "-o", str(tmp_path / "plain.json"), *FAST]) == 0
    capsys.readouterr()
    assert_one_line_error(capsys, main(["evaluate", str(tmp_path / "plain.json"), str(d / "test.xyz"), "--grade"]),
                          "no active set")
    assert_one_line_error(capsys, main(["select", str(tmp_path / "plain.json"), str(d / "pool.xyz"), "-n", "1",
                                        "-o", out]), "active set")
    assert_one_line_error(capsys, main(["md", str(tmp_path / "plain.json"), str(d / "train.xyz"), "--steps", "5",
                                        "--grade-stop", "3"]), "active set")
    assert_one_line_error(capsys, main(["md", pot, str(d / "train.xyz"), "--steps", "5", "--grade-record", "3"]),
                          "--extrapolated")
    # an active set without the training structures' rows has no structure grade to follow
    no_rows = load(pot)
    no_rows.active_set.configurations = None
    no_rows.save(tmp_path / "no_rows.json")
    assert_one_line_error(capsys, main(["md", str(tmp_path / "no_rows.json"), str(d / "train.xyz"), "--steps", "5",
                                        "--grade-stop", "3", "--grade-kind", "structure"]), "--grade-kind structure")


def test_committee_grade_is_the_largest_members_grade(graded, bayes):
    from linpot.potential.committee import CommitteePotential

    committee = CommitteePotential([graded, bayes])
    atoms = surface_cu()
    out = committee.predict_grade(atoms.positions, atoms.numbers, atoms.cell.array, atoms.pbc)
    members = [grade_of(m, atoms)["atomic_grades"] for m in (graded, bayes)]
    assert np.allclose(out["atomic_grades"], np.maximum(*members))
    assert out["energy_std"] > 0 and out["grade"] == pytest.approx(max(m.max() for m in members))
    assert out["structure_grade"] == pytest.approx(max(grade_of(m, atoms)["structure_grade"] for m in (graded, bayes)))
