"""DFT reference values of the properties in :mod:`linpot.analysis.properties`, extracted from a
dataset of labelled structures (ASE Atoms with DFT energies, and stresses where present).

The structures' roles come from ``atoms.info["config_type"]`` (matched case-insensitively by
substring, so ``"Ground state"``, ``"Elastic"``, ``"Mo_Elastic"``, ``"Surface"``, ``"Vacancy"``
all work; ``groups`` overrides the matching):

* **ground state**: the lowest-energy-per-atom structure of the ground-state group (else of the
  elastic group). Its cell is the reference of the strains.
* **elastic constants**: every structure with the ground state's composition and atom count
  whose cell is a homogeneous deformation of the ground-state cell. The deformation gradient
  ``F = (L0^-1 L)^T`` is split by the polar decomposition ``F = R U``; the strain is ``U - 1``,
  the stress is rotated back (``R^T sigma R``). Structures with every engineering strain
  component at most ``max_strain`` are kept and ``sigma = sigma0 + C e`` is fitted by least squares
  with ``C`` restricted to the crystal's symmetry (spglib point group of the ground state), so the
  fit returns exactly the symmetry-independent constants, with standard errors. Without stresses,
  ``E/V0 = E0/V0 + sigma0 . e + e . C e / 2`` is fitted to the energies instead (also reported as a
  cross-check when both are present).
* **lattice parameters**: the ground-state cell moved to zero stress with the fitted compliance,
  ``e = -S sigma_gs`` (a first-order correction of the residual stress the DFT relaxation left);
  also the equation-of-state minimum when the dataset holds isotropically scaled copies of the
  ground state (a volume scan, five volumes or more).
* **bulk modulus**: Voigt / Reuss / Hill averages of the fitted constants; the E-V fit of a
  volume scan where one exists. (An E-V fit of the uniaxially strained elastic cells would give
  C11-like curvatures, not B, and is not used.)
* **surface energies**: every slab (a vacuum gap > 4 Å along one cell vector) of the ground state's
  element, ``gamma = (E_slab - N e_bulk) / (2 A)`` with ``e_bulk`` the ground state's energy per
  atom; the facet's Miller indices are found from the slab's geometry.
* **vacancy formation energy**: ``E_f = E_vac - N_vac e_bulk`` for a *relaxed* vacancy cell
  (max |F| below ``relaxed_fmax``), with ``e_bulk`` from a relaxed bulk cell of the same lattice
  (the same cell with one more atom, or the ground state when the volume per site agrees within
  0.5 %). AIMD snapshots of vacancy cells are not relaxed and give no formation energy.

A value the dataset cannot give is None, with a note saying why.
"""

from __future__ import annotations

import os
import re

import numpy as np

from ..conventions import GPA
from ..errors import LinpotInputError
from . import properties_crystal as pc

#: J/m^2 per eV/Å^2.
J_PER_M2 = 1.602176634e-19 * 1e20

ROLES = {"ground": ("ground",), "elastic": ("elastic",), "surface": ("surface",), "vacancy": ("vacanc",),
         "volume": ("volume", "eos")}


def read_dataset(dataset) -> list:
    """A list of ``ase.Atoms`` from a path (any ``ase.io`` format), several paths, or Atoms; a
    missing or unreadable file is a one-line error naming it."""
    import ase.io

    items = [dataset] if isinstance(dataset, (str, os.PathLike)) else list(dataset)
    frames = []
    for item in items:
        if not isinstance(item, (str, os.PathLike)):
            frames.append(item)
            continue
        if not os.path.exists(item):
            raise LinpotInputError("no such file", path=os.fspath(item))
        try:
            frames.extend(ase.io.read(item, ":"))
        except Exception as exc:  # ase.io raises many kinds; the user gets one line
            raise LinpotInputError(f"cannot read the reference dataset ({type(exc).__name__}: {exc})",
                                   path=os.fspath(item)) from None
    return frames


def _energy(atoms):
    try:
        return float(atoms.get_potential_energy())
    except Exception:
        return None


def _stress(atoms):
    calc = atoms.calc
    if calc is None or "stress" not in getattr(calc, "results", {}):
        return None
    return np.asarray(atoms.get_stress(voigt=True), dtype=float)


def _max_force(atoms):
    calc = atoms.calc
    if calc is None or "forces" not in getattr(calc, "results", {}):
        return None
    return float(np.abs(atoms.get_forces()).max())


