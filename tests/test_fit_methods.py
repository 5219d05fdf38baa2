"""The fitting engine's methods: compressed sensing recovers a known sparse model, the Bayesian
fit matches scikit-learn's evidence maximisation and a direct posterior, k-fold and chunked /
distributed accumulation give what the maths says, and fits are reproducible byte for byte."""

import json

import numpy as np
import pytest
from test_cli import FAST, small_cu  # noqa: F401  (fixture)

from linpot.cli import main
from linpot.fit import (
    BayesianRegression,
    NormalEquations,
    RidgeRegression,
    SparseRegression,
    accumulate_normal_equations,
    build_model,
    fit_potential,
    kfold_assignment,
    select_and_fit,
)
from linpot.fit.config import load_config, merge
from linpot.potential import Potential
from linpot.structures import read_datasets

WEIGHTS = {"energy": 1.0, "forces": 0.0, "stress": 0.0}


def equations(X, y):
    eq = NormalEquations(X.shape[1])
    eq.add_rows("energy", X, y)
    eq.n_structures = len(y)
    return eq


def sparse_problem(seed=0, n=400, p=40, noise=1e-3):
    """Column 0 is an unpenalised constant; the truth uses 5 of the other columns."""
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, p)) * rng.uniform(0.5, 20.0, size=p)
    X[:, 0] = 1.0
    truth = np.zeros(p)
    truth[0] = 3.0
    support = np.sort(rng.choice(np.arange(1, p), size=5, replace=False))
    truth[support] = rng.uniform(1.0, 2.0, size=5) * rng.choice([-1, 1], size=5) / np.abs(X[:, support]).mean(axis=0)
    y = X @ truth + noise * rng.normal(size=n)
    return X, y, truth, support


@pytest.mark.parametrize("method", ["lasso", "elastic-net", "omp", "lars"])
def test_sparse_methods_recover_a_known_sparse_model(method):
    X, y, truth, support = sparse_problem()
    fit_eq, val_eq = equations(X[:300], y[:300]), equations(X[300:], y[300:])
    total = equations(X, y)
    est = SparseRegression(method, unpenalised=[0], n_path=40, l1_ratio=0.7)
    label, coef, curve, _, _ = select_and_fit(est, [(fit_eq, val_eq)], total, WEIGHTS)
    assert sorted(np.nonzero(coef[1:])[0] + 1) == sorted(support), (label, np.nonzero(coef)[0])
    np.testing.assert_allclose(coef, truth, rtol=1e-2, atol=1e-4)
    # the curve shows the validation error falling to the noise level (1e-3 "eV/atom") once the
    # support is found; the curve is in the report's unit, meV/atom
    best = min(c["energy_rmse_mev_per_atom"] for c in curve)
    assert best < 2.0
    assert max(c["energy_rmse_mev_per_atom"] for c in curve if c["n_nonzero"] <= 3) > 10 * best


def test_max_features_limits_the_support():
    X, y, truth, support = sparse_problem(seed=3)
    fit_eq, val_eq = equations(X[:300], y[:300]), equations(X[300:], y[300:])
    est = SparseRegression("omp", max_features=4, unpenalised=[0])
    coef = select_and_fit(est, [(fit_eq, val_eq)], equations(X, y), WEIGHTS, max_nonzero=4).coef
    assert 1 <= np.count_nonzero(coef) <= 4


def test_bayesian_regression_matches_scikit_learn_and_direct_posterior():
    from sklearn.linear_model import BayesianRidge

    rng = np.random.default_rng(5)
    X = rng.normal(size=(120, 8))
    X /= np.linalg.norm(X, axis=0)  # unit columns: the standardisation is then the identity
    y = X @ rng.normal(size=8) + 0.05 * rng.normal(size=120)
    ours = BayesianRegression(tol=1e-12).fit_equations(X.T @ X, X.T @ y, float(y @ y), len(y))
    ref = BayesianRidge(fit_intercept=False, max_iter=10000, tol=1e-14, alpha_1=0.0, alpha_2=0.0,
                        lambda_1=0.0, lambda_2=0.0, alpha_init=1.0 / np.var(y), lambda_init=1.0).fit(X, y)
    np.testing.assert_allclose(ours.beta_["weighted"], ref.alpha_, rtol=1e-6)
    np.testing.assert_allclose(ours.alpha_, ref.lambda_, rtol=1e-6)
    np.testing.assert_allclose(ours.coef_, ref.coef_, rtol=1e-6, atol=1e-9)
    X_new = rng.normal(size=(5, 8))
    _, std = ref.predict(X_new, return_std=True)
    ours_std = np.sqrt(ours.predictive_variance(X_new) + 1.0 / ours.beta_["weighted"])
    np.testing.assert_allclose(ours_std, std, rtol=1e-6)
    # and directly: Sigma = (beta X^T X + alpha I)^-1, var = x Sigma x + 1/beta
    Sigma = np.linalg.inv(ours.beta_["weighted"] * X.T @ X + ours.alpha_ * np.eye(8))
    direct = np.einsum("ij,jk,ik->i", X_new, Sigma, X_new) + 1.0 / ours.beta_["weighted"]
    np.testing.assert_allclose(ours_std**2, direct, rtol=1e-10)


