"""Moment tensor descriptors: moment components, the basis polynomials over them, derivatives.

Component c (neighbour element ``s_c``, radial index ``mu_c``, rank ``nu_c``, indices
``i_1..i_nu``) of atom i's moments is ``M_c = sum_{j: s(j) = s_c} f_mu(r_ij) u^pw_c``, ``u = r_ij / |r_ij|``,
``u^pw = ux^a uy^b uz^c`` the product of the unit-vector components named by the indices
(a + b + c = nu). Its derivative with respect to r_ij is ``f_mu' u^pw u + f_mu d(u^pw)/dr``
with ``d(u^pw)/dr_k = (pw_k u^(pw - e_k) - nu u^pw u_k) / r``. The monomials ``u^pw`` and their
gradients depend on the neighbour only, not on mu or the element, so they are computed once per
neighbour (``_neighbour_monomials``) and shared by every component with the same powers. A basis function is
``B_t = sum_terms coef prod_q M_{c_q}`` (terms ``term_start[t]:term_start[t+1]``); it depends on a
few components only, listed by ``_basis_components``.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np
from numba import njit

from .forces import add_pair_force, largest_neighbourhood
from .polynomial import polynomial_value, polynomial_value_gradient
from .radial import RadialTables


class MomentComponents(NamedTuple):
    """The moment components as kernel arguments: per component c its neighbour element
    ``comp_species``, radial index ``comp_mu``, rank ``comp_nu`` and tensor indices ``comp_idx``
    (-1 padded)."""

    comp_species: np.ndarray
    comp_mu: np.ndarray
    comp_nu: np.ndarray
    comp_idx: np.ndarray


class MomentTensorTables(NamedTuple):
    """A moment-tensor descriptor as kernel arguments: its components and, per basis function t,
    the terms ``term_start[t]:term_start[t+1]``, each with its components ``term_ids`` (-1
    padded) and coefficient ``term_coef``."""

    components: MomentComponents
    term_start: np.ndarray
    term_ids: np.ndarray
    term_coef: np.ndarray


class MomentPotentialTables(NamedTuple):
    """A linear moment-tensor potential as kernel arguments (built by
    :func:`linpot.evaluator.compile_tables`): the radial basis, the components it uses, one merged
    polynomial in them per central species s (terms ``poly_start[s]:poly_start[s+1]``, components
    ``poly_ids``, coefficients ``poly_coef``) and the constant energies ``const[s]``."""

    radial: RadialTables
    components: MomentComponents
    poly_start: np.ndarray
    poly_ids: np.ndarray
    poly_coef: np.ndarray
    const: np.ndarray


@njit(cache=True)
def _monomial_tables(comp_nu, comp_idx):
    """Distinct powers ``mono_pow (n_mono, 3)`` and each component's monomial ``comp_mono (n_comp,)``."""
    n_comp = comp_nu.shape[0]
    nu_max = 0
    for c in range(n_comp):
        nu_max = max(nu_max, comp_nu[c])
    n1 = nu_max + 1
    slot = -np.ones(n1 * n1 * n1, dtype=np.int64)
    mono_pow = np.zeros((n_comp, 3), dtype=np.int64)
    comp_mono = np.zeros(n_comp, dtype=np.int64)
    n_mono = 0
    for c in range(n_comp):
        a = 0
        b = 0
        z = 0
        for q in range(comp_nu[c]):
            axis = comp_idx[c, q]
            if axis == 0:
                a += 1
            elif axis == 1:
                b += 1
            else:
                z += 1
        key = (a * n1 + b) * n1 + z
        if slot[key] < 0:
            slot[key] = n_mono
            mono_pow[n_mono, 0] = a
            mono_pow[n_mono, 1] = b
            mono_pow[n_mono, 2] = z
            n_mono += 1
        comp_mono[c] = slot[key]
    return mono_pow[:n_mono].copy(), comp_mono, nu_max