def _role(config_type, groups: dict | None) -> str | None:
    if config_type is None:
        return None
    if groups is not None:
        for role, names in groups.items():
            if config_type in names:
                return role
        return None
    name = str(config_type).lower()
    for role, keys in ROLES.items():
        if any(k in name for k in keys):
            return role
    return None


def _roles(structures, groups: dict | None) -> dict:
    """``{role: [indices]}`` of the structures by :func:`_role` of their config_type."""
    roles: dict = {}
    for k, atoms in enumerate(structures):
        roles.setdefault(_role(atoms.info.get("config_type"), groups), []).append(k)
    return roles


def _composition(atoms) -> tuple:
    return tuple(sorted(atoms.get_chemical_symbols()))


def _scaled_atoms(atoms, cell):
    out = atoms.copy()
    out.calc = None
    out.set_cell(cell, scale_atoms=True)
    return out


def dft_reference(dataset, *, max_strain: float | None = None, order: int = 3, symprec: float = 0.05,
                  relaxed_fmax: float = 0.05, groups: dict | None = None, published: dict | None = None) -> dict:
    """Reference values (see the module docstring) from ``dataset`` (a path or a list of Atoms).

    Returns a dict with ``ground_state``, ``lattice``, ``elastic``, ``bulk_modulus``,
    ``surfaces`` (a list, one entry per slab, each with its dataset ``index``), ``vacancy``, each
    carrying a ``note`` of how it was derived (or why it is None), and ``published`` (values with
    citations supplied by the caller; none are built in)."""
    structures = read_dataset(dataset)
    roles = _roles(structures, groups)
    out = {"n_structures": len(structures), "roles": {str(r): len(v) for r, v in roles.items()},
           "published": dict(published or {}),
           "published_note": "no published DFT values are built in; pass published={...} with citations to add them"}

    gs_index, gs_note = _ground_state(structures, roles)
    if gs_index is None:
        out.update(ground_state=None, lattice=None, elastic=None, bulk_modulus=None, surfaces=[], vacancy=None,
                   note=gs_note)
        return out
    gs = structures[gs_index]
    sym = pc.symmetry(gs, symprec)
    e_gs = _energy(gs) / len(gs)
    stress_gs = _stress(gs)
    out["ground_state"] = {"index": gs_index, "config_type": gs.info.get("config_type"), "n_atoms": len(gs),
                           "formula": gs.get_chemical_formula(), "energy_per_atom_eV": e_gs,
                           "spacegroup": f"{sym['international']} ({sym['number']})",
                           "crystal_system": sym["crystal_system"],
                           "stress_GPa": None if stress_gs is None else (stress_gs / GPA).tolist(), "note": gs_note}

    elastic = _elastic_headline(structures, roles, gs_index, sym, max_strain, order)
    if elastic.get("constants_GPa"):
        elastic.update(_window_spread(structures, roles, gs_index, sym))
    out["elastic"] = elastic
    out["lattice"] = _lattice_reference(structures, roles, gs_index, sym, elastic, symprec)
    out["bulk_modulus"] = _bulk_reference(elastic, out["lattice"])
    out["surfaces"] = _surface_reference(structures, roles, gs, e_gs, symprec)
    out["vacancy"] = _vacancy_reference(structures, roles, gs, e_gs, relaxed_fmax)
    return out


def _ground_state(structures, roles):
    for role, what in (("ground", "the lowest energy per atom of the ground-state group"),
                       ("elastic", "no ground-state group: the lowest energy per atom of the elastic group")):
        candidates = [k for k in roles.get(role, []) if _energy(structures[k]) is not None]
        if candidates:
            k = min(candidates, key=lambda i: _energy(structures[i]) / len(structures[i]))
            return k, what
    return None, "no ground-state or elastic structures with energies: nothing can be derived"


def _elastic_samples(structures, roles, gs_index, max_strain):
    gs = structures[gs_index]
    samples = []
    skipped = 0
    for k in sorted(set(roles.get("elastic", [])) | set(roles.get("ground", [])) | {gs_index}):
        atoms = structures[k]
        if len(atoms) != len(gs) or _composition(atoms) != _composition(gs) or _energy(atoms) is None:
            skipped += 1
            continue
        strain, rotation = pc.strain_between(gs.cell.array, atoms.cell.array)
        voigt = pc.strain_voigt(strain)
        if np.max(np.abs(strain)) > 0.2:
            skipped += 1
            continue
        if np.max(np.abs(voigt)) > max_strain + 1e-9:
            continue
        stress = _stress(atoms)
        if stress is not None:
            stress = pc.stress_voigt(rotation.T @ pc.stress_tensor(stress) @ rotation)
        samples.append((k, voigt, stress, _energy(atoms)))
    return samples, skipped


