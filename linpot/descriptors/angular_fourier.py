"""Angular Fourier series descriptor (Takahashi, Seko, Tanaka 2018):

    d(i) = sum_{j: s(j) = s1} sum_{k: s(k) = s2} f_n1(r_ij) f_n2(r_ik) cos(l theta_jik),  l = 0..l_max,

over all neighbour pairs (j, k) within the cutoff (j = k included, so every feature is a
combination of order-2 invariants of the same radial functions). Features: element pairs
``s1 <= s2``, radial pairs ``n1 = n2`` (``mixed_radial = false``) or every ``(n1, n2)``
(``n1 <= n2`` when ``s1 = s2``), and ``l = 0..l_max``. Computed in time linear in the number of
neighbours through the spherical-harmonic expansion (:mod:`linpot.kernels.angular_fourier`).

Spec: ``{"kind": "angular-fourier", "cutoff": 5.0, "radial": {...}, "l_max": 6, "mixed_radial": false}``.
"""

from __future__ import annotations

import math

import numpy as np
from numpy.polynomial import chebyshev, legendre

from ..errors import LinpotInputError
from ..kernels.angular_fourier import (
    AngularFourierTables,
    angular_fourier_backward,
    angular_fourier_features,
    angular_fourier_values,
)
from .base import HarmonicExpansionDescriptor


def cosine_multiple_in_legendre(l_max: int) -> np.ndarray:
    """``W[l, L]``: ``cos(l x) = sum_L W[l, L] / (4 pi / (2L + 1)) P_L(cos x)``, i.e. the Legendre
    coefficients of the Chebyshev polynomial ``T_l`` times ``4 pi / (2L + 1)``."""
    W = np.zeros((l_max + 1, l_max + 1))
    for l in range(l_max + 1):
        power = chebyshev.cheb2poly([0] * l + [1])
        leg = legendre.poly2leg(power)
        for L, c in enumerate(leg):
            W[l, L] = c * 4.0 * math.pi / (2 * L + 1)
    return W


class AngularFourierDescriptor(HarmonicExpansionDescriptor):
    kind = "angular-fourier"
    _features_kernel = staticmethod(angular_fourier_features)
    _values_kernel = staticmethod(angular_fourier_values)
    _backward_kernel = staticmethod(angular_fourier_backward)
    extra_options = ("l_max", "mixed_radial")

    def __init__(self, elements: list[str], cutoff: float = 5.0, radial: dict | None = None, l_max: int = 6,
                 mixed_radial: bool = False):
        super().__init__(elements, cutoff, radial)
        self.l_max = int(l_max)
        if not 0 <= self.l_max <= 20:
            raise LinpotInputError(f"angular-fourier l_max must be 0 to 20, got {l_max}")
        self.mixed_radial = bool(mixed_radial)
        N = self.radial.n_basis
        c1, c2, ls, self._labels = [], [], [], []
        for s1 in range(len(self.elements)):
            for s2 in range(s1, len(self.elements)):
                for n1 in range(N):
                    for n2 in range(N):
                        if not self.mixed_radial and n2 != n1:
                            continue
                        if s1 == s2 and n2 < n1:
                            continue
                        for l in range(self.l_max + 1):
                            c1.append(s1 * N + n1)
                            c2.append(s2 * N + n2)
                            ls.append(l)
                            self._labels.append(f"afs[{self.elements[s1]}{n1},{self.elements[s2]}{n2},l={l}]")
        self._kernel_tables = AngularFourierTables(c1=np.array(c1, dtype=np.int64), c2=np.array(c2, dtype=np.int64),
                                                   l=np.array(ls, dtype=np.int64), W=cosine_multiple_in_legendre(self.l_max),
                                                   l_max=self.l_max)
        self.feature_orders = np.full(len(c1), 2, dtype=np.int64)

    @property
    def n_features(self) -> int:
        return len(self._labels)

    def feature_names(self) -> list[str]:
        return list(self._labels)

    def kernel_tables(self) -> AngularFourierTables:
        return self._kernel_tables