@njit(cache=True)
def _neighbour_monomials(p0, p1, vectors, mono_pow, upow, mono, dmono, unit):
    """For neighbours k = 0..p1-p0-1 of one atom: ``unit[k] = u``, ``mono[k, m] = u^pw_m`` and
    ``dmono[k, m] = d(u^pw_m)/dr``."""
    for k in range(p1 - p0):
        p = p0 + k
        x = vectors[p, 0]
        y = vectors[p, 1]
        z = vectors[p, 2]
        r = math.sqrt(x * x + y * y + z * z)
        inv_r = 1.0 / r
        u0 = x * inv_r
        u1 = y * inv_r
        u2 = z * inv_r
        unit[k, 0] = u0
        unit[k, 1] = u1
        unit[k, 2] = u2
        upow[0, 0] = 1.0
        upow[1, 0] = 1.0
        upow[2, 0] = 1.0
        for e in range(1, upow.shape[1]):
            upow[0, e] = upow[0, e - 1] * u0
            upow[1, e] = upow[1, e - 1] * u1
            upow[2, e] = upow[2, e - 1] * u2
        for m in range(mono_pow.shape[0]):
            a = mono_pow[m, 0]
            b = mono_pow[m, 1]
            c = mono_pow[m, 2]
            v = upow[0, a] * upow[1, b] * upow[2, c]
            mono[k, m] = v
            nv = (a + b + c) * v
            dmono[k, m, 0] = ((a * upow[0, a - 1] * upow[1, b] * upow[2, c] if a > 0 else 0.0) - nv * u0) * inv_r
            dmono[k, m, 1] = ((b * upow[0, a] * upow[1, b - 1] * upow[2, c] if b > 0 else 0.0) - nv * u1) * inv_r
            dmono[k, m, 2] = ((c * upow[0, a] * upow[1, b] * upow[2, c - 1] if c > 0 else 0.0) - nv * u2) * inv_r


@njit(cache=True)
def _moments(p0, p1, species_j, f, df, comp_species, comp_mu, comp_mono, mono, dmono, unit, M, dM, with_gradient):
    """``M[c]`` of one atom and, if asked, ``dM[k, c, :]`` for its neighbours k = 0..p1-p0-1
    (monomials of the neighbours from ``_neighbour_monomials``)."""
    n_comp = comp_mu.shape[0]
    M[:] = 0.0
    for k in range(p1 - p0):
        p = p0 + k
        for c in range(n_comp):
            if comp_species[c] != species_j[p]:
                if with_gradient:
                    dM[k, c, 0] = 0.0
                    dM[k, c, 1] = 0.0
                    dM[k, c, 2] = 0.0
                continue
            mu = comp_mu[c]
            m = comp_mono[c]
            fv = f[p, mu]
            M[c] += fv * mono[k, m]
            if with_gradient:
                radial = df[p, mu] * mono[k, m]
                dM[k, c, 0] = radial * unit[k, 0] + fv * dmono[k, m, 0]
                dM[k, c, 1] = radial * unit[k, 1] + fv * dmono[k, m, 1]
                dM[k, c, 2] = radial * unit[k, 2] + fv * dmono[k, m, 2]


@njit(cache=True)
def _basis_components(term_start, term_ids, n_comp):
    """CSR lists of the components each basis function depends on: ``ids[start[t]:start[t+1]]``."""
    n_feat = term_start.shape[0] - 1
    width = term_ids.shape[1]
    stamp = -np.ones(n_comp, dtype=np.int64)
    start = np.zeros(n_feat + 1, dtype=np.int64)
    ids = np.zeros(term_ids.shape[0] * width, dtype=np.int64)
    n = 0
    for t in range(n_feat):
        for e in range(term_start[t], term_start[t + 1]):
            for q in range(width):
                c = term_ids[e, q]
                if c < 0:
                    break
                if stamp[c] != t:
                    stamp[c] = t
                    ids[n] = c
                    n += 1
        start[t + 1] = n
    return start, ids[:n].copy()


