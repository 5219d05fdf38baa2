"""Pareto analysis: held-out accuracy against measured evaluation cost over a grid of models.

A search file (TOML) names the data, the search settings, settings shared by every point, and
one or more grids; each grid is a partial recipe plus ``vary``, dotted recipe keys with the
values to try (their Cartesian product)::

    [data]
    train = ["../data/mlearn/Cu/train.xyz"]   # paths relative to this file
    test = ["../data/mlearn/Cu/test.xyz"]     # optional: test errors are reported, never used

    [search]
    kfold = 5                 # held-out errors by k-fold cross-validation on the training data
    seed = 0
    cost_reference = "auto"   # snap (LAMMPS SNAP 2J=8), lj (ASE Lennard-Jones) or auto
    benchmark_atoms = 500
    rounds = 5                # interleaved timing rounds; the cost is the median ratio

    [common]                  # merged into every point (any recipe section)
    fit = { weights = { energy = 10000.0, forces = 100.0, stress = 1.0 } }

    [[grid]]
    name = "invariants"
    descriptor = { kind = "invariants", cutoff = 5.0, radial = { kind = "gaussian", n_basis = 8, r_min = 0.0 },
                   orders = [[1, 8, 0], [2, 8, 6], [3, 6, 4], [4, 4, 2]] }
    model = { kind = "polynomial", degree = 2, product_orders = [1, 2] }
    vary = { "descriptor.cutoff" = [5.0, 5.5, 6.0], "descriptor.radial.n_basis" = [8, 10] }

Every point is fitted with the ridge strength chosen on held-out training structures (k-fold or
a validation split: the test split is never seen by a choice), and scored by its pooled
held-out errors. Its cost is the median, over interleaved rounds, of its time per atom (energy,
forces and stress, compiled evaluator, one core) divided by the reference's on the same
benchmark cell in the same run (:mod:`linpot.analysis.cost`), with µs/atom and a
machine-independent operation count beside it. The Pareto front (no other point is as cheap or
cheaper and more accurate) is taken on held-out energy and on held-out force errors separately.

Every point is cached under ``DIR/points/`` by a hash of its recipe, the data files' SHA-256 and
the linpot version, as soon as it is done, so an interrupted search continues where it stopped.
Fits run in parallel on a dask cluster when one is given; timing always runs alone, after the
fits, in this process (timing beside running fits would measure the contention).
"""

from __future__ import annotations

import copy
import csv
import hashlib
import io
import itertools
import json
import logging
import os
import sys
import time
from pathlib import Path

from ..errors import LinpotInputError
from ..fit import fit_potential
from ..fit.config import DEFAULT_CONFIG, apply_preset, data_paths, merge, read_toml
from ..io import atomic_write_text
from ..potential import Potential
from ..version import __version__
from .cost import benchmark_cell, cost_reference, operation_count, relative_costs
from .metrics import error_table, predict_dataset
from .plots import pareto_front, pareto_plot

log = logging.getLogger("linpot.pareto")

SEARCH_DEFAULTS = {"kfold": 5, "seed": 0, "cost_reference": "auto", "benchmark_atoms": 500, "rounds": 5}
_GRID_KEYS = {"name", "preset", "descriptor", "model", "fit", "vary"}
#: The columns of points.csv (and the keys of every point in points.json besides its recipe).
COLUMNS = ["name", "key", "n_coefficients", "fit_s", "alpha", "cv_energy_rmse", "cv_force_rmse", "cv_stress_rmse",
           "test_energy_rmse", "test_force_rmse", "test_stress_rmse", "cost_ratio", "cost_us_per_atom", "operations_per_atom",
           "cost_reference", "pareto_energy", "pareto_force"]
UNITS = {"cv_energy_rmse": "meV/atom", "test_energy_rmse": "meV/atom", "cv_force_rmse": "eV/Å", "test_force_rmse": "eV/Å",
         "cv_stress_rmse": "GPa", "test_stress_rmse": "GPa", "cost_us_per_atom": "µs/atom/step",
         "cost_ratio": "median time ratio to cost_reference", "operations_per_atom": "multiply-adds per atom"}


