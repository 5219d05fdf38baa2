"""Which structures to compute with DFT next: extrapolation scores of a pool and three selections.

- ``grade``: greedy maxvol. The structure of largest grade (:mod:`linpot.potential.active_set`)
  is taken, its atoms' rows are swapped into a copy of the active set
  (:func:`linpot.fit.active_set.maxvol_update`), the pool's grades are recomputed, and so on: a
  copy of a structure already taken has grade at most the tolerance afterwards, so it comes last.
- ``structure-grade``: the same greedy maxvol with the structure grade (the grade of the
  structure's energy-per-atom row against the configuration set,
  :class:`linpot.potential.active_set.ConfigurationSet`): after a pick, the set takes it in
  (:meth:`~linpot.potential.active_set.ConfigurationSet.with_structure`), so its copies fall to
  grade 1.
- ``variance``: greedy Bayesian design. For a potential with a posterior (``--method bayes``),
  the structure of largest predictive variance of its energy per atom ``x Σ x + σ²`` is taken
  and the posterior conditioned on it (``Σ ← Σ - Σx xᵀΣ / (xᵀΣx + σ²)``, the label not needed),
  so that near-copies lose their variance; for a committee, the largest members' spread.
- ``pca``: farthest-point sampling in the principal components of the per-structure mean
  (standardised) descriptor: each pick is the pool structure farthest from all earlier picks; it
  stops early rather than pick a structure identical (distance 0) to one already taken.

Scores are written into the selected structures' ``info`` (``selection_score``, ``selection_by``,
``pool_file``, ``pool_index``) and the extended XYZ is written atomically. Memory: the pool's
per-atom rows of one element block (``grade``) or its mean rows (``variance``).
"""

from __future__ import annotations

import io
import logging

import numpy as np

from ..conventions import GPA
from ..descriptors import species_indices
from ..errors import LinpotInputError
from ..fit.active_set import maxvol_update
from ..io import atomic_write_text
from ..potential.active_set import maxvol_grade
from ..structures import validate_structure
from .plots import _pyplot, _save

log = logging.getLogger(__name__)

METHODS = ("grade", "structure-grade", "variance", "pca")


def _members(potential) -> list:
    return list(getattr(potential, "members", [potential]))


