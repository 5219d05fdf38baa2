"""Distributed fits equal serial fits bit for bit: on a two-process local dask cluster and on an
external scheduler with two workers (started here as subprocesses on 127.0.0.1), for a plain, a
k-fold, a traceless-stress and a committee recipe on a dozen shipped structures cut into several chunks. Exact
equality is possible because both paths cut the same chunks, sum each with single-threaded BLAS
and add the chunk sums in chunk order (linpot/fit/accumulate.py); tolerances would hide the
1e-4 differences that the normal equations make of round-off at small ridge strengths."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import ase.io
import numpy as np
import pytest
from test_cli import CU_TEST
from threadpoolctl import threadpool_limits

import linpot.fit.accumulate as accumulate
from linpot.cli import main
from linpot.fit import build_model, fit_potential
from linpot.fit.accumulate import accumulate_normal_equations, chunk_bounds, combine_in_chunk_order
from linpot.fit.committee import fit_committee
from linpot.fit.config import load_config
from linpot.fit.normal_equations import QUANTITIES, NormalEquations
from linpot.fit.pipeline import _standardisation
from linpot.structures import read_datasets

distributed = pytest.importorskip("dask.distributed")

REPO = Path(__file__).resolve().parents[1]
#: atoms per chunk here: the dozen structures make six chunks
CHUNK_ATOMS = 200
#: the serial fits run with at least this many BLAS threads, as on any multi-core machine
SERIAL_BLAS_THREADS = 2
STARTUP_S = 120

PAIR = '{ kind = "pair", cutoff = 4.5, radial = { kind = "chebyshev", n_basis = 8 } }'
#: the descriptor and model of the single-model recipes (PAIR, a polynomial of degree 3)
PAIR_MODEL = """[descriptor]
kind = "pair"
cutoff = 4.5
radial = { kind = "chebyshev", n_basis = 8 }
[model]
degree = 3
"""
RECIPES = {
    "plain": """
[fit]
validation_fraction = 0.3
""" + PAIR_MODEL,
    "kfold": """
[fit]
kfold = 3
method = "ridge"
""" + PAIR_MODEL,
    "deviatoric": """
[fit]
validation_fraction = 0.3
stress = "deviatoric"
weights = { energy = 10000.0, forces = 30.0, stress = 10.0 }
""" + PAIR_MODEL,
    "pulay": """
[fit]
validation_fraction = 0.3
stress = "pulay"
weights = { energy = 10000.0, forces = 30.0, stress = 10.0 }
""" + PAIR_MODEL,
    "committee": f"""
