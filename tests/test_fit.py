"""The fitting engine: streamed normal equations, the ridge path, the validation split, and
recovery of a known model from labels it generated."""

import numpy as np
import pytest
from conftest import binary_cell, distorted_fcc, make_model, triclinic_cell

from linpot.fit import NormalEquations, RidgePath, fit_potential, validation_split
from linpot.fit.config import load_config, merge
from linpot.structures import Dataset


def labelled(model, c, frames):
    """Attach energies, forces and stresses computed by ``model`` with coefficients ``c``."""
    from ase.calculators.singlepoint import SinglePointCalculator

    out = []
    for k, atoms in enumerate(frames):
        p = model.predict(c, atoms.positions, atoms.numbers, atoms.cell.array, atoms.pbc)
        atoms = atoms.copy()
        atoms.calc = SinglePointCalculator(atoms, energy=p["energy"], forces=p["forces"], stress=p["stress"])
        atoms.info["config_type"] = ["bulk", "triclinic"][k % 2]
        out.append(atoms)
    return out


def test_ridge_path_equals_direct_solve():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(200, 12)) * rng.uniform(0.1, 100, size=12)
    y = rng.normal(size=200)
    A, b = X.T @ X, X.T @ y
    d = np.sqrt(np.diag(A))
    path = RidgePath(A, b, unpenalised=[0, 5])
    for alpha in [1e-8, 1e-3, 1.0]:
        P = np.diag(np.where(np.isin(np.arange(12), [0, 5]), 0.0, 1.0) * d**2)
        direct = np.linalg.solve(A + alpha * P, b)
        np.testing.assert_allclose(path.solve(alpha), direct, rtol=1e-8, atol=1e-10)
    # alpha -> 0 is ordinary least squares
    np.testing.assert_allclose(path.solve(0.0), np.linalg.lstsq(X, y, rcond=None)[0], rtol=1e-7)


def test_streamed_normal_equations_equal_dense_least_squares():
    model, c = make_model(n_basis=3, degree=2)
    frames = [distorted_fcc(seed=s, repeat=(1, 1, 1)) for s in range(4)] + [triclinic_cell(seed=s) for s in range(3)]
    rng = np.random.default_rng(1)
    ne = NormalEquations(model.n_coefficients)
    blocks, targets = [], []
    weights = {"energy": 7.0, "forces": 2.0, "stress": 0.5}
    from linpot.conventions import GPA

    for atoms in frames:
        rows = model.design_rows(atoms.positions, atoms.numbers, atoms.cell.array, atoms.pbc)
        e, f, s = rng.normal(), rng.normal(size=(len(atoms), 3)), rng.normal(size=6) * 0.01
        ne.add_structure(rows, len(atoms), energy=e, forces=f, stress=s)
        n = len(atoms)
        blocks += [7.0 * rows.energy[None] / n, 2.0 * rows.forces, 0.5 * rows.stress / GPA]
        targets += [[7.0 * e / n], 2.0 * f.ravel(), 0.5 * s / GPA]
    X, y = np.vstack(blocks), np.concatenate(targets)
    A, b, yy = ne.combined(weights)
    np.testing.assert_allclose(A, X.T @ X, rtol=1e-12, atol=1e-9)
    np.testing.assert_allclose(b, X.T @ y, rtol=1e-12, atol=1e-9)
    assert yy == pytest.approx(y @ y, rel=1e-12)
    w = RidgePath(A, b).solve(0.0)
    np.testing.assert_allclose(w, np.linalg.lstsq(X, y, rcond=None)[0], rtol=1e-6, atol=1e-8)