def _each_structure(ds, what: str):
    """``(k, positions, numbers, cell, pbc)`` for each structure, logging progress."""
    step = max(1, len(ds) // 10)
    for k in range(len(ds)):
        s = ds.atom_slice(k)
        yield k, ds.positions[s], ds.numbers[s], ds.cells[k], ds.pbc[k]
        if (k + 1) % step == 0 or k + 1 == len(ds):
            log.info("%s: %d/%d structures", what, k + 1, len(ds))


def check_pool(potential, ds) -> None:
    """Every structure of the pool is a valid structure (labels not needed: a pool is what is to be
    labelled) of the potential's elements; an error names file and structure."""
    for k in range(len(ds)):
        one = ds.subset([k])
        one.energy[:] = 0.0  # a placeholder label: validate_structure checks everything else
        validate_structure(one, 0)
        with ds.located(k):
            potential.check_elements(ds.numbers[ds.atom_slice(k)])


def extrapolation_scores(potential, ds) -> dict:
    """Per structure: ``grade`` (n,; the largest per-atom grade, NaN without an active set),
    ``structure_grade`` (n,; NaN without a configuration set), ``energy_std`` (n, eV/atom; NaN
    without a posterior or committee) and ``atomic_grades`` (a list of arrays or None)."""
    n = len(ds)
    grade, structure_grade, std, atomic = np.full(n, np.nan), np.full(n, np.nan), np.full(n, np.nan), []
    for k, *structure in _each_structure(ds, "extrapolation"):
        with ds.located(k):
            out = potential.predict_grade(*structure)
        grade[k] = out.get("grade", np.nan)
        structure_grade[k] = out.get("structure_grade", np.nan)
        std[k] = out.get("energy_std", np.nan)
        atomic.append(out.get("atomic_grades"))
    return {"grade": grade, "structure_grade": structure_grade, "energy_std": std,
            "atomic_grades": atomic if atomic and atomic[0] is not None else None}


def mean_descriptors(potential, ds) -> np.ndarray:
    """Per structure, the mean over its atoms of the standardised descriptor features (n, n_features)
    of the potential (a committee's first member)."""
    model = _members(potential)[0].model
    out = []
    for k, *structure in _each_structure(ds, "descriptors"):
        with ds.located(k):
            G, _ = model.descriptor.feature_values(*structure)
        out.append(((G - model.feature_mean) / model.feature_scale).mean(axis=0))
    return np.array(out)


class PrincipalComponents:
    """PCA by SVD of the centred data. ``n_components``: an int, or a fraction of the variance
    to explain (the fewest components that reach it). Learned: ``mean_``, ``components_``
    (k, d), ``explained_variance_ratio_`` (k,)."""

    def __init__(self, n_components=0.99):
        self.n_components = n_components

    def fit(self, X) -> PrincipalComponents:
        X = np.asarray(X, dtype=float)
        self.mean_ = X.mean(axis=0)
        _, s, vt = np.linalg.svd(X - self.mean_, full_matrices=False)
        var = s**2
        ratio = var / var.sum() if var.sum() > 0 else np.zeros_like(var)
        if isinstance(self.n_components, float) and self.n_components < 1:
            k = int(np.searchsorted(np.cumsum(ratio), self.n_components) + 1)
        else:
            k = int(self.n_components)
        k = max(1, min(k, len(s)))
        self.components_ = vt[:k]
        self.explained_variance_ratio_ = ratio[:k]
        return self

    def transform(self, X) -> np.ndarray:
        return (np.asarray(X, dtype=float) - self.mean_) @ self.components_.T


def farthest_point_sampling(points, n: int) -> tuple[np.ndarray, np.ndarray]:
    """``(indices, distances)``: up to ``n`` points, the first farthest from the centroid, each
    next farthest from all chosen ones; ``distances`` are those at the pick (the first's from the
    centroid). Stops when every remaining point coincides with a chosen one."""
    points = np.asarray(points, dtype=float)
    score = np.linalg.norm(points - points.mean(axis=0), axis=1)
    chosen, dist = [], []
    for _ in range(min(n, len(points))):
        k = int(np.argmax(score))
        if chosen and not score[k] > 0:
            break
        chosen.append(k)
        dist.append(float(score[k]))
        d = np.linalg.norm(points - points[k], axis=1)
        score = d if len(chosen) == 1 else np.minimum(score, d)
        score[chosen] = -np.inf
    return np.array(chosen, dtype=np.int64), np.array(dist)


def greedy_selection(n: int, scores, take) -> tuple[np.ndarray, np.ndarray]:
    """``n`` greedy picks: each the index of the largest of ``scores()`` (a fresh array) not yet
    taken, then ``take(index)`` updates what the next ``scores()`` sees. Returns the indices and
    each pick's score."""
    taken, picked = [], []
    for _ in range(n):
        score = scores()
        score[taken] = -np.inf
        k = int(np.argmax(score))
        taken.append(k)
        picked.append(float(score[k]))
        take(k)
    return np.array(taken, dtype=np.int64), np.array(picked)


def select_by_grade(potential, ds, n: int, tolerance: float = 1.001) -> tuple[np.ndarray, np.ndarray]:
    """Greedy maxvol over the pool (see the module's docstring): ``(indices, grades at the pick)``."""
    graded = [m for m in _members(potential) if m.active_set is not None]
    if not graded:
        raise LinpotInputError("--by grade needs a potential with an active set (add one with `linpot grade-setup`)")
    # per member and element: a copy of the active set, its inverse, the pool's rows and their structures
    state = []
    for m in graded:
        width = 1 + m.model.n_terms
        blocks = {e: ([], []) for e in m.active_set.rows}
        for k, *structure in _each_structure(ds, "atomic rows"):
            with ds.located(k):
                rows = m.model.atomic_rows(*structure)
                species = species_indices(structure[1], m.model.elements)
            for t, e in enumerate(m.model.elements):
                mask = species == t
                if mask.any() and e not in blocks:
                    raise LinpotInputError(f"the active set has no {e} atoms: every structure with {e} extrapolates",
                                           *ds.origin[k])
                if mask.any():
                    blocks[e][0].append(rows[mask, t * width:(t + 1) * width])
                    blocks[e][1].append(np.full(int(mask.sum()), k))
        for e, (rows, owner) in blocks.items():
            if rows:
                state.append((m.active_set.rows[e].copy(), m.active_set.inverse(e).copy(),
                              np.concatenate(rows), np.concatenate(owner)))

    def structure_grades():
        g = np.zeros(len(ds))
        for _, inverse, rows, owner in state:
            np.maximum.at(g, owner, maxvol_grade(rows, inverse))
        return g

    def take(k):
        for active, inverse, rows, owner in state:
            maxvol_update(active, inverse, rows[owner == k], tolerance)

    return greedy_selection(n, structure_grades, take)


def select_by_structure_grade(potential, ds, n: int, tolerance: float = 1.001) -> tuple[np.ndarray, np.ndarray]:
    """Greedy maxvol with the structure grade (see the module's docstring): ``(indices, grades at the pick)``."""
    graded = [m for m in _members(potential) if m.active_set is not None and m.active_set.configurations is not None]
    if not graded:
        raise LinpotInputError("--by structure-grade needs a potential whose active set has the structure grade's "
                               "configuration set (add one with `linpot grade-setup`)")
    state = []
    for m in graded:
        X = []
        for k, *structure in _each_structure(ds, "energy rows"):
            with ds.located(k):
                X.append(m.model.atomic_rows(*structure).mean(axis=0))
        state.append([m.active_set.configurations, np.array(X)])

    def grades():
        return np.max([c.grades(X) for c, X in state], axis=0)

    def take(k):
        for item in state:
            item[0] = item[0].with_structure(item[1][k], tolerance)

    return greedy_selection(n, grades, take)


def select_by_variance(potential, ds, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Greedy Bayesian design (posterior) or the largest committee spread: ``(indices, std at the pick, eV/atom)``."""
    if hasattr(potential, "members"):
        std = extrapolation_scores(potential, ds)["energy_std"]
        order = np.argsort(-std, kind="stable")[:n]
        return order, std[order]
    if potential.uncertainty is None:
        raise LinpotInputError("--by variance needs a potential with a posterior (fit with --method bayes) or a committee")
    X = []
    for k, *structure in _each_structure(ds, "atomic rows"):
        with ds.located(k):
            X.append(potential.model.atomic_rows(*structure).mean(axis=0))
    X = np.array(X)
    noise = float(potential.uncertainty["noise_variance"].get("energy") or 0.0)
    posterior = [np.array(potential.uncertainty["covariance"], dtype=float)]

    def variances():
        return np.einsum("ij,jk,ik->i", X, posterior[0], X)

    def take(k):
        # the posterior after labelling structure k (a rank-one update): its copies lose their variance
        cx = posterior[0] @ X[k]
        posterior[0] = posterior[0] - np.outer(cx, cx) / (X[k] @ cx + max(noise, 1e-30))

    taken, var = greedy_selection(n, variances, take)
    return taken, np.sqrt(np.maximum(var, 0.0) + noise)


def select_structures(potential, ds, n: int, by: str = "grade") -> dict:
    """Choose ``n`` structures of ``ds`` by ``by`` (``grade``, ``variance`` or ``pca``). Returns
    ``indices``, ``scores``, ``pca`` (the pool's first two principal components, for the map)
    and ``explained`` (their variance ratios)."""
    if by not in METHODS:
        raise LinpotInputError(f"unknown selection {by!r} (known: {', '.join(METHODS)})")
    if n < 1:
        raise LinpotInputError(f"-n must be at least 1, got {n}")
    if n > len(ds):
        raise LinpotInputError(f"asked for {n} structures, the pool has {len(ds)}")
    check_pool(potential, ds)
    descriptors = mean_descriptors(potential, ds)
    pca = PrincipalComponents(0.99).fit(descriptors)
    points = pca.transform(descriptors)
    if by == "grade":
        indices, scores = select_by_grade(potential, ds, n)
    elif by == "structure-grade":
        indices, scores = select_by_structure_grade(potential, ds, n)
    elif by == "variance":
        indices, scores = select_by_variance(potential, ds, n)
    else:
        indices, scores = farthest_point_sampling(points, n)
        if len(indices) < n:
            log.warning("the pool has only %d distinct structures: selected %d of the %d asked for",
                        len(indices), len(indices), n)
    map2 = np.zeros((len(ds), 2))
    map2[:, :min(2, points.shape[1])] = points[:, :2]
    return {"indices": indices, "scores": scores, "pca": map2, "explained": pca.explained_variance_ratio_[:2].tolist()}


def write_selection(ds, indices, scores, by: str, path) -> None:
    """The selected structures as extended XYZ (no labels: ready for DFT), score in ``info``."""
    import ase.io

    frames = []
    for k, score in zip(indices, scores):
        atoms = ds.atoms(int(k))
        pool_file, pool_index = ds.origin[int(k)]
        atoms.info.update({"config_type": ds.config_type[int(k)], "selection_by": by, "selection_score": float(score),
                           "pool_file": str(pool_file), "pool_index": int(pool_index)})
        frames.append(atoms)
    buffer = io.StringIO()
    ase.io.write(buffer, frames, format="extxyz")
    atomic_write_text(path, buffer.getvalue())


def pca_map(points, indices, path, by: str, explained=None, groups=None) -> None:
    """PC1 against PC2 of the pool (coloured by ``groups``, e.g. config_type, if given), the
    selection marked and numbered in order."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(5.5, 4.5))
    if groups is None or len(set(groups)) > 10:
        ax.scatter(points[:, 0], points[:, 1], s=10, c="0.6", label=f"pool ({len(points)})")
    else:
        groups = np.asarray(groups)
        for g in sorted(set(groups)):
            mask = groups == g
            ax.scatter(points[mask, 0], points[mask, 1], s=10, alpha=0.6, label=f"{g} ({int(mask.sum())})")
    sel = points[np.asarray(indices, dtype=int)]
    ax.scatter(sel[:, 0], sel[:, 1], s=40, facecolors="none", edgecolors="k", linewidths=1.5,
               label=f"selected by {by} ({len(sel)})")
    for r, (x, y) in enumerate(sel[:20]):
        ax.annotate(str(r + 1), (x, y), fontsize=7, color="k", xytext=(3, 3), textcoords="offset points")
    ev = explained or []
    ax.set_xlabel("PC1" + (f" ({100 * ev[0]:.0f} % of the variance)" if len(ev) > 0 else ""))
    ax.set_ylabel("PC2" + (f" ({100 * ev[1]:.0f} % of the variance)" if len(ev) > 1 else ""))
    ax.set_title("mean descriptor of each structure")
    ax.legend(fontsize=8)
    fig.tight_layout()
    _save(fig, plt, path)


def structure_table(potential, ds, pred: dict) -> list[dict]:
    """One record per structure: ``index`` (in the concatenated files), ``file``, ``file_index``,
    ``config_type``, ``n_atoms``, ``grade`` (the largest per-atom grade; None without an active
    set), ``structure_grade`` (None without a configuration set), ``energy_std_mev_per_atom``
    (None without a posterior or committee) and, where labels exist, ``energy_error_mev_per_atom``
    (predicted minus reference), ``force_rmse_ev_per_angstrom`` and ``stress_rmse_gpa``."""
    scores = extrapolation_scores(potential, ds)
    out = []
    for k in range(len(ds)):
        s = ds.atom_slice(k)
        n = int(s.stop - s.start)
        path, index = ds.origin[k]
        rec = {"index": k, "file": str(path), "file_index": int(index), "config_type": ds.config_type[k], "n_atoms": n,
               "grade": None if np.isnan(scores["grade"][k]) else float(scores["grade"][k]),
               "structure_grade": None if np.isnan(scores["structure_grade"][k]) else float(scores["structure_grade"][k]),
               "energy_std_mev_per_atom": None if np.isnan(scores["energy_std"][k]) else 1000 * float(scores["energy_std"][k])}
        if ds.has_energy[k]:
            rec["energy_error_mev_per_atom"] = 1000 * float(pred["energy"][k] - ds.energy[k]) / n
        if ds.has_forces[k]:
            rec["force_rmse_ev_per_angstrom"] = float(np.sqrt(np.mean((pred["forces"][s] - ds.forces[s]) ** 2)))
        if ds.has_stress[k] and np.all(np.isfinite(pred["stress"][k])):
            rec["stress_rmse_gpa"] = float(np.sqrt(np.mean((pred["stress"][k] - ds.stress[k]) ** 2))) / GPA
        out.append(rec)
    return out


def format_structure_table(records: list[dict]) -> str:
    def fmt(v, spec):
        return f"{v:{spec}}" if v is not None else "-".rjust(int(spec.split(".")[0]))

    lines = ["extrapolation per structure (grade: largest per-atom maxvol grade, struct: maxvol grade of the "
             "structure's energy row, > 1 extrapolates; std: predicted, meV/atom; errors: E meV/atom, F eV/Å)",
             f"{'index':>6} {'config_type':<20} {'atoms':>6} {'grade':>9} {'struct':>9} {'std':>8} {'E error':>9} "
             f"{'F rmse':>8}"]
    for r in records:
        lines.append(f"{r['index']:>6} {r['config_type'][:20]:<20} {r['n_atoms']:>6} {fmt(r['grade'], '9.3f')} "
                     f"{fmt(r.get('structure_grade'), '9.3f')} "
                     f"{fmt(r['energy_std_mev_per_atom'], '8.3f')} {fmt(r.get('energy_error_mev_per_atom'), '9.3f')} "
                     f"{fmt(r.get('force_rmse_ev_per_angstrom'), '8.3f')}")
    return "\n".join(lines)
