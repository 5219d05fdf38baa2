"""Predictions of a potential on a dataset and error tables (RMSE, MAE), overall and per config_type.

Units of the table: energy meV/atom, forces eV/Å, stress GPa.
"""

from __future__ import annotations

import numpy as np

from ..conventions import GPA


def predict_dataset(potential, ds) -> dict:
    """``energy`` (n, eV), ``forces`` (n_atoms, 3), ``stress`` (n, 6; NaN for non-periodic)."""
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
    return {"energy": energy, "forces": forces, "stress": stress}


def _stats(err: np.ndarray):
    if err.size == 0:
        return None, None
    return float(np.sqrt(np.mean(err**2))), float(np.mean(np.abs(err)))


def error_summary(ds, pred: dict, mask: np.ndarray | None = None) -> dict:
    """Errors over the structures in ``mask`` (all by default)."""
    mask = np.ones(len(ds), dtype=bool) if mask is None else mask
    n_atoms = ds.n_atoms
    e_sel = mask & ds.has_energy
    e_err = 1000.0 * (pred["energy"][e_sel] - ds.energy[e_sel]) / n_atoms[e_sel]
    f_sel = mask & ds.has_forces
    atom_sel = np.repeat(f_sel, n_atoms)
    f_err = (pred["forces"][atom_sel] - ds.forces[atom_sel]).ravel()
    s_sel = mask & ds.has_stress & np.all(np.isfinite(pred["stress"]), axis=1)
    s_err = ((pred["stress"][s_sel] - ds.stress[s_sel]) / GPA).ravel()
    e_rmse, e_mae = _stats(e_err)
    f_rmse, f_mae = _stats(f_err)
    s_rmse, s_mae = _stats(s_err)
    return {
        "energy_rmse": e_rmse, "energy_mae": e_mae,
        "force_rmse": f_rmse, "force_mae": f_mae,
        "stress_rmse": s_rmse, "stress_mae": s_mae,
        "n_structures": int(mask.sum()), "n_atoms": int(n_atoms[mask].sum()),
    }


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
        lines.append(
            f"{name[:20]:<20} {s['n_structures']:>5} {fmt(s['energy_rmse'], '8.3f')} {fmt(s['energy_mae'], '8.3f')} "
            f"{fmt(s['force_rmse'], '8.4f')} {fmt(s['force_mae'], '8.4f')} {fmt(s['stress_rmse'], '8.3f')} "
            f"{fmt(s['stress_mae'], '8.3f')}"
        )
    return "\n".join(lines)


def format_fit_summary(report: dict) -> str:
    """A short text table of a fit: method, chosen hyperparameters, held-out errors, times and memory."""
    chosen = ", ".join(f"{k} {v:.3g}" if isinstance(v, float) else f"{k} {v}" for k, v in report.get("chosen", {}).items())
    lines = [f"fit: {report['method']} ({chosen}); {report['n_nonzero']} of {report['n_coefficients']} coefficients nonzero"]
    curve = report.get("validation_curve") or []
    if curve:
        best = min(curve, key=lambda c: c.get("loss", 0.0)) if "loss" in curve[0] else curve[0]
        held = "k-fold" if report.get("kfold", 0) >= 2 else f"{report['n_validation']} validation structures"
        parts = []
        for q, scale, unit, spec in (("energy", 1000.0, "meV/atom", ".3f"), ("forces", 1.0, "eV/Å", ".4f"),
                                     ("stress", 1.0, "GPa", ".3f")):
            v = best.get(f"{q}_rmse")
            if v is not None:
                parts.append(f"{q} {v * scale:{spec}} {unit}")
        lines.append(f"held-out RMSE ({held}, fitted without them): " + ", ".join(parts))
        for k, own in enumerate(best.get("members", []), start=1):
            lines.append(f"  member {k} alone, same held-out rows: energy {1000 * own['energy_rmse']:.3f} meV/atom, "
                         f"forces {own['forces_rmse']:.4f} eV/Å" if own.get("energy_rmse") is not None
                         and own.get("forces_rmse") is not None else f"  member {k} alone: -")
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
    mean per-atom energy std (meV)."""
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
        out = {"n_structures": int(m.sum()), "mean_std": float(1000 * std[m].mean()) if m.any() else None,
               "energy_rmse": float(1000 * np.sqrt(np.mean(err[m] ** 2))) if m.any() else None,
               "mean_atomic_std": float(1000 * atomic[mask].mean()) if mask.any() else None,
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
            "energy_std": (1000 * std).tolist()}


def format_uncertainty_table(table: dict) -> str:
    def fmt(v, spec):
        return f"{v:{spec}}" if v is not None else "-".rjust(int(spec.split(".")[0]))

    lines = ["predicted uncertainty of the energy per atom (meV/atom) against the actual error",
             f"{'config_type':<20} {'n':>5} {'mean std':>9} {'E rmse':>8} {'in 1std':>8} {'in 2std':>8} "
             f"{'pearson':>8} {'spearman':>8} {'atom std':>9}"]
    for name, s in [("overall", table["overall"])] + list(table["by_config_type"].items()):
        lines.append(f"{name[:20]:<20} {s['n_structures']:>5} {fmt(s['mean_std'], '9.3f')} {fmt(s['energy_rmse'], '8.3f')} "
                     f"{fmt(s['within_1std'], '8.2f')} {fmt(s['within_2std'], '8.2f')} {fmt(s['pearson'], '8.2f')} "
                     f"{fmt(s['spearman'], '8.2f')} {fmt(s['mean_atomic_std'], '9.3f')}")
    return "\n".join(lines)
