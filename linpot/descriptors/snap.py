"""SNAP: the bispectrum descriptor of LAMMPS's ``pair_style snap`` (and ``compute sna/atom``),
identical in its parameters and conventions, so that a linpot SNAP fit runs natively in LAMMPS
(:mod:`linpot.interfaces.snap_files` writes ``.snapcoeff``/``.snapparam`` and ML-IAP files).

Parameters (LAMMPS's names): ``twojmax`` (band limit, 2J), ``rcutfac`` (pair cutoff
``rcutfac (R_i + R_j)``), ``radii`` and ``weights`` per element (``radelem``, ``wj``), ``rfac0``,
``rmin0``, ``switchflag``, ``bzeroflag``; a degree-2 polynomial model on it is quadratic SNAP
(``quadraticflag``). Not supported: ``chemflag``, ``bnormflag``, ``wselfallflag``, inner
switching. The maths is in :mod:`linpot.kernels.snap`; B is ordered as LAMMPS orders it
(``j1 <= twojmax``, ``j2 <= j1``, ``j = j1 - j2 .. min(twojmax, j1 + j2)`` step 2, ``j >= j1``).
"""

from __future__ import annotations

import math
from fractions import Fraction
from functools import cache

import numpy as np

from ..errors import LinpotInputError
from ..kernels.snap import SnapTables, snap_backward, snap_features, snap_values
from ..neighbours import neighbour_list
from .base import Descriptor, DescriptorResult, check_elements_and_cutoff, species_indices


def clebsch_gordan_doubled(tj1: int, tm1: int, tj2: int, tm2: int, tj: int, tm: int) -> float:
    """<j1 m1 j2 m2 | j m> with every argument doubled (half-integers allowed), by Racah's
    formula in exact rational arithmetic until the final square root."""
    if tm1 + tm2 != tm or not (abs(tj1 - tj2) <= tj <= tj1 + tj2) or (tj1 + tj2 + tj) % 2:
        return 0.0
    if abs(tm1) > tj1 or abs(tm2) > tj2 or abs(tm) > tj or (tj1 + tm1) % 2 or (tj2 + tm2) % 2 or (tj + tm) % 2:
        return 0.0
    f = math.factorial
    def h(v):
        return v // 2  # all combinations below are even
    pre = Fraction((tj + 1) * f(h(tj1 + tj2 - tj)) * f(h(tj1 - tj2 + tj)) * f(h(-tj1 + tj2 + tj)), f(h(tj1 + tj2 + tj) + 1))
    pre *= f(h(tj1 + tm1)) * f(h(tj1 - tm1)) * f(h(tj2 + tm2)) * f(h(tj2 - tm2)) * f(h(tj + tm)) * f(h(tj - tm))
    total = Fraction(0)
    for k in range(0, h(tj1 + tj2 - tj) + 1):
        args = (k, h(tj1 + tj2 - tj) - k, h(tj1 - tm1) - k, h(tj2 + tm2) - k, h(tj - tj2 + tm1) + k, h(tj - tj1 - tm2) + k)
        if min(args) < 0:
            continue
        denom = 1
        for v in args:
            denom *= f(v)
        total += Fraction((-1) ** k, denom)
    value = math.sqrt(pre) * total
    return float(value)


def bispectrum_triples(twojmax: int) -> list[tuple[int, int, int]]:
    """``(j1, j2, j)`` in LAMMPS's order."""
    out = []
    for j1 in range(twojmax + 1):
        for j2 in range(j1 + 1):
            for j in range(j1 - j2, min(twojmax, j1 + j2) + 1, 2):
                if j >= j1:
                    out.append((j1, j2, j))
    return out


@cache
def snap_tables(twojmax: int):
    """Offsets ``ub``, ``sqrt(p/q)`` table, triples, Clebsch-Gordan blocks and their offsets, ``n_u``."""
    ub = np.zeros(twojmax + 2, dtype=np.int64)
    for j in range(twojmax + 1):
        ub[j + 1] = ub[j] + (j + 1) ** 2
    rootpq = np.zeros((twojmax + 2, twojmax + 2))
    for p in range(1, twojmax + 2):
        for q in range(1, twojmax + 2):
            rootpq[p, q] = math.sqrt(p / q)
    triples = bispectrum_triples(twojmax)
    cg, start = [], [0]
    for j1, j2, j in triples:
        for m1 in range(j1 + 1):
            for m2 in range(j2 + 1):
                tm1, tm2 = 2 * m1 - j1, 2 * m2 - j2
                cg.append(clebsch_gordan_doubled(j1, tm1, j2, tm2, j, tm1 + tm2))
        start.append(len(cg))
    return (ub, rootpq, np.array(triples, dtype=np.int64).reshape(len(triples), 3), np.array(cg), np.array(start[:-1], dtype=np.int64),
            int(ub[twojmax + 1]))


