"""Compiling a fitted potential into the tables of the fast evaluator.

A polynomial model ``E_i = c[s, 0] + sum_t c[s, t] prod_{k in t} g_k``, ``g = (B - mean) / scale``,
on descriptor features ``B_k = sum_e coef_e prod_q a[c_k, lm_eq]`` (an invariant of the
expansion ``a``; a pair feature is ``sqrt(4 pi) a[c, 00]``) is rewritten as

* one merged polynomial in ``a`` per (central species, channel) for every feature that enters
  the model only linearly: the weights ``c[s, k] / scale_k`` times the coupling coefficients,
  summed over every invariant that shares a monomial. Zero coefficients are pruned here, and
  the cost no longer grows with the number of invariants, only with the distinct monomials;
* the features that enter products (``Q``), kept as they are, with the monomials over them;
* a constant per species, ``c[s, 0] - sum_k c[s, k] mean_k / scale_k`` over the linear features.

:func:`compile_tables` builds the tables: the kernels' named tables
(:class:`~linpot.kernels.evaluator.ExpansionPotentialTables`,
:class:`~linpot.kernels.moment_tensors.MomentPotentialTables`), stored as plain arrays by field
name; :class:`CompiledPotential` runs them.
"""

from __future__ import annotations

import math

import numpy as np

from ..descriptors import species_indices
from ..descriptors.invariants import MAX_ORDER
from ..errors import LinpotInputError
from ..kernels.evaluator import ExpansionPotentialTables
from ..kernels.invariants import InvariantTables
from ..kernels.moment_tensors import MomentComponents, MomentPotentialTables
from .runtime import run_tables, tables_to_arrays

COMPILED_KINDS = ("pair", "invariants", "moment-tensors")


def supports(potential) -> bool:
    """Whether the compiled evaluator knows the potential's descriptor family (others run the
    model's own reverse mode; SNAP runs natively in LAMMPS, :mod:`linpot.interfaces.snap_files`): pair
    features and invariants with one-hot element channels and no mixed radial indices (compact
    with any polynomial model; complete ones where only order-1 features enter products),
    moment tensors with a linear one. Channel-weighted and mixed-radial invariants run in the
    model's reverse mode: the merged tables key a monomial by one swept channel."""
    model = potential.model
    d = model.descriptor
    if d.kind == "moment-tensors":
        return model.degree == 1
    if d.kind == "invariants" and getattr(d, "element_coupling", "compact") == "complete" and model.degree >= 2:
        orders = model.product_orders
        if orders is None or any(p >= 2 for p in orders):
            return False
    return d.kind in COMPILED_KINDS and getattr(d, "compiles", True)


def _merge_linear_features(coef, mean, scale, features, feature_terms):
    """The features that enter the model linearly, merged per central species:
    ``sum_k c[s, k] (B_k - mean_k) / scale_k = sum_key w[s][key] * monomial(key) + shift[s]``.

    ``feature_terms(k)`` lists feature k's polynomial as ``(monomial key, coefficient)``; returns
    the constants ``c[s, 0] + shift[s]`` and one ``{key: weight}`` per species (zero coefficients
    skipped)."""
    const = coef[:, 0].astype(float).copy()
    merged = [dict() for _ in range(coef.shape[0])]
    for k in features:
        terms = None
        for s in range(coef.shape[0]):
            w = float(coef[s, 1 + k]) / scale[k]
            if w == 0.0:
                continue
            const[s] -= w * mean[k]
            terms = terms if terms is not None else list(feature_terms(k))
            for key, c in terms:
                merged[s][key] = merged[s].get(key, 0.0) + w * c
    return const, merged


def _compile_moment_tensors(potential) -> dict:
    """Tables of a linear moment-tensor potential: ``E_i = const[s] + P_s(M)``, one polynomial in
    the moment components per central species (weights ``c[s, t] / scale_t`` times the basis
    polynomials, identical monomials summed, zero weights pruned) over the components it uses."""
    model = potential.model
    d = model.descriptor
    mt = d.kernel_tables()
    term_start, term_ids, term_coef = mt.term_start, mt.term_ids, mt.term_coef
    coef = potential.coefficients
    const, merged = _merge_linear_features(
        coef, model.feature_mean, model.feature_scale, range(len(term_start) - 1),
        lambda t: ((tuple(sorted(int(c) for c in term_ids[e] if c >= 0)), float(term_coef[e]))
                   for e in range(term_start[t], term_start[t + 1])))
    polys = [{k: v for k, v in poly.items() if v != 0.0} for poly in merged]
    used = sorted({c for poly in polys for key in poly for c in key})
    local = {c: k for k, c in enumerate(used)}
    width = term_ids.shape[1]
    poly_start, poly_ids, poly_coef = [0], [], []
    for poly in polys:
        for key in sorted(poly):
            poly_ids.append([local[c] for c in key] + [-1] * (width - len(key)))
            poly_coef.append(poly[key])
        poly_start.append(len(poly_coef))
    used = np.array(used, dtype=np.int64)
    comp = mt.components
    tables = MomentPotentialTables(
        radial=d.radial.kernel_tables(),
        components=MomentComponents(comp_species=comp.comp_species[used], comp_mu=comp.comp_mu[used],
                                    comp_nu=comp.comp_nu[used], comp_idx=np.ascontiguousarray(comp.comp_idx[used])),
        poly_start=np.array(poly_start, dtype=np.int64),
        poly_ids=np.array(poly_ids, dtype=np.int64).reshape(len(poly_ids), width),
        poly_coef=np.array(poly_coef, dtype=float), const=const)
    return {"format": "linpot-evaluator-tables", "family": "moment-tensors", "elements": list(d.elements),
            **tables_to_arrays(tables)}