def _elastic_reference(structures, roles, gs_index, sym, max_strain, order: int = 1):
    samples, skipped = _elastic_samples(structures, roles, gs_index, max_strain)
    gs = structures[gs_index]
    n_modes = np.linalg.matrix_rank(np.array([s[1] for s in samples])) if samples else 0
    base = {"n_cells": len(samples), "max_strain": max_strain, "order": order, "n_skipped": skipped,
            "crystal_system": sym["crystal_system"]}
    if len(samples) < 3 or n_modes < 2:
        return dict(base, constants_GPa=None, note=f"{len(samples)} elastic cells within |e| <= {max_strain} "
                    f"spanning {n_modes} strain modes: too few for elastic constants")
    strains = np.array([s[1] for s in samples])
    with_stress = all(s[2] is not None for s in samples)
    results = {}
    try:
        if with_stress:
            fit = pc.fit_stiffness(strains, np.array([s[2] for s in samples]), sym["rotations"], order=order)
            values, errors = pc.constants_with_errors(fit, sym)
            results["stress"] = (fit, values, errors)
        energies = np.array([s[3] for s in samples])
        fit_e = _fit_energy(strains, energies, gs.get_volume(), sym["rotations"], order=order)
        values_e, errors_e = pc.constants_with_errors(fit_e, sym)
        results["energy"] = (fit_e, values_e, errors_e)
    except LinpotInputError as err:
        return dict(base, constants_GPa=None, note=str(err))
    method = "stress" if "stress" in results else "energy"
    fit, values, errors = results[method]
    complete = all(v is not None for v in values.values())
    c_gpa = fit["C"] / GPA
    fit_e, values_e, errors_e = results["energy"]
    out = dict(base, method=f"{method}-strain least squares", nonlinear_modes=fit["nonlinear_modes"],
               # the Voigt components strained by more than 0.5 % in some cell
               strained_modes=[j for j in range(6) if np.max(np.abs(strains[:, j])) > 0.005],
               constants_GPa=values, standard_errors_GPa=errors,
               summary=pc.elastic_summary(c_gpa, sym) if complete else None,
               C_voigt_GPa=np.round(c_gpa, 6).tolist() if complete else None,
               sigma0_GPa=(fit["sigma0"] / GPA).tolist(),
               rms_residual=fit["rms_residual"] / GPA if method == "stress" else fit["rms_residual"],
               rms_residual_unit="GPa" if method == "stress" else "eV/Å^3 of E/V0",
               energy_route={"constants_GPa": values_e, "standard_errors_GPa": errors_e,
                             "sigma0_GPa": (fit_e["sigma0"] / GPA).tolist(),
                             "complete": all(v is not None for v in values_e.values()),
                             "C_voigt_GPa": np.round(fit_e["C"] / GPA, 6).tolist()},
               cells=[s[0] for s in samples])
    missing = [k for k, v in values.items() if v is None]
    out["note"] = (f"{len(samples)} cells of the elastic group strained from the ground-state cell by at most "
                   f"{max_strain:g} (engineering Voigt components)"
                   + (f", with stress-strain terms up to order {order} along the {len(fit['nonlinear_modes'])} strain "
                      "modes sampled at enough amplitudes" if fit["nonlinear_modes"] else "")
                   + ", strain from the polar decomposition of the cell "
                   f"deformation; {'stresses' if method == 'stress' else 'energies (no stresses in the data)'} fitted with "
                   f"C restricted to {sym['crystal_system']} symmetry ({sym['international']}). The constants are those of "
                   "the DFT relaxation protocol of the dataset (relaxed-ion if its strained cells were relaxed)."
                   + (f" {', '.join(missing)}: not determined by these strains (e.g. C12 needs mixed normal strains "
                      "when only energies are known)." if missing else ""))
    return out


#: The strain window of the polynomial reference (every elastic cell up to 10 %) and the window of
#: the linear one used where the cells do not sample each mode at enough amplitudes.
WIDE_STRAIN = 0.101
LINEAR_STRAIN = 0.021


def elastic_reference(structures, gs_index: int, *, max_strain: float | None = None, order: int = 3,
                      symprec: float = 0.05, groups: dict | None = None) -> dict:
    """The elastic constants of :func:`dft_reference` alone, from ``structures`` (Atoms with energies
    and stresses) strained from ``structures[gs_index]``: the same cells and the same fit, whoever
    labelled them (a potential's stresses on the DFT cells compare with the DFT constants)."""
    roles = _roles(structures, groups)
    sym = pc.symmetry(structures[gs_index], symprec)
    return _elastic_headline(structures, roles, gs_index, sym, max_strain, order)


