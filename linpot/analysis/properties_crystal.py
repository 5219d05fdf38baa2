"""Crystal symmetry and linear elasticity for :mod:`linpot.analysis.properties`: spglib symmetry
of a cell, its lattice parameters, the stiffness tensor's algebra (Voigt <-> tensor, rotation,
projection onto the crystal's invariant subspace, the symmetry-independent constants, Voigt /
Reuss / Hill moduli) and the least-squares fit of ``stress = sigma0 + C : strain`` that both the
potential's central differences and the DFT reference extraction use.

Conventions (those of :mod:`linpot.conventions` and ASE): stress in eV/Å^3, Voigt order
``[xx, yy, zz, yz, xz, xy]``, positive = tensile; Voigt strains are engineering strains
(``[e_xx, e_yy, e_zz, 2 e_yz, 2 e_xz, 2 e_xy]``), so ``sigma_I = sum_J C_IJ e_J`` and
``C_IJ = (1/V) d^2 E / de_I de_J`` at zero stress. Elastic constants are returned in GPa.
"""

from __future__ import annotations

import functools

import numpy as np

from ..conventions import GPA, VOIGT_PAIRS
from ..errors import LinpotInputError

#: Voigt index of the tensor index pair (a, b).
_VOIGT_INDEX = np.zeros((3, 3), dtype=int)
for _I, (_a, _b) in enumerate(VOIGT_PAIRS):
    _VOIGT_INDEX[_a, _b] = _VOIGT_INDEX[_b, _a] = _I

#: The symmetry-independent stiffness constants of each Laue class, in the standard setting of
#: spglib (cubic axes along x, y, z; hexagonal / trigonal / tetragonal c along z; monoclinic
#: unique axis b). Components fixed by others (hexagonal C66 = (C11 - C12)/2 ...) are not listed.
INDEPENDENT_CONSTANTS = {
    "cubic": ("C11", "C12", "C44"),
    "hexagonal": ("C11", "C12", "C13", "C33", "C44"),
    "trigonal-high": ("C11", "C12", "C13", "C14", "C33", "C44"),
    "trigonal-low": ("C11", "C12", "C13", "C14", "C15", "C33", "C44"),
    "tetragonal-high": ("C11", "C12", "C13", "C33", "C44", "C66"),
    "tetragonal-low": ("C11", "C12", "C13", "C16", "C33", "C44", "C66"),
    "orthorhombic": ("C11", "C22", "C33", "C12", "C13", "C23", "C44", "C55", "C66"),
    "monoclinic": ("C11", "C22", "C33", "C12", "C13", "C23", "C44", "C55", "C66", "C15", "C25", "C35", "C46"),
    "triclinic": tuple(f"C{i + 1}{j + 1}" for i in range(6) for j in range(i, 6)),
}


def crystal_system(number: int) -> str:
    """Crystal system of space group ``number`` (1-230)."""
    for last, name in ((2, "triclinic"), (15, "monoclinic"), (74, "orthorhombic"), (142, "tetragonal"),
                       (167, "trigonal"), (194, "hexagonal"), (230, "cubic")):
        if number <= last:
            return name
    raise LinpotInputError(f"no space group {number}")


def laue_class(number: int) -> str:
    """Key of :data:`INDEPENDENT_CONSTANTS` for space group ``number``."""
    system = crystal_system(number)
    if system == "tetragonal":
        return "tetragonal-low" if number <= 88 else "tetragonal-high"
    if system == "trigonal":
        return "trigonal-low" if number <= 148 else "trigonal-high"
    return system


def spglib_cell(atoms):
    return (np.asarray(atoms.cell.array, dtype=float), atoms.get_scaled_positions(wrap=True), atoms.numbers)


