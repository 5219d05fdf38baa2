"""A linpot SNAP potential as LAMMPS files: ``pair_style snap`` (``.snapcoeff`` + ``.snapparam``)
and ML-IAP (``pair_style mliap model linear|quadratic ... descriptor sna ...``).

The polynomial model ``E_i = c0 + sum_t c_t prod g`` on standardised bispectra
``g = (B - mean) / scale`` (degree 1 or 2) is rewritten in LAMMPS's form

    E_i = beta0 + sum_k beta_k B_k + 1/2 sum_k alpha_kk B_k^2 + sum_{k<l} alpha_kl B_k B_l,

coefficients listed as beta0, beta_1..n, then alpha_kl for k = 1..n, l = k..n.
"""

from __future__ import annotations

import os

import numpy as np

from ..errors import LinpotInputError
from ..io import atomic_write_text
from ..version import __version__


def lammps_snap_coefficients(potential) -> tuple[np.ndarray, bool]:
    """Per element, LAMMPS's coefficient vector; and whether it is quadratic."""
    model = potential.model
    d = model.descriptor
    if d.kind != "snap":
        raise LinpotInputError(f"only snap potentials export to LAMMPS SNAP files (this one is {d.kind})")
    if model.degree > 2:
        raise LinpotInputError(f"LAMMPS SNAP is linear or quadratic; this model has degree {model.degree}")
    n = d.n_features
    mu, sigma = model.feature_mean, model.feature_scale
    terms = model.terms
    quadratic = bool(np.any(np.any(potential.coefficients[:, 1:] != 0, axis=0) & ((terms >= 0).sum(axis=1) == 2)))
    out = []
    for c in potential.coefficients:
        beta0 = float(c[0])
        beta = np.zeros(n)
        alpha = np.zeros((n, n))
        for t, row in enumerate(terms):
            w = float(c[1 + t])
            if w == 0.0:
                continue
            ks = [int(k) for k in row if k >= 0]
            if len(ks) == 1:
                k = ks[0]
                beta[k] += w / sigma[k]
                beta0 -= w * mu[k] / sigma[k]
            else:
                k, l = ks
                f = w / (sigma[k] * sigma[l])
                if k == l:
                    alpha[k, k] += 2.0 * f
                else:
                    alpha[min(k, l), max(k, l)] += f
                beta[k] -= f * mu[l]
                beta[l] -= f * mu[k]
                beta0 += f * mu[k] * mu[l]
        vec = [beta0, *beta]
        if quadratic:
            vec += [alpha[k, l] for k in range(n) for l in range(k, n)]
        out.append(vec)
    return np.array(out), quadratic


def write_lammps_snap(potential, prefix: str) -> list[str]:
    """Write ``PREFIX.snapcoeff``, ``PREFIX.snapparam``, ``PREFIX.mliap.model`` and
    ``PREFIX.mliap.descriptor``; returns their paths."""
    d = potential.model.descriptor
    coeffs, quadratic = lammps_snap_coefficients(potential)
    header = f"# linpot {__version__} SNAP potential, elements {' '.join(d.elements)}; {potential.n_nonzero} nonzero coefficients\n"
    ncoeff = coeffs.shape[1]
    lines = [header, f"{len(d.elements)} {ncoeff}\n"]
    for e, r, w, c in zip(d.elements, d.radii, d.weights, coeffs):
        lines.append(f"{e} {r!r} {w!r}\n")
        lines.extend(f"{float(v)!r}\n" for v in c)
    params = (f"{header}rcutfac {d.rcutfac!r}\ntwojmax {d.twojmax}\nrfac0 {d.rfac0!r}\nrmin0 {d.rmin0!r}\n"
              f"switchflag {d.switchflag}\nbzeroflag {d.bzeroflag}\nquadraticflag {int(quadratic)}\n"
              f"chemflag 0\nbnormflag 0\nwselfallflag 0\n")
    model_lines = [header, f"{len(d.elements)} {ncoeff}\n"]
    for c in coeffs:
        model_lines.extend(f"{float(v)!r}\n" for v in c)
    descriptor = (f"{header}rcutfac {d.rcutfac!r}\ntwojmax {d.twojmax}\nnelems {len(d.elements)}\n"
                  f"elems {' '.join(d.elements)}\nradelems {' '.join(repr(r) for r in d.radii)}\n"
                  f"welems {' '.join(repr(w) for w in d.weights)}\nrfac0 {d.rfac0!r}\nrmin0 {d.rmin0!r}\n"
                  f"bzeroflag {d.bzeroflag}\nswitchflag {d.switchflag}\n")
    paths = {f"{prefix}.snapcoeff": "".join(lines), f"{prefix}.snapparam": params,
             f"{prefix}.mliap.model": "".join(model_lines), f"{prefix}.mliap.descriptor": descriptor}
    for path, text in paths.items():
        atomic_write_text(path, text)
    return list(paths)


def lammps_pair_commands(potential, prefix: str, style: str = "snap") -> list[str]:
    """The ``pair_style``/``pair_coeff`` lines that load the files written by :func:`write_lammps_snap`."""
    elements = " ".join(potential.model.descriptor.elements)
    _, quadratic = lammps_snap_coefficients(potential)
    prefix = os.fspath(prefix)
    if style == "snap":
        return ["pair_style snap", f"pair_coeff * * {prefix}.snapcoeff {prefix}.snapparam {elements}"]
    model = "quadratic" if quadratic else "linear"
    return [f"pair_style mliap model {model} {prefix}.mliap.model descriptor sna {prefix}.mliap.descriptor",
            f"pair_coeff * * {elements}"]
