"""The estimator protocol every fit method follows, and the registry of methods.

An estimator is scikit-learn style: the constructor stores hyperparameters and nothing else;
:meth:`Estimator.fit` learns; what it learned ends in ``_``. The pipeline
(:func:`linpot.fit.fit_potential`) and the committee (:mod:`linpot.fit.committee`) know only
this protocol and :data:`ESTIMATORS`, never a method's name.

``fit(total, weights, folds)`` takes the streamed normal equations as the pipeline builds them:

* ``total``: :class:`~linpot.fit.normal_equations.NormalEquations` of all training structures,
  config_type weights applied (per quantity, so that ``weights`` can combine them);
* ``weights``: the loss weight of each quantity, 1/(eV/atom), 1/(eV/Å), 1/GPa;
* ``folds``: the held-out parts, :class:`~linpot.fit.selection.Fold` (the weighted equations
  without the part, the part's weighted equations for the selection loss, its unweighted ones
  for the reported errors); empty when nothing is held out.

Every estimator reduces the problem the same way (:class:`~linpot.fit.linear_problem.ReducedProblem`)
and sets, after ``fit``:

* ``coef_``: the coefficients fitted on ``total``;
* ``alpha_``: its regularisation strength (ridge and sparse: relative ridge strength; Bayesian:
  prior precision of the standardised coefficients);
* ``chosen_``: the hyperparameters chosen (report ``chosen``, provenance of the potential);
* ``validation_curve_``: one :class:`~linpot.fit.report.CurveEntry` per candidate tried on the
  held-out parts (a single entry for the Bayesian fit; empty without held-out parts), exactly
  one with ``chosen`` true;
* ``fold_coef_``: per held-out part, the chosen candidate fitted without it (a committee
  scores its mean on them; empty without held-out parts);
* ``warnings_``: messages for the user (ridge: the choice at an end of the grid);
* ``uncertainty_``: what the potential file stores about the coefficients' uncertainty (the
  Bayesian posterior), or None.

Class attribute ``has_posterior``: the fit is a posterior, not a point estimate (a committee
refuses such members: its spread is its uncertainty). Class method ``from_recipe(method,
fit_cfg, unpenalised)`` builds the estimator from a recipe's ``[fit]`` table (and checks it);
``recipe_bounds()`` gives the recipe settings that bound the choice, for the provenance.
"""

from __future__ import annotations

from typing import ClassVar, Protocol

import numpy as np

from ..errors import LinpotInputError
from .bayes import BayesianRegression
from .ridge import RidgeRegression
from .sparse import SPARSE_METHODS, SparseRegression


class Estimator(Protocol):
    """What every fit method offers (see the module's documentation)."""

    has_posterior: ClassVar[bool]

    coef_: np.ndarray
    alpha_: float
    chosen_: dict
    validation_curve_: list[dict]
    fold_coef_: list[np.ndarray]
    warnings_: list[str]
    uncertainty_: dict | None

    @classmethod
    def from_recipe(cls, method: str, fit_cfg: dict, unpenalised) -> Estimator: ...

    def fit(self, total, weights: dict, folds=()) -> Estimator: ...

    def recipe_bounds(self) -> dict: ...


#: Method name (``[fit] method``, ``linpot fit --method``) -> estimator class.
ESTIMATORS: dict[str, type[Estimator]] = {
    "ridge": RidgeRegression,
    **{name: SparseRegression for name in SPARSE_METHODS},
    "bayes": BayesianRegression,
}
METHODS = tuple(ESTIMATORS)


def estimator_class(method: str) -> type[Estimator]:
    """The estimator class of a method name; a one-line error for an unknown one."""
    try:
        return ESTIMATORS[method]
    except KeyError:
        raise LinpotInputError(f"unknown fit method {method!r} (known: {', '.join(METHODS)})") from None
