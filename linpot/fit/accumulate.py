"""Streaming the design matrix into normal equations, serially or on a dask.distributed cluster.

The training structures are cut into chunks of consecutive structures (about ``chunk_atoms``
atoms each). Each chunk's rows are accumulated into its own normal equations, one set per group
(validation part x config_type), and the chunk sums are added in chunk order. Memory is that of
one chunk's rows plus the ``n_cols^2`` matrices, whatever the number of structures; the
serial and the distributed fit add the same chunk sums in the same order, so they agree to
round-off.
"""

from __future__ import annotations

import json
import logging
import sys

import numpy as np

from ..errors import LinpotInputError
from .normal_equations import NormalEquations

log = logging.getLogger(__name__)

_MODEL_CACHE: dict = {}


def chunk_bounds(n_atoms: np.ndarray, chunk_atoms: int) -> list[tuple[int, int]]:
    """Consecutive structure ranges ``[start, stop)`` of about ``chunk_atoms`` atoms each."""
    bounds, start, count = [], 0, 0
    for k, n in enumerate(n_atoms):
        count += int(n)
        if count >= chunk_atoms:
            bounds.append((start, k + 1))
            start, count = k + 1, 0
    if start < len(n_atoms):
        bounds.append((start, len(n_atoms)))
    return bounds


def accumulate_chunk(model, ds, groups: np.ndarray) -> dict:
    """Normal equations of the structures of ``ds``, one set per group present: ``{group: NormalEquations}``.

    ``model`` may be a model or its spec (on a dask worker the spec is rebuilt once per process)."""
    if isinstance(model, dict):
        key = json.dumps(model, sort_keys=True)
        if key not in _MODEL_CACHE:
            from ..models import model_from_spec

            _MODEL_CACHE.clear()
            _MODEL_CACHE[key] = model_from_spec(model)
        model = _MODEL_CACHE[key]
    out: dict = {}
    for k in range(len(ds)):
        s = ds.atom_slice(k)
        with ds.located(k):
            rows = model.design_rows(ds.positions[s], ds.numbers[s], ds.cells[k], ds.pbc[k])
        g = int(groups[k])
        if g not in out:
            out[g] = NormalEquations(model.n_coefficients)
        out[g].add_structure(
            rows, s.stop - s.start,
            energy=ds.energy[k] if ds.has_energy[k] else None,
            forces=ds.forces[s] if ds.has_forces[k] else None,
            stress=ds.stress[k] if ds.has_stress[k] else None,
        )
    return out


def _progress(total: int, desc: str):
    """A progress bar on a terminal, nothing otherwise (CI, pipes, log files)."""
    if not sys.stderr.isatty():
        return None
    try:
        from tqdm import tqdm
    except ImportError:  # pragma: no cover
        return None
    return tqdm(total=total, desc=desc, unit="atoms", leave=False)


def accumulate_normal_equations(model, ds, groups: np.ndarray, n_groups: int, client=None,
                                chunk_atoms: int = 2000) -> list[NormalEquations]:
    """Unweighted normal equations of every group ``0..n_groups-1`` (``groups[k]``: group of structure k).

    ``client``: a ``dask.distributed.Client``; chunks then run on its workers."""
    groups = np.asarray(groups)
    bounds = chunk_bounds(ds.n_atoms, chunk_atoms)
    total = [NormalEquations(model.n_coefficients) for _ in range(n_groups)]
    bar = _progress(int(ds.offsets[-1]), "design matrix")

    def add(part: dict, lo: int, hi: int):
        for g, eq in part.items():
            total[g] += eq
        if bar is not None:
            bar.update(int(ds.offsets[hi] - ds.offsets[lo]))

    if client is None:
        for lo, hi in bounds:
            add(accumulate_chunk(model, ds.subset(range(lo, hi)), groups[lo:hi]), lo, hi)
    else:
        spec = model.spec()
        futures = [client.submit(accumulate_chunk, spec, ds.subset(range(lo, hi)), groups[lo:hi], pure=False)
                   for lo, hi in bounds]
        log.info("design matrix: %d chunks on %d dask workers", len(futures), len(client.scheduler_info()["workers"]))
        for fut, (lo, hi) in zip(futures, bounds):
            add(fut.result(), lo, hi)
            fut.release()
    if bar is not None:
        bar.close()
    return total


def dask_client(workers: int | None = None, scheduler: str | None = None):
    """A client on an existing scheduler (``scheduler`` address) or on a new local cluster of
    ``workers`` single-threaded processes; None when neither is asked for."""
    if not workers and not scheduler:
        return None
    try:
        from dask.distributed import Client, LocalCluster
    except ImportError:  # pragma: no cover
        raise LinpotInputError("--workers/--scheduler need dask.distributed (pip install 'dask[distributed]')") from None
    if scheduler:
        try:
            return Client(scheduler, timeout="30s")
        except OSError as exc:
            raise LinpotInputError(f"cannot reach the dask scheduler at {scheduler} ({exc})") from None
    cluster = LocalCluster(n_workers=int(workers), threads_per_worker=1, processes=True, dashboard_address=None)
    return Client(cluster)
