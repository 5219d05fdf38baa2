"""The fit report: one name and one unit for every error-like number a fit or an evaluation gives.

The unit is in the name, so that a number cannot be read in the wrong unit and a reader of an
old key fails loudly instead of silently being off by a factor of 1000:

=====================================  ==========  ==============================================
key                                    unit        what
=====================================  ==========  ==============================================
``energy_rmse_mev_per_atom``           meV/atom    RMSE of the energy per atom
``energy_mae_mev_per_atom``            meV/atom    mean absolute error of the energy per atom
``force_rmse_ev_per_angstrom``         eV/Å        RMSE of the force components
``force_mae_ev_per_angstrom``          eV/Å        mean absolute error of the force components
``stress_rmse_gpa``                    GPa         RMSE of the Voigt stress components
``stress_mae_gpa``                     GPa         mean absolute error of the stress components
``energy_std_rms_mev_per_atom``        meV/atom    committee: root mean square over held-out
                                                   structures of the members' spread (fitted
                                                   without them) of the energy per atom
``energy_noise_std_mev_per_atom``      meV/atom    Bayesian fit: label noise of the energies
``force_noise_std_ev_per_angstrom``    eV/Å        Bayesian fit: label noise of the forces
``stress_noise_std_gpa``               GPa         Bayesian fit: label noise of the stresses
``energy_std_mean_mev_per_atom``       meV/atom    uncertainty table: mean predicted standard
                                                   deviation of the energy per atom
``energy_std_mev_per_atom``            meV/atom    uncertainty table: that deviation per structure
``atomic_energy_std_mean_mev``         meV         uncertainty table: mean predicted standard
                                                   deviation of the atomic energies
=====================================  ==========  ==============================================

A value is ``null`` (None) where there are no labels of that quantity. Errors are those of the
predictions, unweighted (the loss weights and config_type weights enter only ``loss``, the
weighted held-out loss that selects hyperparameters). A held-out RMSE is always pooled over all
held-out rows (every fold's rows together, each predicted by the fit made without its fold).
Times end in ``_s`` (seconds), memory in ``_mb`` (MB).

Where they appear (:class:`FitReport`): ``held_out`` (the chosen hyperparameters' held-out
errors), every entry of ``validation_curve`` (one per candidate), ``validation_by_config_type``,
``errors`` (train and test tables, :func:`linpot.analysis.metrics.error_table`), a committee's
members under ``members``; ``linpot evaluate --json`` prints the same error tables.
"""

from __future__ import annotations

from typing import NamedTuple, TypedDict

import numpy as np


class Quantity(NamedTuple):
    """A labelled quantity: its name in the normal equations, its name in report keys, its unit."""

    name: str       #: in :data:`linpot.fit.normal_equations.QUANTITIES`
    stem: str       #: in report keys
    suffix: str     #: unit, in report keys
    unit: str       #: unit, for people
    scale: float    #: from the normal equations' unit (eV/atom, eV/Å, GPa) to ``unit``

    def key(self, statistic: str) -> str:
        """Report key of a statistic (``rmse``, ``mae``, ``noise_std``) of this quantity."""
        return f"{self.stem}_{statistic}_{self.suffix}"


#: Energy per atom, force components, stress components, in the order of the normal equations.
REPORT_QUANTITIES = (
    Quantity("energy", "energy", "mev_per_atom", "meV/atom", 1000.0),
    Quantity("forces", "force", "ev_per_angstrom", "eV/Å", 1.0),
    Quantity("stress", "stress", "gpa", "GPa", 1.0),
)
_BY_NAME = {q.name: q for q in REPORT_QUANTITIES}

#: Every error-like key of a report or table, with its unit (the table above).
UNITS: dict[str, str] = {
    **{q.key(s): q.unit for s in ("rmse", "mae", "noise_std") for q in REPORT_QUANTITIES},
    "energy_std_rms_mev_per_atom": "meV/atom",
    "energy_std_mean_mev_per_atom": "meV/atom",
    "energy_std_mev_per_atom": "meV/atom",
    "atomic_energy_std_mean_mev": "meV",
}
#: The RMSE keys, energy, forces, stress.
RMSE_KEYS = tuple(q.key("rmse") for q in REPORT_QUANTITIES)
#: The MAE keys, energy, forces, stress.
MAE_KEYS = tuple(q.key("mae") for q in REPORT_QUANTITIES)


