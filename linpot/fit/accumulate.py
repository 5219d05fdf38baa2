"""Streaming the design matrix into normal equations, serially or on a dask.distributed cluster,
with the same bits either way.

The training structures are cut into chunks of consecutive structures (about
:data:`CHUNK_ATOMS` atoms each; :func:`chunk_bounds`). Each chunk's rows are accumulated into its
own normal equations, one set per group (validation part x config_type), structure by structure
(:func:`accumulate_chunk`), and the chunk sums are added to the totals in chunk order
(:func:`combine_in_chunk_order`). Memory is that of one chunk's rows plus the ``n_cols^2``
matrices, whatever the number of structures.

Deterministic: the serial and the distributed fit cut the same chunks, compute each chunk's sums
by the same function, and add them in the same order -- chunk 0, 1, 2, ... -- whichever worker
computed a chunk and whenever it finished. A chunk's sums are computed with single-threaded BLAS
(``threadpoolctl``): OpenBLAS splits a matrix product between its threads differently for
different thread counts, which changes the round-off of ``X^T X``, and a dask worker runs with
one BLAS thread (its nanny sets ``OPENBLAS_NUM_THREADS=1``) where the client process has one per
core. (At ridge strengths near 1e-11 the normal equations amplify that round-off to 1e-4 in the
coefficients.) So a fit gives the same coefficients bit for bit serially, on a local cluster and
on an external one, given the same numpy/numba builds and CPU kind on every machine, and does
not depend on the number of cores.
"""

from __future__ import annotations

import json
import logging
import sys
import threading

import numpy as np
from threadpoolctl import threadpool_limits

from ..errors import LinpotInputError
from .normal_equations import NormalEquations, atom_density

log = logging.getLogger(__name__)

_MODEL_CACHE: dict = {}
#: Atoms per chunk of the design matrix (about). The chunks set the order of the sums, so a fit's
#: round-off depends on it: it is a constant, not a recipe setting.
CHUNK_ATOMS = 2000
#: One chunk at a time per process: the BLAS thread limit is process-wide, and two chunks
#: computed in threads of one dask worker must not lift each other's limit on exit.
_CHUNK_LOCK = threading.Lock()


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


def n_columns(model, stress_part: str = "full") -> int:
    """Columns of the normal equations: the model's coefficients, and the Pulay stress
    (:func:`~linpot.fit.normal_equations.pulay_column`) last when ``stress_part == "pulay"``."""
    return model.n_coefficients + (1 if stress_part == "pulay" else 0)


def accumulate_chunk(model, ds, groups: np.ndarray, stress_part: str = "full") -> dict:
    """Normal equations of the structures of ``ds``, one set per group present: ``{group: NormalEquations}``,
    added structure by structure in order, with single-threaded BLAS (see the module's documentation).

    ``model`` may be a model or its spec (on a dask worker the spec is rebuilt once per process)."""
    if isinstance(model, dict):
        key = json.dumps(model, sort_keys=True)
        if key not in _MODEL_CACHE:
            from ..models import model_from_spec

            _MODEL_CACHE.clear()
            _MODEL_CACHE[key] = model_from_spec(model)
        model = _MODEL_CACHE[key]
    out: dict = {}
    with _CHUNK_LOCK, threadpool_limits(limits=1, user_api="blas"):
        for k in range(len(ds)):
            s = ds.atom_slice(k)
            with ds.located(k):
                rows = model.design_rows(ds.positions[s], ds.numbers[s], ds.cells[k], ds.pbc[k])
            g = int(groups[k])
            if g not in out:
                out[g] = NormalEquations(n_columns(model, stress_part))
            out[g].add_structure(
                rows, s.stop - s.start,
                energy=ds.energy[k] if ds.has_energy[k] else None,
                forces=ds.forces[s] if ds.has_forces[k] else None,
                stress=ds.stress[k] if ds.has_stress[k] else None,
                stress_part=stress_part,
                density=atom_density(s.stop - s.start, ds.cells[k]) if stress_part == "pulay" and ds.has_stress[k] else None,
            )
    return out


def combine_in_chunk_order(total: list[NormalEquations], results, on_chunk=None) -> list[NormalEquations]:
    """Add chunk sums to the group totals ``total`` in chunk order, whatever order they come in.

    ``results`` yields ``(chunk index, {group: NormalEquations})`` pairs, each index
    ``0..n_chunks-1`` once, in any order (dask futures as they finish); a chunk that arrives
    before its predecessors waits. ``on_chunk(index)`` is called as each chunk is added. Floating
    point addition is not associative, so this fixed order is what makes the totals the same
    bits as the serial fit's."""
    waiting: dict[int, dict] = {}
    next_index = 0
    for index, part in results:
        if index in waiting or index < next_index:
            raise ValueError(f"chunk {index} came twice")
        waiting[int(index)] = part
        while next_index in waiting:
            for g, eq in sorted(waiting.pop(next_index).items()):
                total[g] += eq
            if on_chunk is not None:
                on_chunk(next_index)
            next_index += 1
    if waiting:
        raise ValueError(f"chunks {sorted(waiting)} came without chunk {next_index}")
    return total


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
                                chunk_atoms: int | None = None, stress_part: str = "full") -> list[NormalEquations]:
    """Unweighted normal equations of every group ``0..n_groups-1`` (``groups[k]``: group of structure k).

    ``client``: a ``dask.distributed.Client``; chunks then run on its workers, and the result is
    the same bits as without it. ``chunk_atoms``: atoms per chunk (default :data:`CHUNK_ATOMS`).
    ``stress_part``: ``"full"``, ``"deviatoric"`` or ``"pulay"`` (:meth:`NormalEquations.add_structure`;
    ``"pulay"`` adds the last column, :func:`n_columns`)."""
    groups = np.asarray(groups)
    bounds = chunk_bounds(ds.n_atoms, CHUNK_ATOMS if chunk_atoms is None else chunk_atoms)
    total = [NormalEquations(n_columns(model, stress_part)) for _ in range(n_groups)]
    bar = _progress(int(ds.offsets[-1]), "design matrix")

    def advance(index: int) -> None:
        if bar is not None:
            lo, hi = bounds[index]
            bar.update(int(ds.offsets[hi] - ds.offsets[lo]))

    if client is None:
        results = ((i, accumulate_chunk(model, ds.subset(range(lo, hi)), groups[lo:hi], stress_part)) for i, (lo, hi) in enumerate(bounds))
    else:
        results = _distributed_chunks(client, model.spec(), ds, groups, bounds, stress_part)
    combine_in_chunk_order(total, results, advance)
    if bar is not None:
        bar.close()
    return total


def _distributed_chunks(client, spec: dict, ds, groups: np.ndarray, bounds, stress_part: str = "full"):
    """``(chunk index, chunk sums)`` from the cluster's workers as they finish."""
    from dask.distributed import as_completed

    futures = [client.submit(accumulate_chunk, spec, ds.subset(range(lo, hi)), groups[lo:hi], stress_part, pure=False)
               for lo, hi in bounds]
    index = {fut.key: i for i, fut in enumerate(futures)}
    log.info("design matrix: %d chunks on %d dask workers", len(futures), len(client.scheduler_info()["workers"]))
    for fut in as_completed(futures):
        part = fut.result()
        fut.release()
        yield index[fut.key], part


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