def table_summary(tables: dict) -> dict:
    """Sizes of compiled tables: the merged monomials and the features kept for products."""
    if tables.get("family") == "moment-tensors":
        return {"n_monomials": int(len(tables["poly_coef"])), "n_product_features": 0,
                "n_moment_components": int(len(tables["comp_mu"]))}
    return {"n_monomials": int(np.count_nonzero(tables["tuple_w"])), "n_product_features": int(len(tables["q_channel"]))}


def _feature_definitions(descriptor) -> InvariantTables:
    """Per feature: the channel ``s * N + n`` of its factors, coupling type; per type its entries
    (a pair feature is the order-1 invariant ``sqrt(4 pi) a[c, 00]``)."""
    if descriptor.kind == "pair":
        N = descriptor.radial.n_basis
        n_feat = len(descriptor.elements) * N
        feat_channel = np.zeros((n_feat, MAX_ORDER), dtype=np.int64)
        feat_channel[:, 0] = np.arange(n_feat)
        entry_lm = np.full((1, MAX_ORDER), -1, dtype=np.int64)
        entry_lm[0, 0] = 0
        return InvariantTables(channel_weights=np.eye(len(descriptor.elements)), feat_channel=feat_channel,
                               feat_slot=np.zeros((n_feat, MAX_ORDER), dtype=np.int64),
                               feat_type=np.zeros(n_feat, dtype=np.int64),
                               type_entry_start=np.array([0, 1], dtype=np.int64), entry_lm=entry_lm,
                               entry_coef=np.array([math.sqrt(4.0 * math.pi)]), type_pos_l=entry_lm.copy())
    if descriptor.kind == "invariants":
        if not descriptor.compiles:
            raise LinpotInputError("the fast evaluator runs invariants with one-hot element channels and no mixed "
                                   "radial indices only")
        return descriptor.kernel_tables()
    raise LinpotInputError(f"the fast evaluator does not know descriptor kind {descriptor.kind!r}")