def symmetry(atoms, symprec: float = 1e-3) -> dict:
    """spglib's symmetry of ``atoms``: ``number``, ``international`` (Hermann-Mauguin symbol),
    ``crystal_system``, ``laue`` (key of :data:`INDEPENDENT_CONSTANTS`), ``rotations`` (the point
    group as Cartesian 3x3 matrices of the input frame) and ``std_rotation`` (the rotation taking
    the input's Cartesian frame to spglib's standard orientation)."""
    import spglib

    dataset = spglib.get_symmetry_dataset(spglib_cell(atoms), symprec=symprec)
    if dataset is None:  # pragma: no cover - spglib fails only on degenerate cells
        raise LinpotInputError(f"spglib found no symmetry for {atoms.get_chemical_formula()} (symprec {symprec})")
    lattice = np.asarray(atoms.cell.array, dtype=float)
    # fractional rotation R_f acts on column fractional coordinates; Cartesian r = L^T f
    to_cart = lattice.T
    from_cart = np.linalg.inv(lattice.T)
    # a supercell repeats each point operation once per lattice translation: keep one of each
    rotations = [to_cart @ rf @ from_cart for rf in np.unique(np.asarray(dataset.rotations), axis=0)]
    return {"number": int(dataset.number), "international": str(dataset.international),
            "crystal_system": crystal_system(int(dataset.number)), "laue": laue_class(int(dataset.number)),
            "rotations": rotations, "std_rotation": np.asarray(dataset.std_rotation_matrix, dtype=float)}


def conventional_cell(atoms, symprec: float = 1e-3):
    """spglib's standardized conventional cell of ``atoms`` (idealized, in the standard
    orientation) as ``ase.Atoms``, without a calculator."""
    import spglib
    from ase import Atoms

    lattice, frac, numbers = spglib.standardize_cell(spglib_cell(atoms), to_primitive=False, no_idealize=False,
                                                     symprec=symprec)
    return Atoms(numbers=numbers, cell=lattice, scaled_positions=frac, pbc=True)


def lattice_parameters(atoms, symprec: float = 1e-3) -> dict:
    """Lattice parameters of the standardized conventional cell (Å, degrees): ``a_A`` (and
    ``c_A``, ``c_over_a`` for hexagonal, trigonal and tetragonal cells; ``b_A``, ``c_A`` for
    orthorhombic; all six for lower symmetry), with ``spacegroup`` and ``crystal_system``."""
    sym = symmetry(atoms, symprec)
    conv = conventional_cell(atoms, symprec)
    a, b, c, alpha, beta, gamma = conv.cell.cellpar()
    out = {"spacegroup": f"{sym['international']} ({sym['number']})", "crystal_system": sym["crystal_system"],
           "volume_per_atom_A3": float(atoms.get_volume() / len(atoms))}
    system = sym["crystal_system"]
    if system == "cubic":
        out["a_A"] = float((a + b + c) / 3)
    elif system in ("hexagonal", "trigonal", "tetragonal"):
        out["a_A"] = float((a + b) / 2)
        out["c_A"] = float(c)
        out["c_over_a"] = float(2 * c / (a + b))
    elif system == "orthorhombic":
        out.update(a_A=float(a), b_A=float(b), c_A=float(c))
    else:
        out.update(a_A=float(a), b_A=float(b), c_A=float(c), alpha_deg=float(alpha), beta_deg=float(beta),
                   gamma_deg=float(gamma))
    return out


# --- tensor algebra ----------------------------------------------------------------------------


def voigt_to_tensor(c_voigt) -> np.ndarray:
    """The 3x3x3x3 stiffness tensor of a 6x6 Voigt matrix."""
    c = np.asarray(c_voigt, dtype=float)
    return c[_VOIGT_INDEX[:, :, None, None], _VOIGT_INDEX[None, None, :, :]]


def tensor_to_voigt(tensor) -> np.ndarray:
    """The 6x6 Voigt matrix of a 3x3x3x3 stiffness tensor."""
    t = np.asarray(tensor, dtype=float)
    out = np.empty((6, 6))
    for I, (a, b) in enumerate(VOIGT_PAIRS):
        for J, (c, d) in enumerate(VOIGT_PAIRS):
            out[I, J] = t[a, b, c, d]
    return out


def rotate_stiffness(c_voigt, rotation) -> np.ndarray:
    """``C'_ijkl = R_ia R_jb R_kc R_ld C_abcd`` (a rigid rotation of the crystal), Voigt in and out."""
    r = np.asarray(rotation, dtype=float)
    t = np.einsum("ia,jb,kc,ld,abcd->ijkl", r, r, r, r, voigt_to_tensor(c_voigt), optimize=True)
    return tensor_to_voigt(t)


