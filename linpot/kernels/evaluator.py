"""Energy, forces and virial of a fitted potential in reverse mode, one atom at a time.

For atom i of species s (channels ``c = s' * N + n`` over neighbour species s' and radial index n):

1. the expansion ``a[lm, c] = sum_{j: species(j) = s'} f_n(r_ij) Y_lm(r_ij / r_ij)``, stored with
   the channel last so that one angular pattern is applied to all channels in one sweep;
2. the energy, in two parts:
   * the features that enter the model only linearly, merged at load time into one polynomial
     per central species: for each distinct angular pattern ``(lm_1..lm_p)`` a weight per
     channel, ``E_lin = sum_T sum_c W[T, c] prod_q a[lm_Tq, c]`` -- its cost is the number of
     distinct patterns times channels, whatever the number of invariants that share them;
   * the features that enter products (``Q``): their values ``B_k``, standardised
     ``g_k = (B_k - mean_k) / scale_k``, and the polynomial ``sum_t w_t prod g``;
3. ``dE/da[lm, c]`` from both parts (products of the other factors, O(p) per monomial with
   repeated factors included);
4. one pass over the neighbours: ``dE/dr_ij = sum_lm h1[lm] Y_lm r_hat + h0[lm] grad Y_lm`` with
   ``h0[lm] = sum_n dE/da[lm, c] f_n``, ``h1[lm] = sum_n dE/da[lm, c] f_n'``.

Radial functions and harmonics are computed per atom for its own pairs, so memory is that of
the neighbour list and the cost per atom does not depend on the size of the system.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from .forces import add_pair_force, largest_neighbourhood
from .radial import radial_basis_of_kind
from .spherical_harmonics import _normalisation, real_spherical_harmonics_into


@njit(cache=True)
def merged_polynomial(aT, tuple_lm, tuple_degree, tuple_nch, tuple_w, start, stop, dEdaT):
    """``sum_T sum_c W[T, c] prod_q aT[lm_Tq, c]`` over patterns ``start..stop`` and channels
    ``c < tuple_nch[T]`` (the weights beyond are zero), adding the gradient into ``dEdaT``.
    Degrees 1-4 are written out; higher ones use prefix/suffix products."""
    energy = 0.0
    prefix = np.zeros(8)
    for T in range(start, stop):
        degree = tuple_degree[T]
        n_ch = tuple_nch[T]
        if degree == 4:
            l0 = tuple_lm[T, 0]
            l1 = tuple_lm[T, 1]
            l2 = tuple_lm[T, 2]
            l3 = tuple_lm[T, 3]
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
            for c in range(n_ch):
                w = tuple_w[T, c]
                x0 = aT[l0, c]
                x1 = aT[l1, c]
                dEdaT[l0, c] += w * x1
                dEdaT[l1, c] += w * x0
                energy += w * x0 * x1
        elif degree == 1:
            l0 = tuple_lm[T, 0]
            for c in range(n_ch):
                w = tuple_w[T, c]
                dEdaT[l0, c] += w
                energy += w * aT[l0, c]
        else:
            for c in range(n_ch):
                w = tuple_w[T, c]
                if w == 0.0:
                    continue
                value = 1.0
                for q in range(degree):
                    prefix[q] = value
                    value *= aT[tuple_lm[T, q], c]
                suffix = w
                for q in range(degree - 1, -1, -1):
                    lm = tuple_lm[T, q]
                    dEdaT[lm, c] += prefix[q] * suffix
                    suffix *= aT[lm, c]
                energy += w * value
    return energy


@njit(cache=True)
def coupled_value_gradient(aT, c, entry_lm, entry_degree, entry_coef, start, stop, grad):
    """``B = sum_e coef_e prod_q aT[lm_eq, c]`` over entries ``start..stop`` and ``grad[lm] = dB/daT[lm, c]``."""
    value = 0.0
    prefix = np.zeros(8)
    for e in range(start, stop):
        degree = entry_degree[e]
        prod = 1.0
        for q in range(degree):
            prefix[q] = prod
            prod *= aT[entry_lm[e, q], c]
        suffix = entry_coef[e]
        for q in range(degree - 1, -1, -1):
            lm = entry_lm[e, q]
            grad[lm] += prefix[q] * suffix
            suffix *= aT[lm, c]
        value += entry_coef[e] * prod
    return value


@njit(cache=True)
def potential_energy_forces(pair_start, pair_j, vectors, species, n_species, radial_kind, n_basis, r_min, r_cut,
                            centres, width, l_max,
                            tuple_start, tuple_lm, tuple_degree, tuple_nch, tuple_w, const,
                            q_channel, q_type, type_entry_start, entry_lm, entry_degree, entry_coef, q_mean, q_scale,
                            q_terms, q_coef):
    """Per-atom energies (eV), forces (eV/Å) and virial (Voigt, eV) of a polynomial potential.

    ``tuple_start[s]:tuple_start[s+1]``: angular patterns of central species s, each with
    ``tuple_degree`` factors ``tuple_lm`` and a weight per channel ``tuple_w[T, :tuple_nch[T]]``;
    ``const[s]``: constant energy. ``q_*``: features entering products (channel, coupling type,
    mean, scale) and ``q_terms`` (monomials over them, -1 padded) with weights ``q_coef[s, t]``.
    Pairs sorted by central atom (``pair_start``), ``vectors`` = r_ij (Å).
    """
    n_atoms = pair_start.shape[0] - 1
    n_lm = (l_max + 1) * (l_max + 1)
    n_ch = n_species * n_basis
    n_q = q_channel.shape[0]
    energies = np.zeros(n_atoms)
    forces = np.zeros((n_atoms, 3))
    virial = np.zeros(6)
    aT = np.zeros((n_lm, n_ch))
    dEdaT = np.zeros((n_lm, n_ch))
    dEda = np.zeros((n_ch, n_lm))
    gq = np.zeros(n_q)
    dEdg = np.zeros(n_q)
    gB = np.zeros((max(n_q, 1), n_lm))
    h0 = np.zeros(n_lm)
    h1 = np.zeros(n_lm)
    # Per-atom buffers, allocated once: allocating them per atom (a few hundred kB) costs more
    # than the harmonics themselves.
    max_pairs = largest_neighbourhood(pair_start)
    Y = np.zeros((max_pairs, n_lm))
    dY = np.zeros((max_pairs, n_lm, 3))
    K = _normalisation(l_max)
    for i in range(n_atoms):
        p0 = pair_start[i]
        p1 = pair_start[i + 1]
        m = p1 - p0
        vec = vectors[p0:p1]
        r = np.sqrt(vec[:, 0] ** 2 + vec[:, 1] ** 2 + vec[:, 2] ** 2)
        f, df = radial_basis_of_kind(r, radial_kind, n_basis, r_min, centres, width, r_cut)
        real_spherical_harmonics_into(vec, l_max, K, Y, dY)
        aT[:, :] = 0.0
        for pp in range(m):
            base = species[pair_j[p0 + pp]] * n_basis
            for lm in range(n_lm):
                y = Y[pp, lm]
                for n in range(n_basis):
                    aT[lm, base + n] += f[pp, n] * y
        dEdaT[:, :] = 0.0
        s = species[i]
        e = const[s] + merged_polynomial(aT, tuple_lm, tuple_degree, tuple_nch, tuple_w, tuple_start[s],
                                         tuple_start[s + 1], dEdaT)
        if n_q > 0:
            for k in range(n_q):
                t = q_type[k]
                gB[k, :] = 0.0
                value = coupled_value_gradient(aT, q_channel[k], entry_lm, entry_degree, entry_coef,
                                               type_entry_start[t], type_entry_start[t + 1], gB[k])
                gq[k] = (value - q_mean[k]) / q_scale[k]
            dEdg[:] = 0.0
            for t in range(q_terms.shape[0]):
                w = q_coef[s, t]
                if w == 0.0:
                    continue
                v = w
                deg = 0
                for q in range(q_terms.shape[1]):
                    kk = q_terms[t, q]
                    if kk < 0:
                        break
                    v *= gq[kk]
                    deg += 1
                e += v
                for q in range(deg):
                    d = w
                    for q2 in range(deg):
                        if q2 != q:
                            d *= gq[q_terms[t, q2]]
                    dEdg[q_terms[t, q]] += d
            for k in range(n_q):
                wk = dEdg[k] / q_scale[k]
                if wk == 0.0:
                    continue
                c = q_channel[k]
                for lm in range(n_lm):
                    dEdaT[lm, c] += wk * gB[k, lm]
        energies[i] = e
        # channel-major copy of dE/da: the neighbour pass below then runs over lm in unit stride
        for lm in range(n_lm):
            for c in range(n_ch):
                dEda[c, lm] = dEdaT[lm, c]
        for pp in range(m):
            base = species[pair_j[p0 + pp]] * n_basis
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
