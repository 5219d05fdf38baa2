"""Selecting the active set of the extrapolation grade by maxvol, streamed over the training data.

The grade (:mod:`linpot.potential.active_set`) measures a per-atom design row against ``n``
training rows ``A`` (per element, ``n`` the width of the element's block). Maxvol looks for the
``A`` of largest ``|det A|`` among the training rows: while some row ``b`` has an active
coordinate ``|x_j| = |(b A^{-1})_j|`` above the tolerance, it replaces active row ``j`` by ``b``,
which multiplies ``|det A|`` by ``|x_j|`` (the determinant is linear in row ``j`` and
``b = sum_k x_k a_k``). The inverse and the coordinates follow by a rank-one update:
with ``u = x - e_j``,

    A'^{-1} = A^{-1} - A^{-1}[:, j] u / x_j,     X' = X - X[:, j] u / x_j.

:class:`ActiveSetSelector` streams the training structures one at a time (memory: the ``n x n``
active set and its inverse per element, plus one structure's rows) and makes the swaps each
structure asks for; further passes (at most ``n_passes``) catch the rows that later swaps lifted
above the tolerance, and it stops once a pass made no swap (then every training atom's grade is
at most the tolerance; two or three passes usually).

The set starts from ``seed_scale`` times the identity: placeholder rows that the first real rows
with a component along them replace. A placeholder that no training row replaces marks a
direction of the block that the training data does not span; an atom with a component along it
gets a grade of that component over ``seed_scale``, that is, it extrapolates.

Cost: one evaluation of the features per training atom and pass (no derivatives), ``O(m n)``
per structure of ``m`` atoms, ``O(n^2)`` per swap; the swaps are most at the start and become
rare. File size: ``8 n^2`` bytes per element before base64 (69 columns: 38 kB; 2321: 43 MB), which
is why ``linpot fit`` adds the active set only when asked (``--active-set``).

The structure grade's set (:class:`~linpot.potential.active_set.ConfigurationSet`,
:func:`select_configurations`) comes from the same first pass: each training structure's
energy-per-atom row (the mean of its atomic rows) is kept (memory: ``m x W`` floats for ``m``
structures), then the SVD of these rows gives the principal subspace (singular values above
``rtol`` times the largest), maxvol over the rows' coordinates in it selects ``r`` structures
(started from a column-pivoted QR of the coordinates, then swaps until none is above the
tolerance), and the residual scale is the largest out-of-span residual of a training structure.
"""

from __future__ import annotations

import logging
import time

import numpy as np

from ..descriptors import species_indices
from ..errors import LinpotInputError
from ..potential.active_set import ActiveSet, ConfigurationSet, active_coordinates

log = logging.getLogger(__name__)

#: swaps between recomputing the inverse from scratch (bounds the rank-one updates' round-off drift)
REFRESH_SWAPS = 64


def maxvol_update(active: np.ndarray, inverse: np.ndarray, rows: np.ndarray, tolerance: float = 1.001,
                  on_swap=None, max_swaps: int | None = None) -> int:
    """Swap rows of ``rows`` (m, n) into ``active`` (n, n; its inverse ``inverse``; both updated in
    place) while some row has an active coordinate above ``tolerance`` (> 1), the largest first.
    ``on_swap(j, i, x)``: called after row ``i`` replaced active row ``j``, ``|det|`` multiplied
    by ``|x|``. Returns the number of swaps."""
    if tolerance <= 1.0:
        raise LinpotInputError(f"the maxvol tolerance must exceed 1, got {tolerance}")
    if len(rows) == 0:
        return 0
    n = active.shape[0]
    coords = active_coordinates(rows, inverse)
    max_swaps = 4 * n + 4 * len(rows) if max_swaps is None else max_swaps
    swaps = 0
    while swaps < max_swaps:
        i, j = np.unravel_index(int(np.argmax(np.abs(coords))), coords.shape)
        x = coords[i, j]
        if not abs(x) > tolerance:
            break
        u = coords[i].copy()
        u[j] -= 1.0
        u /= x
        inverse -= np.outer(inverse[:, j], u)
        coords -= np.outer(coords[:, j], u)
        active[j] = rows[i]
        swaps += 1
        if swaps % REFRESH_SWAPS == 0:
            inverse[:] = np.linalg.inv(active)
            coords = active_coordinates(rows, inverse)
        if on_swap is not None:
            on_swap(int(j), int(i), float(x))
    return swaps


def select_configurations(rows, rtol: float = 1e-3, tolerance: float = 1.001, n_passes: int = 20) -> ConfigurationSet:
    """The structure grade's set from the training structures' energy-per-atom rows (m, W)."""
    import scipy.linalg

    X = np.asarray(rows, dtype=float)
    if X.ndim != 2 or len(X) == 0:
        raise LinpotInputError("no training structures to select the structure grade's set from")
    if not 0 < rtol < 1 or tolerance <= 1.0:
        raise LinpotInputError(f"the structure grade needs 0 < rtol < 1 and tolerance > 1, got {rtol}, {tolerance}")
    _, s, vt = np.linalg.svd(X, full_matrices=False)
    r = max(1, int((s > rtol * s[0]).sum()))
    basis = vt[:r].T
    Z = X @ basis
    _, _, pivots = scipy.linalg.qr(Z.T, mode="economic", pivoting=True)
    chosen = np.array(pivots[:r])
    active = Z[chosen].copy()
    inverse = np.linalg.inv(active)
    swaps = []
    for _ in range(n_passes):

        def record(j, i, x):
            chosen[j] = i

        swaps.append(maxvol_update(active, inverse, Z, tolerance, on_swap=record))
        if swaps[-1] == 0:
            break
    A = X[chosen]
    out = ConfigurationSet(A, basis, None, chosen)
    c, residual = out.components(X)
    scale = None
    if r < X.shape[1]:
        scale = max(float(np.linalg.norm(residual, axis=1).max()), rtol * float(s[0]))
    info = {"rtol": float(rtol), "tolerance": float(tolerance), "n_structures": len(X), "rank": r,
            "singular_values": [float(v) for v in s[:r + 1]], "n_swaps": swaps,
            "max_training_grade": float(np.abs(c).max()) if scale is None else
            float(max(np.abs(c).max(), np.linalg.norm(residual, axis=1).max() / scale))}
    return ConfigurationSet(A, basis, scale, chosen, info)


