"""Energy, forces and virial of a fitted potential in reverse mode, one atom at a time.

For atom i of species s (channels ``c = s' * N + n`` over neighbour species s' and radial index n):

1. the expansion ``a[c, lm] = sum_{j: species(j) = s'} f_n(r_ij) Y_lm(r_ij / r_ij)``;
2. the energy, in two parts:
   * the features that enter the model only linearly, merged at load time into one polynomial
     per (central species, channel): ``E_lin = sum_mono w_mono prod_q a[c, lm_q]`` -- its cost is
     the number of distinct monomials, whatever the number of invariants that share them;
   * the features that enter products (``Q``): their values ``B_k``, standardised
     ``g_k = (B_k - mean_k) / scale_k``, and the polynomial ``sum_t w_t prod g``;
3. ``dE/da[c, lm]`` from both parts (prefix and suffix products: each monomial of degree p costs
   O(p), repeated factors included);
4. one pass over the neighbours: ``dE/dr_ij = sum_lm h1[lm] Y_lm r_hat + h0[lm] grad Y_lm`` with
   ``h0[lm] = sum_n dE/da[c, lm] f_n``, ``h1[lm] = sum_n dE/da[c, lm] f_n'``.

Radial functions and harmonics are computed per atom for its own pairs, so memory is that of
the neighbour list and the cost per atom does not depend on the size of the system.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from .radial import chebyshev_radial_basis, gaussian_radial_basis
from .spherical_harmonics import real_spherical_harmonics

RADIAL_CHEBYSHEV = 0
RADIAL_GAUSSIAN = 1


@njit(cache=True, inline="always")
def _product_value_gradient(a, c, factors, row, degree, weight, grad, grad_row, prefix):
    """``weight prod_q a[c, factors[row, q]]`` for q < degree, adding its gradient with respect to
    ``a[c, :]`` into ``grad[grad_row, :]``. Degrees 1-4 (orders of the usual invariants) are
    written out with the factors in registers; higher degrees use prefix products on the way in
    and suffix products on the way back. O(degree) for any repeated factors."""
    if degree == 2:
        l0 = factors[row, 0]
        l1 = factors[row, 1]
        x0 = a[c, l0]
        x1 = a[c, l1]
        grad[grad_row, l0] += weight * x1
        grad[grad_row, l1] += weight * x0
        return weight * x0 * x1
    if degree == 3:
        l0 = factors[row, 0]
        l1 = factors[row, 1]
        l2 = factors[row, 2]
        x0 = a[c, l0]
        x1 = a[c, l1]
        x2 = a[c, l2]
        w01 = weight * x0 * x1
        grad[grad_row, l0] += weight * x1 * x2
        grad[grad_row, l1] += weight * x0 * x2
        grad[grad_row, l2] += w01
        return w01 * x2
    if degree == 4:
        l0 = factors[row, 0]
        l1 = factors[row, 1]
        l2 = factors[row, 2]
        l3 = factors[row, 3]
        x0 = a[c, l0]
        x1 = a[c, l1]
        x2 = a[c, l2]
        x3 = a[c, l3]
        w01 = weight * x0 * x1
        w23 = weight * x2 * x3
        grad[grad_row, l0] += x1 * w23
        grad[grad_row, l1] += x0 * w23
        grad[grad_row, l2] += w01 * x3
        grad[grad_row, l3] += w01 * x2
        return w01 * x2 * x3
    if degree == 1:
        l0 = factors[row, 0]
        grad[grad_row, l0] += weight
        return weight * a[c, l0]
    value = 1.0
    for q in range(degree):
        prefix[q] = value
        value *= a[c, factors[row, q]]
    suffix = weight
    for q in range(degree - 1, -1, -1):
        lm = factors[row, q]
        grad[grad_row, lm] += prefix[q] * suffix
        suffix *= a[c, lm]
    return weight * value


@njit(cache=True)
def potential_energy_forces(pair_start, pair_j, vectors, species, n_species, radial_kind, n_basis, r_min, r_cut,
                            centres, width, l_max,
                            mono_start, mono_channel, mono_lm, mono_degree, mono_w, const,
                            q_channel, q_type, type_entry_start, entry_lm, entry_degree, entry_coef, q_mean, q_scale,
                            q_terms, q_coef):
    """Per-atom energies (eV), forces (eV/Å) and virial (Voigt, eV) of a polynomial potential.

    ``mono_start[s]:mono_start[s+1]``: merged monomials of central species s, each on channel
    ``mono_channel`` with ``mono_degree`` factors ``mono_lm`` and weight ``mono_w``; ``const[s]``:
    constant energy. ``q_*``: features entering products (channel, coupling type, mean, scale)
    and ``q_terms`` (monomials over them, -1 padded) with weights ``q_coef[s, t]``.
    Pairs sorted by central atom (``pair_start``), ``vectors`` = r_ij (Å).
    """
    n_atoms = pair_start.shape[0] - 1
    n_lm = (l_max + 1) * (l_max + 1)
    n_ch = n_species * n_basis
    n_q = q_channel.shape[0]
    energies = np.zeros(n_atoms)
    forces = np.zeros((n_atoms, 3))
    virial = np.zeros(6)
    a = np.zeros((n_ch, n_lm))
    dEda = np.zeros((n_ch, n_lm))
    prefix = np.zeros(8)
    gq = np.zeros(n_q)
    dEdg = np.zeros(n_q)
    gB = np.zeros((max(n_q, 1), n_lm))
    h0 = np.zeros(n_lm)
    h1 = np.zeros(n_lm)
    for i in range(n_atoms):
        p0 = pair_start[i]
        p1 = pair_start[i + 1]
        m = p1 - p0
        vec = vectors[p0:p1]
        r = np.sqrt(vec[:, 0] ** 2 + vec[:, 1] ** 2 + vec[:, 2] ** 2)
        if radial_kind == RADIAL_GAUSSIAN:
            f, df = gaussian_radial_basis(r, centres, width, r_cut)
        else:
            f, df = chebyshev_radial_basis(r, n_basis, r_min, r_cut)
        Y, dY = real_spherical_harmonics(vec, l_max)
        a[:, :] = 0.0
        for pp in range(m):
            base = species[pair_j[p0 + pp]] * n_basis
            for n in range(n_basis):
                fn = f[pp, n]
                if fn == 0.0:
                    continue
                for lm in range(n_lm):
                    a[base + n, lm] += fn * Y[pp, lm]
        dEda[:, :] = 0.0
        s = species[i]
        e = const[s]
        for k in range(mono_start[s], mono_start[s + 1]):
            c = mono_channel[k]
            e += _product_value_gradient(a, c, mono_lm, k, mono_degree[k], mono_w[k], dEda, c, prefix)
        if n_q > 0:
            # values and gradients (with respect to a) of the features that enter products
            for k in range(n_q):
                c = q_channel[k]
                t = q_type[k]
                gB[k, :] = 0.0
                value = 0.0
                for ent in range(type_entry_start[t], type_entry_start[t + 1]):
                    value += _product_value_gradient(a, c, entry_lm, ent, entry_degree[ent], entry_coef[ent], gB, k, prefix)
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
                    dEda[c, lm] += wk * gB[k, lm]
        energies[i] = e
        for pp in range(m):
            base = species[pair_j[p0 + pp]] * n_basis
            for lm in range(n_lm):
                s0 = 0.0
                s1 = 0.0
                for n in range(n_basis):
                    w = dEda[base + n, lm]
                    s0 += w * f[pp, n]
                    s1 += w * df[pp, n]
                h0[lm] = s0
                h1[lm] = s1
            rr = r[pp]
            ux = vec[pp, 0] / rr
            uy = vec[pp, 1] / rr
            uz = vec[pp, 2] / rr
            radial = 0.0
            gx = 0.0
            gy = 0.0
            gz = 0.0
            for lm in range(n_lm):
                radial += h1[lm] * Y[pp, lm]
                gx += h0[lm] * dY[pp, lm, 0]
                gy += h0[lm] * dY[pp, lm, 1]
                gz += h0[lm] * dY[pp, lm, 2]
            gx += radial * ux
            gy += radial * uy
            gz += radial * uz
            j = pair_j[p0 + pp]
            forces[j, 0] -= gx
            forces[j, 1] -= gy
            forces[j, 2] -= gz
            forces[i, 0] += gx
            forces[i, 1] += gy
            forces[i, 2] += gz
            rx = vec[pp, 0]
            ry = vec[pp, 1]
            rz = vec[pp, 2]
            virial[0] += rx * gx
            virial[1] += ry * gy
            virial[2] += rz * gz
            virial[3] += 0.5 * (ry * gz + rz * gy)
            virial[4] += 0.5 * (rx * gz + rz * gx)
            virial[5] += 0.5 * (rx * gy + ry * gx)
    return energies, forces, virial