def _elastic_headline(structures, roles, gs_index, sym, max_strain, order):
    """The reference constants: with ``max_strain`` given, the fit over that window at ``order``;
    otherwise every cell up to :data:`WIDE_STRAIN` with stress-strain terms up to ``order`` when
    each strained mode is sampled at enough amplitudes for them
    (:func:`~linpot.analysis.properties_crystal.nonlinear_modes`), else the linear fit over
    :data:`LINEAR_STRAIN` (central differences at 1 and 2 %)."""
    if max_strain is not None:
        return _elastic_reference(structures, roles, gs_index, sym, max_strain, order)
    if order > 1:
        wide = _elastic_reference(structures, roles, gs_index, sym, WIDE_STRAIN, order)
        strained = wide.get("strained_modes")
        if wide.get("constants_GPa") and strained and set(strained) <= set(wide.get("nonlinear_modes") or []):
            return wide
    return _elastic_reference(structures, roles, gs_index, sym, LINEAR_STRAIN, 1)


#: Strain windows (largest |Voigt component|) over which the reference constants are refitted
#: linearly to show how far the chosen fit's values can be trusted.
SPREAD_WINDOWS = (0.011, 0.021, 0.041, 0.061)


def _window_spread(structures, roles, gs_index, sym) -> dict:
    """The constants refitted on each window of :data:`SPREAD_WINDOWS`, and their range.

    Standard errors assume a linear stress-strain relation with independent noise; when a
    dataset's small-strain stresses are noisy (a few tenths of a GPa over 1 % strain is tens of GPa
    in C) or one cell is off, the constants move with the window by more than those errors, and
    this range, not the standard error, is the uncertainty of the reference."""
    by_window = {}
    for window in SPREAD_WINDOWS:
        entry = _elastic_reference(structures, roles, gs_index, sym, window)
        if entry.get("constants_GPa") and entry.get("method", "").startswith("stress"):
            by_window[f"{window:g}"] = entry["constants_GPa"]
    names = sorted({k for values in by_window.values() for k, v in values.items() if v is not None})
    spread = {k: [min(v[k] for v in by_window.values() if v.get(k) is not None),
                  max(v[k] for v in by_window.values() if v.get(k) is not None)] for k in names}
    return {"constants_by_window_GPa": by_window, "window_range_GPa": spread}


def _fit_energy(strains, energies, volume, rotations, order: int = 1):
    """Fit ``E/V0 = c0 + s0 . e + e.C e / 2`` with C in the invariant subspace (eV/Å^3); with
    ``order`` > 1, also free terms ``e_j^(p+1)`` (p = 2..order) along the strain modes
    :func:`~linpot.analysis.properties_crystal.nonlinear_modes` finds (the energy counterpart of
    the stress fit's nonlinear terms)."""
    basis = pc.invariant_basis(rotations)
    k = len(basis)
    modes = pc.nonlinear_modes(strains, order)
    target = (energies - energies.min()) / volume
    design = np.zeros((len(strains), k + 7 + len(modes) * max(order - 1, 0)))
    for p, b in enumerate(basis):
        design[:, p] = 0.5 * np.einsum("ni,ij,nj->n", strains, b, strains)
    design[:, k:k + 6] = strains
    design[:, k + 6] = 1.0
    col = k + 7
    for j in modes:
        for power in range(2, order + 1):
            design[:, col] = strains[:, j] ** (power + 1)
            col += 1
    fit = pc.least_squares(design, target)
    solution = fit["solution"]
    norms = np.linalg.norm(strains, axis=1)
    return {"C": np.tensordot(solution[:k], basis, axes=1), "sigma0": solution[k:k + 6], "basis": basis,
            "coefficients": solution[:k], "covariance": fit["covariance"][:k, :k],
            "null_space": pc.undetermined(design[norms > 0, :k] / norms[norms > 0, None] ** 2),
            "nonlinear_modes": modes, "rms_residual": fit["rms_residual"]}


