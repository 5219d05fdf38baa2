"""Predictions of a potential on a dataset and error tables (RMSE, MAE), overall and per config_type.

Every error is named with its unit, as in the fit report (:mod:`linpot.fit.report`): energy
meV/atom, forces eV/Å, stress GPa (``energy_rmse_mev_per_atom``, ``force_rmse_ev_per_angstrom``,
``stress_rmse_gpa``, ...).
"""

from __future__ import annotations

import numpy as np

from ..conventions import GPA
from ..fit.report import REPORT_QUANTITIES, RMSE_KEYS, error_fields


def predict_dataset(potential, ds, on_structure=None) -> dict:
    """``energy`` (n, eV), ``forces`` (n_atoms, 3), ``stress`` (n, 6; NaN for non-periodic);
    ``on_structure()`` is called after each structure (a progress bar)."""
    n = len(ds)
    energy = np.full(n, np.nan)
    forces = np.full((int(ds.offsets[-1]), 3), np.nan)
    stress = np.full((n, 6), np.nan)
    for k in range(n):
        s = ds.atom_slice(k)
        with ds.located(k):
            out = potential.predict(ds.positions[s], ds.numbers[s], ds.cells[k], ds.pbc[k])
        energy[k] = out["energy"]
        forces[s] = out["forces"]
        if "stress" in out:
            stress[k] = out["stress"]
        if on_structure is not None:
            on_structure()
    return {"energy": energy, "forces": forces, "stress": stress}


def error_summary(ds, pred: dict, mask: np.ndarray | None = None) -> dict:
    """Errors over the structures in ``mask`` (all by default): an
    :class:`~linpot.fit.report.ErrorSummary`."""
    mask = np.ones(len(ds), dtype=bool) if mask is None else mask
    n_atoms = ds.n_atoms
    e_sel = mask & ds.has_energy
    f_sel = mask & ds.has_forces
    atom_sel = np.repeat(f_sel, n_atoms)
    s_sel = mask & ds.has_stress & np.all(np.isfinite(pred["stress"]), axis=1)
    errors = {"energy": (pred["energy"][e_sel] - ds.energy[e_sel]) / n_atoms[e_sel],
              "forces": pred["forces"][atom_sel] - ds.forces[atom_sel],
              "stress": (pred["stress"][s_sel] - ds.stress[s_sel]) / GPA}
    return {**error_fields(errors), "n_structures": int(mask.sum()), "n_atoms": int(n_atoms[mask].sum())}


def error_table(ds, pred: dict) -> dict:
    """``{"overall": summary, "by_config_type": {name: summary}}``."""
    types = np.array(ds.config_type)
    by_type = {str(t): error_summary(ds, pred, types == t) for t in sorted(set(ds.config_type))}
    return {"overall": error_summary(ds, pred), "by_config_type": by_type}


def format_error_table(table: dict, title: str = "") -> str:
    """A plain-text table: one line overall and one per config_type."""
    def fmt(v, spec):
        return f"{v:{spec}}" if v is not None else "-".rjust(int(spec.split(".")[0]))

    head = f"{'config_type':<20} {'n':>5} {'E rmse':>8} {'E mae':>8} {'F rmse':>8} {'F mae':>8} {'S rmse':>8} {'S mae':>8}"
    units = f"{'':<20} {'':>5} {'meV/at':>8} {'meV/at':>8} {'eV/Å':>8} {'eV/Å':>8} {'GPa':>8} {'GPa':>8}"
    lines = ([title] if title else []) + [head, units]
    rows = [("overall", table["overall"])] + list(table["by_config_type"].items())
    for name, s in rows:
        cells = " ".join(f"{fmt(s[q.key('rmse')], spec)} {fmt(s[q.key('mae')], spec)}"
                         for q, spec in zip(REPORT_QUANTITIES, _SPECS))
        lines.append(f"{name[:20]:<20} {s['n_structures']:>5} {cells}")
    return "\n".join(lines)


#: Printed precision of energy (meV/atom), forces (eV/Å) and stress (GPa).
_SPECS = ("8.3f", "8.4f", "8.3f")


def _held_out_text(errors: dict) -> str:
    """``energy 1.234 meV/atom, forces 0.0123 eV/Å, stress 0.123 GPa`` (quantities with labels)."""
    return ", ".join(f"{q.name} {errors[q.key('rmse')]:{spec.lstrip('8')}} {q.unit}"
                     for q, spec in zip(REPORT_QUANTITIES, _SPECS) if errors.get(q.key("rmse")) is not None)