def test_weights_change_the_solution_as_the_maths_says():
    """Doubling every weight changes nothing; up-weighting energies pulls the fit towards them."""
    model, c = make_model(n_basis=3, degree=1)
    frames = [distorted_fcc(seed=s, repeat=(1, 1, 1)) for s in range(5)]
    rng = np.random.default_rng(2)
    ne = NormalEquations(model.n_coefficients)
    for atoms in frames:
        rows = model.design_rows(atoms.positions, atoms.numbers, atoms.cell.array, atoms.pbc)
        ne.add_structure(rows, len(atoms), energy=rng.normal(), forces=rng.normal(size=(len(atoms), 3)))
    base = {"energy": 1.0, "forces": 1.0}
    w1 = RidgePath(*ne.combined(base)[:2], unpenalised=[0]).solve(1e-6)
    w2 = RidgePath(*ne.combined({k: 2 * v for k, v in base.items()})[:2], unpenalised=[0]).solve(1e-6)
    np.testing.assert_allclose(w1, w2, rtol=1e-8)
    w_e = RidgePath(*ne.combined({"energy": 1e4, "forces": 1.0})[:2], unpenalised=[0]).solve(1e-6)
    assert ne.rmse(w_e)["energy"] < ne.rmse(w1)["energy"]
    assert ne.rmse(w_e)["forces"] >= ne.rmse(w1)["forces"]


def test_validation_split_is_by_structure_and_stratified():
    types = ["a"] * 20 + ["b"] * 10 + ["c"]
    mask = validation_split(types, 0.2, seed=0)
    assert mask[:20].sum() == 4 and mask[20:30].sum() == 2 and not mask[30]
    np.testing.assert_array_equal(mask, validation_split(types, 0.2, seed=0))
    assert not np.array_equal(mask, validation_split(types, 0.2, seed=1))


@pytest.mark.parametrize("elements", [("Cu",), ("Al", "Ni")])
def test_fit_recovers_a_known_model(elements):
    """Labels made by a polynomial pair model are fitted back to round-off by the same model form."""
    truth, c_true = make_model(elements=elements, n_basis=3, degree=2, cutoff=5.0, seed=4)
    if len(elements) == 1:
        frames = [distorted_fcc(seed=s, repeat=(1, 1, 2)) for s in range(8)] + [triclinic_cell(seed=s) for s in range(6)]
    else:
        frames = [binary_cell(seed=s) for s in range(14)]
    ds = Dataset.from_atoms(labelled(truth, c_true, frames))
    config = merge(load_config(), {
        "descriptor": {"cutoff": 5.0, "radial": {"kind": "chebyshev", "n_basis": 3}},
        "model": {"degree": 2},
        "fit": {"alphas": [1e-14, 1e-6, 1e-2], "validation_fraction": 0.2},
    })
    pot, report = fit_potential(ds, config)
    assert report["alpha"] == 1e-14
    # noise-free labels want the weakest regularisation: the fit says the grid may be too short
    assert len(report["warnings"]) == 1 and "smallest of the 3 tried" in report["warnings"][0]
    for k in range(len(ds)):
        atoms = ds.atoms(k)
        p = pot.predict_atoms(atoms)
        q = truth.predict(c_true, atoms.positions, atoms.numbers, atoms.cell.array, atoms.pbc)
        assert abs(p["energy"] - q["energy"]) / len(atoms) < 1e-7
        np.testing.assert_allclose(p["forces"], q["forces"], atol=1e-7)
        np.testing.assert_allclose(p["stress"], q["stress"], atol=1e-9)
    assert pot.provenance["n_structures"] == len(ds)


def test_fit_of_the_wrong_model_form_is_not_exact():
    """Control for the recovery test: a degree-1 fit cannot reproduce degree-2 labels."""
    truth, c_true = make_model(n_basis=3, degree=2, cutoff=5.0, seed=4)
    frames = [distorted_fcc(seed=s, repeat=(1, 1, 2)) for s in range(8)]
    ds = Dataset.from_atoms(labelled(truth, c_true, frames))
    config = merge(load_config(), {"descriptor": {"cutoff": 5.0, "radial": {"kind": "chebyshev", "n_basis": 3}},
                                    "model": {"degree": 1}, "fit": {"validation_fraction": 0.0}})
    pot, _ = fit_potential(ds, config)
    errs = [np.abs(pot.predict_atoms(ds.atoms(k))["forces"] - ds.forces[ds.atom_slice(k)]).max() for k in range(len(ds))]
    assert max(errs) > 1e-4


