"""SNAP bispectrum (Thompson et al., J. Comput. Phys. 285, 316 (2015)) in the conventions of
LAMMPS's ``pair_style snap``, with derivatives, for one atom at a time.

Notation: ``j`` is twice the angular momentum (0..twojmax). For each j, ``U^j`` is a
``(j+1) x (j+1)`` complex matrix stored row by row (row ``mb``, column ``ma``) from offset
``ub[j]``. A neighbour at ``r = (x, y, z)`` maps to the 3-sphere with
``theta0 = rfac0 pi (r - rmin0) / (rcut - rmin0)``, ``z0 = r cot(theta0)`` and the Cayley-Klein
parameters ``a = (z0 - i z) / r0``, ``b = (y - i x) / r0``, ``r0 = sqrt(r^2 + z0^2)``; its
Wigner matrices follow from ``U^0 = 1`` by

    U^j[mb, ma] = sqrt((j - ma)/(j - mb)) conj(a) U^{j-1}[mb, ma] - sqrt(ma/(j - mb)) conj(b) U^{j-1}[mb, ma-1]

for ``2 mb <= j`` and ``U^j[j-mb, j-ma] = (-1)^(ma+mb) conj(U^j[mb, ma])`` for the other rows.
The density is ``u^j = delta (self term) + sum_k w_k fc(r_k) U^j(r_k)``, and for each triple
``(j1, j2, j)`` with ``j >= j1 >= j2``

    Z[mb, ma] = sum C(j1 ma1 j2 ma2 | j ma) C(j1 mb1 j2 mb2 | j mb) u^{j1}[mb1, ma1] u^{j2}[mb2, ma2],
    B = sum_{mb, ma} Re(conj(u^j[mb, ma]) Z[mb, ma])      (minus (j+1) with bzeroflag).

Derivatives run in reverse mode: the cotangent of ``B`` with respect to the density,
``g = dB/dRe(u) + i dB/dIm(u)``, then ``dB/dr_k = sum Re(conj(g) du/dr_k)`` per neighbour.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np
from numba import njit

from .forces import add_pair_force, largest_neighbourhood


class SnapTables(NamedTuple):
    """A SNAP descriptor as kernel arguments: LAMMPS's ``rfac0``, ``rmin0``, ``switchflag`` and
    ``twojmax``; the offsets ``ub[j]`` of the U^j blocks, ``rootpq[p, q] = sqrt(p/q)``, the triples
    ``(j1, j2, j)``, their Clebsch-Gordan blocks ``cg`` from ``cg_start[t]``, ``bzero[t]`` (subtracted
    from B_t) and the length ``n_u`` of the density."""

    rfac0: float
    rmin0: float
    switchflag: int
    twojmax: int
    ub: np.ndarray
    rootpq: np.ndarray
    triples: np.ndarray
    cg: np.ndarray
    cg_start: np.ndarray
    bzero: np.ndarray
    n_u: int


@njit(cache=True)
def wigner_u(x, y, z, r, rcut, rfac0, rmin0, twojmax, ub, rootpq, U, dU):
    """``U`` (complex, flat over j) of one neighbour vector and ``dU[:, k] = dU/dr_k`` (1/Å)."""
    scale = rfac0 * math.pi / (rcut - rmin0)
    theta0 = (r - rmin0) * scale
    sn = math.sin(theta0)
    cot = math.cos(theta0) / sn
    z0 = r * cot
    dz0dr = cot - r * scale / (sn * sn)
    r0inv = 1.0 / math.sqrt(r * r + z0 * z0)
    a = complex(z0 * r0inv, -z * r0inv)
    b = complex(y * r0inv, -x * r0inv)
    dr0inv = -(r + z0 * dz0dr) * r0inv * r0inv * r0inv
    unit = (x / r, y / r, z / r)
    da = np.zeros(3, dtype=np.complex128)
    db = np.zeros(3, dtype=np.complex128)
    for k in range(3):
        dri = dr0inv * unit[k]
        da[k] = complex(dz0dr * unit[k] * r0inv + z0 * dri, -z * dri - (r0inv if k == 2 else 0.0))
        db[k] = complex(y * dri + (r0inv if k == 1 else 0.0), -x * dri - (r0inv if k == 0 else 0.0))
    ca = a.conjugate()
    cb = b.conjugate()
    U[0] = 1.0
    for k in range(3):
        dU[0, k] = 0.0
    for j in range(1, twojmax + 1):
        base = ub[j]
        prev = ub[j - 1]
        for mb in range(j // 2 + 1):
            for ma in range(j + 1):
                value = 0.0 + 0.0j
                d0 = 0.0 + 0.0j
                d1 = 0.0 + 0.0j
                d2 = 0.0 + 0.0j
                if ma < j:
                    c = rootpq[j - ma, j - mb]
                    src = prev + mb * j + ma
                    up = U[src]
                    value += c * ca * up
                    d0 += c * (da[0].conjugate() * up + ca * dU[src, 0])
                    d1 += c * (da[1].conjugate() * up + ca * dU[src, 1])
                    d2 += c * (da[2].conjugate() * up + ca * dU[src, 2])
                if ma > 0:
                    c = rootpq[ma, j - mb]
                    src = prev + mb * j + ma - 1
                    up = U[src]
                    value -= c * cb * up
                    d0 -= c * (db[0].conjugate() * up + cb * dU[src, 0])
                    d1 -= c * (db[1].conjugate() * up + cb * dU[src, 1])
                    d2 -= c * (db[2].conjugate() * up + cb * dU[src, 2])
                dst = base + mb * (j + 1) + ma
                U[dst] = value
                dU[dst, 0] = d0
                dU[dst, 1] = d1
                dU[dst, 2] = d2
        for mb in range(j // 2 + 1):
            for ma in range(j + 1):
                src = base + mb * (j + 1) + ma
                dst = base + (j - mb) * (j + 1) + (j - ma)
                if dst == src:
                    continue
                sign = 1.0 if (ma + mb) % 2 == 0 else -1.0
                U[dst] = sign * U[src].conjugate()
                for k in range(3):
                    dU[dst, k] = sign * dU[src, k].conjugate()


@njit(cache=True)
def switching(r, rcut, rmin0, switchflag):
    """``fc(r) = (cos(pi (r - rmin0) / (rcut - rmin0)) + 1) / 2`` (1 below rmin0, 0 beyond rcut) and its derivative."""
    if switchflag == 0:
        return 1.0, 0.0
    if r <= rmin0:
        return 1.0, 0.0
    if r > rcut:
        return 0.0, 0.0
    k = math.pi / (rcut - rmin0)
    return 0.5 * (math.cos((r - rmin0) * k) + 1.0), -0.5 * math.sin((r - rmin0) * k) * k


@njit(cache=True)
def snap_density(vectors, rcut_pairs, weight_pairs, tables, utot, dutot, inside, U, dU):
    """Density ``utot`` of one atom (self term on the diagonals included) and, per neighbour k,
    ``dutot[k, :, :] = d utot / d r_k``; ``inside[k]`` False for neighbours beyond their pair cutoff."""
    rfac0, rmin0, switchflag, twojmax, ub, rootpq = (tables.rfac0, tables.rmin0, tables.switchflag, tables.twojmax,
                                                     tables.ub, tables.rootpq)
    n_u = utot.shape[0]
    utot[:] = 0.0
    for j in range(twojmax + 1):
        for m in range(j + 1):
            utot[ub[j] + m * (j + 1) + m] = 1.0
    for k in range(vectors.shape[0]):
        x = vectors[k, 0]
        y = vectors[k, 1]
        z = vectors[k, 2]
        r = math.sqrt(x * x + y * y + z * z)
        rcut = rcut_pairs[k]
        if r >= rcut:
            inside[k] = False
            continue
        inside[k] = True
        wigner_u(x, y, z, r, rcut, rfac0, rmin0, twojmax, ub, rootpq, U, dU)
        fc, dfc = switching(r, rcut, rmin0, switchflag)
        s = weight_pairs[k] * fc
        ds = weight_pairs[k] * dfc
        ux = x / r
        uy = y / r
        uz = z / r
        for u in range(n_u):
            utot[u] += s * U[u]
            dutot[k, u, 0] = ds * U[u] * ux + s * dU[u, 0]
            dutot[k, u, 1] = ds * U[u] * uy + s * dU[u, 1]
            dutot[k, u, 2] = ds * U[u] * uz + s * dU[u, 2]


@njit(cache=True)
def bispectrum(utot, tables, B, cot, weights, with_cotangent):
    """``B[t]`` for every triple ``(j1, j2, j)`` of ``tables`` and, if ``with_cotangent``, the cotangents:
    ``cot[t, :] = dB_t / du`` when ``weights`` is empty, else one row ``cot[0, :] = sum_t weights[t] dB_t / du``.
    ``cg[cg_start[t] + m1 * (j2 + 1) + m2]`` = C(j1 m1 j2 m2 | j m1+m2-...)."""
    triples, ub, cg, cg_start, bzero = tables.triples, tables.ub, tables.cg, tables.cg_start, tables.bzero
    n_t = triples.shape[0]
    summed = weights.shape[0] > 0
    if with_cotangent:
        cot[:, :] = 0.0
    size = (ub.shape[0]) ** 2
    term_i1 = np.zeros(size, dtype=np.int64)
    term_i2 = np.zeros(size, dtype=np.int64)
    term_c = np.zeros(size)
    for t in range(n_t):
        j1 = triples[t, 0]
        j2 = triples[t, 1]
        j = triples[t, 2]
        b1 = ub[j1]
        b2 = ub[j2]
        b = ub[j]
        c0 = cg_start[t]
        row = 0 if summed else t
        w = weights[t] if summed else 1.0
        value = 0.0
        for mb in range(j + 1):
            for ma in range(j + 1):
                # the terms of Z[mb, ma]: coupled pairs (u^{j1} index, u^{j2} index, CG x CG)
                n_terms = 0
                for mb1 in range(j1 + 1):
                    mb2 = (2 * mb - j - 2 * mb1 + j1 + j2) // 2
                    if mb2 < 0 or mb2 > j2:
                        continue
                    cb = cg[c0 + mb1 * (j2 + 1) + mb2]
                    if cb == 0.0:
                        continue
                    for ma1 in range(j1 + 1):
                        ma2 = (2 * ma - j - 2 * ma1 + j1 + j2) // 2
                        if ma2 < 0 or ma2 > j2:
                            continue
                        ca = cg[c0 + ma1 * (j2 + 1) + ma2]
                        if ca == 0.0:
                            continue
                        term_i1[n_terms] = b1 + mb1 * (j1 + 1) + ma1
                        term_i2[n_terms] = b2 + mb2 * (j2 + 1) + ma2
                        term_c[n_terms] = ca * cb
                        n_terms += 1
                z = 0.0 + 0.0j
                for e in range(n_terms):
                    z += term_c[e] * utot[term_i1[e]] * utot[term_i2[e]]
                uj = utot[b + mb * (j + 1) + ma]
                value += uj.real * z.real + uj.imag * z.imag
                if with_cotangent:
                    # d/du^j of Re(conj(u^j) Z) is Z; Z's own cotangent is u^j
                    cot[row, b + mb * (j + 1) + ma] += w * z
                    gz = w * uj
                    for e in range(n_terms):
                        i1 = term_i1[e]
                        i2 = term_i2[e]
                        cot[row, i1] += term_c[e] * utot[i2].conjugate() * gz
                        cot[row, i2] += term_c[e] * utot[i1].conjugate() * gz
        B[t] = value - bzero[t]


@njit(cache=True, inline="always")
def _contract(cotangent, dutot, k):
    """``sum_u Re(conj(g_u) du_u / dr_k)``: a cotangent of the density taken to neighbour k's vector."""
    gx = 0.0
    gy = 0.0
    gz = 0.0
    for u in range(cotangent.shape[0]):
        g = cotangent[u]
        if g == 0.0:
            continue
        gx += g.real * dutot[k, u, 0].real + g.imag * dutot[k, u, 0].imag
        gy += g.real * dutot[k, u, 1].real + g.imag * dutot[k, u, 1].imag
        gz += g.real * dutot[k, u, 2].real + g.imag * dutot[k, u, 2].imag
    return gx, gy, gz