def format_fit_summary(report: dict) -> str:
    """A short text table of a fit: method, chosen hyperparameters, held-out errors, times and memory."""
    chosen = ", ".join(f"{k} {v:.3g}" if isinstance(v, float) else f"{k} {v}" for k, v in report.get("chosen", {}).items())
    lines = [f"fit: {report['method']} ({chosen}); {report['n_nonzero']} of {report['n_coefficients']} coefficients nonzero"]
    held_out = report.get("held_out") or {}
    if any(held_out.get(key) is not None for key in RMSE_KEYS):
        held = "k-fold" if report.get("kfold", 0) >= 2 else f"{report['n_validation']} validation structures"
        lines.append(f"held-out RMSE ({held}, fitted without them): " + _held_out_text(held_out))
        for k, member in enumerate(report.get("members", []), start=1):
            own = member.get("held_out") or {}
            lines.append(f"  member {k} alone, same held-out rows: " + (_held_out_text(own) or "-"))
    times = report.get("times", {})
    mem = report.get("peak_memory_mb", {})
    lines.append("stages: " + ", ".join(f"{k[:-2].replace('_', ' ')} {v:.1f} s" for k, v in times.items())
                 + (f"; peak memory {max(mem.values()):.0f} MB" if mem else ""))
    lines.extend(f"warning: {w}" for w in report.get("warnings", []))
    for k, member in enumerate(report.get("members", []), start=1):
        lines.extend(f"  member {k}: {line}" for line in format_fit_summary(member).splitlines()
                     if not line.startswith("warning:"))
    return "\n".join(lines)


def uncertainty_table(potential, ds, pred: dict) -> dict:
    """Predicted standard deviation of the energy per atom of each structure against its actual error.

    Returns overall and per-config_type mean predicted std and RMSE (meV/atom), the Pearson and
    Spearman correlations of std with |error|, the fraction of errors within 1 and 2 std, and the
    mean per-atom energy std (meV); keys named with their units (:mod:`linpot.fit.report`)."""
    from scipy.stats import pearsonr, spearmanr

    n = len(ds)
    std = np.zeros(n)
    atomic = np.zeros(n)
    for k in range(n):
        s = ds.atom_slice(k)
        with ds.located(k):
            u = potential.predict_uncertainty(ds.positions[s], ds.numbers[s], ds.cells[k], ds.pbc[k])
        std[k] = u["energy_std"]
        atomic[k] = float(np.mean(u["atomic_energy_std"]))
    err = (pred["energy"] - ds.energy) / ds.n_atoms

    def summary(mask):
        m = mask & ds.has_energy
        out = {"n_structures": int(m.sum()),
               "energy_std_mean_mev_per_atom": float(1000 * std[m].mean()) if m.any() else None,
               "energy_rmse_mev_per_atom": error_fields({"energy": err[m]})["energy_rmse_mev_per_atom"] if m.any() else None,
               "atomic_energy_std_mean_mev": float(1000 * atomic[mask].mean()) if mask.any() else None,
               "within_1std": float(np.mean(np.abs(err[m]) <= std[m])) if m.any() else None,
               "within_2std": float(np.mean(np.abs(err[m]) <= 2 * std[m])) if m.any() else None,
               "pearson": None, "spearman": None}
        if m.sum() >= 3 and np.ptp(std[m]) > 0 and np.ptp(np.abs(err[m])) > 0:
            out["pearson"] = float(pearsonr(std[m], np.abs(err[m]))[0])
            out["spearman"] = float(spearmanr(std[m], np.abs(err[m]))[0])
        return out

    types = np.array(ds.config_type)
    return {"overall": summary(np.ones(n, dtype=bool)),
            "by_config_type": {str(t): summary(types == t) for t in sorted(set(ds.config_type))},
            "energy_std_mev_per_atom": (1000 * std).tolist()}


def format_uncertainty_table(table: dict) -> str:
    def fmt(v, spec):
        return f"{v:{spec}}" if v is not None else "-".rjust(int(spec.split(".")[0]))

    lines = ["predicted uncertainty of the energy per atom (meV/atom) against the actual error",
             f"{'config_type':<20} {'n':>5} {'mean std':>9} {'E rmse':>8} {'in 1std':>8} {'in 2std':>8} "
             f"{'pearson':>8} {'spearman':>8} {'atom std':>9}"]
    for name, s in [("overall", table["overall"])] + list(table["by_config_type"].items()):
        lines.append(f"{name[:20]:<20} {s['n_structures']:>5} {fmt(s['energy_std_mean_mev_per_atom'], '9.3f')} "
                     f"{fmt(s['energy_rmse_mev_per_atom'], '8.3f')} "
                     f"{fmt(s['within_1std'], '8.2f')} {fmt(s['within_2std'], '8.2f')} {fmt(s['pearson'], '8.2f')} "
                     f"{fmt(s['spearman'], '8.2f')} {fmt(s['atomic_energy_std_mean_mev'], '9.3f')}")
    return "\n".join(lines)