class HeldOutErrors(TypedDict):
    """RMSE per quantity (None: no labels), the errors a held-out score and a curve entry give."""

    energy_rmse_mev_per_atom: float | None
    force_rmse_ev_per_angstrom: float | None
    stress_rmse_gpa: float | None


class ErrorSummary(HeldOutErrors):
    """An error table's row: RMSE and MAE per quantity over ``n_structures`` (``n_atoms``)."""

    energy_mae_mev_per_atom: float | None
    force_mae_ev_per_angstrom: float | None
    stress_mae_gpa: float | None
    n_structures: int
    n_atoms: int


class CurveEntry(HeldOutErrors, total=False):
    """One candidate of a validation curve: its hyperparameters (``alpha``, ``n_features``, ...),
    its pooled held-out RMSEs, ``n_nonzero`` (mean over folds), ``loss`` (weighted held-out loss
    summed over folds, what the selection minimises) and ``chosen`` (the candidate refitted)."""

    n_nonzero: int
    loss: float
    chosen: bool


class FitReport(TypedDict, total=False):
    """What :func:`linpot.fit.fit_potential` and :func:`linpot.fit.committee.fit_committee`
    return, and ``linpot fit --report`` writes (it adds ``errors``, ``datasets``, ``config``,
    ``linpot_version``, ``potential`` and the read/fit/evaluate times)."""

    method: str
    chosen: dict                       #: chosen hyperparameters (committee: ``members``)
    alpha: float | None
    held_out: dict                     #: HeldOutErrors of the chosen candidate + ``n_structures``
    validation_curve: list[CurveEntry]
    validation_by_config_type: dict    #: {config_type: HeldOutErrors + n_structures}
    times: dict                        #: seconds, keys ending in ``_s``
    peak_memory_mb: dict               #: MB, keys ending in ``_mb``
    n_coefficients: int
    n_nonzero: int
    n_validation: int
    kfold: int
    dask_workers: int
    warnings: list[str]
    energy_std_rms_mev_per_atom: float  #: committee only
    energy_std_scale: float             #: committee only (dimensionless)
    members: list[FitReport]            #: committee only
    errors: dict                        #: {"train"|"test": {"overall": ErrorSummary, "by_config_type": {...}}}


def rmse_fields(sse: dict, n_rows: dict) -> HeldOutErrors:
    """RMSE fields from sums of squared errors per quantity in the normal equations' units
    (eV/atom, eV/Å, GPa); None where a quantity has no rows."""
    return {q.key("rmse"): (float(q.scale * np.sqrt(sse[q.name] / n_rows[q.name])) if n_rows.get(q.name) else None)
            for q in REPORT_QUANTITIES}


def error_fields(errors: dict) -> dict:
    """RMSE and MAE fields from arrays of errors per quantity in the normal equations' units."""
    out = {}
    for q in REPORT_QUANTITIES:
        err = np.asarray(errors.get(q.name, ()), dtype=float).ravel() * q.scale
        out[q.key("rmse")] = float(np.sqrt(np.mean(err**2))) if err.size else None
        out[q.key("mae")] = float(np.mean(np.abs(err))) if err.size else None
    return out


def noise_fields(noise_variance: dict) -> dict:
    """Label noise standard deviations from variances per quantity (normal equations' units squared)."""
    return {_BY_NAME[name].key("noise_std"): float(_BY_NAME[name].scale * np.sqrt(v))
            for name, v in noise_variance.items() if name in _BY_NAME and v is not None}


def to_report_units(quantity: str, value: float | None) -> float | None:
    """A value of ``quantity`` in the normal equations' unit, in the report's unit."""
    return None if value is None else float(_BY_NAME[quantity].scale * value)