def strain_tensor(voigt) -> np.ndarray:
    """Symmetric 3x3 strain of an engineering Voigt strain."""
    e = np.asarray(voigt, dtype=float)
    return np.array([[e[0], e[5] / 2, e[4] / 2], [e[5] / 2, e[1], e[3] / 2], [e[4] / 2, e[3] / 2, e[2]]])


def strain_voigt(tensor) -> np.ndarray:
    """Engineering Voigt strain of a symmetric 3x3 strain."""
    t = np.asarray(tensor, dtype=float)
    return np.array([t[0, 0], t[1, 1], t[2, 2], 2 * t[1, 2], 2 * t[0, 2], 2 * t[0, 1]])


def stress_tensor(voigt) -> np.ndarray:
    s = np.asarray(voigt, dtype=float)
    return np.array([[s[0], s[5], s[4]], [s[5], s[1], s[3]], [s[4], s[3], s[2]]])


def stress_voigt(tensor) -> np.ndarray:
    t = np.asarray(tensor, dtype=float)
    return np.array([t[0, 0], t[1, 1], t[2, 2], t[1, 2], t[0, 2], t[0, 1]])


def strain_between(cell0, cell) -> tuple[np.ndarray, np.ndarray]:
    """The homogeneous deformation taking ``cell0`` to ``cell`` (rows = lattice vectors), split by
    the polar decomposition ``F = R U``: returns the (Biot) strain ``U - 1`` (symmetric 3x3) and
    the rotation ``R``. A stress computed in ``cell`` is ``R^T sigma R`` in the frame of ``cell0``."""
    from scipy.linalg import polar

    deformation = np.linalg.solve(np.asarray(cell0, dtype=float), np.asarray(cell, dtype=float)).T
    rotation, stretch = polar(deformation, side="right")
    return stretch - np.eye(3), rotation


def invariant_basis(rotations) -> np.ndarray:
    """An orthonormal basis (k, 6, 6 Voigt) of the stiffness matrices left unchanged by every
    Cartesian rotation in ``rotations`` (the crystal's point group): the group average of the 21
    symmetric unit matrices, reduced by an SVD. k = 3 for cubic, 5 for hexagonal, ..., 21 for
    triclinic crystals.

    Kept per point group (the same rotations give the same basis): a DFT reference fits the
    stresses and energies of several strain windows against one crystal's group."""
    rotations = np.asarray([np.asarray(r, dtype=float) for r in rotations] or [np.eye(3)], dtype=float)
    return _invariant_basis(rotations.tobytes(), len(rotations)).copy()


@functools.lru_cache(maxsize=32)
def _invariant_basis(rotation_bytes: bytes, n: int) -> np.ndarray:
    rotations = np.frombuffer(rotation_bytes, dtype=float).reshape(n, 3, 3)
    averaged = []
    for I in range(6):
        for J in range(I, 6):
            unit = np.zeros((6, 6))
            unit[I, J] = unit[J, I] = 1.0
            t = voigt_to_tensor(unit)
            avg = sum(np.einsum("ia,jb,kc,ld,abcd->ijkl", r, r, r, r, t, optimize=True) for r in rotations) / len(rotations)
            averaged.append(avg.ravel())
    _, s, vt = np.linalg.svd(np.array(averaged), full_matrices=False)
    rank = int(np.sum(s > 1e-8 * s[0]))
    return np.array([tensor_to_voigt(v.reshape(3, 3, 3, 3)) for v in vt[:rank]])


def symmetrize_stiffness(c_voigt, rotations) -> np.ndarray:
    """Orthogonal projection of ``C`` (made symmetric) onto the matrices invariant under ``rotations``."""
    c = 0.5 * (np.asarray(c_voigt, dtype=float) + np.asarray(c_voigt, dtype=float).T)
    t = voigt_to_tensor(c)
    rotations = [np.asarray(r, dtype=float) for r in rotations] or [np.eye(3)]
    avg = sum(np.einsum("ia,jb,kc,ld,abcd->ijkl", r, r, r, r, t, optimize=True) for r in rotations) / len(rotations)
    return tensor_to_voigt(avg)