class ActiveSetSelector:
    """Maxvol selection of the active set of a model's per-atom rows over a training dataset.

    ``tolerance``: a row enters the active set when one of its active coordinates exceeds it
    (MTP's default for selection is close to 1; 1.001 here); ``n_passes``: passes over the data
    (at most; stops after a pass without swaps); ``seed_scale``: the placeholder rows' scale.

    Learned: ``active_set_`` (:class:`~linpot.potential.active_set.ActiveSet`), ``n_swaps_``
    (per pass), ``max_training_grade_`` (the largest grade a training atom had in the last
    pass, before its swaps), ``n_placeholders_`` (per element, directions not spanned).
    ``structures``: also select the structure grade's set (:func:`select_configurations`, with
    ``rtol``)."""

    def __init__(self, tolerance: float = 1.001, n_passes: int = 10, seed_scale: float = 1e-6,
                 structures: bool = True, rtol: float = 1e-3):
        self.tolerance = tolerance
        self.n_passes = n_passes
        self.seed_scale = seed_scale
        self.structures = structures
        self.rtol = rtol

    def fit(self, model, dataset) -> ActiveSetSelector:
        if len(dataset) == 0:
            raise LinpotInputError("no training structures to select the active set from")
        if self.tolerance <= 1.0 or self.n_passes < 1 or not self.seed_scale > 0:
            raise LinpotInputError("the active set needs tolerance > 1, n_passes >= 1 and seed_scale > 0")
        width = 1 + model.n_terms
        elements = list(model.elements)
        active = {e: self.seed_scale * np.eye(width) for e in elements}
        inverse = {e: np.eye(width) / self.seed_scale for e in elements}
        sources = {e: np.full((width, 2), -1, dtype=np.int64) for e in elements}
        seen = dict.fromkeys(elements, 0)
        mean_rows = []
        self.n_swaps_ = []
        t0 = time.perf_counter()
        for p in range(self.n_passes):
            swaps, max_grade = 0, 0.0
            step = max(1, len(dataset) // 10)
            for k in range(len(dataset)):
                s = dataset.atom_slice(k)
                with dataset.located(k):
                    numbers = dataset.numbers[s]
                    species = species_indices(numbers, elements)
                    rows = model.atomic_rows(dataset.positions[s], numbers, dataset.cells[k], dataset.pbc[k])
                if p == 0 and self.structures:
                    mean_rows.append(rows.mean(axis=0))
                for t, e in enumerate(elements):
                    atoms = np.nonzero(species == t)[0]
                    if len(atoms) == 0:
                        continue
                    if p == 0:
                        seen[e] += len(atoms)
                    block = rows[atoms, t * width:(t + 1) * width]
                    max_grade = max(max_grade, float(np.abs(active_coordinates(block, inverse[e])).max()))

                    def record(j, i, x, e=e, atoms=atoms, k=k):
                        sources[e][j] = (k, atoms[i])

                    swaps += maxvol_update(active[e], inverse[e], block, self.tolerance, on_swap=record)
                if (p == 0 and (k + 1) % step == 0) or k + 1 == len(dataset):
                    log.info("active set, pass %d: %d/%d structures, %d swaps, %.1f s", p + 1, k + 1, len(dataset),
                             swaps, time.perf_counter() - t0)
            self.n_swaps_.append(swaps)
            self.max_training_grade_ = max_grade
            if swaps == 0:
                break
        else:
            if self.n_passes > 1:
                log.warning("active set: pass %d still swapped %d rows; some training atoms may have grades up to %.3g",
                            self.n_passes, self.n_swaps_[-1], self.max_training_grade_)
        rows = {e: active[e] for e in elements if seen[e] > 0}
        self.n_placeholders_ = {e: int((sources[e][:, 0] < 0).sum()) for e in rows}
        for e, n in self.n_placeholders_.items():
            if n:
                log.info("active set of %s: %d of %d directions not spanned by the training rows", e, n, width)
        info = {"tolerance": float(self.tolerance), "n_structures": len(dataset), "n_atoms": int(dataset.offsets[-1]),
                "n_swaps": list(self.n_swaps_), "max_training_grade": float(self.max_training_grade_),
                "datasets": dataset.file_records()}
        configurations = None
        if self.structures:
            configurations = select_configurations(mean_rows, self.rtol, self.tolerance)
            log.info("structure grade: %d of %d directions of the energy rows from %d structures (rtol %g)",
                     configurations.info["rank"], configurations.width, len(mean_rows), self.rtol)
        self.active_set_ = ActiveSet(rows, {e: sources[e] for e in rows}, info, configurations)
        return self


def add_active_set(potential, dataset, **settings):
    """Select the active set of ``potential`` (of each member of a committee) on its training
    ``dataset`` and attach it; returns the potential."""
    members = getattr(potential, "members", [potential])
    for k, member in enumerate(members):
        if len(members) > 1:
            log.info("active set of committee member %d of %d", k + 1, len(members))
        member.active_set = ActiveSetSelector(**settings).fit(member.model, dataset).active_set_
    return potential