def _lattice_reference(structures, roles, gs_index, sym, elastic, symprec):
    """The ground-state cell moved to zero stress, ``e = -S sigma0``, with sigma0 its own stress
    (stress route) or the linear term of the energy fit (energy route). The two differ when the
    dataset's stresses and energies disagree (a Pulay stress, different settings)."""
    gs = structures[gs_index]
    raw = pc.lattice_parameters(gs, symprec)
    out = {"ground_state_cell": raw}
    notes = []
    compliance_source = None
    if elastic.get("C_voigt_GPa") is not None:
        c_voigt, compliance_source = np.array(elastic["C_voigt_GPa"]) * GPA, "the stress-fitted constants"
    elif elastic.get("energy_route", {}).get("complete"):
        c_voigt, compliance_source = np.array(elastic["energy_route"]["C_voigt_GPa"]) * GPA, "the energy-fitted constants"
    routes = {}
    stress = _stress(gs)
    if stress is not None:
        routes["stress"] = (stress, "the ground state's own stress")
    if elastic.get("energy_route"):
        routes["energy"] = (np.array(elastic["energy_route"]["sigma0_GPa"]) * GPA,
                            "the linear term of the energy-strain fit (dE/de / V at the ground-state cell)")
    for route, (sigma, what) in routes.items():
        if compliance_source is None:
            notes.append(f"{route} route: no complete set of elastic constants to turn the residual stress into a strain")
            continue
        # the crystal's symmetry lets only the symmetric part of the residual stress move the lattice;
        # the rest is noise of the DFT relaxation
        tensor = pc.stress_tensor(sigma)
        sigma = pc.stress_voigt(sum(r @ tensor @ r.T for r in sym["rotations"]) / len(sym["rotations"]))
        strain = -np.linalg.solve(c_voigt, sigma)
        cell = gs.cell.array @ (np.eye(3) + pc.strain_tensor(strain))
        corrected = pc.lattice_parameters(_scaled_atoms(gs, cell), symprec)
        pressure = float(-np.mean(sigma[:3]) / GPA)
        out[f"{route}_route"] = dict(corrected, residual_pressure_GPa=pressure)
        notes.append(f"{route} route: residual pressure {pressure:+.3f} GPa from {what}, removed by e = -S sigma with "
                     f"S from {compliance_source}: a = {corrected['a_A']:.4f} Å")
    primary = out.get("stress_route") or out.get("energy_route")
    if primary is not None:
        out.update({k: v for k, v in primary.items()}, route="stress" if "stress_route" in out else "energy")
    else:
        out.update(raw, route="ground-state cell as stored")
        notes.append("the ground-state cell as stored: nothing to correct it with")
    if "stress_route" in out and "energy_route" in out:
        diff = out["energy_route"]["residual_pressure_GPa"] - out["stress_route"]["residual_pressure_GPa"]
        if abs(diff) > 0.5:
            notes.append(f"the energies and stresses of the dataset disagree by {diff:+.2f} GPa of pressure (a Pulay stress "
                         "or different settings); a potential fitted to energies follows the energy route")
    scan = _volume_scan(structures, roles, gs_index)
    if scan is not None:
        ratio = (scan["V0_A3_per_atom"] / (gs.get_volume() / len(gs))) ** (1 / 3)
        out["eos_scan"] = dict(scan, a_A=raw["a_A"] * ratio)
        notes.append(f"E-V fit of {scan['n_volumes']} isotropically scaled ground-state cells: a = {raw['a_A'] * ratio:.4f} Å")
    out["note"] = "; ".join(notes)
    return out


def _volume_scan(structures, roles, gs_index):
    """An E-V fit over isotropically scaled copies of the ground-state cell, if five or more."""
    from ase.eos import EquationOfState

    gs = structures[gs_index]
    volumes, energies = [], []
    for atoms in structures:
        if len(atoms) != len(gs) or _composition(atoms) != _composition(gs) or _energy(atoms) is None:
            continue
        strain, _ = pc.strain_between(gs.cell.array, atoms.cell.array)
        if np.allclose(strain, strain[0, 0] * np.eye(3), atol=2e-5) and abs(strain[0, 0]) < 0.15:
            v = atoms.get_volume() / len(atoms)
            if all(abs(v - w) > 1e-6 for w in volumes):
                volumes.append(v)
                energies.append(_energy(atoms) / len(atoms))
    if len(volumes) < 5:
        return None
    eos = EquationOfState(volumes, energies, eos="birchmurnaghan")
    v0, e0, b = eos.fit(warn=False)
    return {"n_volumes": len(volumes), "V0_A3_per_atom": float(v0), "E0_eV_per_atom": float(e0), "B_GPa": float(b / GPA)}