@njit(cache=True)
def _basis(M, term_start, term_ids, term_coef, bc_start, bc_ids, values, gM, with_gradient, prefix):
    """values[t] = B_t and, if asked, gM[t, c] = dB_t / dM_c for the components c of B_t (others untouched)."""
    for t in range(term_start.shape[0] - 1):
        if with_gradient:
            for s in range(bc_start[t], bc_start[t + 1]):
                gM[t, bc_ids[s]] = 0.0
            values[t] = polynomial_value_gradient(M, term_start[t], term_start[t + 1], term_ids, term_coef, 1.0, gM[t],
                                                  prefix)
        else:
            values[t] = polynomial_value(M, term_start[t], term_start[t + 1], term_ids, term_coef)


@njit(cache=True)
def _basis_backward(M, term_start, term_ids, term_coef, w, dEdM, prefix):
    """``dEdM[c] += sum_t w[t] dB_t / dM_c``, term by term (no per-basis-function gradient rows)."""
    for t in range(term_start.shape[0] - 1):
        if w[t] != 0.0:
            polynomial_value_gradient(M, term_start[t], term_start[t + 1], term_ids, term_coef, w[t], dEdM, prefix)


@njit(cache=True)
def moment_tensor_features(pair_start, species_j, vectors, f, df, tables, with_gradient):
    """``G (n_atoms, n_basis)`` and, if asked, ``dG (n_pairs, n_basis, 3)`` = dG_i / dr_ij
    (``tables``: :class:`MomentTensorTables`).

    ``dG[ij, t] = sum_c dB_t/dM_c dM_c/dr_ij`` over the few components c of B_t."""
    comp_species, comp_mu = tables.components.comp_species, tables.components.comp_mu
    term_start, term_ids, term_coef = tables.term_start, tables.term_ids, tables.term_coef
    n_atoms = pair_start.shape[0] - 1
    n_comp = comp_mu.shape[0]
    n_feat = term_start.shape[0] - 1
    max_pairs = largest_neighbourhood(pair_start)
    G = np.zeros((n_atoms, n_feat))
    dG = np.zeros((vectors.shape[0] if with_gradient else 0, n_feat, 3))
    M = np.zeros(n_comp)
    dM = np.zeros((max_pairs if with_gradient else 0, n_comp, 3))
    gM = np.zeros((n_feat if with_gradient else 0, n_comp))
    mono_pow, comp_mono, nu_max = _monomial_tables(tables.components.comp_nu, tables.components.comp_idx)
    upow = np.zeros((3, nu_max + 1))
    mono = np.zeros((max_pairs, mono_pow.shape[0]))
    dmono = np.zeros((max_pairs, mono_pow.shape[0], 3))
    unit = np.zeros((max_pairs, 3))
    bc_start, bc_ids = _basis_components(term_start, term_ids, n_comp)
    prefix = np.zeros(term_ids.shape[1] + 1)
    for i in range(n_atoms):
        p0 = pair_start[i]
        p1 = pair_start[i + 1]
        _neighbour_monomials(p0, p1, vectors, mono_pow, upow, mono, dmono, unit)
        _moments(p0, p1, species_j, f, df, comp_species, comp_mu, comp_mono, mono, dmono, unit, M, dM, with_gradient)
        _basis(M, term_start, term_ids, term_coef, bc_start, bc_ids, G[i], gM, with_gradient, prefix)
        if not with_gradient:
            continue
        for k in range(p1 - p0):
            for t in range(n_feat):
                gx = 0.0
                gy = 0.0
                gz = 0.0
                for s in range(bc_start[t], bc_start[t + 1]):
                    c = bc_ids[s]
                    w = gM[t, c]
                    gx += w * dM[k, c, 0]
                    gy += w * dM[k, c, 1]
                    gz += w * dM[k, c, 2]
                dG[p0 + k, t, 0] = gx
                dG[p0 + k, t, 1] = gy
                dG[p0 + k, t, 2] = gz
    return G, dG