[fit]
kfold = 3
[[committee]]
descriptor = {PAIR}
model = {{ kind = "polynomial", degree = 3 }}
[[committee]]
descriptor = {{ kind = "pair", cutoff = 4.5, radial = {{ kind = "gaussian", n_basis = 7 }} }}
model = {{ kind = "polynomial", degree = 3 }}
fit = {{ weights = {{ energy = 3000.0, forces = 30.0, stress = 1.0 }} }}
""",
}


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    """Twelve shipped Cu structures (every config_type, 20 to 108 atoms) and the three recipes."""
    frames = ase.io.read(CU_TEST, ":")
    d = tmp_path_factory.mktemp("distributed")
    train = d / "train.xyz"
    ase.io.write(train, [frames[k] for k in (0, 1, 2, 4, 5, 6, 8, 10, 12, 18, 20, 22)], format="extxyz")
    recipes = {}
    for name, body in RECIPES.items():
        path = d / f"{name}.toml"
        path.write_text(f'[data]\ntrain = ["{train}"]\n' + body)
        recipes[name] = path
    return train, recipes


@pytest.fixture(autouse=True)
def small_chunks(monkeypatch):
    """Several chunks on a dozen structures (the client cuts them; workers only sum them)."""
    monkeypatch.setattr(accumulate, "CHUNK_ATOMS", CHUNK_ATOMS)


def fit(recipe: Path, client=None):
    """(coefficients of the potential or of each member, energy_std_scale, report)."""
    config = load_config(recipe)
    train = read_datasets(config["data"]["train"])
    assert len(chunk_bounds(train.n_atoms, CHUNK_ATOMS)) >= 5
    if config.get("committee"):
        committee, report = fit_committee(train, config, client=client)
        return [m.coefficients for m in committee.members], committee.energy_std_scale, report
    potential, report = fit_potential(train, config, client=client)
    return [potential.coefficients], None, report


_SERIAL: dict = {}


def serial_fit(recipe: Path):
    if recipe not in _SERIAL:
        with threadpool_limits(limits=SERIAL_BLAS_THREADS, user_api="blas"):
            _SERIAL[recipe] = fit(recipe)
    return _SERIAL[recipe]


@pytest.fixture(scope="module")
def local_cluster():
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as cluster, \
            distributed.Client(cluster, timeout=f"{STARTUP_S}s") as client:
        yield client


def _stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=30)


@pytest.fixture(scope="module")
def external_scheduler(tmp_path_factory):
    """``dask scheduler`` and ``dask worker --nworkers 2`` as subprocesses on 127.0.0.1; the
    address of the scheduler. Both are stopped at the end."""
    d = tmp_path_factory.mktemp("scheduler")
    scheduler_file = d / "scheduler.json"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")])}
    log = (d / "scheduler.log").open("w")
    scheduler = subprocess.Popen([sys.executable, "-m", "distributed.cli.dask_scheduler", "--host", "127.0.0.1",
                                  "--port", "0", "--no-dashboard", "--scheduler-file", str(scheduler_file),
                                  "--idle-timeout", "1800"], stdout=log, stderr=subprocess.STDOUT, env=env)
    worker = None
    try:
        deadline = time.monotonic() + STARTUP_S
        while not scheduler_file.exists() or not scheduler_file.read_text().strip():
            assert scheduler.poll() is None, f"the scheduler stopped: {(d / 'scheduler.log').read_text()}"
            assert time.monotonic() < deadline, "the scheduler did not start"
            time.sleep(0.2)
        time.sleep(0.2)
        address = json.loads(scheduler_file.read_text())["address"]
        assert address.startswith("tcp://127.0.0.1:")
        worker = subprocess.Popen([sys.executable, "-m", "distributed.cli.dask_worker", address, "--nworkers", "2",
                                   "--nthreads", "1", "--host", "127.0.0.1", "--no-dashboard",
                                   "--local-directory", str(d), "--death-timeout", "60"],
                                  stdout=(d / "worker.log").open("w"), stderr=subprocess.STDOUT, env=env)
        with distributed.Client(address, timeout=f"{STARTUP_S}s") as client:
            client.wait_for_workers(2, timeout=STARTUP_S)
        yield address
    finally:
        if worker is not None:
            _stop(worker)
        _stop(scheduler)
        log.close()


@pytest.mark.parametrize("recipe", sorted(RECIPES))
def test_local_cluster_fit_equals_serial_fit_bit_for_bit(recipe, tiny, local_cluster):
    _, recipes = tiny
    serial = serial_fit(recipes[recipe])
    coefficients, scale, report = fit(recipes[recipe], client=local_cluster)
    assert report["dask_workers"] == 2
    assert len(coefficients) == len(serial[0]) == (2 if recipe == "committee" else 1)
    for ours, theirs in zip(coefficients, serial[0]):
        np.testing.assert_array_equal(ours, theirs)
    assert scale == serial[1] and report["held_out"] == serial[2]["held_out"]


@pytest.mark.parametrize("recipe", sorted(RECIPES))
def test_external_scheduler_fit_equals_serial_fit_bit_for_bit(recipe, tiny, external_scheduler):
    _, recipes = tiny
    serial = serial_fit(recipes[recipe])
    with distributed.Client(external_scheduler, timeout=f"{STARTUP_S}s") as client:
        coefficients, scale, report = fit(recipes[recipe], client=client)
    assert report["dask_workers"] == 2
    for ours, theirs in zip(coefficients, serial[0]):
        np.testing.assert_array_equal(ours, theirs)
    assert scale == serial[1] and report["held_out"] == serial[2]["held_out"]


def test_fit_through_the_command_line_scheduler_writes_the_serial_file(tiny, external_scheduler, tmp_path, capsys):
    _, recipes = tiny
    files = []
    for flags in ([], ["--scheduler", external_scheduler]):
        out = tmp_path / f"pot{len(files)}.json"
        with threadpool_limits(limits=SERIAL_BLAS_THREADS, user_api="blas"):
            assert main(["fit", "--config", str(recipes["kfold"]), "-o", str(out), *flags]) == 0
        files.append(out.read_bytes())
    assert files[0] == files[1]


def random_equations(rng, n_cols=6) -> NormalEquations:
    eq = NormalEquations(n_cols)
    for q in QUANTITIES:
        # magnitudes over many decades, so that the order of additions shows in the last bits
        eq.A[q] = rng.normal(size=(n_cols, n_cols)) * 10.0 ** rng.uniform(-8, 8, size=(n_cols, n_cols))
        eq.b[q] = rng.normal(size=n_cols) * 10.0 ** rng.uniform(-8, 8, size=n_cols)
        eq.yy[q] = float(rng.normal() * 10.0 ** rng.uniform(-8, 8))
        eq.n_rows[q] = int(rng.integers(1, 10))
    eq.n_structures = 1
    return eq


def test_chunk_sums_are_added_in_chunk_order_whatever_order_they_arrive():
    rng = np.random.default_rng(3)
    chunks = [{g: random_equations(rng) for g in (0, 1) if rng.uniform() < 0.8 or g == 0} for _ in range(12)]

    def totals():
        return [NormalEquations(6) for _ in range(2)]

    in_order = combine_in_chunk_order(totals(), enumerate(chunks))
    arrival = rng.permutation(len(chunks))
    seen = []
    shuffled = combine_in_chunk_order(totals(), ((int(i), chunks[i]) for i in arrival), seen.append)
    assert seen == list(range(len(chunks)))
    for a, b in zip(in_order, shuffled):
        for q in QUANTITIES:
            np.testing.assert_array_equal(a.A[q], b.A[q])
            np.testing.assert_array_equal(a.b[q], b.b[q])
            assert a.yy[q] == b.yy[q] and a.n_rows[q] == b.n_rows[q]
        assert a.n_structures == b.n_structures
    # the control: adding the same sums in their arrival order changes the bits
    naive = totals()
    for i in arrival:
        for g, eq in chunks[i].items():
            naive[g] += eq
    assert any(not np.array_equal(a.A[q], b.A[q]) for a, b in zip(in_order, naive) for q in QUANTITIES)
    with pytest.raises(ValueError, match="came twice"):
        combine_in_chunk_order(totals(), [(0, chunks[0]), (0, chunks[0])])
    with pytest.raises(ValueError, match="without chunk 1"):
        combine_in_chunk_order(totals(), [(0, chunks[0]), (2, chunks[2])])


def test_accumulation_does_not_depend_on_the_callers_blas_threads(tiny):
    """The client process has one BLAS thread per core, a dask worker one: the chunk sums must
    not depend on that."""
    _, recipes = tiny
    config = load_config(recipes["kfold"])
    train = read_datasets(config["data"]["train"])
    model = build_model(config, train.elements)
    model.standardise(*_standardisation(model, train))
    groups = np.arange(len(train)) % 3
    results = []
    for threads in (1, 4):
        with threadpool_limits(limits=threads, user_api="blas"):
            results.append(accumulate_normal_equations(model, train, groups, 3))
    for a, b in zip(*results):
        for q in QUANTITIES:
            np.testing.assert_array_equal(a.A[q], b.A[q])
            np.testing.assert_array_equal(a.b[q], b.b[q])


def test_serial_fit_does_not_change_the_callers_blas_threads(tiny):
    _, recipes = tiny
    with threadpool_limits(limits=SERIAL_BLAS_THREADS, user_api="blas"):
        before = [info["num_threads"] for info in threadpool_info_blas()]
        fit(recipes["plain"])
        assert [info["num_threads"] for info in threadpool_info_blas()] == before


def threadpool_info_blas():
    from threadpoolctl import threadpool_info

    return [info for info in threadpool_info() if info["user_api"] == "blas"]