def load_search(path) -> dict:
    """The search file at ``path``: ``{"data", "search", "points": [(name, recipe)]}``."""
    path = os.fspath(path)
    doc = read_toml(path, "search")
    unknown = set(doc) - {"data", "search", "common", "grid"}
    if unknown:
        raise LinpotInputError(f"unknown section(s): {', '.join(sorted(unknown))}", path)
    data = data_paths(doc.get("data", {}), path)
    if not data["train"]:
        raise LinpotInputError("[data] train is empty", path)
    search = {**SEARCH_DEFAULTS, **doc.get("search", {})}
    unknown = set(search) - set(SEARCH_DEFAULTS)
    if unknown:
        raise LinpotInputError(f"unknown [search] option(s): {', '.join(sorted(unknown))}", path)
    grids = doc.get("grid", [])
    if not grids:
        raise LinpotInputError("no [[grid]] tables", path)
    points = []
    for k, grid in enumerate(grids, start=1):
        unknown = set(grid) - _GRID_KEYS
        if unknown:
            raise LinpotInputError(f"grid {k}: unknown key(s) {', '.join(sorted(unknown))}", path)
        try:
            points.extend(expand_grid(grid, doc.get("common", {}), search))
        except LinpotInputError as exc:
            raise LinpotInputError(f"grid {k}: {exc.reason}", path) from None
    names = [n for n, _ in points]
    duplicated = sorted({n for n in names if names.count(n) > 1})
    if duplicated:
        raise LinpotInputError(f"points with the same name: {', '.join(duplicated[:3])} (give the grids different names)", path)
    return {"data": data, "search": search, "points": points}


def _set_dotted(config: dict, dotted: str, value) -> None:
    keys = dotted.split(".")
    node = config
    for key in keys[:-1]:
        if not isinstance(node.get(key), dict):
            raise LinpotInputError(f"vary key {dotted!r}: {key!r} is not a table of the recipe")
        node = node[key]
    node[keys[-1]] = copy.deepcopy(value)