def test_grid_edge_warning_only_at_the_ends_of_a_real_grid():
    from linpot.fit.ridge import grid_edge_warnings as _grid_edge_warnings

    grid = [1e-12, 1e-10, 1e-8, 1e-6]
    assert _grid_edge_warnings(1e-10, grid) == [] and _grid_edge_warnings(1e-8, grid) == []
    assert "smallest" in _grid_edge_warnings(1e-12, grid)[0]
    assert "largest" in _grid_edge_warnings(1e-6, grid)[0] and "larger values" in _grid_edge_warnings(1e-6, grid)[0]
    # one or two strengths are a choice, not a search
    assert _grid_edge_warnings(1e-6, [1e-6]) == [] and _grid_edge_warnings(1e-6, [1e-8, 1e-6]) == []
    # a grid that already reaches round-off at the small end needs no extension there
    assert _grid_edge_warnings(1e-16, [1e-16, 1e-12, 1e-8]) == []
    assert "largest" in _grid_edge_warnings(1e-8, [1e-16, 1e-12, 1e-8])[0]


def test_deviatoric_projection_removes_only_the_isotropic_part():
    from linpot.fit.normal_equations import deviatoric_projection

    P = deviatoric_projection()
    np.testing.assert_allclose(P @ P, P, atol=1e-15)
    np.testing.assert_allclose(P, P.T)
    np.testing.assert_allclose(P @ np.array([1.0, 1.0, 1.0, 0.0, 0.0, 0.0]), 0.0, atol=1e-15)
    s = np.array([3.0, -1.0, 4.0, 0.5, -2.0, 7.0])
    d = P @ s
    assert abs(d[:3].sum()) < 1e-14
    np.testing.assert_allclose(d[3:], s[3:])
    np.testing.assert_allclose(d[:3] - d[0], s[:3] - s[0])


def _stress_shifted(frames, offset_of):
    """The same frames with an isotropic error ``offset_of(atoms)`` (eV/Å^3) added to every stress
    label's diagonal."""
    from ase.calculators.singlepoint import SinglePointCalculator

    out = []
    for atoms in frames:
        shifted = atoms.copy()
        stress = atoms.get_stress() + offset_of(atoms) * np.array([1.0, 1.0, 1.0, 0.0, 0.0, 0.0])
        shifted.calc = SinglePointCalculator(shifted, energy=atoms.get_potential_energy(), forces=atoms.get_forces(),
                                             stress=stress)
        shifted.info.update(atoms.info)
        out.append(shifted)
    return out


def _pressure_shifted(frames, pressure_ev_a3):
    """The same frames with one isotropic error on every stress label (a Pulay-like offset)."""
    return _stress_shifted(frames, lambda atoms: pressure_ev_a3)


@pytest.mark.parametrize("stress_part", ["full", "deviatoric"])
def test_deviatoric_stress_fit_ignores_an_isotropic_stress_error(stress_part):
    """With stress = "deviatoric" an isotropic offset on every stress label leaves the fit unchanged
    (labels from a known model are recovered); with "full" the same offset pulls the fit away."""
    truth, c_true = make_model(n_basis=3, degree=2, cutoff=5.0, seed=4)
    frames = [distorted_fcc(seed=s, repeat=(1, 1, 2)) for s in range(8)] + [triclinic_cell(seed=s) for s in range(6)]
    exact = labelled(truth, c_true, frames)
    ds = Dataset.from_atoms(_pressure_shifted(exact, 0.02))   # 3.2 GPa
    config = merge(load_config(), {
        "descriptor": {"cutoff": 5.0, "radial": {"kind": "chebyshev", "n_basis": 3}},
        "model": {"degree": 2},
        "fit": {"alphas": [1e-14], "validation_fraction": 0.2, "stress": stress_part,
                "weights": {"energy": 100.0, "forces": 1.0, "stress": 10.0}},
    })
    pot, report = fit_potential(ds, config)
    errors = []
    for atoms in exact:
        p = pot.predict_atoms(atoms)
        errors.append(abs(p["energy"] - atoms.get_potential_energy()) / len(atoms))
    if stress_part == "deviatoric":
        assert max(errors) < 1e-7
        assert pot.provenance["fit"]["stress"] == "deviatoric"
    else:
        assert max(errors) > 1e-5
        assert "stress" not in pot.provenance["fit"]


