"""Radial basis families ``f_n(r)`` (Å^-0, smooth cutoff), configured by a plain dict spec.

* ``{"kind": "chebyshev", "n_basis": N, "r_min": 0.0}``: ``T_n(x) fc(r)``, an orthogonal family.
* ``{"kind": "gaussian", "n_basis": N, "r_min": 1.5, "width": w}``: Gaussians centred on a
  uniform grid from ``r_min`` to ``r_cut``, times the cosine cutoff ``fc``. ``width`` defaults to
  the grid spacing.

The cutoff radius ``r_cut`` belongs to the descriptor and is passed in.
"""

from __future__ import annotations

import numpy as np

from ..errors import LinpotInputError
from ..kernels.radial import RADIAL_CHEBYSHEV, RADIAL_GAUSSIAN, RadialTables, radial_basis_of_kind

RADIAL_KINDS = ("chebyshev", "gaussian")


class RadialBasis:
    """A radial basis of ``n_basis`` functions vanishing smoothly at ``r_cut``."""

    def __init__(self, kind: str = "chebyshev", n_basis: int = 8, r_cut: float = 5.0, r_min: float = 0.0,
                 width: float | None = None):
        if kind not in RADIAL_KINDS:
            raise LinpotInputError(f"unknown radial basis kind {kind!r} (known: {', '.join(RADIAL_KINDS)})")
        if int(n_basis) < 1:
            raise LinpotInputError(f"radial basis needs n_basis >= 1, got {n_basis}")
        if not (0.0 <= float(r_min) < float(r_cut)):
            raise LinpotInputError(f"radial basis needs 0 <= r_min < r_cut, got r_min={r_min}, r_cut={r_cut}")
        self.kind = kind
        self.n_basis = int(n_basis)
        self.r_cut = float(r_cut)
        self.r_min = float(r_min)
        if kind == "gaussian":
            self.centres = np.linspace(self.r_min, self.r_cut, self.n_basis)
            spacing = (self.r_cut - self.r_min) / max(self.n_basis - 1, 1)
            self.width = float(width) if width is not None else spacing
            if self.width <= 0:
                raise LinpotInputError(f"gaussian width must be positive, got {self.width}")
        else:
            self.width = None
        self._kernel_tables = RadialTables(
            radial_kind=RADIAL_GAUSSIAN if kind == "gaussian" else RADIAL_CHEBYSHEV, n_basis=self.n_basis, r_min=self.r_min,
            centres=self.centres if kind == "gaussian" else np.zeros(0), width=float(self.width or 0.0),
            r_cut=self.r_cut)

    def kernel_tables(self) -> RadialTables:
        """The basis as the kernels' arguments."""
        return self._kernel_tables

    def spec(self) -> dict:
        out = {"kind": self.kind, "n_basis": self.n_basis, "r_min": self.r_min}
        if self.kind == "gaussian":
            out["width"] = self.width
        return out

    @classmethod
    def from_spec(cls, spec: dict, r_cut: float) -> RadialBasis:
        spec = dict(spec)
        unknown = set(spec) - {"kind", "n_basis", "r_min", "width"}
        if unknown:
            raise LinpotInputError(f"unknown radial basis option(s): {', '.join(sorted(unknown))}")
        return cls(r_cut=r_cut, **spec)

    def __call__(self, r: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Values ``f[p, n]`` and derivatives ``df[p, n] = d f_n / dr`` (1/Å) at distances ``r``."""
        return radial_basis_of_kind(np.ascontiguousarray(r, dtype=float), self._kernel_tables)
