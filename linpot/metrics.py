"""Predictions of a potential on a dataset and error tables (RMSE, MAE), overall and per config_type.

Units of the table: energy meV/atom, forces eV/Å, stress GPa.
"""

from __future__ import annotations

import numpy as np

from .conventions import GPA
from .errors import LinpotInputError


def predict_dataset(potential, ds) -> dict:
    """``energy`` (n, eV), ``forces`` (n_atoms, 3), ``stress`` (n, 6; NaN for non-periodic)."""
    n = len(ds)
    energy = np.full(n, np.nan)
    forces = np.full((int(ds.offsets[-1]), 3), np.nan)
    stress = np.full((n, 6), np.nan)
    for k in range(n):
        s = ds.atom_slice(k)
        try:
            out = potential.predict(ds.positions[s], ds.numbers[s], ds.cells[k], ds.pbc[k])
        except LinpotInputError as exc:
            path, index = ds.origin[k]
            raise LinpotInputError(exc.reason, path, index) from None
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