def _pulay_shifted(frames, pulay_ev_per_atom):
    """The same frames with a Pulay stress ``p (N/V)`` added to every stress label's diagonal."""
    return _stress_shifted(frames, lambda atoms: pulay_ev_per_atom * len(atoms) / atoms.get_volume())


def _pulay_frames():
    """Cells of different atom densities: strained fcc, triclinic cells, and an fcc slab (vacuum)."""
    from ase.build import fcc111

    slab = fcc111("Cu", size=(2, 2, 3), vacuum=4.0, periodic=True)
    slab.rattle(0.05, seed=3)
    return [distorted_fcc(seed=s, repeat=(1, 1, 2), strain=0.06) for s in range(8)] + \
        [triclinic_cell(seed=s) for s in range(6)] + [slab]


@pytest.mark.parametrize("method", ["ridge", "bayes"])
def test_pulay_stress_fit_recovers_the_model_and_the_pulay_constant(method):
    """Labels from a known model with a Pulay stress p N/V added: stress = "pulay" recovers the
    model (energies to 1e-7 eV/atom, stresses to round-off) and p itself; the file records p, and a
    Bayesian posterior covers the model's coefficients only."""
    truth, c_true = make_model(n_basis=3, degree=2, cutoff=5.0, seed=4)
    exact = labelled(truth, c_true, _pulay_frames())
    p_true = -0.3   # eV/atom: about -4 GPa at the density of fcc Cu
    ds = Dataset.from_atoms(_pulay_shifted(exact, p_true))
    fit = {"alphas": [1e-14], "validation_fraction": 0.2, "stress": "pulay", "method": method,
           "weights": {"energy": 100.0, "forces": 1.0, "stress": 10.0}}
    config = merge(load_config(), {
        "descriptor": {"cutoff": 5.0, "radial": {"kind": "chebyshev", "n_basis": 3}},
        "model": {"degree": 2}, "fit": fit})
    pot, report = fit_potential(ds, config)
    assert pot.coefficients.size == truth.n_coefficients
    record = pot.provenance["fit"]["pulay_stress"]
    assert pot.provenance["fit"]["stress"] == "pulay"
    assert record["eV_per_atom"] == pytest.approx(p_true, rel=1e-5)
    fcc_density = 4 / 3.6**3
    assert -5.0 < p_true * fcc_density / 0.006241509 < -3.0   # the GPa figure below is on this scale
    assert record["GPa_at_median_density"] < 0
    for atoms in exact:
        p = pot.predict_atoms(atoms)
        assert abs(p["energy"] - atoms.get_potential_energy()) / len(atoms) < 1e-7
        np.testing.assert_allclose(p["stress"], atoms.get_stress(), atol=1e-7)
    if method == "bayes":
        n = truth.n_coefficients
        assert np.asarray(pot.uncertainty["covariance"]).shape == (n, n)


def test_committee_of_pulay_fits_scores_stresses_less_the_fitted_pulay_stress():
    """A committee of pulay fits on labels from a known model plus a Pulay stress: its held-out
    stress error subtracts the members' Pulay constants fitted without each fold, as each member's
    own does (against the raw labels it would be the Pulay stress itself, about 4 GPa)."""
    from linpot.fit.committee import fit_committee

    truth, c_true = make_model(n_basis=3, degree=2, cutoff=5.0, seed=4)
    ds = Dataset.from_atoms(_pulay_shifted(labelled(truth, c_true, _pulay_frames()), -0.3))
    config = merge(load_config(), {
        "descriptor": {"cutoff": 5.0, "radial": {"kind": "chebyshev", "n_basis": 3}}, "model": {"degree": 2},
        "fit": {"alphas": [1e-14], "kfold": 3, "stress": "pulay", "weights": {"energy": 100.0, "forces": 1.0, "stress": 10.0}}})
    config["committee"] = [{"model": {"kind": "polynomial", "degree": 2}}, {"model": {"kind": "polynomial", "degree": 2}}]
    committee, report = fit_committee(ds, config)
    assert all(r["held_out"]["stress_rmse_gpa"] < 1e-3 for r in report["members"])
    assert report["held_out"]["stress_rmse_gpa"] < 1e-3
    assert committee.provenance["fit"]["stress"] == "pulay"