def test_bayesian_constant_column_has_flat_prior():
    """With an unpenalised constant the posterior mean equals ridge with alpha/beta and a free constant."""
    rng = np.random.default_rng(7)
    X = np.column_stack([np.ones(200), rng.normal(size=(200, 6)) * 3.0])
    y = 5.0 + X[:, 1:] @ rng.normal(size=6) + 0.1 * rng.normal(size=200)
    A, b = X.T @ X, X.T @ y
    bayes = BayesianRegression(unpenalised=[0]).fit_equations(A, b, float(y @ y), len(y))
    d = np.sqrt(np.diag(A))
    P = np.diag(np.r_[0.0, np.ones(6)] * d**2)
    direct = np.linalg.solve(A + bayes.alpha_ / bayes.beta_["weighted"] * P, b)
    np.testing.assert_allclose(bayes.coef_, direct, rtol=1e-8)
    assert abs(bayes.coef_[0] - 5.0) < 0.1
    # posterior covariance is the inverse of the posterior precision, in original units
    direct_cov = np.linalg.inv(bayes.beta_["weighted"] * A + bayes.alpha_ * P)
    np.testing.assert_allclose(bayes.covariance_, direct_cov, rtol=1e-7, atol=1e-14)


def test_kfold_assignment_spreads_every_config_type():
    types = ["a"] * 10 + ["b"] * 7 + ["c"] * 2
    fold = kfold_assignment(types, 3, seed=1)
    assert set(fold) == {0, 1, 2}
    for t in "ab":
        counts = np.bincount(fold[np.array(types) == t], minlength=3)
        assert counts.max() - counts.min() <= 1
    assert not np.array_equal(fold, kfold_assignment(types, 3, seed=2))


def test_kfold_selection_sums_fold_losses():
    X, y, _, _ = sparse_problem(seed=2, noise=0.5)
    parts = [equations(X[k::4], y[k::4]) for k in range(4)]
    folds = []
    for k in range(4):
        train = NormalEquations(X.shape[1])
        for j in range(4):
            if j != k:
                train += parts[j]
        folds.append((train, parts[k]))
    est = RidgeRegression(alphas=[1e-8, 1e-4, 1e-1, 10.0], unpenalised=[0])
    label, coef, curve, _, index = select_and_fit(est, folds, equations(X, y), WEIGHTS)
    expected, pooled = [], []
    for alpha in est.alphas:
        loss, sq, n = 0.0, 0.0, 0
        for k, (train, val) in enumerate(folds):
            w = RidgeRegression([alpha], [0]).candidates(*train.combined(WEIGHTS))[0][1]
            loss += val.sse(w)["energy"]
            # the held-out RMSE is pooled over every held-out row, straight from the data
            sq += float(np.sum((X[k::4] @ w - y[k::4]) ** 2))
            n += len(y[k::4])
        expected.append(loss)
        pooled.append(1000 * np.sqrt(sq / n))
    np.testing.assert_allclose([c["loss"] for c in curve], expected, rtol=1e-9)
    np.testing.assert_allclose([c["energy_rmse_mev_per_atom"] for c in curve], pooled, rtol=1e-7)
    assert label["alpha"] == est.alphas[int(np.argmin(expected))]
    assert [c["chosen"] for c in curve] == [k == index for k in range(len(curve))] and curve[index]["alpha"] == label["alpha"]


@pytest.fixture(scope="module")
def cu_data(small_cu):  # noqa: F811
    train, test = small_cu
    config = load_config()
    config = merge(config, {"descriptor": {"cutoff": 4.5, "radial": {"kind": "chebyshev", "n_basis": 4}},
                            "model": {"degree": 2}})
    return read_datasets([train]), config


