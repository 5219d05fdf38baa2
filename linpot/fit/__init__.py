"""Fitting: training structures in, a potential out.

Owns the pipeline (:mod:`.pipeline`: build and standardise the model, stream design rows into
normal equations per held-out part and config_type, choose hyperparameters on held-out
structures, refit), the streamed normal equations (:mod:`.normal_equations`, :mod:`.accumulate`,
serial or on a dask cluster, the same bits either way), the estimators (ridge, sparse, Bayesian:
one protocol and the registry of methods, :mod:`.estimators`), hyperparameter selection
(:mod:`.selection`), the report's names and units (:mod:`.report`), committees
(:mod:`.committee`) and recipes with their presets (:mod:`.config`, ``presets/``). May import
structures, neighbours, descriptors, models, the potential and the base modules; never the
interfaces, analysis or the command line.
"""

from .accumulate import accumulate_normal_equations, dask_client
from .bayes import BayesianRegression
from .estimators import ESTIMATORS, METHODS, Estimator, estimator_class
from .normal_equations import NormalEquations
from .pipeline import build_model, fit_potential, held_out_assignment, make_estimator, peak_memory_mb
from .report import UNITS, FitReport
from .ridge import RidgePath, RidgeRegression, ridge_solve
from .selection import Fold, kfold_assignment, select_and_fit, validation_split
from .sparse import SPARSE_METHODS, SparseRegression

__all__ = ["ESTIMATORS", "METHODS", "SPARSE_METHODS", "UNITS", "BayesianRegression", "Estimator", "FitReport", "Fold",
           "NormalEquations", "RidgePath", "RidgeRegression", "SparseRegression", "accumulate_normal_equations",
           "build_model", "dask_client", "estimator_class", "fit_potential", "held_out_assignment", "kfold_assignment",
           "make_estimator", "peak_memory_mb", "ridge_solve", "select_and_fit", "validation_split"]
