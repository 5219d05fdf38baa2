"""Parity plots (PNG): predicted against reference energies per atom and force components,
coloured by config_type. Needs matplotlib."""

from __future__ import annotations

import io

import numpy as np

from .errors import LinpotInputError
from .potential import atomic_write_bytes


def parity_plot(ds, pred: dict, path, title: str = "") -> None:
    """Write a two-panel parity plot of ``pred`` (from :func:`linpot.metrics.predict_dataset`) against
    the labels of ``ds`` to ``path`` (written through a temporary file and a rename)."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:  # pragma: no cover
        raise LinpotInputError("parity plots need matplotlib (pip install matplotlib)") from None
    n = ds.n_atoms
    fig, axes = plt.subplots(1, 2, figsize=(8, 3.8))
    types = np.array(ds.config_type)
    for t in sorted(set(ds.config_type)):
        m = types == t
        e = m & ds.has_energy
        axes[0].scatter(ds.energy[e] / n[e], pred["energy"][e] / n[e], s=12, label=t or "(none)")
        atom_mask = np.repeat(m & ds.has_forces, n)
        axes[1].scatter(ds.forces[atom_mask].ravel(), pred["forces"][atom_mask].ravel(), s=2, alpha=0.5, label=t)
    for ax, label in zip(axes, ("energy (eV/atom)", "force component (eV/Å)")):
        lo, hi = ax.get_xlim()
        ax.plot([lo, hi], [lo, hi], "k-", lw=0.6)
        ax.set_xlabel(f"DFT {label}")
        ax.set_ylabel(f"linpot {label}")
    axes[0].legend(fontsize=7)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    buffer = io.BytesIO()
    try:
        fig.savefig(buffer, dpi=110, format="png")
    finally:
        plt.close(fig)
    atomic_write_bytes(path, buffer.getvalue())