def named_constants(c_voigt_gpa, sym: dict) -> dict:
    """The symmetry-independent constants (``{"C11": ..}`` in GPa) of a stiffness matrix in the
    input frame, read in spglib's standard orientation. Hexagonal crystals also get the dependent
    ``C66 = (C11 - C12)/2`` for reading convenience (marked in :func:`elastic_summary`)."""
    c_std = rotate_stiffness(c_voigt_gpa, sym["std_rotation"])
    out = {}
    for name in INDEPENDENT_CONSTANTS[sym["laue"]]:
        out[name] = float(c_std[int(name[1]) - 1, int(name[2]) - 1])
    return out


def moduli(c_voigt_gpa) -> dict:
    """Voigt, Reuss and Hill bulk and shear moduli (GPa) of a stiffness matrix (rotation invariant)."""
    c = np.asarray(c_voigt_gpa, dtype=float)
    bv = (c[0, 0] + c[1, 1] + c[2, 2] + 2 * (c[0, 1] + c[0, 2] + c[1, 2])) / 9
    gv = (c[0, 0] + c[1, 1] + c[2, 2] - (c[0, 1] + c[0, 2] + c[1, 2]) + 3 * (c[3, 3] + c[4, 4] + c[5, 5])) / 15
    try:
        s = np.linalg.inv(c)
        br = 1.0 / (s[0, 0] + s[1, 1] + s[2, 2] + 2 * (s[0, 1] + s[0, 2] + s[1, 2]))
        gr = 15.0 / (4 * (s[0, 0] + s[1, 1] + s[2, 2]) - 4 * (s[0, 1] + s[0, 2] + s[1, 2]) + 3 * (s[3, 3] + s[4, 4] + s[5, 5]))
    except np.linalg.LinAlgError:
        br = gr = float("nan")
    return {"B_voigt_GPa": float(bv), "B_reuss_GPa": float(br), "B_hill_GPa": float((bv + br) / 2),
            "G_voigt_GPa": float(gv), "G_reuss_GPa": float(gr), "G_hill_GPa": float((gv + gr) / 2)}


def mechanically_stable(c_voigt_gpa) -> bool:
    """Born stability: the stiffness matrix is positive definite."""
    c = np.asarray(c_voigt_gpa, dtype=float)
    return bool(np.all(np.linalg.eigvalsh(0.5 * (c + c.T)) > 0))


def least_squares(design, target) -> dict:
    """Minimum-norm least squares with an SVD: ``solution``, its ``covariance`` (residual
    variance times the pseudo-inverse of the normal matrix), ``null_space`` (rows: directions of
    the unknowns the data do not determine) and ``rms_residual``."""
    u, s, vt = np.linalg.svd(design, full_matrices=True)
    rank = int(np.sum(s > 1e-9 * s[0])) if len(s) else 0
    inv_s = np.zeros_like(s)
    inv_s[:rank] = 1.0 / s[:rank]
    solution = vt.T[:, : len(s)] @ (inv_s * (u.T[: len(s)] @ target))
    residual = target - design @ solution
    dof = max(len(target) - rank, 1)
    sigma2 = float(residual @ residual) / dof
    vr = vt[:rank]
    covariance = sigma2 * (vr.T * inv_s[:rank] ** 2) @ vr
    return {"solution": solution, "covariance": covariance, "null_space": vt[rank:], "rank": rank,
            "rms_residual": float(np.sqrt(np.mean(residual ** 2)))}


def nonlinear_modes(strains, order: int) -> list[int]:
    """Voigt components whose strains take at least ``2 * order`` distinct nonzero values: enough
    amplitudes to fit stress-strain terms up to ``e_j^order`` for them beside the linear one."""
    strains = np.atleast_2d(np.asarray(strains, dtype=float))
    if order < 2:
        return []
    modes = []
    for j in range(6):
        amplitudes = {round(float(v), 6) for v in strains[:, j] if abs(v) > 1e-6}
        if len(amplitudes) >= 2 * order:
            modes.append(j)
    return modes