class SnapDescriptor(Descriptor):
    kind = "snap"
    OPTIONS = ("elements", "twojmax", "rcutfac", "radii", "weights", "rfac0", "rmin0", "switchflag", "bzeroflag")

    def __init__(self, elements: list[str], twojmax: int = 6, rcutfac: float = 4.7, radii=None, weights=None,
                 rfac0: float = 0.99363, rmin0: float = 0.0, switchflag: int = 1, bzeroflag: int = 1):
        check_elements_and_cutoff(elements, rcutfac)
        self.elements = list(elements)
        self.twojmax = int(twojmax)
        if not 0 <= self.twojmax <= 16:
            raise LinpotInputError(f"snap twojmax must be 0 to 16, got {twojmax}")
        self.rcutfac = float(rcutfac)
        n = len(self.elements)
        self.radii = [0.5] * n if radii is None else [float(v) for v in radii]
        self.weights = [1.0] * n if weights is None else [float(v) for v in weights]
        if len(self.radii) != n or len(self.weights) != n:
            raise LinpotInputError(f"snap needs one radius and one weight per element ({n}), got {radii}, {weights}")
        self.rfac0 = float(rfac0)
        self.rmin0 = float(rmin0)
        self.switchflag = int(switchflag)
        self.bzeroflag = int(bzeroflag)
        if not 0 < self.rfac0 < 1 or self.rcutfac <= 0 or min(self.radii) <= 0:
            raise LinpotInputError("snap needs 0 < rfac0 < 1, rcutfac > 0 and positive radii")
        self.cutoff = self.rcutfac * 2 * max(self.radii)
        if self.rmin0 < 0 or self.rmin0 >= self.rcutfac * 2 * min(self.radii):
            raise LinpotInputError("snap needs 0 <= rmin0 < the smallest pair cutoff")
        ub, rootpq, triples, cg, cg_start, n_u = snap_tables(self.twojmax)
        self.feature_orders = np.full(len(triples), 3, dtype=np.int64)
        self._kernel_tables = SnapTables(
            rfac0=self.rfac0, rmin0=self.rmin0, switchflag=self.switchflag, twojmax=self.twojmax, ub=ub, rootpq=rootpq,
            triples=triples, cg=cg, cg_start=cg_start,
            bzero=(triples[:, 2] + 1.0) if self.bzeroflag else np.zeros(len(triples)), n_u=n_u)

    @property
    def n_features(self) -> int:
        return len(self._kernel_tables.triples)

    def feature_names(self) -> list[str]:
        return [f"B[{j1},{j2},{j}]" for j1, j2, j in self._kernel_tables.triples]

    def spec(self) -> dict:
        return {"kind": self.kind, "elements": list(self.elements), "twojmax": self.twojmax, "rcutfac": self.rcutfac,
                "radii": list(self.radii), "weights": list(self.weights), "rfac0": self.rfac0, "rmin0": self.rmin0,
                "switchflag": self.switchflag, "bzeroflag": self.bzeroflag}

    @classmethod
    def from_spec(cls, spec: dict):
        spec = dict(spec)
        spec.pop("kind", None)
        unknown = set(spec) - set(cls.OPTIONS)
        if unknown:
            raise LinpotInputError(f"unknown snap descriptor option(s): {', '.join(sorted(unknown))}")
        return cls(**spec)

    def kernel_tables(self) -> SnapTables:
        """The descriptor as the kernels' arguments."""
        return self._kernel_tables

    def _pairs(self, positions, numbers, cell, pbc):
        species = species_indices(numbers, self.elements)
        pairs = neighbour_list(positions, cell, pbc, self.cutoff)
        radii = np.array(self.radii)
        rcut = self.rcutfac * (radii[species[pairs.i]] + radii[species[pairs.j]])
        weights = np.array(self.weights)[species[pairs.j]]
        return species, pairs, np.ascontiguousarray(rcut), np.ascontiguousarray(weights)

    def compute(self, positions, numbers, cell, pbc) -> DescriptorResult:
        species, pairs, rcut, weights = self._pairs(positions, numbers, cell, pbc)
        G, dG = snap_features(pairs.pair_start, np.ascontiguousarray(pairs.vectors), rcut, weights, self._kernel_tables)
        return DescriptorResult(G=G, dG=dG, pairs=pairs, species=species)

    def features(self, positions, numbers, cell, pbc):
        species, pairs, rcut, weights = self._pairs(positions, numbers, cell, pbc)
        G = snap_values(pairs.pair_start, np.ascontiguousarray(pairs.vectors), rcut, weights, self._kernel_tables)
        return G, _SnapContext(species, pairs, rcut, weights)

    def backward(self, context, dEdG):
        c = context
        return snap_backward(c.pairs.pair_start, c.pairs.j, np.ascontiguousarray(c.pairs.vectors), c.rcut, c.weights,
                             self._kernel_tables, np.ascontiguousarray(dEdG))


class _SnapContext:
    def __init__(self, species, pairs, rcut, weights):
        self.species, self.pairs, self.rcut, self.weights = species, pairs, rcut, weights
