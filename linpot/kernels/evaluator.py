"""Energy, forces and virial of a fitted potential in reverse mode, one atom at a time.

For atom i of species s (channels ``c = s' * N + n`` over neighbour species s' and radial index n):

1. the expansion ``a[c, lm] = sum_{j: species(j) = s'} f_n(r_ij) Y_lm(r_ij / r_ij)``
   (:func:`~linpot.kernels.expansion.density_expansion`), copied with the channel last (``aT[lm, c]``)
   so that one angular pattern is applied to all channels in one sweep;
2. the energy, in two parts:
   * the features that enter the model only linearly, merged at load time into one polynomial
     per central species: for each distinct pattern of factors ``(lm_q, off_q)`` a weight per
     channel, ``E_lin = sum_T sum_c W[T, c] prod_q a[lm_Tq, c + off_Tq]`` (offsets 0 for compact
     invariants, ``s_q N`` for the factors of complete ones, which sweep the radial index) -- its
     cost is the number of distinct patterns times channels, whatever the number of invariants
     that share them;
   * the features that enter products (``Q``): their values ``B_k``, standardised
     ``g_k = (B_k - mean_k) / scale_k``, and the polynomial ``sum_t w_t prod g``;
3. ``dE/da[lm, c]`` from both parts (products of the other factors, O(p) per monomial with
   repeated factors included: :mod:`linpot.kernels.polynomial`);
4. one pass over the neighbours: ``dE/dr_ij = sum_lm h1[lm] Y_lm r_hat + h0[lm] grad Y_lm`` with
   ``h0[lm] = sum_n dE/da[lm, c] f_n``, ``h1[lm] = sum_n dE/da[lm, c] f_n'``.

Radial functions and harmonics are computed per atom for its own pairs, so memory is that of
the neighbour list and the cost per atom does not depend on the size of the system.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
from numba import njit

from .expansion import density_expansion
from .forces import add_pair_force, largest_neighbourhood
from .polynomial import monomial_value_gradient, polynomial_value_gradient
from .radial import RadialTables, radial_basis_of_kind
from .spherical_harmonics import _normalisation, real_spherical_harmonics_into


class ExpansionPotentialTables(NamedTuple):
    """A fitted potential on the expansion as kernel arguments (built by
    :func:`linpot.evaluator.compile_tables`, see :func:`potential_energy_forces`)."""

    n_species: int
    l_max: int
    radial: RadialTables
    tuple_start: np.ndarray
    tuple_lm: np.ndarray
    tuple_degree: np.ndarray
    tuple_nch: np.ndarray
    tuple_w: np.ndarray
    tuple_off: np.ndarray
    const: np.ndarray
    q_channel: np.ndarray
    q_type: np.ndarray
    type_entry_start: np.ndarray
    entry_lm: np.ndarray
    entry_coef: np.ndarray
    q_mean: np.ndarray
    q_scale: np.ndarray
    q_terms: np.ndarray
    q_coef: np.ndarray


@njit(cache=True)
def _offset_sweep_4(aT, dEdaT, tuple_w, T, n_ch, l0, l1, l2, l3, o0, o1, o2, o3):
    """One degree-4 pattern whose factors sit at channel offsets (complete invariants) over its
    channels: energy, and the gradient added into dEdaT."""
    energy = 0.0
    for c in range(n_ch):
        w = tuple_w[T, c]
        x0 = aT[l0, c + o0]
        x1 = aT[l1, c + o1]
        x2 = aT[l2, c + o2]
        x3 = aT[l3, c + o3]
        w01 = w * x0 * x1
        w23 = w * x2 * x3
        dEdaT[l0, c + o0] += x1 * w23
        dEdaT[l1, c + o1] += x0 * w23
        dEdaT[l2, c + o2] += w01 * x3
        dEdaT[l3, c + o3] += w01 * x2
        energy += w01 * x2 * x3
    return energy


@njit(cache=True)
def _offset_sweep_3(aT, dEdaT, tuple_w, T, n_ch, l0, l1, l2, o0, o1, o2):
    """One degree-3 pattern over its channels (as :func:`_offset_sweep_4`)."""
    energy = 0.0
    for c in range(n_ch):
        w = tuple_w[T, c]
        x0 = aT[l0, c + o0]
        x1 = aT[l1, c + o1]
        x2 = aT[l2, c + o2]
        w01 = w * x0 * x1
        dEdaT[l0, c + o0] += w * x1 * x2
        dEdaT[l1, c + o1] += w * x0 * x2
        dEdaT[l2, c + o2] += w01
        energy += w01 * x2
    return energy


@njit(cache=True)
def _offset_sweep_2(aT, dEdaT, tuple_w, T, n_ch, l0, l1, o0, o1):
    """One degree-2 pattern over its channels (as :func:`_offset_sweep_4`)."""
    energy = 0.0
    for c in range(n_ch):
        w = tuple_w[T, c]
        x0 = aT[l0, c + o0]
        x1 = aT[l1, c + o1]
        dEdaT[l0, c + o0] += w * x1
        dEdaT[l1, c + o1] += w * x0
        energy += w * x0 * x1
    return energy


@njit(cache=True)
def _offset_sweep_1(aT, dEdaT, tuple_w, T, n_ch, l0, o0):
    """One degree-1 pattern over its channels (as :func:`_offset_sweep_4`)."""
    energy = 0.0
    for c in range(n_ch):
        w = tuple_w[T, c]
        dEdaT[l0, c + o0] += w
        energy += w * aT[l0, c + o0]
    return energy


@njit(cache=True)
def merged_polynomial(aT, tables, start, stop, dEdaT, prefix):
    """``sum_T sum_c W[T, c] prod_q aT[lm_Tq, c + off_Tq]`` over the patterns ``start..stop`` of
    ``tables`` (:class:`ExpansionPotentialTables`: factors ``tuple_lm``, channel offsets
    ``tuple_off``, weights ``W = tuple_w``) and channels ``c < tuple_nch[T]`` (the weights beyond
    are zero), adding the gradient into ``dEdaT``. A compact invariant has every offset 0 (one
    channel for all factors); a complete one sweeps the radial index ``c = n`` with offset
    ``s_q N`` for the element of factor q. Degrees 1-4 are written out, all channels of a pattern
    in one sweep; higher ones go channel by channel through
    :func:`~linpot.kernels.polynomial.monomial_value_gradient` (offsets 0) or a product of the
    factors at their offsets."""
    tuple_lm = tables.tuple_lm
    tuple_off = tables.tuple_off
    tuple_degree = tables.tuple_degree
    tuple_nch = tables.tuple_nch
    tuple_w = tables.tuple_w
    energy = 0.0
    for T in range(start, stop):
        degree = tuple_degree[T]
        n_ch = tuple_nch[T]
        # Patterns with every offset 0 (compact invariants) run the loops below, indexed by the
        # loop counter alone: numba then emits no negative-index wrap-around and the loops run as
        # fast as before offsets existed (with the offsets inline, every compact invariant
        # potential was 25-30 % slower). Patterns with offsets (complete invariants) go through
        # the _offset_sweep_* functions, the same products at shifted channels.
        if degree == 4:
            l0 = tuple_lm[T, 0]
            l1 = tuple_lm[T, 1]
            l2 = tuple_lm[T, 2]
            l3 = tuple_lm[T, 3]
            o0 = tuple_off[T, 0]
            o1 = tuple_off[T, 1]
            o2 = tuple_off[T, 2]
            o3 = tuple_off[T, 3]
            if o0 != 0 or o1 != 0 or o2 != 0 or o3 != 0:
                energy += _offset_sweep_4(aT, dEdaT, tuple_w, T, n_ch, l0, l1, l2, l3, o0, o1, o2, o3)
                continue
            for c in range(n_ch):
                w = tuple_w[T, c]
                x0 = aT[l0, c]
                x1 = aT[l1, c]
                x2 = aT[l2, c]
                x3 = aT[l3, c]
                w01 = w * x0 * x1
                w23 = w * x2 * x3
                dEdaT[l0, c] += x1 * w23
                dEdaT[l1, c] += x0 * w23
                dEdaT[l2, c] += w01 * x3
                dEdaT[l3, c] += w01 * x2
                energy += w01 * x2 * x3
        elif degree == 3:
            l0 = tuple_lm[T, 0]
            l1 = tuple_lm[T, 1]
            l2 = tuple_lm[T, 2]
            o0 = tuple_off[T, 0]
            o1 = tuple_off[T, 1]
            o2 = tuple_off[T, 2]
            if o0 != 0 or o1 != 0 or o2 != 0:
                energy += _offset_sweep_3(aT, dEdaT, tuple_w, T, n_ch, l0, l1, l2, o0, o1, o2)
                continue
            for c in range(n_ch):
                w = tuple_w[T, c]
                x0 = aT[l0, c]
                x1 = aT[l1, c]
                x2 = aT[l2, c]
                w01 = w * x0 * x1
                dEdaT[l0, c] += w * x1 * x2
                dEdaT[l1, c] += w * x0 * x2
                dEdaT[l2, c] += w01
                energy += w01 * x2
        elif degree == 2:
            l0 = tuple_lm[T, 0]
            l1 = tuple_lm[T, 1]
            o0 = tuple_off[T, 0]
            o1 = tuple_off[T, 1]
            if o0 != 0 or o1 != 0:
                energy += _offset_sweep_2(aT, dEdaT, tuple_w, T, n_ch, l0, l1, o0, o1)
                continue
            for c in range(n_ch):
                w = tuple_w[T, c]
                x0 = aT[l0, c]
                x1 = aT[l1, c]
                dEdaT[l0, c] += w * x1
                dEdaT[l1, c] += w * x0
                energy += w * x0 * x1
        elif degree == 1:
            l0 = tuple_lm[T, 0]
            o0 = tuple_off[T, 0]
            if o0 != 0:
                energy += _offset_sweep_1(aT, dEdaT, tuple_w, T, n_ch, l0, o0)
                continue
            for c in range(n_ch):
                w = tuple_w[T, c]
                dEdaT[l0, c] += w
                energy += w * aT[l0, c]
        else:
            offset = False
            for q in range(degree):
                if tuple_off[T, q] != 0:
                    offset = True
            for c in range(n_ch):
                w = tuple_w[T, c]
                if w == 0.0:
                    continue
                if not offset:
                    energy += monomial_value_gradient(aT[:, c], tuple_lm, T, w, dEdaT[:, c], prefix, False)
                    continue
                # prefix products from the left, suffix from the right: O(degree) per monomial
                prefix[0] = w
                for q in range(degree):
                    prefix[q + 1] = prefix[q] * aT[tuple_lm[T, q], c + tuple_off[T, q]]
                suffix = 1.0
                for q in range(degree - 1, -1, -1):
                    x = aT[tuple_lm[T, q], c + tuple_off[T, q]]
                    dEdaT[tuple_lm[T, q], c + tuple_off[T, q]] += prefix[q] * suffix
                    suffix *= x
                energy += prefix[degree]
    return energy


@njit(cache=True)
def potential_energy_forces(pair_start, pair_j, vectors, species, tables):
    """Per-atom energies (eV), forces (eV/Å) and virial (Voigt, eV) of a polynomial potential.

    ``tables`` (:class:`ExpansionPotentialTables`): ``tuple_start[s]:tuple_start[s+1]``, the angular
    patterns of central species s, each with ``tuple_degree`` factors ``tuple_lm`` at channel offsets
    ``tuple_off`` and a weight per channel ``tuple_w[T, :tuple_nch[T]]``; ``const[s]``, the constant energy; ``q_*``, the features
    entering products (channel, coupling type with its entries ``type_entry_start``, ``entry_lm``,
    ``entry_coef``, mean, scale) and ``q_terms`` (monomials over them, -1 padded) with weights
    ``q_coef[s, t]``. Pairs sorted by central atom (``pair_start``), ``vectors`` = r_ij (Å).
    """
    t = tables
    n_atoms = pair_start.shape[0] - 1
    n_basis = t.radial.n_basis
    n_lm = (t.l_max + 1) * (t.l_max + 1)
    n_ch = t.n_species * n_basis
    n_q = t.q_channel.shape[0]
    species_j = species[pair_j]
    energies = np.zeros(n_atoms)
    forces = np.zeros((n_atoms, 3))
    virial = np.zeros(6)
    a = np.zeros((n_ch, n_lm))
    aT = np.zeros((n_lm, n_ch))
    dEdaT = np.zeros((n_lm, n_ch))
    dEda = np.zeros((n_ch, n_lm))
    gq = np.zeros(n_q)
    dEdg = np.zeros(n_q)
    gB = np.zeros((max(n_q, 1), n_lm))
    prefix = np.zeros(max(t.tuple_lm.shape[1], t.entry_lm.shape[1], t.q_terms.shape[1]) + 1)
    h0 = np.zeros(n_lm)
    h1 = np.zeros(n_lm)
    # Per-atom buffers, allocated once: allocating them per atom (a few hundred kB) costs more
    # than the harmonics themselves.
    max_pairs = largest_neighbourhood(pair_start)
    Y = np.zeros((max_pairs, n_lm))
    dY = np.zeros((max_pairs, n_lm, 3))
    K = _normalisation(t.l_max)
    for i in range(n_atoms):
        p0 = pair_start[i]
        p1 = pair_start[i + 1]
        m = p1 - p0
        vec = vectors[p0:p1]
        r = np.sqrt(vec[:, 0] ** 2 + vec[:, 1] ** 2 + vec[:, 2] ** 2)
        f, df = radial_basis_of_kind(r, t.radial)
        real_spherical_harmonics_into(vec, t.l_max, K, Y, dY)
        density_expansion(0, m, species_j[p0:p1], f, Y, a)
        # channel last: one angular pattern is applied to all channels in one sweep
        for c in range(n_ch):
            for lm in range(n_lm):
                aT[lm, c] = a[c, lm]
        dEdaT[:, :] = 0.0
        s = species[i]
        e = t.const[s] + merged_polynomial(aT, t, t.tuple_start[s], t.tuple_start[s + 1], dEdaT, prefix)
        if n_q > 0:
            for k in range(n_q):
                q_type = t.q_type[k]
                gB[k, :] = 0.0
                value = polynomial_value_gradient(a[t.q_channel[k]], t.type_entry_start[q_type],
                                                  t.type_entry_start[q_type + 1], t.entry_lm, t.entry_coef, 1.0, gB[k],
                                                  prefix)
                gq[k] = (value - t.q_mean[k]) / t.q_scale[k]
            dEdg[:] = 0.0
            for term in range(t.q_terms.shape[0]):
                w = t.q_coef[s, term]
                if w == 0.0:
                    continue
                e += monomial_value_gradient(gq, t.q_terms, term, w, dEdg, prefix, False)
            for k in range(n_q):
                wk = dEdg[k] / t.q_scale[k]
                if wk == 0.0:
                    continue
                c = t.q_channel[k]
                for lm in range(n_lm):
                    dEdaT[lm, c] += wk * gB[k, lm]
        energies[i] = e
        # channel-major copy of dE/da: the neighbour pass below then runs over lm in unit stride
        for lm in range(n_lm):
            for c in range(n_ch):
                dEda[c, lm] = dEdaT[lm, c]
        for pp in range(m):
            base = species_j[p0 + pp] * n_basis
            h0[:] = 0.0
            h1[:] = 0.0
            for n in range(n_basis):
                fn = f[pp, n]
                dfn = df[pp, n]
                row = dEda[base + n]
                for lm in range(n_lm):
                    h0[lm] += row[lm] * fn
                    h1[lm] += row[lm] * dfn
            rr = r[pp]
            radial = 0.0
            gx = 0.0
            gy = 0.0
            gz = 0.0
            for lm in range(n_lm):
                radial += h1[lm] * Y[pp, lm]
                gx += h0[lm] * dY[pp, lm, 0]
                gy += h0[lm] * dY[pp, lm, 1]
                gz += h0[lm] * dY[pp, lm, 2]
            rx = vec[pp, 0]
            ry = vec[pp, 1]
            rz = vec[pp, 2]
            gx += radial * rx / rr
            gy += radial * ry / rr
            gz += radial * rz / rr
            add_pair_force(i, pair_j[p0 + pp], rx, ry, rz, gx, gy, gz, forces, virial)
    return energies, forces, virial