def fit_stiffness(strains, stresses, rotations, order: int = 1) -> dict:
    """Least-squares fit of ``sigma = sigma0 + C e`` over samples (engineering Voigt strains
    ``strains`` (n, 6), stresses ``stresses`` (n, 6), both eV/Å^3 and dimensionless), with ``C``
    restricted to the matrices invariant under ``rotations``.

    ``order`` > 1 adds, for each strain component sampled at enough amplitudes
    (:func:`nonlinear_modes`), free terms ``D_pj e_j^p`` (p = 2..order, each a 6-vector) to every
    stress: the stress-strain curve's bend along that mode, so that strains of several per cent can
    enter without biasing C (a linear fit over a wide window turns the cubic terms into C; over a
    narrow one, a few tenths of a GPa of label noise are tens of GPa in C). Cross terms between
    modes are not modelled: the datasets strain one mode at a time.

    Returns ``C`` (6x6, eV/Å^3), ``sigma0`` (6, eV/Å^3), ``coefficients`` and their covariance
    (for standard errors of linear functions of C, the nonlinear terms integrated out), ``basis``,
    ``null_space`` (combinations of the coefficients the strains leave undetermined; empty when all
    six strain modes are sampled), ``nonlinear_modes`` and the RMS residual (``rms_residual``,
    eV/Å^3). With symmetric pairs ``+-e`` per mode (central differences) the even terms of the
    stress-strain curve drop out of C exactly."""
    strains = np.atleast_2d(np.asarray(strains, dtype=float))
    stresses = np.atleast_2d(np.asarray(stresses, dtype=float))
    basis = invariant_basis(rotations)
    k = len(basis)
    n = len(strains)
    modes = nonlinear_modes(strains, order)
    n_extra = 6 * len(modes) * max(order - 1, 0)
    # rows: sample n, component i; columns: k symmetry coefficients, 6 intercepts, nonlinear terms
    design = np.zeros((n * 6, k + 6 + n_extra))
    for p, b in enumerate(basis):
        design[:, p] = (strains @ b.T).ravel()
    design[:, k:k + 6] = np.tile(np.eye(6), (n, 1))
    col = k + 6
    for j in modes:
        for power in range(2, order + 1):
            # e_j^power times a free 6-vector: one column per stress component
            design[:, col:col + 6] = np.kron(strains[:, j, None] ** power, np.eye(6))
            col += 6
    fit = least_squares(design, stresses.ravel())
    coefficients = fit["solution"][:k]
    norms = np.linalg.norm(strains, axis=1)
    keep = norms > 0
    features = np.stack([(strains[keep] / norms[keep, None]) @ b.T for b in basis], axis=-1).reshape(-1, k)
    return {"C": np.tensordot(coefficients, basis, axes=1), "sigma0": fit["solution"][k:k + 6], "coefficients": coefficients,
            "covariance": fit["covariance"][:k, :k], "null_space": undetermined(features), "basis": basis,
            "nonlinear_modes": modes, "order": order, "rms_residual": fit["rms_residual"]}


def undetermined(features, rel_tol: float = 1e-3) -> np.ndarray:
    """Rows spanning the coefficient directions that ``features`` (samples x coefficients, each
    sample scaled to unit strain) do not excite above ``rel_tol`` of the strongest: what a set of
    strains cannot determine (C12 from energies of uniaxial and shear strains only, for one)."""
    features = np.asarray(features, dtype=float)
    if features.size == 0:
        return np.eye(features.shape[1] if features.ndim == 2 else 0)
    _, s, vt = np.linalg.svd(features, full_matrices=True)
    rank = int(np.sum(s > rel_tol * s[0]))
    return vt[rank:]


def constants_with_errors(fit: dict, sym: dict) -> tuple[dict, dict]:
    """Named constants (GPa) of a :func:`fit_stiffness` result and their standard errors (GPa);
    a constant the data leave undetermined (it depends on a null-space direction) is None."""
    values = named_constants(fit["C"] / GPA, sym)
    errors = {}
    rotated = [rotate_stiffness(b, sym["std_rotation"]) for b in fit["basis"]]
    null = np.asarray(fit.get("null_space", np.zeros((0, len(rotated)))))
    for name in values:
        i, j = int(name[1]) - 1, int(name[2]) - 1
        g = np.array([r[i, j] for r in rotated])
        if len(null) and np.max(np.abs(null @ g)) > 1e-3 * max(np.linalg.norm(g), 1e-12):
            values[name] = errors[name] = None
            continue
        errors[name] = float(np.sqrt(max(g @ fit["covariance"] @ g, 0.0)) / GPA)
    return values, errors