@njit(cache=True)
def _atom_buffers(pair_start, n_u):
    """Per-atom work arrays sized for the atom with the most neighbours: density, its derivative
    per neighbour, the inside-cutoff mask, one neighbour's U and dU."""
    max_pairs = largest_neighbourhood(pair_start)
    return (np.zeros(n_u, dtype=np.complex128), np.zeros((max_pairs, n_u, 3), dtype=np.complex128),
            np.zeros(max_pairs, dtype=np.bool_), np.zeros(n_u, dtype=np.complex128), np.zeros((n_u, 3), dtype=np.complex128))


@njit(cache=True)
def _atom_density(i, pair_start, vectors, rcut_pairs, weight_pairs, tables, utot, dutot, inside, U, dU):
    """:func:`snap_density` of atom i (pairs ``pair_start[i]:pair_start[i+1]``)."""
    p0 = pair_start[i]
    p1 = pair_start[i + 1]
    snap_density(vectors[p0:p1], rcut_pairs[p0:p1], weight_pairs[p0:p1], tables, utot, dutot, inside, U, dU)


@njit(cache=True)
def snap_features(pair_start, vectors, rcut_pairs, weight_pairs, tables):
    """Bispectrum ``G (n_atoms, n_triples)`` and ``dG (n_pairs, n_triples, 3)`` = dB_i / dr_ij
    (``tables``: :class:`SnapTables`)."""
    n_atoms = pair_start.shape[0] - 1
    n_t = tables.triples.shape[0]
    n_pairs = vectors.shape[0]
    G = np.zeros((n_atoms, n_t))
    dG = np.zeros((n_pairs, n_t, 3))
    utot, dutot, inside, U, dU = _atom_buffers(pair_start, tables.n_u)
    cot = np.zeros((n_t, tables.n_u), dtype=np.complex128)
    no_weights = np.zeros(0)
    for i in range(n_atoms):
        _atom_density(i, pair_start, vectors, rcut_pairs, weight_pairs, tables, utot, dutot, inside, U, dU)
        bispectrum(utot, tables, G[i], cot, no_weights, True)
        p0 = pair_start[i]
        for k in range(pair_start[i + 1] - p0):
            if not inside[k]:
                continue
            for t in range(n_t):
                gx, gy, gz = _contract(cot[t], dutot, k)
                dG[p0 + k, t, 0] = gx
                dG[p0 + k, t, 1] = gy
                dG[p0 + k, t, 2] = gz
    return G, dG


