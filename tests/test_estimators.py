"""One estimator protocol: every registered method builds from a recipe, fits on normal equations
and held-out parts, and sets the same learned state; the pipeline and the committee know only
the protocol."""

import inspect
import re

import numpy as np
import pytest

import linpot.fit.committee
import linpot.fit.pipeline
from linpot.errors import LinpotInputError
from linpot.fit import ESTIMATORS, METHODS, Fold, NormalEquations, estimator_class
from linpot.fit.config import DEFAULT_CONFIG
from linpot.fit.report import RMSE_KEYS

WEIGHTS = {"energy": 1.0, "forces": 0.5, "stress": 0.0}


def problem(seed=0, n=240, p=12, n_folds=3):
    """A linear model with an unpenalised constant column; energy and force rows; k folds.
    Returns the normal equations of everything, the folds, the truth and each fold's held-out
    rows ``(X_energy, y_energy)``."""
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, p)) * rng.uniform(0.5, 5.0, size=p)
    X[:, 0] = 1.0
    truth = np.zeros(p)
    truth[[0, 2, 5, 7]] = [3.0, 1.0, -0.5, 0.8]
    y = X @ truth + 0.01 * rng.normal(size=n)
    parts, energy_rows = [], []
    for k in range(n_folds):
        eq = NormalEquations(p)
        rows = np.arange(k, n, n_folds)
        eq.add_rows("energy", X[rows[::4]], y[rows[::4]])
        eq.add_rows("forces", X[rows], y[rows])
        eq.n_structures = len(rows)
        parts.append(eq)
        energy_rows.append((X[rows[::4]], y[rows[::4]]))
    total = NormalEquations(p)
    for eq in parts:
        total += eq
    folds = []
    for k in range(n_folds):
        train = NormalEquations(p)
        for j, eq in enumerate(parts):
            if j != k:
                train += eq
        folds.append(Fold(train, parts[k], parts[k]))
    return total, folds, truth, energy_rows


def recipe(method):
    return {**DEFAULT_CONFIG["fit"], "method": method, "alphas": [1e-10, 1e-6, 1e-2], "max_features": 6}


@pytest.mark.parametrize("method", METHODS)
def test_every_method_follows_the_protocol(method):
    total, folds, truth, _ = problem()
    cls = estimator_class(method)
    assert ESTIMATORS[method] is cls
    estimator = cls.from_recipe(method, recipe(method), [0])
    assert not any(name.endswith("_") and not name.startswith("_") for name in vars(estimator)), \
        "the constructor stores hyperparameters only"
    assert estimator.fit(total, WEIGHTS, folds) is estimator
    assert estimator.coef_.shape == truth.shape
    np.testing.assert_allclose(estimator.coef_, truth, atol=0.05)
    assert isinstance(estimator.alpha_, float) and estimator.chosen_["alpha"] == estimator.alpha_
    assert len(estimator.fold_coef_) == len(folds)
    curve = estimator.validation_curve_
    assert curve and sum(entry["chosen"] for entry in curve) == 1
    for entry in curve:
        assert set(RMSE_KEYS) <= set(entry) and entry["loss"] >= 0 and entry["n_nonzero"] >= 1
        assert entry["energy_rmse_mev_per_atom"] > 0 and entry["stress_rmse_gpa"] is None  # no stress rows
    assert isinstance(estimator.warnings_, list)
    assert (estimator.uncertainty_ is not None) == cls.has_posterior
    assert isinstance(estimator.recipe_bounds(), dict)


@pytest.mark.parametrize("method", METHODS)
def test_fold_coefficients_are_the_choice_fitted_without_each_part(method):
    """The chosen curve entry is the held-out error of the fold coefficients, pooled over every
    held-out row; for ridge and Bayes they are the same fit made on each fold's training part."""
    total, folds, _, energy_rows = problem(seed=1)
    cls = estimator_class(method)
    estimator = cls.from_recipe(method, recipe(method), [0]).fit(total, WEIGHTS, folds)
    chosen = next(entry for entry in estimator.validation_curve_ if entry["chosen"])
    residuals = np.concatenate([X @ w - y for w, (X, y) in zip(estimator.fold_coef_, energy_rows)])
    assert chosen["energy_rmse_mev_per_atom"] == pytest.approx(1000 * np.sqrt(np.mean(residuals**2)), rel=1e-7)
    refits = {"ridge": lambda: cls([estimator.alpha_], [0]), "bayes": lambda: cls([0])}
    if method in refits:
        for w, fold in zip(estimator.fold_coef_, folds):
            np.testing.assert_allclose(w, refits[method]().fit(fold.train, WEIGHTS, []).coef_, rtol=1e-9, atol=1e-12)


def test_without_held_out_parts():
    total, _, truth, _ = problem(seed=2)
    for method in METHODS:
        estimator = estimator_class(method).from_recipe(method, recipe(method), [0])
        if method in ("ridge", "bayes"):
            estimator.fit(total, WEIGHTS, [])
            assert estimator.validation_curve_ == [] and estimator.fold_coef_ == []
            np.testing.assert_allclose(estimator.coef_, truth, atol=0.05)
        else:
            with pytest.raises(LinpotInputError, match="needs held-out structures"):
                estimator.fit(total, WEIGHTS, [])
    ridge = estimator_class("ridge").from_recipe("ridge", recipe("ridge"), [0]).fit(total, WEIGHTS, [])
    assert ridge.alpha_ == 1e-6  # the median of the grid


def test_unknown_methods_and_bad_bounds_are_one_line_errors():
    with pytest.raises(LinpotInputError, match="unknown fit method 'ridge2'"):
        estimator_class("ridge2")
    with pytest.raises(LinpotInputError, match="max_features must exceed the 2"):
        estimator_class("omp").from_recipe("omp", {**recipe("omp"), "max_features": 2}, [0, 1])
    assert estimator_class("omp").from_recipe("omp", recipe("omp"), [0]).recipe_bounds() == {"max_features": 6}


@pytest.mark.parametrize("module", [linpot.fit.pipeline, linpot.fit.committee])
def test_the_pipeline_and_the_committee_never_branch_on_a_method(module):
    source = inspect.getsource(module)
    code = "\n".join(line.split("#")[0] for line in source.splitlines())
    code = re.sub(r'"""(.|\n)*?"""', "", code)  # docstrings may name methods
    for pattern in (r"method\s*[!=]=", r"\bin\s+SPARSE_METHODS", r"isinstance\(", r"hasattr\(", r"getattr\(",
                    *(rf"[\"']{re.escape(name)}[\"']" for name in METHODS if name != "ridge")):
        assert not re.search(pattern, code), (module.__name__, pattern)
