"""Fitting a committee: each member by :func:`linpot.fit.fit_potential`, then the committee mean
scored on the same held-out structures.

Every member shares the training data, the fit method, ``kfold``/``validation_fraction`` and
``seed``, so its held-out parts are the same structures; each member's chosen candidate refitted
without a part (its fold coefficients) predicts that part, and the committee's held-out error is
that of the members' mean. It is the committee's own cross-validation error, not a combination of
the members' numbers (their errors are partly correlated).
"""

from __future__ import annotations

import logging
import time

import numpy as np

from ..conventions import GPA
from ..errors import LinpotInputError
from ..potential.committee import CommitteePotential
from .config import committee_member_config
from .estimators import estimator_class
from .normal_equations import QUANTITIES, atom_density, deviatoric_projection, pulay_column
from .report import RMSE_KEYS, FitReport, rmse_fields, to_report_units

log = logging.getLogger(__name__)


def held_out_parts(train, fit_cfg: dict) -> list[np.ndarray]:
    """Structure indices of each held-out part, in the order of the fold coefficients: the
    parts :func:`linpot.fit.held_out_assignment` gives every member's fit."""
    from .pipeline import held_out_assignment

    part, n_parts = held_out_assignment(train, fit_cfg)
    held_out = range(n_parts) if int(fit_cfg.get("kfold", 0) or 0) >= 2 else [1]
    return [np.nonzero(part == k)[0] for k in held_out]


def committee_validation(members, fold_coefficients: list[list[np.ndarray]], train, parts,
                         stress_part: str = "full", fold_pulay: list[list[float]] | None = None) -> tuple[dict, dict]:
    """Held-out RMSE of the committee mean, pooled over all held-out rows, overall and per config_type.

    ``fold_coefficients[m][k]``: member m fitted without part k. The stress is scored as the
    members were fitted (``stress_part``): the traceless part only for ``"deviatoric"``; for
    ``"pulay"`` against the labels less the members' mean Pulay stress fitted without part k,
    ``fold_pulay[m][k] N/V`` (:func:`~linpot.fit.normal_equations.pulay_column`). Returns ``(overall, by_type)``,
    each with the RMSE fields of :class:`~linpot.fit.report.HeldOutErrors` and ``n_structures``;
    ``overall`` also has ``energy_std_rms_mev_per_atom``, the root mean square over held-out
    structures of the members' spread (sample standard deviation) of the energy per atom. (Each
    member's own held-out errors on the same rows are its report's ``held_out``.)"""
    sse, count = {}, {}

    def add(key, q, err):
        sse.setdefault(key, dict.fromkeys(QUANTITIES, 0.0))
        count.setdefault(key, dict.fromkeys(QUANTITIES, 0))
        sse[key][q] += float(np.sum(err**2))
        count[key][q] += int(err.size)

    n_structures, spread = {}, []
    for k, idx in enumerate(parts):
        for s_index in idx:
            s = train.atom_slice(s_index)
            with train.located(s_index):
                preds = [m.model.predict(fold_coefficients[j][k], train.positions[s], train.numbers[s],
                                         train.cells[s_index], train.pbc[s_index]) for j, m in enumerate(members)]
            name = train.config_type[s_index]
            n_structures[name] = n_structures.get(name, 0) + 1
            n_atoms = s.stop - s.start
            if train.has_energy[s_index]:
                spread.append(np.std([p["energy"] / n_atoms for p in preds], ddof=1))
            for key in (None, name):
                if train.has_energy[s_index]:
                    add(key, "energy", np.array([np.mean([p["energy"] for p in preds]) - train.energy[s_index]]) / n_atoms)
                if train.has_forces[s_index]:
                    add(key, "forces", np.mean([p["forces"] for p in preds], axis=0) - train.forces[s])
                if train.has_stress[s_index] and "stress" in preds[0]:
                    residual = np.mean([p["stress"] for p in preds], axis=0) - train.stress[s_index]
                    if stress_part == "deviatoric":
                        residual = deviatoric_projection() @ residual
                    elif stress_part == "pulay":
                        pulay = np.mean([fold_pulay[j][k] for j in range(len(members))])
                        residual = residual + pulay_column(atom_density(n_atoms, train.cells[s_index])) * GPA * pulay
                    add(key, "stress", residual / GPA)

    by_type = {name: {"n_structures": n, **rmse_fields(sse[name], count[name])} for name, n in sorted(n_structures.items())}
    overall = {**rmse_fields(sse[None], count[None]), "n_structures": int(sum(n_structures.values()))} if None in sse else {}
    if overall and spread:
        overall["energy_std_rms_mev_per_atom"] = to_report_units("energy", float(np.sqrt(np.mean(np.square(spread)))))
    return overall, by_type