@njit(cache=True)
def _dense_layout(comp_species, comp_mu, comp_mono, n_species, n_mono):
    """Index of each component in the dense moments ``Md[s, m, mu]`` (neighbour element, monomial,
    radial index), flattened; and the number of radial indices."""
    n_mu = 1
    for c in range(comp_mu.shape[0]):
        n_mu = max(n_mu, comp_mu[c] + 1)
    index = np.empty(comp_mu.shape[0], dtype=np.int64)
    for c in range(comp_mu.shape[0]):
        index[c] = (comp_species[c] * n_mono + comp_mono[c]) * n_mu + comp_mu[c]
    return index, n_mu


@njit(cache=True)
def _dense_moments(p0, p1, species_j, f, mono, Md):
    """``Md[s, m, mu] = sum_{j of element s} f_mu(r_ij) u^pw_m`` for one atom: every (element,
    monomial, radial index), an outer product per neighbour."""
    n_mono = Md.shape[1]
    n_mu = Md.shape[2]
    Md[:, :, :] = 0.0
    for k in range(p1 - p0):
        p = p0 + k
        s = species_j[p]
        for m in range(n_mono):
            v = mono[k, m]
            for mu in range(n_mu):
                Md[s, m, mu] += v * f[p, mu]


@njit(cache=True)
def _add_dense_moment_forces(i, p0, p1, pair_j, vectors, species_j, f, df, W, mono, dmono, unit, forces, virial):
    """Forces and virial of atom i's energy through its moments, given ``W[s, m, mu] = dE/dMd[s, m, mu]``:
    per neighbour j (element s) ``dE/dr_ij = sum_m A_m u^pw_m u + B_m d(u^pw_m)/dr`` with
    ``A_m = sum_mu W[s, m, mu] f_mu'(r)`` and ``B_m = sum_mu W[s, m, mu] f_mu(r)``."""
    n_mono = W.shape[1]
    n_mu = W.shape[2]
    for k in range(p1 - p0):
        p = p0 + k
        s = species_j[p]
        a_sum = 0.0
        gx = 0.0
        gy = 0.0
        gz = 0.0
        for m in range(n_mono):
            a = 0.0
            b = 0.0
            for mu in range(n_mu):
                w = W[s, m, mu]
                a += w * df[p, mu]
                b += w * f[p, mu]
            a_sum += a * mono[k, m]
            gx += b * dmono[k, m, 0]
            gy += b * dmono[k, m, 1]
            gz += b * dmono[k, m, 2]
        gx += a_sum * unit[k, 0]
        gy += a_sum * unit[k, 1]
        gz += a_sum * unit[k, 2]
        add_pair_force(i, pair_j[p], vectors[p, 0], vectors[p, 1], vectors[p, 2], gx, gy, gz, forces, virial)


@njit(cache=True)
def _reverse_buffers(pair_start, species_j, components, n_species):
    """Tables and per-atom buffers shared by the two reverse-mode drivers."""
    comp_species, comp_mu = components.comp_species, components.comp_mu
    mono_pow, comp_mono, nu_max = _monomial_tables(components.comp_nu, components.comp_idx)
    n_mono = mono_pow.shape[0]
    n_sp = n_species
    for c in range(comp_species.shape[0]):
        n_sp = max(n_sp, comp_species[c] + 1)
    for p in range(species_j.shape[0]):
        n_sp = max(n_sp, species_j[p] + 1)
    index, n_mu = _dense_layout(comp_species, comp_mu, comp_mono, n_sp, n_mono)
    max_pairs = largest_neighbourhood(pair_start)
    return (mono_pow, index, np.zeros((3, nu_max + 1)), np.zeros((max_pairs, n_mono)),
            np.zeros((max_pairs, n_mono, 3)), np.zeros((max_pairs, 3)), np.zeros((n_sp, n_mono, n_mu)),
            np.zeros((n_sp, n_mono, n_mu)))