def compile_tables(potential) -> dict:
    """The evaluator tables of ``potential``: ``format``, ``family`` and ``elements``, and the
    kernel tables of the family by field name (:class:`~linpot.kernels.evaluator.ExpansionPotentialTables`
    or :class:`~linpot.kernels.moment_tensors.MomentPotentialTables`, through
    :func:`~linpot.evaluator.runtime.tables_to_arrays`)."""
    model = potential.model
    d = model.descriptor
    if d.kind == "moment-tensors":
        if model.degree != 1:
            raise LinpotInputError("the fast evaluator runs linear moment-tensor models only")
        return _compile_moment_tensors(potential)
    features = _feature_definitions(d)
    feat_channels, feat_type = features.feat_channel, features.feat_type
    feat_channel = feat_channels[:, 0]
    entry_start, entry_lm, entry_coef = features.type_entry_start, features.entry_lm, features.entry_coef
    N = d.radial.n_basis
    n_species = len(d.elements)
    n_feat = len(feat_type)
    coef = potential.coefficients
    terms = model.terms
    degree = (terms >= 0).sum(axis=1)
    if not np.array_equal(terms[:n_feat, 0], np.arange(n_feat)) or np.any(degree[:n_feat] != 1):
        raise LinpotInputError("unexpected polynomial term layout")
    used_terms = np.nonzero(np.any(coef[:, 1:] != 0.0, axis=0))[0]
    higher = [t for t in used_terms if degree[t] >= 2]
    q_features = sorted({int(k) for t in higher for k in terms[t] if k >= 0})
    q_index = {k: i for i, k in enumerate(q_features)}
    for k in q_features:
        p = int(np.count_nonzero(features.type_pos_l[feat_type[k]] >= 0))
        if len(set(feat_channels[k, :p].tolist())) > 1:
            raise LinpotInputError("the fast evaluator takes invariants coupling several elements in linear terms "
                                   "only, not in products (use product_orders = [1])")
    mean, scale = model.feature_mean, model.feature_scale

    def feature_terms(k):
        """Invariant k as monomials keyed by (swept channel, factors as (lm, channel offset)): a
        compact invariant sweeps its channel with offsets 0; a complete one (factors of different
        elements, one radial index n) sweeps n with offset ``s_q N`` per factor."""
        t = int(feat_type[k])
        p = int(np.count_nonzero(features.type_pos_l[t] >= 0))
        channels = [int(c) for c in feat_channels[k, :p]]
        if len(set(channels)) == 1:
            swept, offsets = channels[0], [0] * p
        else:
            swept = channels[0] % N
            offsets = [c - swept for c in channels]
        for e in range(entry_start[t], entry_start[t + 1]):
            factors = tuple(sorted((int(entry_lm[e, q]), offsets[q]) for q in range(p)))
            yield (swept, factors), float(entry_coef[e])

    const, monomials = _merge_linear_features(coef, mean, scale, [k for k in range(n_feat) if k not in q_index],
                                              feature_terms)
    # One row per distinct pattern of factors (lm, channel offset), one weight per swept channel
    # (dense: the kernel sweeps all channels of a pattern at once).
    n_ch = n_species * N
    tuple_start, tuple_lm, tuple_off, tuple_w = [0], [], [], []
    for s in range(n_species):
        patterns: dict = {}
        for (c, factors), w in monomials[s].items():
            if w != 0.0:
                patterns.setdefault(factors, np.zeros(n_ch))[c] += w
        for factors in sorted(patterns):
            tuple_lm.append([lm for lm, _ in factors] + [-1] * (MAX_ORDER - len(factors)))
            tuple_off.append([off for _, off in factors] + [0] * (MAX_ORDER - len(factors)))
            tuple_w.append(patterns[factors])
        tuple_start.append(len(tuple_w))
    q_terms_list, q_coef_cols = [], []
    for t in used_terms:
        factors = [int(k) for k in terms[t] if k >= 0]
        if all(k in q_index for k in factors):
            q_terms_list.append([q_index[k] for k in factors] + [-1] * (terms.shape[1] - len(factors)))
            q_coef_cols.append(coef[:, 1 + t])
    width = terms.shape[1]
    q_terms = np.array(q_terms_list, dtype=np.int64).reshape(len(q_terms_list), width)
    q_coef = np.array(q_coef_cols, dtype=float).T.reshape(n_species, len(q_coef_cols))

    # Only the coupling types of the product features are kept (pruning), renumbered.
    q_types = sorted({int(feat_type[k]) for k in q_features})
    type_local = {t: i for i, t in enumerate(q_types)}
    kept_start, kept_lm, kept_coef = [0], [], []
    for t in q_types:
        kept_lm.append(np.asarray(entry_lm[entry_start[t]:entry_start[t + 1]], dtype=np.int64))
        kept_coef.append(np.asarray(entry_coef[entry_start[t]:entry_start[t + 1]], dtype=float))
        kept_start.append(kept_start[-1] + len(kept_coef[-1]))
    entry_lm = np.concatenate(kept_lm) if kept_lm else np.zeros((0, MAX_ORDER), dtype=np.int64)
    entry_coef = np.concatenate(kept_coef) if kept_coef else np.zeros(0)
    entry_start = np.array(kept_start, dtype=np.int64)
    lms = [x for row in tuple_lm for x in row if x >= 0] + [int(x) for x in entry_lm.ravel() if x >= 0]
    l_max = int(math.isqrt(max(lms))) if lms else 0
    tables = ExpansionPotentialTables(
        n_species=n_species, l_max=l_max, radial=d.radial.kernel_tables(),
        tuple_start=np.array(tuple_start, dtype=np.int64),
        tuple_lm=np.array(tuple_lm, dtype=np.int64).reshape(len(tuple_lm), MAX_ORDER),
        tuple_degree=np.array([sum(1 for x in row if x >= 0) for row in tuple_lm], dtype=np.int64),
        tuple_nch=np.array([int(np.nonzero(w)[0].max()) + 1 for w in tuple_w], dtype=np.int64),
        tuple_w=np.array(tuple_w, dtype=float).reshape(len(tuple_w), n_ch),
        tuple_off=np.array(tuple_off, dtype=np.int64).reshape(len(tuple_off), MAX_ORDER), const=const,
        q_channel=np.array([feat_channel[k] for k in q_features], dtype=np.int64),
        q_type=np.array([type_local[int(feat_type[k])] for k in q_features], dtype=np.int64),
        type_entry_start=entry_start, entry_lm=np.ascontiguousarray(entry_lm, dtype=np.int64),
        entry_coef=np.asarray(entry_coef, dtype=float),
        q_mean=np.array([mean[k] for k in q_features], dtype=float),
        q_scale=np.array([scale[k] for k in q_features], dtype=float),
        q_terms=q_terms, q_coef=np.ascontiguousarray(q_coef))
    return {"format": "linpot-evaluator-tables", "family": "expansion", "elements": list(d.elements),
            **tables_to_arrays(tables)}


class CompiledPotential:
    """A potential's fast evaluator: ``predict(positions, numbers, cell, pbc)`` as :meth:`Potential.predict`."""

    def __init__(self, potential):
        self.potential = potential
        self.tables = compile_tables(potential)

    def predict(self, positions, numbers, cell, pbc) -> dict:
        species = species_indices(numbers, self.tables["elements"])
        return run_tables(self.tables, positions, species, cell, pbc)