def fit_committee(train, config: dict, client=None) -> tuple[CommitteePotential, FitReport]:
    """Fit every ``[[committee]]`` member of ``config`` on ``train``; returns the
    :class:`~linpot.potential.CommitteePotential` and a report
    (:class:`~linpot.fit.report.FitReport`) whose held-out errors are the committee mean's, with
    each member's own report under ``members``."""
    from .pipeline import fit_potential, peak_memory_mb

    fit_cfg = config["fit"]
    method = fit_cfg.get("method", "ridge")
    if estimator_class(method).has_posterior:
        raise LinpotInputError(f"committee members are point estimates (ridge or a sparse method), not {method} "
                               "(the committee's spread is its uncertainty)")
    t0 = time.perf_counter()
    members, reports, fold_coefficients, fold_pulay = [], [], [], []
    for k, member in enumerate(config["committee"], start=1):
        member_config = committee_member_config(config, member)
        log.info("committee member %d of %d: %s descriptor", k, len(config["committee"]),
                 member_config["descriptor"].get("kind"))
        folds: list = []
        pulay: list = []
        potential, report = fit_potential(train, member_config, client=client, fold_coefficients=folds, fold_pulay=pulay)
        members.append(potential)
        reports.append(report)
        fold_coefficients.append(folds)
        fold_pulay.append(pulay)
    members_s = time.perf_counter() - t0

    t0 = time.perf_counter()
    parts = held_out_parts(train, fit_cfg)
    overall, by_type = {}, {}
    if all(len(f) == len(parts) for f in fold_coefficients) and all(len(p) for p in parts):
        overall, by_type = committee_validation(members, fold_coefficients, train, parts,
                                                stress_part=fit_cfg.get("stress", "full"), fold_pulay=fold_pulay)
        log.info("committee held-out RMSE: energy %.3f meV/atom, forces %.4f eV/Å",
                 overall.get("energy_rmse_mev_per_atom") or float("nan"), overall.get("force_rmse_ev_per_angstrom") or float("nan"))
    kfold = int(fit_cfg.get("kfold", 0) or 0)
    provenance = dict(members[0].provenance)
    provenance["fit"] = {"method": "committee", "members": len(members), "member_method": method,
                         "seed": int(fit_cfg["seed"]),
                         **({"stress": fit_cfg["stress"]} if fit_cfg.get("stress", "full") != "full" else {}),
                         **({"kfold": kfold} if kfold >= 2 else {"validation_fraction": float(fit_cfg["validation_fraction"])})}
    scale = 1.0
    energy, spread = overall.get("energy_rmse_mev_per_atom"), overall.get("energy_std_rms_mev_per_atom")
    if energy and spread:
        # the spread of members fitted without the held-out structures, scaled to their actual error
        scale = energy / spread
        log.info("committee energy spread scaled by %.3g to match its held-out error", scale)
    committee = CommitteePotential(members, provenance, energy_std_scale=scale)
    chosen = {"members": len(members)}
    held_out = {key: value for key, value in overall.items() if key in RMSE_KEYS or key == "n_structures"}
    report: FitReport = {
        "method": "committee", "chosen": chosen, "alpha": None, "held_out": held_out,
        "validation_curve": [{**chosen, **{key: held_out[key] for key in RMSE_KEYS}, "chosen": True}] if held_out else [],
        "validation_by_config_type": by_type,
        "times": {"design_matrix_s": sum(r["times"]["design_matrix_s"] for r in reports), "members_s": members_s,
                  "committee_validation_s": time.perf_counter() - t0},
        "peak_memory_mb": {"committee_peak_mb": peak_memory_mb()},
        "n_coefficients": committee.n_features, "n_nonzero": committee.n_nonzero,
        "n_validation": int(sum(len(p) for p in parts)), "kfold": kfold,
        "dask_workers": reports[0].get("dask_workers", 0),
        "warnings": [f"member {k}: {w}" for k, r in enumerate(reports, start=1) for w in r.get("warnings", [])],
        **({"energy_std_rms_mev_per_atom": spread} if spread is not None else {}),
        "energy_std_scale": scale,
        "members": reports,
    }
    return committee, report