@pytest.mark.parametrize("case", ["no stress labels", "stress weight 0"])
def test_pulay_fit_without_stresses_is_a_one_line_error(case):
    from linpot.errors import LinpotInputError

    truth, c_true = make_model(n_basis=3, degree=2, cutoff=5.0, seed=4)
    frames = labelled(truth, c_true, _pulay_frames())
    weights = {"energy": 100.0, "forces": 1.0, "stress": 10.0}
    if case == "no stress labels":
        from ase.calculators.singlepoint import SinglePointCalculator

        for atoms in frames:
            atoms.calc = SinglePointCalculator(atoms, energy=atoms.get_potential_energy(), forces=atoms.get_forces())
    else:
        weights["stress"] = 0.0
    config = merge(load_config(), {"descriptor": {"cutoff": 5.0, "radial": {"kind": "chebyshev", "n_basis": 3}},
                                   "model": {"degree": 2}, "fit": {"stress": "pulay", "weights": weights}})
    with pytest.raises(LinpotInputError, match="pulay"):
        fit_potential(Dataset.from_atoms(frames), config)


def test_pulay_column_does_not_count_against_max_features():
    """A sparse fit with stress = "pulay" keeps max_features coefficients of the potential: the
    fitted Pulay constant is not one of them."""
    truth, c_true = make_model(n_basis=3, degree=2, cutoff=5.0, seed=4)
    ds = Dataset.from_atoms(_pulay_shifted(labelled(truth, c_true, _pulay_frames()), -0.3))
    counts = {}
    for part in ("full", "pulay"):
        config = merge(load_config(), {
            "descriptor": {"cutoff": 5.0, "radial": {"kind": "chebyshev", "n_basis": 3}}, "model": {"degree": 2},
            "fit": {"method": "omp", "max_features": 6, "validation_fraction": 0.2, "stress": part,
                    "weights": {"energy": 100.0, "forces": 1.0, "stress": 10.0}}})
        pot, _ = fit_potential(ds, config)
        counts[part] = int(np.count_nonzero(pot.coefficients))
    assert counts["pulay"] == 6 and counts["full"] <= 6


def test_unknown_stress_part_is_a_one_line_error(tmp_path):
    from linpot.errors import LinpotInputError

    recipe = tmp_path / "r.toml"
    recipe.write_text('[fit]\nstress = "trace"\n')
    with pytest.raises(LinpotInputError, match="stress must be"):
        load_config(recipe)


def test_config_types_of_weight_zero_are_left_out_of_the_fit():
    """A config_type of weight 0 changes nothing (bit for bit), however wrong its labels: its
    structures are left out before the design matrix, not only weighted away."""
    from ase.calculators.singlepoint import SinglePointCalculator

    truth, c_true = make_model(n_basis=3, degree=2, cutoff=5.0, seed=4)
    frames = labelled(truth, c_true, [distorted_fcc(seed=s, repeat=(1, 1, 2)) for s in range(8)])
    extreme = []
    for s in range(3):
        atoms = distorted_fcc(seed=20 + s, repeat=(1, 1, 2), rattle=0.3)
        atoms.calc = SinglePointCalculator(atoms, energy=1e3, forces=np.full((len(atoms), 3), 50.0), stress=np.ones(6))
        atoms.info["config_type"] = "extreme"
        extreme.append(atoms)
    config = merge(load_config(), {
        "descriptor": {"cutoff": 5.0, "radial": {"kind": "chebyshev", "n_basis": 3}},
        "model": {"degree": 2},
        "fit": {"alphas": [1e-10, 1e-6], "validation_fraction": 0.2, "config_type_weights": {"extreme": 0.0}},
    })
    pot, _ = fit_potential(Dataset.from_atoms(frames), config)
    with_extreme, _ = fit_potential(Dataset.from_atoms(extreme[:2] + frames + extreme[2:]), config)
    assert with_extreme.coefficients.tobytes() == pot.coefficients.tobytes()
    # control: with a small nonzero weight the extreme structures do change the fit
    config["fit"]["config_type_weights"] = {"extreme": 1e-3}
    weighted, _ = fit_potential(Dataset.from_atoms(extreme[:2] + frames + extreme[2:]), config)
    assert np.abs(weighted.coefficients - pot.coefficients).max() > 1e-6
