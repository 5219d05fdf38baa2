"""Formation energies and the lower convex hull in composition space, for DFT and for a potential.

For structures of elements ``s`` (``n_s`` atoms of each, ``N`` in all, total energy ``E``):

* the **chemical potential** ``mu_s`` is the lowest energy per atom among the structures made of
  element ``s`` alone; it is taken separately for DFT (from the DFT energies) and for the model
  (from the model's energies of the same structures, so its reference structure may differ);
* the **formation energy** per atom is ``E_f = (E - sum_s n_s mu_s) / N``; the lowest pure
  structure of each element has ``E_f = 0`` exactly;
* the **lower convex hull** is the largest convex function of the composition (fractions
  ``x_1 ... x_{m-1}``, the last one implied) below every ``(x, E_f)``: a line for a binary, a
  surface for a ternary, and so on. :func:`lower_hull` builds it with ``scipy.spatial.ConvexHull``
  (qhull) and keeps the facets whose outward normal points down. To make any input
  full-dimensional (only pure elements, collinear or coplanar points) it adds, at every pure
  corner, an auxiliary point above all the data; facets touching those are never lower facets;
* the **distance to the hull** of a structure is ``E_f`` minus the hull's energy at its
  composition (0 on the hull, positive above); the hull **vertices** are the structures at its
  corners (at each composition the lowest one; a structure on a facet or an edge between
  vertices is on the hull, distance 0, but not a vertex).

:func:`hull_report` runs a potential on a dataset, does both hulls and writes ``hull.json``,
``hull.md`` and, for a binary, ``hull.png``; ``linpot hull`` is its command.
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from ase.data import chemical_symbols
from ase.formula import Formula

from ..errors import LinpotInputError
from ..io import atomic_write_text

log = logging.getLogger("linpot.hull")

#: A structure whose distance to the hull is at most this (eV/atom) is on the hull.
ON_HULL_TOL = 1e-6

#: Facets whose downward normal component is smaller than this (in units where the compositions
#: and the formation energies both span [0, 1]) are vertical walls, not lower facets.
_VERTICAL_TOL = 1e-9


def composition_counts(ds, elements) -> np.ndarray:
    """``(n_structures, n_elements)`` integer counts of each element (in the order ``elements``)."""
    numbers = np.array([chemical_symbols.index(el) for el in elements])
    counts = np.zeros((len(ds), len(elements)), dtype=np.int64)
    for k in range(len(ds)):
        z = ds.numbers[ds.atom_slice(k)]
        counts[k] = (z[:, None] == numbers[None, :]).sum(axis=0)
    return counts


def chemical_potentials(energy, counts, elements, what: str = "DFT") -> tuple[np.ndarray, list[int]]:
    """Per element, the lowest energy per atom among the structures made of it alone (eV/atom), and
    the index of that structure (the first one on ties). A missing element is a
    :class:`LinpotInputError` naming it."""
    energy = np.asarray(energy, dtype=float)
    counts = np.asarray(counts)
    n_atoms = counts.sum(axis=1)
    mu, ref = np.zeros(len(elements)), []
    for j, el in enumerate(elements):
        pure = np.flatnonzero((counts[:, j] == n_atoms) & (n_atoms > 0))
        if len(pure) == 0:
            raise LinpotInputError(f"no structure of pure {el}: formation energies need at least one structure "
                                   f"made of each element alone (the {what} reference of {el})")
        per_atom = energy[pure] / n_atoms[pure]
        best = int(pure[np.argmin(per_atom)])
        mu[j] = energy[best] / n_atoms[best]
        ref.append(best)
    return mu, ref


def formation_energies(energy, counts, mu) -> np.ndarray:
    """``E_f = (E - sum_s n_s mu_s) / N`` per structure (eV/atom)."""
    counts = np.asarray(counts, dtype=float)
    return (np.asarray(energy, dtype=float) - counts @ np.asarray(mu, dtype=float)) / counts.sum(axis=1)


@dataclass
class LowerHull:
    """The lower convex hull of points ``(x, E_f)``; ``x`` are composition fractions (rows sum to 1).

    ``planes`` (n_facets, m): a lower facet's plane is ``E = planes[:, :-1] @ x[:-1] + planes[:, -1]``;
    the hull's energy at ``x`` is the largest of them (a convex function is the maximum of its
    supporting planes). ``vertices``: indices of the input points at the hull's corners, by
    composition (the first point of the lowest energy at each corner's composition)."""

    planes: np.ndarray
    vertices: np.ndarray

    def energy(self, fractions) -> np.ndarray:
        """The hull's energy (eV/atom) at each composition (rows of fractions)."""
        fractions = np.atleast_2d(np.asarray(fractions, dtype=float))
        x = fractions[:, :-1]
        return np.max(x @ self.planes[:, :-1].T + self.planes[:, -1], axis=1)


def _composition_minima(fractions, e_f, decimals: int = 12) -> np.ndarray:
    """Indices of the lowest point at each distinct composition (first on ties), by composition."""
    keys = np.round(fractions, decimals)
    order = np.lexsort((np.arange(len(e_f)), e_f) + tuple(keys.T[::-1]))
    picked, last = [], None
    for k in order:
        key = tuple(keys[k])
        if key != last:
            picked.append(int(k))
            last = key
    return np.array(picked, dtype=np.int64)


def _lower_facets(x, e_f):
    """Planes and vertex indices (into ``x``) of the lower facets of the points ``(x, e_f)``
    (``x``: fractions without the last, every pure corner present)."""
    from scipy.spatial import ConvexHull, QhullError

    n, d = x.shape
    e0 = float(e_f.min())
    top = float(e_f.max()) + max(float(e_f.max()) - e0, 1.0)
    scale = top - e0
    corners = np.vstack([np.eye(d), np.zeros((1, d))])
    points = np.vstack([np.column_stack([x, (e_f - e0) / scale]), np.column_stack([corners, np.ones(d + 1)])])
    try:
        hull = ConvexHull(points)
    except QhullError as exc:  # pragma: no cover - the auxiliary corners make every input full-dimensional
        raise LinpotInputError(f"convex hull failed ({str(exc).splitlines()[0]})") from None
    normal, offset = hull.equations[:, :-1], hull.equations[:, -1]
    lower = (normal[:, -1] < -_VERTICAL_TOL) & np.all(hull.simplices < n, axis=1)
    n_x, n_e, c = normal[lower, :-1], normal[lower, -1], offset[lower]
    # n_x . x + n_e * (E - e0) / scale + c = 0  =>  E = -(scale / n_e) n_x . x + e0 - scale c / n_e
    planes = np.column_stack([-(scale / n_e)[:, None] * n_x, e0 - scale * c / n_e])
    return planes, np.unique(hull.simplices[lower])


def lower_hull(fractions, e_f, tol: float = ON_HULL_TOL) -> LowerHull:
    """The lower convex hull of ``(fractions, e_f)``. ``fractions``: (n, m) composition fractions
    (rows sum to 1); every pure element (a row with a 1) must be among them. A corner point is a
    vertex unless it lies within ``tol`` (eV/atom) of the hull of the others."""
    fractions = np.atleast_2d(np.asarray(fractions, dtype=float))
    e_f = np.asarray(e_f, dtype=float)
    n, m = fractions.shape
    if len(e_f) != n or n == 0:
        raise LinpotInputError("convex hull: no structures, or as many energies as compositions expected")
    if not np.all(np.isfinite(e_f)):
        raise LinpotInputError("convex hull: a formation energy is not finite")
    for j in range(m):
        if not np.any(np.isclose(fractions[:, j], 1.0, rtol=0.0, atol=1e-12)):
            raise LinpotInputError(f"convex hull: no pure structure of component {j} (the hull spans the pure elements)")
    minima = _composition_minima(fractions, e_f)
    if m == 1:  # one element: the hull is the lowest structure
        return LowerHull(planes=np.array([[e_f[minima[0]]]]), vertices=minima[:1])
    x, e = fractions[minima, :-1], e_f[minima]
    planes, candidates = _lower_facets(x, e)
    pure = np.isclose(x.max(axis=1), 1.0, rtol=0.0, atol=1e-12) | np.isclose(x.sum(axis=1), 0.0, rtol=0.0, atol=1e-12)
    vertices = []
    for k in candidates:
        if pure[k]:
            vertices.append(k)
            continue
        others = np.delete(np.arange(len(x)), k)
        planes_without, _ = _lower_facets(x[others], e[others])
        without = np.max(x[k] @ planes_without[:, :-1].T + planes_without[:, -1])
        if e[k] < without - tol:  # a corner, not a point on a facet or an edge between corners
            vertices.append(k)
    return LowerHull(planes=planes, vertices=minima[np.sort(np.array(vertices, dtype=np.int64))])


def hull_distances(hull: LowerHull, fractions, e_f) -> np.ndarray:
    """``E_f`` minus the hull's energy at each composition (eV/atom; rounding below 1e-12 set to 0)."""
    distance = np.asarray(e_f, dtype=float) - hull.energy(fractions)
    distance[np.abs(distance) < 1e-12] = 0.0
    return distance


def predict_energies(potential, ds) -> np.ndarray:
    """The potential's total energy (eV) of every structure of ``ds``, with a progress bar."""
    from .metrics import predict_dataset
    from .pareto import progress_bar

    bar = progress_bar(len(ds), "hull", "structure")
    try:
        return predict_dataset(potential, ds, on_structure=lambda: bar.update(1))["energy"]
    finally:
        bar.close()


def _formula(counts, elements) -> str:
    return str(Formula.from_dict({el: int(c) for el, c in zip(elements, counts) if c}))


def _check_energies(ds) -> None:
    if len(ds) == 0:
        raise LinpotInputError("no structures")
    if not np.all(ds.has_energy):
        k = int(np.flatnonzero(~ds.has_energy)[0])
        path, index = ds.origin[k]
        raise LinpotInputError("no DFT energy: formation energies need one on every structure", path, index)


def hull_analysis(ds, model_energy, elements=None) -> dict:
    """Formation energies, hulls and distances for DFT (``ds.energy``) and the model
    (``model_energy``, eV per structure): the record :func:`write_hull` writes as ``hull.json``."""
    elements = list(elements or ds.elements)
    _check_energies(ds)
    counts = composition_counts(ds, elements)
    n_atoms = counts.sum(axis=1)
    fractions = counts / n_atoms[:, None]
    record = {"elements": elements, "units": {"energy": "eV/atom", "errors": "meV/atom"},
              "on_hull_tolerance_eV_per_atom": ON_HULL_TOL}
    results = {}
    for what, energy in (("dft", ds.energy), ("model", np.asarray(model_energy, dtype=float))):
        mu, ref = chemical_potentials(energy, counts, elements, "DFT" if what == "dft" else "model")
        e_f = formation_energies(energy, counts, mu)
        hull = lower_hull(fractions, e_f)
        results[what] = {"mu": mu, "ref": ref, "e_f": e_f, "distance": hull_distances(hull, fractions, e_f),
                         "vertices": hull.vertices}
        record.setdefault("chemical_potentials", {})[what] = {
            el: {"mu_eV_per_atom": float(mu[j]), "structure": int(ref[j])} for j, el in enumerate(elements)}
        record.setdefault("vertices", {})[what] = [int(v) for v in hull.vertices]
    structures = []
    for k in range(len(ds)):
        path, index = ds.origin[k]
        structures.append({
            "index": k, "file": path, "file_index": index, "formula": _formula(counts[k], elements),
            "config_type": ds.config_type[k], "n_atoms": int(n_atoms[k]),
            "x": {el: float(fractions[k, j]) for j, el in enumerate(elements)},
            "e_f_dft": float(results["dft"]["e_f"][k]), "e_f_model": float(results["model"]["e_f"][k]),
            "distance_dft": float(results["dft"]["distance"][k]),
            "distance_model": float(results["model"]["distance"][k]),
            "on_hull_dft": bool(results["dft"]["distance"][k] <= ON_HULL_TOL),
            "on_hull_model": bool(results["model"]["distance"][k] <= ON_HULL_TOL)})
    record["structures"] = structures
    record["errors"] = hull_errors(ds.config_type, results)
    return record


def hull_errors(config_types, results) -> dict:
    """MAE (meV/atom) of the model's formation energies and distances to the hull against DFT's,
    overall and per config_type."""
    types = np.array(config_types)
    d_e = 1000.0 * np.abs(results["model"]["e_f"] - results["dft"]["e_f"])
    d_h = 1000.0 * np.abs(results["model"]["distance"] - results["dft"]["distance"])

    def summary(mask):
        return {"n_structures": int(mask.sum()), "e_f_mae": float(d_e[mask].mean()),
                "distance_mae": float(d_h[mask].mean())}

    return {"overall": summary(np.ones(len(types), dtype=bool)),
            "by_config_type": {str(t): summary(types == t) for t in sorted(set(types.tolist()))}}


def _fraction_text(x: dict) -> str:
    return ", ".join(f"{v:.4g}" for v in x.values())


def hull_markdown(record: dict, title: str = "") -> str:
    """``hull.md``: chemical potentials, the DFT and model hull vertices, errors per config_type."""
    elements = record["elements"]
    s = record["structures"]
    lines = [f"# Formation energies and convex hull{': ' + title if title else ''}", "",
             f"Elements: {', '.join(elements)}; {len(s)} structures. E_f = (E - Σ n_s μ_s)/N with μ_s the lowest "
             "energy per atom of the pure-s structures, taken separately from the DFT and from the model energies. "
             "Distances to the hull in meV/atom.", "",
             "| element | μ DFT (eV/atom) | DFT reference | μ model (eV/atom) | model reference |", "|---|---|---|---|---|"]
    for el in elements:
        d, m = record["chemical_potentials"]["dft"][el], record["chemical_potentials"]["model"][el]
        lines.append(f"| {el} | {d['mu_eV_per_atom']:.6f} | {d['structure']} ({s[d['structure']]['config_type']}) | "
                     f"{m['mu_eV_per_atom']:.6f} | {m['structure']} ({s[m['structure']]['config_type']}) |")
    for what, other, name in (("dft", "model", "DFT"), ("model", "dft", "model")):
        lines += ["", f"## {name} hull vertices", "",
                  f"| index | formula | config_type | x ({', '.join(elements)}) | E_f DFT (meV/atom) | "
                  f"E_f model (meV/atom) | distance to the {'model' if other == 'model' else 'DFT'} hull (meV/atom) |",
                  "|---|---|---|---|---|---|---|"]
        for v in record["vertices"][what]:
            r = s[v]
            lines.append(f"| {v} | {r['formula']} | {r['config_type']} | {_fraction_text(r['x'])} | "
                         f"{1000 * r['e_f_dft']:.2f} | {1000 * r['e_f_model']:.2f} | {1000 * r[f'distance_{other}']:.2f} |")
    dft_v, model_v = ({tuple(s[v]["x"].values()) for v in record["vertices"][what]} for what in ("dft", "model"))
    lines += ["", f"Compositions at vertices of both hulls: {len(dft_v & model_v)}; of the DFT hull only: "
              f"{len(dft_v - model_v)}; of the model hull only: {len(model_v - dft_v)}.", "",
              "## Errors of the model (meV/atom)", "",
              "| config_type | structures | MAE E_f | MAE distance to the hull |", "|---|---|---|---|"]
    rows = list(record["errors"]["by_config_type"].items()) + [("all", record["errors"]["overall"])]
    for name, e in rows:
        lines.append(f"| {name} | {e['n_structures']} | {e['e_f_mae']:.2f} | {e['distance_mae']:.2f} |")
    return "\n".join(lines) + "\n"


def _hull_line(x, e_f, vertices, j):
    """Points of a binary hull's line: its vertices by increasing fraction of element ``j``."""
    order = sorted(vertices, key=lambda v: x[v][j])
    return [x[v][j] for v in order], [1000 * e_f[v] for v in order]


def hull_plot(record: dict, path, title: str = "") -> None:
    """Binary systems: E_f against the fraction of the second element, DFT points (left) and model
    points (right) beside each other, both hulls drawn as lines in both panels."""
    from .plots import _pyplot, _save

    elements = record["elements"]
    if len(elements) != 2:
        raise LinpotInputError("the hull plot is for binary systems")
    plt = _pyplot()
    s = record["structures"]
    x = [[r["x"][el] for el in elements] for r in s]
    fig, axes = plt.subplots(1, 2, figsize=(10, 4), sharey=True)
    types = sorted({r["config_type"] for r in s})
    lines = {what: _hull_line(x, [r[f"e_f_{what}"] for r in s], record["vertices"][what], 1) for what in ("dft", "model")}
    for ax, what, name in ((axes[0], "dft", "DFT"), (axes[1], "model", "model")):
        for t in types:
            idx = [k for k, r in enumerate(s) if r["config_type"] == t]
            ax.scatter([x[k][1] for k in idx], [1000 * s[k][f"e_f_{what}"] for k in idx], s=10, alpha=0.7,
                       label=t or "(none)", zorder=3)
        ax.plot(*lines["dft"], "k-o", lw=1.2, ms=4, mfc="none", label="DFT hull", zorder=4)
        ax.plot(*lines["model"], "r--s", lw=1.2, ms=4, mfc="none", label="model hull", zorder=4)
        ax.axhline(0.0, color="0.6", lw=0.5, zorder=1)
        ax.set_xlabel(f"x in {elements[0]}$_{{1-x}}${elements[1]}$_x$")
        ax.set_title(f"{name} formation energies")
    axes[0].set_ylabel("formation energy (meV/atom)")
    axes[1].legend(fontsize=7, loc="best")
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    _save(fig, plt, path)


def select_config_types(ds, config_types):
    """The structures of ``ds`` whose config_type is one of ``config_types`` (all for None); an
    unknown name is a :class:`LinpotInputError`."""
    if not config_types:
        return ds
    present = set(ds.config_type)
    unknown = [t for t in config_types if t not in present]
    if unknown:
        raise LinpotInputError(f"no structures of config_type {', '.join(map(repr, unknown))} "
                               f"(present: {', '.join(sorted(present))})")
    keep = [k for k, t in enumerate(ds.config_type) if t in set(config_types)]
    return ds.subset(keep)


def hull_report(potential, ds, output_dir, title: str = "") -> tuple[dict, str]:
    """Run ``potential`` on ``ds``, compute both hulls and write ``hull.json``, ``hull.md`` and (for
    a binary) ``hull.png`` into ``output_dir`` (created; nothing is written when the input is bad).
    Returns the record and the Markdown."""
    missing = sorted(set(ds.elements) - set(potential.elements), key=chemical_symbols.index)
    if missing:
        raise LinpotInputError(f"the potential has no element {', '.join(missing)} (it has {', '.join(potential.elements)})")
    elements = ds.elements
    counts = composition_counts(ds, elements)
    _check_energies(ds)
    chemical_potentials(ds.energy, counts, elements)  # a missing pure element fails before any prediction
    t0 = time.perf_counter()
    model_energy = predict_energies(potential, ds)
    log.info("predicted %d structures in %.1f s", len(ds), time.perf_counter() - t0)
    record = hull_analysis(ds, model_energy, elements)
    record["title"] = title
    markdown = hull_markdown(record, title)
    out = Path(output_dir)
    out.mkdir(parents=True, exist_ok=True)
    atomic_write_text(out / "hull.json", json.dumps(record, indent=1, allow_nan=False) + "\n")
    atomic_write_text(out / "hull.md", markdown)
    if len(elements) == 2:
        hull_plot(record, out / "hull.png", title)
    return record, markdown


__all__ = ["ON_HULL_TOL", "LowerHull", "chemical_potentials", "composition_counts", "formation_energies",
           "hull_analysis", "hull_distances", "hull_errors", "hull_markdown", "hull_plot", "hull_report", "lower_hull",
           "predict_energies", "select_config_types"]