def test_chunked_accumulation_equals_one_structure_at_a_time(cu_data):
    ds, config = cu_data
    model = build_model(config, ds.elements)
    groups = np.arange(len(ds)) % 2
    chunked = accumulate_normal_equations(model, ds, groups, 2, chunk_atoms=300)
    single = [NormalEquations(model.n_coefficients) for _ in range(2)]
    for k in range(len(ds)):
        s = ds.atom_slice(k)
        rows = model.design_rows(ds.positions[s], ds.numbers[s], ds.cells[k], ds.pbc[k])
        single[groups[k]].add_structure(rows, s.stop - s.start, energy=ds.energy[k], forces=ds.forces[s],
                                        stress=ds.stress[k] if ds.has_stress[k] else None)
    for a, b in zip(chunked, single):
        assert a.n_structures == b.n_structures
        for q in ("energy", "forces"):
            np.testing.assert_allclose(a.A[q], b.A[q], rtol=1e-12, atol=1e-12 * np.abs(b.A[q]).max())
            np.testing.assert_allclose(a.b[q], b.b[q], rtol=1e-12, atol=1e-12 * np.abs(b.b[q]).max())


# Distributed against serial fits, bit for bit: tests/test_distributed_fit.py.


def test_config_type_weights_act_as_repeated_structures(cu_data):
    """Weight w on a config_type equals that config_type's structures entering w^2 times."""
    ds, config = cu_data
    name = sorted(set(ds.config_type))[0]
    weighted = merge(config, {"fit": {"config_type_weights": {name: 2.0}, "validation_fraction": 0.0,
                                      "alphas": [1e-8]}})
    pot_w, _ = fit_potential(ds, weighted)
    idx = [k for k in range(len(ds))] + [k for k in range(len(ds)) if ds.config_type[k] == name] * 3
    plain = merge(config, {"fit": {"validation_fraction": 0.0, "alphas": [1e-8]}})
    pot_r, _ = fit_potential(ds.subset(idx), plain)
    # standardisation uses a sample of structures, so compare predictions rather than coefficients
    s = ds.atom_slice(0)
    a = pot_w.predict(ds.positions[s], ds.numbers[s], ds.cells[0], ds.pbc[0])
    pot_r.model.standardise(pot_w.model.feature_mean, pot_w.model.feature_scale)
    pot_r2, _ = fit_potential(ds.subset(idx), plain)
    b = pot_r2.predict(ds.positions[s], ds.numbers[s], ds.cells[0], ds.pbc[0])
    np.testing.assert_allclose(a["forces"], b["forces"], atol=1e-3)
    unweighted, _ = fit_potential(ds, plain)
    c = unweighted.predict(ds.positions[s], ds.numbers[s], ds.cells[0], ds.pbc[0])
    assert np.abs(c["forces"] - a["forces"]).max() > 10 * np.abs(a["forces"] - b["forces"]).max()


def test_same_input_gives_the_same_potential_file_byte_for_byte(small_cu, tmp_path):  # noqa: F811
    train, test = small_cu
    outputs = []
    for k in range(2):
        out = tmp_path / f"pot{k}.json"
        assert main(["fit", "--train", str(train), "-o", str(out), *FAST, "--method", "omp", "--max-features", "8", "--kfold", "3"]) == 0
        outputs.append(out.read_bytes())
    assert outputs[0] == outputs[1]


@pytest.mark.parametrize("method", ["lasso", "omp", "lars", "ridge"])
def test_cli_methods(method, small_cu, tmp_path, capsys):  # noqa: F811
    train, test = small_cu
    pot = tmp_path / "pot.json"
    report = tmp_path / "report.json"
    assert main(["fit", "--train", str(train), "--test", str(test), "-o", str(pot), *FAST, "--method", method,
                 "--max-features", "8", "--kfold", "3", "--report", str(report)]) == 0
    p = Potential.load(pot)
    assert p.provenance["fit"]["method"] == method
    if method != "ridge":
        assert p.n_nonzero <= 8
    r = json.loads(report.read_text())
    assert r["method"] == method and r["validation_curve"]
    assert set(r["peak_memory_mb"]) >= {"design_matrix_peak_mb", "solve_peak_mb"}
    # the reported test errors are those of the saved potential on the test file (meV/atom, eV/Å)
    from linpot.structures import read_structures

    ds = read_structures(test)
    pred = [p.predict(ds.positions[ds.atom_slice(k)], ds.numbers[ds.atom_slice(k)], ds.cells[k], ds.pbc[k])
            for k in range(len(ds))]
    e_err = [(o["energy"] - ds.energy[k]) / ds.n_atoms[k] for k, o in enumerate(pred)]
    f_err = np.concatenate([(o["forces"] - ds.forces[ds.atom_slice(k)]).ravel() for k, o in enumerate(pred)])
    overall = r["errors"]["test"]["overall"]
    assert overall["energy_rmse_mev_per_atom"] == pytest.approx(1000 * np.sqrt(np.mean(np.square(e_err))), rel=1e-9)
    assert overall["force_rmse_ev_per_angstrom"] == pytest.approx(np.sqrt(np.mean(f_err**2)), rel=1e-9)
    assert overall["n_structures"] == len(ds) == 4
    assert r["datasets"]["train"][0]["sha256"]