@njit(cache=True)
def _moment_reverse(pair_start, pair_j, species_j, vectors, f, df, components, term_start, term_ids, term_coef, dEdG,
                    central, const, merged):
    """Energies, forces and virial through the moments, in reverse mode. Per atom: the dense
    moments, then ``dE/dM`` term by term (``merged``: the polynomial ``term_start[s]:term_start[s+1]``
    of the central element s, whose value plus ``const[s]`` is the atom's energy; otherwise
    ``sum_t dEdG[i, t] dB_t/dM`` over the basis functions), then the neighbours
    (``_add_dense_moment_forces``); no per-component gradient is stored."""
    n_atoms = pair_start.shape[0] - 1
    n_comp = components.comp_mu.shape[0]
    energies = np.zeros(n_atoms)
    forces = np.zeros((n_atoms, 3))
    virial = np.zeros(6)
    M = np.zeros(n_comp)
    dEdM = np.zeros(n_comp)
    mono_pow, index, upow, mono, dmono, unit, Md, W = _reverse_buffers(pair_start, species_j, components, const.shape[0])
    Mf = Md.reshape(-1)
    Wf = W.reshape(-1)
    prefix = np.zeros(term_ids.shape[1] + 1)
    for i in range(n_atoms):
        p0 = pair_start[i]
        p1 = pair_start[i + 1]
        _neighbour_monomials(p0, p1, vectors, mono_pow, upow, mono, dmono, unit)
        _dense_moments(p0, p1, species_j, f, mono, Md)
        for c in range(n_comp):
            M[c] = Mf[index[c]]
        dEdM[:] = 0.0
        if merged:
            s = central[i]
            energies[i] = const[s] + polynomial_value_gradient(M, term_start[s], term_start[s + 1], term_ids, term_coef,
                                                               1.0, dEdM, prefix)
        else:
            _basis_backward(M, term_start, term_ids, term_coef, dEdG[i], dEdM, prefix)
        Wf[:] = 0.0
        for c in range(n_comp):
            Wf[index[c]] = dEdM[c]
        _add_dense_moment_forces(i, p0, p1, pair_j, vectors, species_j, f, df, W, mono, dmono, unit, forces, virial)
    return energies, forces, virial


@njit(cache=True)
def moment_tensor_backward(pair_start, pair_j, species_j, vectors, f, df, tables, dEdG):
    """Forces and virial (Voigt, eV) from ``dEdG`` (the energy's gradient with respect to the basis
    functions of ``tables``, a :class:`MomentTensorTables`)."""
    _, forces, virial = _moment_reverse(pair_start, pair_j, species_j, vectors, f, df, tables.components,
                                        tables.term_start, tables.term_ids, tables.term_coef, dEdG,
                                        np.zeros(0, dtype=np.int64), np.zeros(1), False)
    return forces, virial


@njit(cache=True)
def moment_tensor_energy_forces(pair_start, pair_j, vectors, species, f, df, tables):
    """Per-atom energies (eV), forces (eV/Å) and virial (Voigt, eV) of a linear moment-tensor potential.

    ``E_i = const[s] + P_s(M_i)``: one merged polynomial in the moment components per central
    species s (``tables``, a :class:`MomentPotentialTables`: the fitted weights times the basis
    polynomials, identical monomials summed). Pairs sorted by central atom, ``vectors`` = r_ij (Å),
    ``f``, ``df``: radial functions at |r_ij|."""
    return _moment_reverse(pair_start, pair_j, species[pair_j], vectors, f, df, tables.components, tables.poly_start,
                           tables.poly_ids, tables.poly_coef, np.zeros((1, 1)), species, tables.const, True)