def elastic_summary(c_voigt_gpa, sym: dict) -> dict:
    """Named constants, VRH moduli, Born stability and the 6x6 matrix (GPa) of a stiffness matrix
    already projected onto the crystal's symmetry."""
    out = {f"{k}_GPa": v for k, v in named_constants(c_voigt_gpa, sym).items()}
    if sym["laue"] == "hexagonal":
        out["C66_GPa (=(C11-C12)/2)"] = 0.5 * (out["C11_GPa"] - out["C12_GPa"])
    out.update(moduli(c_voigt_gpa))
    out["born_stable"] = mechanically_stable(c_voigt_gpa)
    out["C_voigt_GPa"] = np.round(np.asarray(c_voigt_gpa, dtype=float), 6).tolist()
    return out


# --- slabs -------------------------------------------------------------------------------------


def supercell_repeats(atoms, min_length: float) -> tuple[int, int, int]:
    """Repeats of each cell vector so that every perpendicular width of the supercell is at
    least ``min_length`` Å."""
    cell = np.asarray(atoms.cell.array, dtype=float)
    volume = abs(np.linalg.det(cell))
    widths = [volume / np.linalg.norm(np.cross(cell[(i + 1) % 3], cell[(i + 2) % 3])) for i in range(3)]
    return tuple(max(1, int(np.ceil(min_length / w - 1e-9))) for w in widths)


def slab_geometry(slab, min_gap: float = 4.0) -> dict | None:
    """The vacuum direction of a slab: ``axis`` (the cell vector that crosses the vacuum),
    ``area_A2`` (the in-plane cell area, one face), ``vacuum_A`` (the widest gap between atomic
    planes along the surface normal), ``thickness_A``, ``normal`` (unit vector) and
    ``middle_atom`` (the atom nearest the slab's middle plane; ``by_depth`` orders all atoms by
    their distance from that plane). None if no gap exceeds
    ``min_gap`` Å (a bulk cell)."""
    cell = np.asarray(slab.cell.array, dtype=float)
    recip = np.linalg.inv(cell).T
    frac = slab.get_scaled_positions(wrap=True)
    best = None
    for axis in range(3):
        spacing = 1.0 / np.linalg.norm(recip[axis])
        order = np.argsort(frac[:, axis])
        f = frac[order, axis]
        gaps = np.diff(np.append(f, f[0] + 1.0))
        k = int(np.argmax(gaps))
        gap = gaps[k] * spacing
        if gap > min_gap and (best is None or gap > best[1]):
            start = f[(k + 1) % len(f)]
            thickness = spacing - gap
            middle = (start + 0.5 * thickness / spacing) % 1.0
            d = (frac[:, axis] - middle + 0.5) % 1.0 - 0.5
            best = (axis, gap, thickness, np.argsort(np.abs(d), kind="stable"))
    if best is None:
        return None
    axis, gap, thickness, by_depth = best
    other = [i for i in range(3) if i != axis]
    area = float(np.linalg.norm(np.cross(cell[other[0]], cell[other[1]])))
    normal = recip[axis] / np.linalg.norm(recip[axis])
    return {"axis": axis, "area_A2": area, "vacuum_A": float(gap), "thickness_A": float(thickness),
            "normal": normal, "middle_atom": int(by_depth[0]), "by_depth": by_depth}


def _neighbour_vectors(atoms, index: int, cutoff: float) -> np.ndarray:
    from ase.neighborlist import neighbor_list

    i, d = neighbor_list("iD", atoms, cutoff)
    return d[i == index]


def _frame(u, v) -> np.ndarray:
    e1 = u / np.linalg.norm(u)
    e3 = np.cross(u, v)
    e3 /= np.linalg.norm(e3)
    return np.column_stack([e1, np.cross(e3, e1), e3])