def test_cli_bayes_uncertainty_and_parity(small_cu, tmp_path, capsys):  # noqa: F811
    train, test = small_cu
    pot = tmp_path / "bayes.json"
    png = tmp_path / "parity.png"
    assert main(["fit", "--train", str(train), "--test", str(test), "-o", str(pot), *FAST, "--method", "bayes",
                 "--parity", str(png)]) == 0
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    loaded = Potential.load(pot)
    assert loaded.uncertainty is not None
    cov = loaded.uncertainty["covariance"]
    assert cov.shape == (loaded.n_features, loaded.n_features)
    np.testing.assert_array_equal(cov, cov.T)
    assert np.all(np.linalg.eigvalsh(cov) > -1e-12 * np.abs(cov).max())
    capsys.readouterr()
    assert main(["evaluate", str(pot), str(test), "--json", "--uncertainty"]) == 0
    table = json.loads(capsys.readouterr().out)
    u = table["uncertainty"]
    assert u["overall"]["n_structures"] == 4 and u["overall"]["energy_std_mean_mev_per_atom"] > 0
    assert len(u["energy_std_mev_per_atom"]) == 4
    # the file round-trips the covariance exactly
    again = tmp_path / "again.json"
    loaded.save(again)
    np.testing.assert_array_equal(Potential.load(again).uncertainty["covariance"], cov)


def test_uncertainty_of_a_non_bayesian_potential_is_a_clear_error(small_cu, tmp_path, capsys):  # noqa: F811
    train, test = small_cu
    pot = tmp_path / "ridge.json"
    assert main(["fit", "--train", str(train), "-o", str(pot), *FAST]) == 0
    capsys.readouterr()
    assert main(["evaluate", str(pot), str(test), "--uncertainty"]) == 2
    err = capsys.readouterr().err
    assert "no uncertainty model" in err and "Traceback" not in err


def test_bayesian_estimates_one_noise_level_per_quantity():
    """Two kinds of labels of one linear model with noise 0.01 and 0.3: each noise level is
    recovered, and the posterior is the inverse of sum_q beta_q X_q^T X_q + alpha P."""
    rng = np.random.default_rng(11)
    w = rng.normal(size=6)
    XE, XF = rng.normal(size=(300, 6)), rng.normal(size=(3000, 6))
    yE, yF = XE @ w + 0.01 * rng.normal(size=300), XF @ w + 0.3 * rng.normal(size=3000)
    eq = NormalEquations(6)
    eq.add_rows("energy", XE, yE)
    eq.add_rows("forces", XF, yF)
    weights = {"energy": 3.0, "forces": 1.0}  # deliberately not the precision ratio (30)
    bayes = BayesianRegression().fit(eq, weights)
    assert abs(np.sqrt(bayes.noise_variance_["energy"]) / 0.01 - 1) < 0.1
    assert abs(np.sqrt(bayes.noise_variance_["forces"]) / 0.3 - 1) < 0.05
    A_w = 9.0 * eq.A["energy"] + eq.A["forces"]
    b_w = 9.0 * eq.b["energy"] + eq.b["forces"]
    precision = bayes.beta_["weighted"] * A_w + bayes.alpha_ * np.diag(np.diag(A_w))
    np.testing.assert_allclose(bayes.covariance_, np.linalg.inv(precision), rtol=1e-8, atol=1e-16)
    np.testing.assert_allclose(bayes.coef_, np.linalg.solve(precision, bayes.beta_["weighted"] * b_w), rtol=1e-8)


@pytest.mark.parametrize("flags, fragment", [
    (["--workers", "0"], "--workers must be at least 1"),
    (["--kfold", "99"], "kfold = 99 needs at least 99"),
    (["--method", "omp", "--max-features", "1", "--kfold", "3"], "max_features must exceed"),
    (["--descriptor", "snap", "--cutoff", "5"], "unknown snap descriptor option(s): cutoff"),
])
def test_bad_fit_options_are_one_line_errors(flags, fragment, small_cu, tmp_path, capsys):  # noqa: F811
    from test_cli import assert_one_line_error

    train, _ = small_cu
    out = tmp_path / "o.json"
    code = main(["fit", "--train", str(train), "-o", str(out), *flags])
    assert_one_line_error(capsys, code, fragment)
    assert not out.exists()


def test_export_needs_an_output(tmp_path, capsys):
    from pathlib import Path

    from test_cli import assert_one_line_error

    pot = Path(__file__).resolve().parents[1] / "fits" / "mlearn-Cu-pair.json"
    assert_one_line_error(capsys, main(["export", str(pot)]), "give -o MODULE.py")
