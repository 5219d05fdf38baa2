"""Plots (PNG, matplotlib): parity plots (predicted against reference energies per atom and
force components, coloured by config_type) and accuracy against evaluation cost with its Pareto
front."""

from __future__ import annotations

import io

import numpy as np

from ..errors import LinpotInputError
from ..io import atomic_write_bytes


def _pyplot():
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:  # pragma: no cover
        raise LinpotInputError("plots need matplotlib (pip install matplotlib)") from None
    return plt


def _save(fig, plt, path) -> None:
    buffer = io.BytesIO()
    try:
        fig.savefig(buffer, dpi=110, format="png")
    finally:
        plt.close(fig)
    atomic_write_bytes(path, buffer.getvalue())


def pareto_front(costs, errors) -> np.ndarray:
    """Indices of the non-dominated points, by increasing cost: those that no other point
    dominates (a cost as low or lower and an error as low or lower, one of them strictly; lower is
    better in both). Identical points are all kept."""
    costs, errors = np.asarray(costs, dtype=float), np.asarray(errors, dtype=float)
    front = []
    for k in np.lexsort((errors, costs)):
        last = front[-1] if front else None
        if last is None or errors[k] < errors[last] or (errors[k] == errors[last] and costs[k] == costs[last]):
            front.append(int(k))
    return np.array(front, dtype=np.int64)


def cost_accuracy_plot(labels, costs, energy_rmse, force_rmse, path, title: str = "") -> None:
    """Two panels, energy RMSE (meV/atom) and force RMSE (eV/Å) against evaluation cost
    (µs/atom), both on log scales, one colour per point (legend) and the Pareto front of each
    panel drawn as a line."""
    plt = _pyplot()
    fig, axes = plt.subplots(1, 2, figsize=(10, 4))
    costs = np.asarray(costs, dtype=float)
    markers = "osD^v<>ph*"
    for ax, errors, ylabel in ((axes[0], energy_rmse, "energy RMSE (meV/atom)"), (axes[1], force_rmse, "force RMSE (eV/Å)")):
        errors = np.asarray(errors, dtype=float)
        front = pareto_front(costs, errors)
        ax.step(costs[front], errors[front], where="post", color="k", lw=0.8, label="Pareto front", zorder=2)
        for k, label in enumerate(labels):
            ax.scatter(costs[k], errors[k], s=30, marker=markers[k % len(markers)], label=label, zorder=3)
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel("evaluation cost (µs/atom, energy + forces + stress)")
        ax.set_ylabel(ylabel)
    axes[1].legend(fontsize=7, loc="upper left")
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    _save(fig, plt, path)


def pareto_plot(labels, costs, held_out, test, path, xlabel: str, ylabel: str, title: str = "",
                peers: dict | None = None) -> None:
    """One panel of error against cost (log scales): every point's held-out error (circles), its
    test error where known (crosses, joined to its circle), the Pareto front of the held-out
    errors drawn as a step line with its points labelled, and ``peers`` (``{name: (costs,
    errors)}``, e.g. another code's front on the same split) as dashed lines."""
    plt = _pyplot()
    costs = np.asarray(costs, dtype=float)
    held_out = np.asarray(held_out, dtype=float)
    fig, ax = plt.subplots(figsize=(7.5, 4.8))
    front = pareto_front(costs, held_out)
    ax.scatter(costs, held_out, s=22, color="0.55", label="held-out (k-fold)", zorder=3)
    known = [k for k, t in enumerate(test) if t is not None]
    if known:
        t = np.array([test[k] for k in known], dtype=float)
        ax.scatter(costs[known], t, s=22, marker="x", color="C3", label="test split", zorder=3)
        for k, tk in zip(known, t):
            ax.plot([costs[k], costs[k]], [held_out[k], tk], color="C3", lw=0.4, alpha=0.5)
    ax.step(costs[front], held_out[front], where="post", color="k", lw=1.0, label="Pareto front (held-out)", zorder=2)
    for k in front:
        ax.annotate(labels[k], (costs[k], held_out[k]), fontsize=6, xytext=(3, 3), textcoords="offset points")
    for k, (name, (pc, pe)) in enumerate((peers or {}).items()):
        ax.plot(pc, pe, "--o", ms=4, color=f"C{k % 9}", label=name)
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.legend(fontsize=7)
    if title:
        ax.set_title(title)
    fig.tight_layout()
    _save(fig, plt, path)


def parity_plot(ds, pred: dict, path, title: str = "") -> None:
    """Write a two-panel parity plot of ``pred`` (from :func:`linpot.metrics.predict_dataset`) against
    the labels of ``ds`` to ``path`` (written through a temporary file and a rename)."""
    plt = _pyplot()
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
    _save(fig, plt, path)
