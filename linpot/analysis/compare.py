"""``linpot compare``: accuracy and cost against the invariants' maximum order, and between families.

Orders: for maximum order P the descriptor holds the rotational invariants of orders 1..P with
the (n_max, l_max) of :data:`ORDER_TABLE`, at one cutoff and one radial basis (the same radial
reach for every P), in a linear model, so the order is the only thing that changes. Families:
each descriptor preset (pair, invariants, angular Fourier series, symmetry functions, moment
tensors, SNAP) as shipped, with its feature count in the table. Both are Pareto searches
(:mod:`linpot.analysis.pareto`): held-out k-fold errors, test errors when a test set is given,
cost as the median ratio to a reference timed in the same run.
"""

from __future__ import annotations

import copy

from ..fit.config import DEFAULT_CONFIG, apply_preset
from .plots import _pyplot, _save

#: (order, n_max, l_max) per order: the invariants of orders 1..P for maximum order P.
ORDER_TABLE = [[1, 10, 0], [2, 10, 8], [3, 8, 6], [4, 6, 4], [5, 3, 2], [6, 2, 2]]
FAMILY_PRESETS = ["pair", "invariants-medium", "angular-fourier", "symmetry-functions", "moment-tensors", "snap"]
WEIGHTS = {"energy": 10000.0, "forces": 100.0, "stress": 1.0}


def _base(kfold: int, seed: int) -> dict:
    config = copy.deepcopy(DEFAULT_CONFIG)
    config["fit"].update(kfold=int(kfold), seed=int(seed), weights=dict(WEIGHTS))
    return config


def order_points(orders, cutoff: float = 5.5, radial: dict | None = None, kfold: int = 5, seed: int = 0):
    """``(name, recipe)`` for each maximum order in ``orders`` (1..6)."""
    radial = radial or {"kind": "chebyshev", "n_basis": 10}
    points = []
    for p in orders:
        config = _base(kfold, seed)
        config["descriptor"] = {"kind": "invariants", "cutoff": float(cutoff), "radial": dict(radial),
                                "orders": ORDER_TABLE[:int(p)]}
        config["model"] = {"kind": "polynomial", "degree": 1}
        points.append((f"order<={p}", config))
    return points


def family_points(kfold: int = 5, seed: int = 0):
    """``(name, recipe)`` for each family preset of :data:`FAMILY_PRESETS`."""
    return [(name, apply_preset(_base(kfold, seed), name)) for name in FAMILY_PRESETS]


def comparison_search(train, test, points, rounds: int = 5, reference: str = "auto") -> dict:
    """A search (as :func:`linpot.analysis.pareto.load_search` returns) over ``points``."""
    return {"data": {"train": list(train), "test": list(test or [])},
            "search": {"kfold": points[0][1]["fit"]["kfold"], "seed": points[0][1]["fit"]["seed"],
                       "cost_reference": reference, "benchmark_atoms": 500, "rounds": rounds},
            "points": points}


def order_plot(records, path, title: str = "") -> None:
    """Held-out (and test) energy and force RMSE, and cost, against the maximum order."""
    plt = _pyplot()
    orders = [int(r["name"].split("<=")[1]) for r in records]
    fig, axes = plt.subplots(1, 3, figsize=(12, 3.8))
    for ax, (column, test_column, label) in zip(axes[:2], (("cv_energy_rmse", "test_energy_rmse", "energy RMSE (meV/atom)"),
                                                          ("cv_force_rmse", "test_force_rmse", "force RMSE (eV/Å)"))):
        ax.plot(orders, [r[column] for r in records], "o-", label="held-out (k-fold)")
        if all(r.get(test_column) is not None for r in records):
            ax.plot(orders, [r[test_column] for r in records], "x--", label="test split")
        ax.set_yscale("log")
        ax.set_xlabel("maximum order of the invariants")
        ax.set_ylabel(label)
        ax.legend(fontsize=7)
    axes[2].plot(orders, [r["cost_ratio"] for r in records], "s-", color="C2")
    axes[2].set_yscale("log")
    axes[2].set_xlabel("maximum order of the invariants")
    axes[2].set_ylabel(f"cost / {records[0].get('cost_reference', 'reference')}")
    for ax in axes:
        ax.set_xticks(orders)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    _save(fig, plt, path)