@njit(cache=True)
def snap_values(pair_start, vectors, rcut_pairs, weight_pairs, tables):
    """Bispectrum ``G (n_atoms, n_triples)`` only."""
    n_atoms = pair_start.shape[0] - 1
    G = np.zeros((n_atoms, tables.triples.shape[0]))
    utot, dutot, inside, U, dU = _atom_buffers(pair_start, tables.n_u)
    cot = np.zeros((1, 1), dtype=np.complex128)
    no_weights = np.zeros(0)
    for i in range(n_atoms):
        _atom_density(i, pair_start, vectors, rcut_pairs, weight_pairs, tables, utot, dutot, inside, U, dU)
        bispectrum(utot, tables, G[i], cot, no_weights, False)
    return G


@njit(cache=True)
def snap_backward(pair_start, pair_j, vectors, rcut_pairs, weight_pairs, tables, dEdG):
    """Forces (n_atoms, 3) and virial (Voigt, eV) from ``dEdG[i, t] = dE/dB_t(i)``: one summed
    cotangent per atom, then one pass over its neighbours."""
    n_atoms = pair_start.shape[0] - 1
    forces = np.zeros((n_atoms, 3))
    virial = np.zeros(6)
    utot, dutot, inside, U, dU = _atom_buffers(pair_start, tables.n_u)
    cot = np.zeros((1, tables.n_u), dtype=np.complex128)
    B = np.zeros(tables.triples.shape[0])
    for i in range(n_atoms):
        _atom_density(i, pair_start, vectors, rcut_pairs, weight_pairs, tables, utot, dutot, inside, U, dU)
        bispectrum(utot, tables, B, cot, dEdG[i], True)
        p0 = pair_start[i]
        for k in range(pair_start[i + 1] - p0):
            if not inside[k]:
                continue
            gx, gy, gz = _contract(cot[0], dutot, k)
            p = p0 + k
            add_pair_force(i, pair_j[p], vectors[p, 0], vectors[p, 1], vectors[p, 2], gx, gy, gz, forces,
                           virial)
    return forces, virial