def _integer_direction(v, max_index: int = 6) -> tuple[int, ...] | None:
    v = np.asarray(v, dtype=float)
    v = v / np.max(np.abs(v))
    for scale in range(1, max_index + 1):
        h = np.round(v * scale)
        if np.any(h) and np.max(np.abs(h)) <= max_index:
            if np.dot(h, v) / (np.linalg.norm(h) * np.linalg.norm(v)) > 1 - 2e-4:
                g = np.gcd.reduce(np.abs(h).astype(int))
                return tuple(int(x) for x in h // g)
    return None


def canonical_miller(hkl, conventional, symprec: float = 1e-3) -> tuple[int, ...]:
    """The representative of ``hkl``'s family under the point group of ``conventional`` (both
    faces of a slab are equivalent, so -hkl too): fewest negative indices, then the largest."""
    import spglib

    dataset = spglib.get_symmetry_dataset(spglib_cell(conventional), symprec=symprec)
    h = np.asarray(hkl, dtype=int)
    family = set()
    for r in dataset.rotations:
        for sign in (1, -1):
            family.add(tuple(int(x) for x in sign * (h @ r)))
    return max(family, key=lambda t: (-sum(x < 0 for x in t), t))


def miller_of_slab(slab, conventional, symprec: float = 1e-3, tol: float = 0.25) -> tuple[int, ...] | None:
    """Miller indices (of ``conventional``, the bulk's standardized conventional cell) of the
    surface of ``slab``, found from the atomic geometry: the rotation that maps the neighbour
    shell of the slab's middle atom onto the bulk's neighbour shell, applied to the surface
    normal. Works for slabs in any orientation; None when no rotation matches within ``tol`` Å
    (a slab far from the bulk structure, or one too thin to have a bulk-like middle)."""
    geom = slab_geometry(slab)
    if geom is None:
        return None
    big = conventional * (2, 2, 2)
    d_nn = min(np.linalg.norm(v) for v in _neighbour_vectors(big, 0, 6.0))
    cutoff = 1.12 * d_nn
    shells = [_neighbour_vectors(big, site, cutoff) for site in range(len(conventional))]
    counts = {len(b) for b in shells}
    for atom in geom["by_depth"][:6]:
        u = _neighbour_vectors(slab, int(atom), cutoff)
        if len(u) not in counts or len(u) < 3:
            continue
        rotation = _match_shells(u, [b for b in shells if len(b) == len(u)], d_nn, tol)
        if rotation is not None:
            hkl = _integer_direction(np.asarray(conventional.cell.array) @ (rotation @ geom["normal"]))
            return None if hkl is None else canonical_miller(hkl, conventional, symprec)
    return None


def _match_shells(u, shells, d_nn: float, tol: float) -> np.ndarray | None:
    """The rotation R with R u_k on the vectors of one of ``shells`` (all within ``tol`` Å),
    refined by a Kabsch fit; None if there is none."""
    u1 = u[0]
    u2 = max(u[1:], key=lambda w: np.linalg.norm(np.cross(u1, w)) / np.linalg.norm(w))
    for b in shells:
        for b1 in b:
            if abs(np.linalg.norm(b1) - np.linalg.norm(u1)) > tol:
                continue
            for b2 in b:
                if abs(np.linalg.norm(b2) - np.linalg.norm(u2)) > tol or abs(np.dot(b1, b2) - np.dot(u1, u2)) > tol * d_nn:
                    continue
                if np.linalg.norm(np.cross(b1, b2)) < 1e-6:
                    continue
                rotation = _frame(b1, b2) @ _frame(u1, u2).T
                dist = np.linalg.norm((u @ rotation.T)[:, None, :] - b[None, :, :], axis=2)
                if np.all(dist.min(axis=1) < tol):
                    partner = b[dist.argmin(axis=1)]
                    w, _, vt = np.linalg.svd(u.T @ partner)
                    d = np.sign(np.linalg.det(vt.T @ w.T))
                    return vt.T @ np.diag([1.0, 1.0, d]) @ w.T
    return None