def _bulk_reference(elastic, lattice):
    out = {}
    if elastic.get("summary") is not None:
        s = elastic["summary"]
        out.update(B_GPa=s["B_hill_GPa"], B_voigt_GPa=s["B_voigt_GPa"], B_reuss_GPa=s["B_reuss_GPa"],
                   note="Voigt-Reuss-Hill average of the fitted elastic constants (equal for cubic crystals)")
    else:
        out.update(B_GPa=None, note="no elastic constants")
    if lattice and lattice.get("eos_scan"):
        out["B_eos_GPa"] = lattice["eos_scan"]["B_GPa"]
        out["note"] += "; B_eos_GPa from the E-V fit of the volume scan"
    return out


def _surface_reference(structures, roles, gs, e_gs, symprec):
    conventional = pc.conventional_cell(gs, symprec)
    elements = set(gs.get_chemical_symbols())
    out = []
    for k in roles.get("surface", []):
        slab = structures[k]
        entry = {"index": k, "n_atoms": len(slab), "description": str(slab.info.get("description", ""))}
        energy = _energy(slab)
        geom = pc.slab_geometry(slab)
        if energy is None or geom is None:
            entry.update(gamma_J_m2=None, note="no energy" if energy is None else "no vacuum gap found")
        elif set(slab.get_chemical_symbols()) != elements or len(elements) != 1:
            entry.update(gamma_J_m2=None, note="not a slab of the ground state's single element (needs chemical potentials)")
        else:
            gamma = (energy - len(slab) * e_gs) / (2 * geom["area_A2"]) * J_PER_M2
            miller = pc.miller_of_slab(slab, conventional, symprec)
            match = re.search(r"\((\d)_(\d)_(\d)\)", entry["description"])
            entry.update(gamma_J_m2=float(gamma), miller=None if miller is None else list(miller),
                         area_A2=geom["area_A2"], vacuum_A=geom["vacuum_A"], thickness_A=geom["thickness_A"],
                         max_force_eV_A=_max_force(slab),
                         note="(E_slab - N e_bulk) / 2A, e_bulk from the ground state; Miller indices from the geometry"
                              + (f" (description says ({match.group(1)}{match.group(2)}{match.group(3)}))" if match else ""))
        out.append(entry)
    return out


def _vacancy_reference(structures, roles, gs, e_gs, relaxed_fmax):
    cells = roles.get("vacancy", [])
    if not cells:
        return {"E_vac_eV": None, "note": "no vacancy structures in the dataset"}
    v_gs = gs.get_volume() / len(gs)
    entries, min_fmax = [], np.inf
    for k in cells:
        vac = structures[k]
        energy, fmax = _energy(vac), _max_force(vac)
        if energy is None:
            continue
        if fmax is not None:
            min_fmax = min(min_fmax, fmax)
        if fmax is None or fmax > relaxed_fmax:
            continue
        bulk_energy, source = None, None
        for j, other in enumerate(structures):
            f_other = _max_force(other)
            if (len(other) == len(vac) + 1 and np.allclose(other.cell.array, vac.cell.array, atol=1e-3)
                    and _energy(other) is not None and f_other is not None and f_other <= relaxed_fmax):
                bulk_energy, source = _energy(other) / len(other), f"structure {j} (same cell, {len(other)} atoms)"
                break
        if bulk_energy is None and abs(vac.get_volume() / (len(vac) + 1) / v_gs - 1) < 5e-3:
            bulk_energy, source = e_gs, "the ground state (same volume per site within 0.5 %)"
        if bulk_energy is None:
            continue
        entries.append({"index": k, "n_atoms": len(vac), "E_vac_eV": float(energy - len(vac) * bulk_energy),
                        "bulk": source, "max_force_eV_A": fmax})
    if not entries:
        why = (f"the {len(cells)} vacancy cells are not relaxed (smallest max |F| = {min_fmax:.2f} eV/Å > "
               f"{relaxed_fmax} eV/Å: AIMD snapshots)" if np.isfinite(min_fmax) and min_fmax > relaxed_fmax
               else "no relaxed vacancy cell with a bulk cell of the same lattice")
        return {"E_vac_eV": None, "note": why + "; no formation energy can be derived"}
    best = max(entries, key=lambda e: e["n_atoms"])
    return {"E_vac_eV": best["E_vac_eV"], "cells": entries,
            "note": f"E_vac - N_vac e_bulk for the relaxed {best['n_atoms']}-atom vacancy cell (structure {best['index']}), "
                    f"e_bulk from {best['bulk']}; constant-volume formation energy"}