def _short(value) -> str:
    if isinstance(value, float):
        return f"{value:g}"
    if isinstance(value, (list, tuple)):
        return "[" + ",".join(_short(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ",".join(f"{k}={_short(v)}" for k, v in value.items()) + "}"
    return str(value)


def expand_grid(grid: dict, common: dict | None = None, search: dict | None = None) -> list[tuple[str, dict]]:
    """The points of one grid table: ``(name, recipe)`` for each combination of its ``vary`` values."""
    search = {**SEARCH_DEFAULTS, **(search or {})}
    base = copy.deepcopy(DEFAULT_CONFIG)
    if "preset" in grid:
        base = apply_preset(base, grid["preset"])
    if "descriptor" in grid and grid["descriptor"].get("kind", base["descriptor"]["kind"]) != base["descriptor"]["kind"]:
        base["descriptor"] = {}
        base["model"] = {"kind": "polynomial", "degree": 1}
    base = merge(base, {k: grid[k] for k in ("descriptor", "model", "fit") if k in grid})
    base = merge(base, common or {})
    base["fit"]["kfold"] = int(search["kfold"])
    base["fit"]["seed"] = int(search["seed"])
    vary = grid.get("vary", {})
    for key, values in vary.items():
        if not isinstance(values, list) or not values:
            raise LinpotInputError(f"vary {key!r} must be a non-empty list of values")
    name = str(grid.get("name", grid.get("preset", base["descriptor"].get("kind", "point"))))
    points = []
    for combo in itertools.product(*vary.values()):
        config = copy.deepcopy(base)
        for key, value in zip(vary, combo):
            _set_dotted(config, key, value)
        label = name if not vary else name + "[" + ",".join(f"{k.split('.')[-1]}={_short(v)}" for k, v in zip(vary, combo)) + "]"
        points.append((label, config))
    return points


def point_key(config: dict, file_records: list[dict]) -> str:
    """Cache key of a point: SHA-256 of its recipe, the data files' hashes and the linpot version."""
    recipe = {k: v for k, v in config.items() if k != "data"}
    blob = json.dumps({"recipe": recipe, "data": file_records, "linpot": __version__}, sort_keys=True, default=str)
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


def held_out_errors(report: dict) -> dict:
    """Pooled held-out RMSEs of the chosen candidate (the report's ``held_out``): energy meV/atom,
    forces eV/Å, stress GPa."""
    held_out = report.get("held_out") or {}
    if not held_out:
        raise LinpotInputError("the fit has no held-out errors (set kfold >= 2)")
    return {"cv_energy_rmse": held_out["energy_rmse_mev_per_atom"], "cv_force_rmse": held_out["force_rmse_ev_per_angstrom"],
            "cv_stress_rmse": held_out["stress_rmse_gpa"]}


def fit_point(name: str, config: dict, train, test, out_dir: str, key: str) -> dict:
    """Fit one point, score it on held-out and (if given) test structures, and cache it:
    ``DIR/points/KEY.json`` (the record) and ``DIR/points/KEY.pot.json`` (the potential)."""
    t0 = time.perf_counter()
    potential, report = fit_potential(train, config)
    record = {"name": name, "key": key, "recipe": {k: v for k, v in config.items() if k != "data"},
              "n_coefficients": int(potential.n_features), "fit_s": time.perf_counter() - t0,
              "alpha": report.get("alpha"), **held_out_errors(report)}
    if test is not None and len(test):
        overall = error_table(test, predict_dataset(potential, test))["overall"]
        record.update(test_energy_rmse=overall["energy_rmse_mev_per_atom"], test_force_rmse=overall["force_rmse_ev_per_angstrom"],
                      test_stress_rmse=overall["stress_rmse_gpa"])
    points = Path(out_dir) / "points"
    potential.save(points / f"{key}.pot.json")
    atomic_write_text(points / f"{key}.json", json.dumps(record, indent=1, sort_keys=True, default=float) + "\n")
    return record


def progress_bar(total: int, desc: str, unit: str, initial: int = 0):
    """A tqdm bar on stderr (time left included) when it is a terminal or LINPOT_PROGRESS=1."""
    from tqdm import tqdm

    return tqdm(total=total, initial=initial, desc=desc, unit=unit, file=sys.stderr,
                disable=not sys.stderr.isatty() and os.environ.get("LINPOT_PROGRESS") != "1")


def _best_so_far(records) -> str:
    done = [r for r in records if r.get("cv_energy_rmse") is not None]
    if not done:
        return ""
    e = min(r["cv_energy_rmse"] for r in done)
    f = min(r["cv_force_rmse"] for r in done)
    return f"best held-out {e:.2f} meV/atom, {f:.4f} eV/Å"


def run_search(search: dict, out_dir, client=None, log_every=True) -> list[dict]:
    """Fit, time and rank every point of ``search`` (from :func:`load_search`); write the results
    into ``out_dir`` (see :func:`write_results`) and return the point records."""
    from ..structures import read_datasets

    out_dir = Path(out_dir)
    (out_dir / "points").mkdir(parents=True, exist_ok=True)
    train = read_datasets(search["data"]["train"])
    test = read_datasets(search["data"]["test"]) if search["data"]["test"] else None
    files = train.file_records() + (test.file_records() if test is not None else [])
    points = [(name, config, point_key(config, files)) for name, config in search["points"]]
    records, todo = {}, []
    for name, config, key in points:
        cached = out_dir / "points" / f"{key}.json"
        if cached.is_file() and (out_dir / "points" / f"{key}.pot.json").is_file():
            records[key] = {**json.loads(cached.read_text()), "name": name}
        else:
            todo.append((name, config, key))
    log.info("%d points, %d cached, %d to fit", len(points), len(records), len(todo))
    bar = progress_bar(len(points), "pareto", "point", initial=len(records))
    t_start = time.perf_counter()
    if client is not None and todo:
        from dask.distributed import as_completed

        train_f, test_f = client.scatter([train, test], broadcast=True)
        futures = [client.submit(fit_point, name, config, train_f, test_f, str(out_dir), key, pure=False)
                   for name, config, key in todo]
        for future in as_completed(futures):
            record = future.result()
            records[record["key"]] = record
            bar.update(1)
            bar.set_postfix_str(_best_so_far(records.values()))
    else:
        for k, (name, config, key) in enumerate(todo, start=1):
            record = fit_point(name, config, train, test, str(out_dir), key)
            records[key] = record
            bar.update(1)
            bar.set_postfix_str(_best_so_far(records.values()))
            if log_every:
                elapsed = time.perf_counter() - t_start
                log.info("point %d/%d %s: held-out %.2f meV/atom, %.4f eV/Å (%.0f s; about %.0f s left)", k, len(todo),
                         name, record["cv_energy_rmse"], record["cv_force_rmse"], record["fit_s"],
                         elapsed / k * (len(todo) - k))
    bar.close()
    measure_costs([records[key] for _, _, key in points], out_dir, train.elements, search["search"])
    ordered = [records[key] for _, _, key in points]
    write_results(ordered, out_dir)
    return ordered


def measure_costs(records: list[dict], out_dir: Path, elements, settings: dict) -> None:
    """Time every record without a cost, all in one interleaved run against one reference."""
    missing = [r for r in records if r.get("cost_ratio") is None]
    if not missing:
        return
    atoms = benchmark_cell(elements, int(settings["benchmark_atoms"]))
    potentials = [Potential.load(out_dir / "points" / f"{r['key']}.pot.json") for r in missing]
    reference = cost_reference(atoms, settings["cost_reference"])
    try:
        log.info("timing %d points against %s on a %d-atom cell, %d rounds", len(missing), reference.name, len(atoms),
                 int(settings["rounds"]))
        costs = relative_costs(potentials, atoms, reference, rounds=int(settings["rounds"]))
    finally:
        reference.close()
    for record, potential, ratio, us in zip(missing, potentials, costs["ratios"], costs["us_per_atom"]):
        record.update(cost_ratio=ratio, cost_us_per_atom=us, cost_reference=costs["reference"],
                      operations_per_atom=operation_count(potential, atoms))
        atomic_write_text(out_dir / "points" / f"{record['key']}.json",
                          json.dumps(record, indent=1, sort_keys=True, default=float) + "\n")


def mark_fronts(records: list[dict]) -> None:
    """Set ``pareto_energy`` / ``pareto_force``: on the front of held-out error against cost ratio."""
    costs = [r["cost_ratio"] for r in records]
    for quantity, column in (("energy", "cv_energy_rmse"), ("force", "cv_force_rmse")):
        front = set(pareto_front(costs, [r[column] for r in records]).tolist()) if records else set()
        for k, r in enumerate(records):
            r[f"pareto_{quantity}"] = k in front


def write_results(records: list[dict], out_dir) -> None:
    """``points.csv`` and ``points.json`` (every point, Pareto-optimal ones marked), one PNG per
    quantity (``pareto-energy.png``, ``pareto-force.png``) and the Pareto-optimal potentials in
    ``pareto/NAME.json``."""
    out_dir = Path(out_dir)
    mark_fronts(records)
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=COLUMNS, extrasaction="ignore", lineterminator="\n")
    writer.writeheader()
    for r in records:
        writer.writerow({c: r.get(c) for c in COLUMNS})
    atomic_write_text(out_dir / "points.csv", buffer.getvalue())
    atomic_write_text(out_dir / "points.json", json.dumps({"units": UNITS, "points": records}, indent=1, default=float) + "\n")
    reference = records[0].get("cost_reference", "reference") if records else "reference"
    for quantity, column, test_column, ylabel in (
            ("energy", "cv_energy_rmse", "test_energy_rmse", "energy RMSE (meV/atom)"),
            ("force", "cv_force_rmse", "test_force_rmse", "force RMSE (eV/Å)")):
        pareto_plot([r["name"] for r in records], [r["cost_ratio"] for r in records], [r[column] for r in records],
                    [r.get(test_column) for r in records], out_dir / f"pareto-{quantity}.png",
                    xlabel=f"cost (time / {reference}, median of interleaved rounds)", ylabel=ylabel)
    (out_dir / "pareto").mkdir(exist_ok=True)
    for r in records:
        if r["pareto_energy"] or r["pareto_force"]:
            text = (out_dir / "points" / f"{r['key']}.pot.json").read_text()
            atomic_write_text(out_dir / "pareto" / f"{_file_name(r['name'])}.json", text)


def _file_name(name: str) -> str:
    return "".join(c if c.isalnum() or c in "-_.=" else "_" for c in name).strip("_")


def format_table(records: list[dict]) -> str:
    """A Markdown table of the points, Pareto-optimal ones marked (E: energy front, F: force front)."""
    def fmt(v, spec):
        return "-" if v is None else format(v, spec)

    lines = ["| point | coefficients | held-out E (meV/atom) | held-out F (eV/Å) | test E (meV/atom) | test F (eV/Å) "
             "| cost (ratio) | µs/atom | front |", "|---|---|---|---|---|---|---|---|---|"]
    for r in records:
        front = "".join(q for q, flag in (("E", r.get("pareto_energy")), ("F", r.get("pareto_force"))) if flag)
        lines.append(f"| {r['name']} | {r['n_coefficients']} | {fmt(r['cv_energy_rmse'], '.2f')} | "
                     f"{fmt(r['cv_force_rmse'], '.4f')} | {fmt(r.get('test_energy_rmse'), '.2f')} | "
                     f"{fmt(r.get('test_force_rmse'), '.4f')} | {fmt(r.get('cost_ratio'), '.3f')} | "
                     f"{fmt(r.get('cost_us_per_atom'), '.1f')} | {front} |")
    return "\n".join(lines)
