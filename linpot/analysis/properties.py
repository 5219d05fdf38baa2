"""Physical properties of a potential: what a materials scientist computes with it.

Every function takes a potential (a linpot ``Potential`` / ``CommitteePotential``, a potential
file, or any ASE calculator) and ``ase.Atoms``, runs the potential through its ASE calculator
(:class:`linpot.interfaces.calculator.Calculator`) and returns a dict of plain numbers whose keys
carry their units (``a_A``, ``B_GPa``, ``C11_GPa``, ``gamma_relaxed_J_m2``, ``E_vac_relaxed_eV``,
``min_frequency_THz``, ``alpha_per_K``). The physics is done by maintained libraries:

* equilibrium: ASE ``FrechetCellFilter`` + ``BFGS`` with ``FixSymmetry`` (cell shape and positions);
  lattice parameters of spglib's standardized conventional cell;
* energy-volume curve: isotropic scaling (positions, and for non-cubic cells the shape at fixed
  volume, relaxed at each volume), ``ase.eos.EquationOfState`` (Birch-Murnaghan), B in GPa;
* elastic constants: stress-strain central differences (``+-strain`` on each of the six Voigt
  components) on the relaxed cell, **relaxed-ion** by default (positions relaxed at each strain;
  ``relax_ions=False`` gives clamped-ion constants), Voigt 6x6 in GPa, projected onto the
  crystal's symmetry (spglib point group) and reported as its independent constants;
* phonons: phonopy finite displacements in a supercell of seekpath's standardized conventional
  cell, band structure along seekpath's path, total DOS (tetrahedron method) on a mesh, the
  lowest frequency in THz (imaginary modes are negative);
* vacancy formation energy (constant volume, relaxed and unrelaxed) and surface energies of
  ``ase.build.surface`` slabs (J/m^2, relaxed and unrelaxed);
* NVT molecular dynamics (ASE Langevin through :func:`linpot.interfaces.md.run_md`): the radial
  distribution function (``ase.geometry.rdf``) and the linear thermal expansion coefficient from
  the zero-pressure volume at two temperatures (pressure including the kinetic term, volume
  corrected with the bulk modulus and a secant step).

:func:`properties_report` runs them all, compares with DFT references extracted from a dataset
(:mod:`.properties_reference`) and writes Markdown, JSON and PNG plots.
"""

from __future__ import annotations

import functools
import json
import logging
import math
import os
import time

import numpy as np

from ..conventions import GPA
from ..errors import LinpotInputError
from ..io import atomic_write_text
from . import properties_crystal as pc
from .plots import _pyplot, _save
from .properties_reference import J_PER_M2, dft_reference, elastic_reference, read_dataset

log = logging.getLogger(__name__)


def _serial_blas(fn):
    """Run ``fn`` with one BLAS thread: the linear algebra here is on 3x3 to few-hundred-square
    matrices (optimizers, cell filters, dynamical matrices), where OpenBLAS threads only contend
    (ten times slower on a loaded machine)."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        try:
            from threadpoolctl import threadpool_limits
        except ImportError:  # pragma: no cover - threadpoolctl comes with scikit-learn
            return fn(*args, **kwargs)
        with threadpool_limits(limits=1, user_api="blas"):
            return fn(*args, **kwargs)

    return wrapper

#: Structures :func:`build_crystal` makes by name.
STRUCTURES = ("fcc", "bcc", "hcp", "diamond")

#: Low-index facets computed by default (Miller indices of the standardized conventional cell;
#: for hcp (0,0,1) is the basal (0001), (1,0,0) the prism (10-10), (1,1,0) the prism (11-20)).
DEFAULT_FACETS = {"cubic": [(1, 0, 0), (1, 1, 0), (1, 1, 1)], "hexagonal": [(0, 0, 1), (1, 0, 0), (1, 1, 0)]}


def as_calculator(potential):
    """An ASE calculator for ``potential``: a linpot potential (object or file) becomes
    :class:`linpot.interfaces.calculator.Calculator`; an ASE calculator is returned as it is."""
    from ..interfaces.calculator import Calculator
    from ..potential import CommitteePotential, Potential, load

    if isinstance(potential, (str, os.PathLike)):
        return Calculator(load(potential))
    if isinstance(potential, (Potential, CommitteePotential)):
        return Calculator(potential)
    if hasattr(potential, "get_potential_energy") or hasattr(potential, "calculate"):
        return potential
    raise LinpotInputError(f"not a potential or an ASE calculator: {type(potential).__name__}")


def build_crystal(symbol: str, structure: str, a: float | None = None, c_over_a: float | None = None):
    """``ase.build.bulk`` crystal of ``symbol`` (conventional cubic cell for fcc, bcc, diamond;
    the 2-atom cell for hcp). Without ``a``, the lattice parameter is guessed from the element's
    reference volume per atom (ASE's reference state), to be relaxed afterwards."""
    from ase.build import bulk

    if structure not in STRUCTURES:
        raise LinpotInputError(f"unknown structure {structure!r} (known: {', '.join(STRUCTURES)}, or pass ase.Atoms)")
    q = c_over_a or math.sqrt(8 / 3)
    if a is None:
        v = _reference_volume(symbol)
        atoms_per_cell = {"fcc": 4, "bcc": 2, "diamond": 8}
        a = (4 * v / (math.sqrt(3) * q)) ** (1 / 3) if structure == "hcp" else (atoms_per_cell[structure] * v) ** (1 / 3)
    if structure == "hcp":
        return bulk(symbol, "hcp", a=a, c=q * a)
    return bulk(symbol, structure, a=a, cubic=True)


def _reference_volume(symbol: str) -> float:
    from ase.build import bulk
    from ase.data import atomic_numbers, covalent_radii

    try:
        ref = bulk(symbol)
        return ref.get_volume() / len(ref)
    except Exception:
        d = 2 * covalent_radii[atomic_numbers[symbol]]
        return d ** 3 / math.sqrt(2)


@_serial_blas
def relax_structure(calc, atoms, fmax: float = 1e-4, steps: int = 1000, relax_cell: bool = True,
                    keep_symmetry: bool = True, constant_volume: bool = False, symprec: float = 1e-3):
    """A relaxed copy of ``atoms`` with ``calc`` attached: positions, and with ``relax_cell``
    the cell (``ase.filters.FrechetCellFilter``, zero pressure, or at ``constant_volume``), by
    BFGS to ``fmax`` (eV/Å; the cell's generalized forces are stress x volume, eV). With
    ``keep_symmetry`` (``ase.constraints.FixSymmetry``) the space group is kept. ``info``
    records ``relax_converged`` and ``relax_steps``."""
    from ase.constraints import FixSymmetry
    from ase.filters import FrechetCellFilter
    from ase.optimize import BFGS

    atoms = atoms.copy()
    atoms.calc = calc
    if keep_symmetry:
        atoms.set_constraint(FixSymmetry(atoms, symprec=symprec))
    target = FrechetCellFilter(atoms, constant_volume=constant_volume) if relax_cell else atoms
    opt = BFGS(target, logfile=None)
    converged = bool(opt.run(fmax=fmax, steps=steps))
    atoms.set_constraint()
    if not converged:
        log.warning("relaxation of %s not converged to %g eV/Å in %d steps", atoms.get_chemical_formula(), fmax, steps)
    atoms.info["relax_converged"] = converged
    atoms.info["relax_steps"] = int(opt.nsteps)
    return atoms


@_serial_blas
def equilibrium(potential, atoms, fmax: float = 1e-4, symprec: float = 1e-3) -> dict:
    """Relax cell shape and positions; lattice parameters (Å) of the standardized conventional
    cell, volume (Å^3/atom), energy (eV/atom), residual stress (GPa) and space group."""
    calc = as_calculator(potential)
    relaxed = relax_structure(calc, atoms, fmax=fmax, symprec=symprec)
    return _equilibrium_summary(relaxed, symprec)


def _equilibrium_summary(relaxed, symprec):
    out = pc.lattice_parameters(relaxed, symprec)
    out["energy_per_atom_eV"] = float(relaxed.get_potential_energy() / len(relaxed))
    out["residual_stress_GPa"] = (relaxed.get_stress(voigt=True) / GPA).tolist()
    out["relax_converged"] = bool(relaxed.info.get("relax_converged", True))
    return out


@_serial_blas
def equation_of_state(potential, atoms, volume_range: float = 0.04, n_points: int = 9, eos: str = "birchmurnaghan",
                      fmax: float = 1e-4, symprec: float = 1e-3, pressure_step: float = 0.005) -> dict:
    """Energy-volume curve of ``atoms`` (best relaxed first) scaled isotropically over volumes
    ``V0 (1 +- volume_range)``, positions relaxed at each volume (and the cell shape at fixed
    volume for non-cubic crystals), fitted with ``ase.eos.EquationOfState``: ``V0_A3_per_atom``,
    ``E0_eV_per_atom``, ``B_GPa``, ``B_prime`` (where the EOS form has one), the fit's RMS
    residual, the lattice parameter ``a0_A`` at V0 and the points. Also ``B_pressure_GPa``,
    ``-V dP/dV`` at the given volume by central differences of the pressure at volumes
    ``V (1 +- pressure_step)``: the local bulk modulus, which differs from the fitted one when
    the potential's E(V) is not of the EOS form over the range (a strongly negative ``B_prime``
    is the sign)."""
    from ase.eos import EquationOfState

    calc = as_calculator(potential)
    cubic = pc.symmetry(atoms, symprec)["crystal_system"] == "cubic"
    n = len(atoms)
    volumes, energies = [], []
    for f in np.linspace(1 - volume_range, 1 + volume_range, n_points):
        scaled = atoms.copy()
        scaled.set_cell(atoms.cell.array * f ** (1 / 3), scale_atoms=True)
        scaled = relax_structure(calc, scaled, fmax=fmax, relax_cell=not cubic, constant_volume=True, symprec=symprec)
        volumes.append(scaled.get_volume() / n)
        energies.append(scaled.get_potential_energy() / n)
    fit = EquationOfState(volumes, energies, eos=eos)
    v0, e0, b = fit.fit(warn=False)
    params = getattr(fit, "eos_parameters", None)
    residual = np.array(energies) - np.array([fit.func(v, *params) for v in volumes]) if params is not None else None
    pressures = []
    for f in (1 - pressure_step, 1 + pressure_step):
        scaled = atoms.copy()
        scaled.set_cell(atoms.cell.array * f ** (1 / 3), scale_atoms=True)
        scaled = relax_structure(calc, scaled, fmax=fmax, relax_cell=not cubic, constant_volume=True, symprec=symprec)
        pressures.append(-np.mean(scaled.get_stress(voigt=True)[:3]))
    lattice = pc.lattice_parameters(atoms, symprec)
    ratio = (v0 / (atoms.get_volume() / n)) ** (1 / 3)
    return {"eos": eos, "V0_A3_per_atom": float(v0), "E0_eV_per_atom": float(e0), "B_GPa": float(b / GPA),
            "B_prime": float(params[2]) if params is not None and len(params) >= 4 else None,
            "rms_fit_residual_meV_per_atom": None if residual is None else float(np.sqrt(np.mean(residual ** 2)) * 1e3),
            "B_pressure_GPa": float((pressures[0] - pressures[1]) / (2 * pressure_step) / GPA),
            "volume_range": volume_range, "a0_A": float(lattice["a_A"] * ratio),
            "volumes_A3_per_atom": [float(v) for v in volumes], "energies_eV_per_atom": [float(e) for e in energies]}


@_serial_blas
def elastic_constants(potential, atoms, strain: float = 0.005, relax_ions: bool = True, fmax: float = 1e-5,
                      symprec: float = 1e-3) -> dict:
    """Elastic constants (GPa) of ``atoms`` (relaxed first) by central differences of the stress:
    each Voigt strain component ``+-strain`` (engineering shear strain for 4-6), ``C_IJ =
    (sigma_I(+) - sigma_I(-)) / (2 strain)``. With ``relax_ions`` (default) the positions are
    relaxed at each strain to ``fmax``: relaxed-ion constants; otherwise clamped-ion.

    Returns the symmetry-independent constants (``C11_GPa`` ...; cubic C11 C12 C44, hexagonal
    C11 C12 C13 C33 C44), the Voigt 6x6 matrix projected onto the crystal's symmetry
    (``C_voigt_GPa``) and as computed (``C_raw_GPa``; their largest difference is
    ``symmetry_deviation_GPa``), Voigt/Reuss/Hill moduli, Born stability and ``ions``."""
    calc = as_calculator(potential)
    sym = pc.symmetry(atoms, symprec)
    cell0 = atoms.cell.array
    strains, stresses = [], []
    raw = np.zeros((6, 6))
    for j in range(6):
        pair = []
        for sign in (1.0, -1.0):
            ev = np.zeros(6)
            ev[j] = sign * strain
            strained = atoms.copy()
            strained.set_cell(cell0 @ (np.eye(3) + pc.strain_tensor(ev)), scale_atoms=True)
            if relax_ions:
                strained = relax_structure(calc, strained, fmax=fmax, relax_cell=False, keep_symmetry=False)
            else:
                strained.calc = calc
            sigma = strained.get_stress(voigt=True)
            strains.append(ev)
            stresses.append(sigma)
            pair.append(sigma)
        raw[:, j] = (pair[0] - pair[1]) / (2 * strain)
    fit = pc.fit_stiffness(np.array(strains), np.array(stresses), sym["rotations"])
    c_gpa = fit["C"] / GPA
    raw_gpa = raw / GPA
    out = pc.elastic_summary(c_gpa, sym)
    out.update(ions="relaxed" if relax_ions else "clamped", strain=strain, crystal_system=sym["crystal_system"],
               spacegroup=f"{sym['international']} ({sym['number']})", C_raw_GPa=np.round(raw_gpa, 6).tolist(),
               symmetry_deviation_GPa=float(np.max(np.abs(raw_gpa - c_gpa))))
    return out


@_serial_blas
def phonons(potential, atoms, min_length: float = 9.0, distance: float = 0.01, mesh: float | tuple = 40.0,
            npoints: int = 51, symprec: float = 1e-5, imaginary_tolerance_THz: float = 0.05) -> dict:
    """Phonons of ``atoms`` (relaxed) by phonopy's finite displacements (``distance`` Å) in a
    supercell of seekpath's standardized conventional cell with every width at least
    ``min_length`` Å. Returns the band structure along seekpath's standard path (``band``:
    ``distances``, ``frequencies_THz`` per segment, ``ticks`` and ``labels``), the total DOS on a
    mesh (``dos``: ``frequency_THz``, ``states_per_THz``), the frequencies at Gamma, the lowest
    frequency over path and mesh (``min_frequency_THz``, negative = imaginary) and
    ``imaginary_modes`` (lowest below ``-imaginary_tolerance_THz``). The force constants are not
    symmetrized, so the acoustic frequencies at Gamma test the forces' translational invariance."""
    import seekpath
    from ase import Atoms
    from phonopy import Phonopy
    from phonopy.structure.atoms import PhonopyAtoms

    calc = as_calculator(potential)
    path = seekpath.get_path(pc.spglib_cell(atoms), with_time_reversal=True, symprec=max(symprec, 1e-5))
    conv = Atoms(numbers=path["conv_types"], cell=path["conv_lattice"], scaled_positions=path["conv_positions"], pbc=True)
    repeats = pc.supercell_repeats(conv, min_length)
    unit = PhonopyAtoms(numbers=conv.numbers, cell=conv.cell.array, scaled_positions=conv.get_scaled_positions())
    phonon = Phonopy(unit, supercell_matrix=np.diag(repeats), primitive_matrix=np.array(path["primitive_transformation_matrix"]).T,
                     symprec=symprec)
    phonon.generate_displacements(distance=distance)

    def forces(cell):
        sc = Atoms(numbers=cell.numbers, cell=cell.cell, scaled_positions=cell.scaled_positions, pbc=True)
        sc.calc = calc
        return sc.get_forces()

    f0 = forces(phonon.supercell)
    phonon.forces = np.array([forces(sc) - f0 for sc in phonon.supercells_with_displacements])
    phonon.produce_force_constants()
    if not np.allclose(phonon.primitive.cell, path["primitive_lattice"], atol=1e-6):  # pragma: no cover
        raise LinpotInputError("phonopy's primitive cell differs from seekpath's: the q-path would be wrong")

    coords = path["point_coords"]
    reciprocal = np.linalg.inv(phonon.primitive.cell).T
    lengths = [np.linalg.norm((np.array(coords[b]) - np.array(coords[a])) @ reciprocal.T) for a, b in path["path"]]
    step = max(lengths) / (npoints - 1)
    bands = [np.linspace(coords[a], coords[b], max(int(round(length / step)) + 1, 3)) for (a, b), length in zip(path["path"], lengths)]
    phonon.run_band_structure(bands)
    band_structure = phonon.band_structure
    bs = {"distances": band_structure.distances, "frequencies": band_structure.frequencies}
    phonon.run_qpoints([[0.0, 0.0, 0.0]])
    gamma = phonon.qpoints.frequencies[0]
    phonon.run_mesh(mesh)
    mesh_freq = phonon.mesh.frequencies
    phonon.run_total_dos()
    dos = {"frequency_points": phonon.total_dos.frequency_points, "total_dos": phonon.total_dos.dos}

    ticks, labels = [float(bs["distances"][0][0])], [_label(path["path"][0][0])]
    for k, (_, b) in enumerate(path["path"]):
        end = float(bs["distances"][k][-1])
        following = path["path"][k + 1][0] if k + 1 < len(path["path"]) else None
        ticks.append(end)
        labels.append(_label(b) if following in (None, b) else f"{_label(b)}|{_label(following)}")
    band_min = min(float(np.min(f)) for f in bs["frequencies"])
    lowest = min(band_min, float(np.min(mesh_freq)))
    return {"supercell": list(repeats), "n_atoms_supercell": len(phonon.supercell),
            "n_displacements": len(phonon.supercells_with_displacements),
            "distance_A": distance, "gamma_frequencies_THz": [float(x) for x in gamma],
            "min_frequency_THz": lowest, "max_frequency_THz": float(max(np.max(f) for f in bs["frequencies"])),
            "imaginary_modes": bool(lowest < -imaginary_tolerance_THz),
            "band": {"distances": [np.asarray(d).tolist() for d in bs["distances"]],
                     "frequencies_THz": [np.asarray(f).tolist() for f in bs["frequencies"]], "ticks": ticks, "labels": labels},
            "dos": {"frequency_THz": np.asarray(dos["frequency_points"]).tolist(), "states_per_THz": np.asarray(dos["total_dos"]).tolist()}}


def _label(name: str) -> str:
    return "Γ" if name.upper() == "GAMMA" else name.replace("_", "")


@_serial_blas
def vacancy_formation_energy(potential, atoms, min_length: float = 9.0, fmax: float = 5e-3, steps: int = 500,
                             symprec: float = 1e-3) -> dict:
    """Formation energy (eV) of one vacancy in a supercell of the conventional cell of ``atoms``
    (relaxed bulk) with widths of at least ``min_length`` Å: ``E_f = E(N-1) - (N-1)/N E(N)`` at the
    bulk's cell (constant volume), unrelaxed and with the positions relaxed to ``fmax``."""
    calc = as_calculator(potential)
    conv = pc.conventional_cell(atoms, symprec)
    repeats = pc.supercell_repeats(conv, min_length)
    bulk = conv * repeats
    bulk.calc = calc
    n = len(bulk)
    e_bulk = bulk.get_potential_energy()
    vac = bulk.copy()
    del vac[0]
    vac.calc = calc
    e_unrelaxed = vac.get_potential_energy()
    relaxed = relax_structure(calc, vac, fmax=fmax, steps=steps, relax_cell=False, keep_symmetry=False)
    e_relaxed = relaxed.get_potential_energy()
    return {"E_vac_unrelaxed_eV": float(e_unrelaxed - (n - 1) / n * e_bulk), "E_vac_relaxed_eV": float(e_relaxed - (n - 1) / n * e_bulk),
            "n_atoms": n, "supercell": list(repeats), "relax_converged": bool(relaxed.info["relax_converged"]),
            "note": "constant-volume supercell at the relaxed bulk lattice; positions relaxed"}


@_serial_blas
def slab_surface_energy(potential, slab, e_bulk_per_atom: float, relax: bool = True, fmax: float = 5e-3,
                        steps: int = 500) -> dict:
    """Surface energy (J/m^2) of ``slab`` (periodic, with a vacuum gap along one cell vector):
    ``(E_slab - N e_bulk) / (2 A)`` as given (unrelaxed) and with the positions relaxed."""
    calc = as_calculator(potential)
    geom = pc.slab_geometry(slab)
    if geom is None:
        raise LinpotInputError("no vacuum gap in the slab")
    slab = slab.copy()
    slab.calc = calc
    n = len(slab)
    area = geom["area_A2"]
    out = {"n_atoms": n, "area_A2": area, "thickness_A": geom["thickness_A"], "vacuum_A": geom["vacuum_A"],
           "gamma_unrelaxed_J_m2": float((slab.get_potential_energy() - n * e_bulk_per_atom) / (2 * area) * J_PER_M2)}
    if relax:
        relaxed = relax_structure(calc, slab, fmax=fmax, steps=steps, relax_cell=False, keep_symmetry=False)
        out["gamma_relaxed_J_m2"] = float((relaxed.get_potential_energy() - n * e_bulk_per_atom) / (2 * area) * J_PER_M2)
        out["relax_converged"] = bool(relaxed.info["relax_converged"])
    return out


@_serial_blas
def surface_energies(potential, atoms, facets=None, min_thickness: float = 10.0, vacuum: float = 12.0, relax: bool = True,
                     fmax: float = 5e-3, symprec: float = 1e-3) -> dict:
    """Surface energies (J/m^2, unrelaxed and relaxed) of ``facets`` (Miller indices of the
    standardized conventional cell; default: the low-index facets of the crystal system) for
    slabs cut by ``ase.build.surface`` from the conventional cell of ``atoms`` (relaxed), at least
    ``min_thickness`` Å thick with ``vacuum`` Å of vacuum (:func:`build_slab`). Keys
    ``"(h,k,l)"``."""
    calc = as_calculator(potential)
    conv = pc.conventional_cell(atoms, symprec)
    conv.calc = calc
    e_bulk = conv.get_potential_energy() / len(conv)
    if facets is None:
        facets = DEFAULT_FACETS.get(pc.symmetry(conv, symprec)["crystal_system"], [(1, 0, 0), (0, 1, 0), (0, 0, 1)])
    out = {}
    for hkl in facets:
        hkl = tuple(int(x) for x in hkl)
        slab = build_slab(conv, hkl, min_thickness, vacuum)
        entry = slab_surface_energy(calc, slab, e_bulk, relax=relax, fmax=fmax)
        entry["miller"] = list(hkl)
        out[_miller_key(hkl)] = entry
    return out


def build_slab(conventional, hkl, min_thickness: float = 10.0, vacuum: float = 12.0):
    """A slab of the (hkl) facet of ``conventional`` made of whole atomic planes, at least
    ``min_thickness`` Å thick, with ``vacuum`` Å of vacuum. ``ase.build.surface`` cuts the slab;
    its end planes can come out partial (an atom on the cell boundary wraps to the other face to
    within rounding), so planes holding fewer atoms than the others are dropped; where the
    spacings between planes alternate (multi-atom bases: diamond (111), hcp prism planes) end
    planes are dropped until each face is cut at the widest spacing, where the fewest bonds break."""
    from ase.build import surface

    one = surface(conventional, hkl, 1, vacuum=5.0)
    geom = pc.slab_geometry(one, min_gap=1.0)
    spacing = abs(np.linalg.det(conventional.cell.array)) / geom["area_A2"]  # thickness of one repeat
    layers = max(2, int(np.ceil(min_thickness / spacing))) + 2
    slab = surface(conventional, hkl, layers, vacuum=vacuum / 2)
    normal = pc.slab_geometry(slab, min_gap=1.0)["normal"]
    z = slab.positions @ normal
    order = np.argsort(z)
    planes = np.split(order, np.nonzero(np.diff(z[order]) > 1e-3)[0] + 1)
    full = max(len(p) for p in planes)
    planes = [p for p in planes if len(p) == full]
    heights = np.array([float(np.mean(z[p])) for p in planes])
    if len(planes) > 2:
        # the spacings repeat with some period; the (virtual) spacing outside an end plane is the
        # one a period away inside: drop end planes until that outside spacing is the widest
        gaps = np.diff(heights)
        period = next((q for q in range(1, len(gaps)) if np.allclose(gaps[q:], gaps[:-q], atol=1e-3)), len(gaps))
        widest = gaps.max()
        start, stop = 0, len(planes)
        while stop - start > period + 1 and gaps[start + period - 1] < widest - 1e-3:
            start += 1
        while stop - start > period + 1 and gaps[stop - 1 - period] < widest - 1e-3:
            stop -= 1
        # drop surplus periods beyond the wanted thickness (terminations unchanged)
        while stop - start > 2 * period and heights[stop - 1] - heights[start + period] >= min_thickness - 1e-6:
            start += period
        planes = planes[start:stop]
    slab = slab[np.sort(np.concatenate(planes))]
    slab.center(vacuum=vacuum / 2, axis=2)
    slab.pbc = True
    return slab


def _miller_key(hkl) -> str:
    return "(" + ",".join(str(int(x)) for x in hkl) + ")"


@_serial_blas
def nvt_run(potential, atoms, temperature_K: float, steps: int = 1000, timestep_fs: float = 2.0, interval: int = 10,
            equilibration: float = 0.25, rdf_rmax: float | None = None, rdf_nbins: int = 100, seed: int = 0) -> dict:
    """A Langevin NVT run of ``atoms`` (the cell as given) at ``temperature_K``: mean pressure
    (GPa, virial plus kinetic term) with its standard error (five blocks), mean temperature (K),
    and the radial distribution function ``g(r)`` averaged over the frames after the first
    ``equilibration`` fraction (``r_A``, ``g``; ``first_peak_A``)."""
    from ase.geometry.rdf import get_rdf

    from ..interfaces.md import run_md

    calc = as_calculator(potential)
    system = atoms.copy()
    system.calc = calc
    cell = system.cell.array
    width = min(abs(np.linalg.det(cell)) / np.linalg.norm(np.cross(cell[(i + 1) % 3], cell[(i + 2) % 3])) for i in range(3))
    rmax = rdf_rmax or 0.49 * width
    pressures, rdfs = [], []
    r_axis = None

    def on_frame(frame):
        nonlocal r_axis
        pressures.append(float(-np.mean(frame.get_stress(voigt=True, include_ideal_gas=True)[:3])))
        g, r = get_rdf(frame, rmax, rdf_nbins)
        rdfs.append(g)
        r_axis = r

    result = run_md(system, "nvt", steps, timestep_fs=timestep_fs, temperature_K=temperature_K, interval=interval,
                    seed=seed, on_frame=on_frame)
    t = np.array(result["records"]["time_ps"])
    keep = t >= equilibration * t[-1]
    p = np.array(pressures)[keep] / GPA
    blocks = np.array_split(p, 5) if len(p) >= 5 else [p]
    block_means = np.array([b.mean() for b in blocks])
    stderr = float(block_means.std(ddof=1) / np.sqrt(len(blocks))) if len(blocks) > 1 else float("nan")
    g = np.mean(np.array(rdfs)[keep], axis=0)
    return {"temperature_K": temperature_K, "mean_temperature_K": float(np.mean(np.array(result["records"]["temperature"])[keep])),
            "pressure_GPa": float(p.mean()), "pressure_stderr_GPa": stderr, "volume_A3_per_atom": float(system.get_volume() / len(system)),
            "n_atoms": len(system), "steps": steps, "timestep_fs": timestep_fs, "n_frames": int(keep.sum()),
            "r_A": np.asarray(r_axis).tolist(), "g": g.tolist(), "first_peak_A": float(np.asarray(r_axis)[int(np.argmax(g))]),
            "us_per_atom_step": result["us_per_atom_step"]}


@_serial_blas
def thermal_expansion(potential, atoms, temperatures_K=(300.0, 600.0), bulk_modulus_GPa: float | None = None,
                      steps: int = 1000, timestep_fs: float = 2.0, min_length: float = 10.0, n_volumes: int = 2,
                      seed: int = 0, symprec: float = 1e-3) -> dict:
    """Linear thermal expansion coefficient (1/K) between two temperatures from NVT runs (classical
    MD, no zero-point motion) of a supercell of the conventional cell of ``atoms`` (relaxed) with
    widths at least ``min_length`` Å. At each temperature the zero-pressure volume is found from
    the mean pressure: first run at the 0 K volume, then ``V <- V (1 + P/B)`` with the bulk modulus
    ``B`` (from the EOS if not given); with ``n_volumes = 2`` a second run at that volume and the
    secant through both (P, V) points. ``alpha = (a(T2) - a(T1)) / (a(T1) (T2 - T1))``, with a
    propagated standard error. The RDF of the last run at each temperature is returned too."""
    conv = pc.conventional_cell(atoms, symprec)
    system = conv * pc.supercell_repeats(conv, min_length)
    if bulk_modulus_GPa is None:
        bulk_modulus_GPa = equation_of_state(potential, atoms, symprec=symprec)["B_GPa"]
    v0 = system.get_volume()
    per_t = []
    for k, temperature in enumerate(temperatures_K):
        points = []
        volume = v0
        for run in range(max(1, n_volumes)):
            scaled = system.copy()
            scaled.set_cell(system.cell.array * (volume / v0) ** (1 / 3), scale_atoms=True)
            md = nvt_run(potential, scaled, temperature, steps=steps, timestep_fs=timestep_fs, seed=seed + 10 * k + run)
            points.append((volume, md["pressure_GPa"], md["pressure_stderr_GPa"], md))
            if run == 0 or abs(points[-1][1] - points[-2][1]) < 1e-9:
                volume = volume * (1 + md["pressure_GPa"] / bulk_modulus_GPa)
            else:
                (va, pa, *_), (vb, pb, *_) = points[-2], points[-1]
                volume = vb - pb * (vb - va) / (pb - pa)
        v_t = volume
        stderr_v = v_t * points[-1][2] / bulk_modulus_GPa if np.isfinite(points[-1][2]) else float("nan")
        md = points[-1][3]
        per_t.append({"temperature_K": float(temperature), "volume_A3_per_atom": float(v_t / len(system)),
                      "volume_stderr_A3_per_atom": float(stderr_v / len(system)),
                      "runs": [{"volume_A3_per_atom": float(v / len(system)), "pressure_GPa": p, "pressure_stderr_GPa": e}
                               for v, p, e, _ in points],
                      "rdf": {"r_A": md["r_A"], "g": md["g"], "first_peak_A": md["first_peak_A"]},
                      "mean_temperature_K": md["mean_temperature_K"]})
    a0 = pc.lattice_parameters(atoms, symprec)["a_A"]
    v_atom0 = v0 / len(system)
    for entry in per_t:
        entry["a_A"] = float(a0 * (entry["volume_A3_per_atom"] / v_atom0) ** (1 / 3))
    out = {"temperatures_K": [float(t) for t in temperatures_K], "per_temperature": per_t, "n_atoms": len(system),
           "steps_per_run": steps, "timestep_fs": timestep_fs, "bulk_modulus_GPa": float(bulk_modulus_GPa)}
    if len(per_t) >= 2:
        t1, t2 = per_t[0], per_t[-1]
        v1, v2 = t1["volume_A3_per_atom"], t2["volume_A3_per_atom"]
        dt = t2["temperature_K"] - t1["temperature_K"]
        alpha = ((v2 / v1) ** (1 / 3) - 1) / dt
        err = math.sqrt((t1["volume_stderr_A3_per_atom"] / v1) ** 2 + (t2["volume_stderr_A3_per_atom"] / v2) ** 2) / (3 * dt)
        out.update(alpha_per_K=float(alpha), alpha_stderr_per_K=float(err), alpha_1e6_per_K=float(alpha * 1e6))
    return out


# --- the report --------------------------------------------------------------------------------


def _json_ready(value):
    if isinstance(value, dict):
        return {str(k): _json_ready(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_json_ready(v) for v in value]
    if isinstance(value, np.ndarray):
        return _json_ready(value.tolist())
    if isinstance(value, (np.floating, float)):
        return None if not np.isfinite(value) else float(value)
    if isinstance(value, (np.integer,)):
        return int(value)
    if isinstance(value, (np.bool_,)):
        return bool(value)
    return value


@_serial_blas
def properties_report(potential, structure="fcc", reference_dataset=None, output_dir=None, *, symbol: str | None = None,
                      md_steps: int = 1000, temperatures_K=(300.0, 600.0), timestep_fs: float = 2.0,
                      supercell_length_A: float = 9.0, facets=None, skip=(), dataset_slabs: bool = True,
                      elastic_strain: float = 0.005, symprec: float = 1e-3, title: str | None = None) -> tuple[dict, str]:
    """Run every property for ``potential`` on ``structure`` (``"fcc"``, ``"bcc"``, ``"hcp"``,
    ``"diamond"`` of the potential's single element or ``symbol``; a structure file; or
    ``ase.Atoms``) and, with ``reference_dataset`` (a path, several paths or a list of Atoms, read before
    anything is computed), the DFT
    references of :func:`~linpot.analysis.properties_reference.dft_reference` and the potential's
    surface energies on the dataset's own slabs (``dataset_slabs``).

    ``skip`` names sections to leave out (``"eos"``, ``"elastic"``, ``"phonons"``, ``"vacancy"``,
    ``"surfaces"``, ``"md"``). ``md_steps`` per NVT run (four runs: two temperatures, two
    volumes), ``supercell_length_A`` the smallest width of the phonon and vacancy supercells (the
    MD supercell gets one more Å). Returns ``(results, markdown)``; with ``output_dir`` also
    writes ``properties.md``, ``properties.json`` and the PNG plots there (atomic writes)."""
    t_start = time.perf_counter()
    calc = as_calculator(potential)
    label = title or _potential_label(potential)
    atoms, structure_name = _structure(structure, calc, symbol)
    results = {"potential": label, "structure": structure_name, "timings_s": {}, "settings": {
        "md_steps": md_steps, "temperatures_K": list(temperatures_K), "timestep_fs": timestep_fs,
        "supercell_length_A": supercell_length_A, "elastic_strain": elastic_strain, "symprec": symprec}}
    timings = results["timings_s"]

    def timed(name, fn):
        t0 = time.perf_counter()
        value = fn()
        timings[name] = round(time.perf_counter() - t0, 2)
        log.info("properties: %s done in %.1f s", name, timings[name])
        return value

    structures = None if reference_dataset is None else read_dataset(reference_dataset)
    relaxed = timed("equilibrium", lambda: relax_structure(calc, atoms, symprec=symprec))
    results["equilibrium"] = _equilibrium_summary(relaxed, symprec)
    if "eos" not in skip:
        results["eos"] = timed("eos", lambda: equation_of_state(calc, relaxed, symprec=symprec))
    if "elastic" not in skip:
        results["elastic"] = timed("elastic", lambda: elastic_constants(calc, relaxed, strain=elastic_strain, symprec=symprec))
    if "phonons" not in skip:
        results["phonons"] = timed("phonons", lambda: phonons(calc, relaxed, min_length=supercell_length_A))
    if "vacancy" not in skip:
        results["vacancy"] = timed("vacancy", lambda: vacancy_formation_energy(calc, relaxed, min_length=supercell_length_A,
                                                                               symprec=symprec))
    reference = None
    if structures is not None:
        reference = timed("reference", lambda: dft_reference(structures))
        results["reference"] = reference
        if "elastic" not in skip and (reference.get("elastic") or {}).get("constants_GPa"):
            results["elastic_at_dft_volume"] = timed("elastic_at_dft_volume", lambda: _elastic_at_reference_volume(
                calc, relaxed, structures[reference["ground_state"]["index"]], elastic_strain, symprec))
            results["elastic_on_dft_cells"] = timed("elastic_on_dft_cells", lambda: _elastic_on_reference_cells(
                calc, structures, reference))
    if "surfaces" not in skip:
        wanted = None if facets is None else [tuple(f) for f in facets]
        if wanted is None and reference is not None:
            found = [tuple(s["miller"]) for s in reference["surfaces"] if s.get("miller")]
            wanted = sorted(set(found), key=lambda h: (sum(abs(x) for x in h), h)) or None
        results["surfaces"] = timed("surfaces", lambda: surface_energies(calc, relaxed, facets=wanted, symprec=symprec))
        if reference is not None and dataset_slabs and reference["surfaces"]:
            results["dataset_slabs"] = timed("dataset_slabs", lambda: _dataset_slabs(calc, relaxed, reference, structures))
    if "md" not in skip:
        bulk_modulus = results.get("eos", {}).get("B_GPa")
        results["md"] = timed("md", lambda: thermal_expansion(calc, relaxed, temperatures_K=temperatures_K, bulk_modulus_GPa=bulk_modulus,
                                                               steps=md_steps, timestep_fs=timestep_fs,
                                                               min_length=supercell_length_A + 1.0, symprec=symprec))
    results["comparison"] = _comparison(results, reference)
    timings["total"] = round(time.perf_counter() - t_start, 2)
    results = _json_ready(results)
    figures = {}
    if output_dir is not None:
        os.makedirs(output_dir, exist_ok=True)
        figures = _plots(results, output_dir, label)
    results["figures"] = figures
    markdown = _markdown(results, figures)
    if output_dir is not None:
        atomic_write_text(os.path.join(output_dir, "properties.md"), markdown)
        atomic_write_text(os.path.join(output_dir, "properties.json"), json.dumps(results, indent=1, ensure_ascii=False) + "\n")
    return results, markdown


def _potential_label(potential) -> str:
    if isinstance(potential, (str, os.PathLike)):
        return os.path.basename(os.fspath(potential))
    return type(potential).__name__


def _structure(structure, calc, symbol):
    from ase import Atoms

    if isinstance(structure, Atoms):
        return structure.copy(), structure.get_chemical_formula()
    if isinstance(structure, str) and structure in STRUCTURES:
        if symbol is None:
            elements = getattr(getattr(calc, "potential", None), "elements", None)
            if not elements or len(elements) != 1:
                raise LinpotInputError(f"say which element to build {structure} of (symbol=...): the potential has "
                                       f"elements {elements}")
            symbol = elements[0]
        return build_crystal(symbol, structure), f"{structure} {symbol}"
    if isinstance(structure, (str, os.PathLike)) and os.path.exists(structure):
        import ase.io

        return ase.io.read(structure), os.path.basename(os.fspath(structure))
    raise LinpotInputError(f"unknown structure {structure!r}: {', '.join(STRUCTURES)}, a structure file or ase.Atoms")


def _elastic_at_reference_volume(calc, relaxed, ground_state, strain, symprec) -> dict:
    """Elastic constants of the potential's relaxed crystal scaled isotropically to the volume per
    atom of the dataset's ground-state cell: the DFT constants are stress-strain slopes around that
    cell, and when it is not at the potential's (or DFT's) zero-pressure volume, constants at two
    volumes differ by roughly dC/dP x the pressure between them (dC/dP is 4-6 for metals)."""
    v_ref = ground_state.get_volume() / len(ground_state)
    scale = (v_ref / (relaxed.get_volume() / len(relaxed))) ** (1 / 3)
    atoms = relaxed.copy()
    atoms.set_cell(relaxed.cell.array * scale, scale_atoms=True)
    out = elastic_constants(calc, atoms, strain=strain, symprec=symprec)
    atoms.calc = calc
    out.update(volume_per_atom_A3=v_ref, lattice_scale=scale,
               pressure_GPa=float(-np.mean(atoms.get_stress(voigt=True)[:3]) / GPA))
    return out


#: (window, order) of the stress-strain fits the potential and the DFT are compared over, beside
#: the reference's own: how far the comparison depends on the choice of fit.
COMPARISON_FITS = ((0.021, 1), (0.041, 3), (0.061, 3), (0.101, 3), (0.101, 5))


def _elastic_on_reference_cells(calc, structures, reference) -> dict:
    """The DFT reference's elastic fit (:func:`~linpot.analysis.properties_reference.elastic_reference`:
    the same window, order and symmetry) run on the potential's energies and stresses of the
    dataset's own strained cells: the same strains, the same volume and the same fit as the DFT
    constants, so the difference is the potential's alone. (Constants of the potential's relaxed
    crystal also differ from these by the pressure between its equilibrium volume and the
    dataset's ground-state cell, and by what a fit over finite strains does to them.)

    ``by_fit``: the DFT and the potential's constants for each fit of :data:`COMPARISON_FITS`
    that the cells allow, and ``difference_range_percent`` per constant over them: noisy DFT
    stresses move the DFT constants with the fit while a smooth potential's barely move."""
    from ase.calculators.singlepoint import SinglePointCalculator

    ref_el = reference["elastic"]
    gs_index = reference["ground_state"]["index"]
    headline = (ref_el["max_strain"], ref_el["order"])
    fits = list(dict.fromkeys([headline, *COMPARISON_FITS]))
    dft = {fit: elastic_reference(structures, gs_index, max_strain=fit[0], order=fit[1]) for fit in fits}
    relabelled = list(structures)
    for k in sorted({k for result in dft.values() for k in result.get("cells") or []}):
        atoms = structures[k].copy()
        atoms.calc = calc
        energy, stress = atoms.get_potential_energy(), atoms.get_stress(voigt=True)
        labelled = structures[k].copy()
        labelled.info.update(structures[k].info)
        labelled.calc = SinglePointCalculator(labelled, energy=energy, stress=stress)
        relabelled[k] = labelled
    pot = {fit: elastic_reference(relabelled, gs_index, max_strain=fit[0], order=fit[1]) for fit in fits}
    by_fit, differences = {}, {}
    for window, order in COMPARISON_FITS:
        d = dft[window, order].get("constants_GPa") or {}
        p = pot[window, order].get("constants_GPa") or {}
        names = [k for k in d if d.get(k) and p.get(k) is not None]
        if not names:
            continue
        by_fit[f"{window:g}/{order}"] = {"dft": {k: d[k] for k in names}, "potential": {k: p[k] for k in names}}
        for k in names:
            differences.setdefault(k, []).append(100.0 * (p[k] - d[k]) / abs(d[k]))
    out = pot[headline]
    return {"constants_GPa": out.get("constants_GPa"), "standard_errors_GPa": out.get("standard_errors_GPa"),
            "n_cells": out.get("n_cells"), "max_strain": out.get("max_strain"), "order": out.get("order"),
            "method": out.get("method"), "by_fit": by_fit,
            "difference_range_percent": {k: [min(v), max(v)] for k, v in differences.items()}}


def _dataset_slabs(calc, relaxed, reference, structures):
    """The potential's surface energies on the dataset's slabs, scaled to its own lattice
    (isotropically, by the cube root of the ratio of volumes per atom), as given and relaxed."""
    e_bulk = relaxed.get_potential_energy() / len(relaxed)
    v_pot = relaxed.get_volume() / len(relaxed)
    gs = structures[reference["ground_state"]["index"]]
    scale = (v_pot / (gs.get_volume() / len(gs))) ** (1 / 3)
    out = []
    for entry in reference["surfaces"]:
        if entry.get("gamma_J_m2") is None:
            continue
        slab = structures[entry["index"]].copy()
        slab.calc = None
        slab.set_cell(slab.cell.array * scale, scale_atoms=True)
        value = slab_surface_energy(calc, slab, e_bulk)
        value.update(index=entry["index"], miller=entry.get("miller"), dft_gamma_J_m2=entry["gamma_J_m2"], lattice_scale=scale)
        out.append(value)
    return out


#: Where the DFT lattice parameter of the comparison comes from, by the reference's ``route``.
_LATTICE_ROUTE_NOTES = {"stress": "DFT: ground-state cell corrected to zero stress (stress route)",
                        "energy": "DFT: ground-state cell corrected by the energy fit's residual stress (energy route)"}


def _comparison(results, reference) -> list:
    """Rows ``{property, unit, potential, dft, note}`` of the summary table."""
    rows = []

    def add(name, unit, pot, dft=None, note=""):
        rows.append({"property": name, "unit": unit, "potential": pot, "dft": dft, "note": note})

    eq = results.get("equilibrium", {})
    ref_lat = (reference or {}).get("lattice") or {}
    for key, name in (("a_A", "a"), ("c_A", "c")):
        if key in eq:
            add(name, "Å", eq[key], ref_lat.get("stress_route", {}).get(key) if ref_lat.get("stress_route") else ref_lat.get(key),
                _LATTICE_ROUTE_NOTES.get(ref_lat.get("route"), "DFT: the ground-state cell as stored (no constants to correct "
                                         "its residual stress with)") if reference else "")
            if ref_lat.get("energy_route") and ref_lat.get("stress_route"):
                add(f"{name} (energy route)", "Å", eq[key], ref_lat["energy_route"].get(key),
                    "DFT: ground-state cell corrected by the energy fit's residual stress")
    if "eos" in results:
        ref_b = ((reference or {}).get("bulk_modulus") or {}).get("B_GPa")
        add("B (EOS)", "GPa", results["eos"]["B_GPa"], ref_b, "DFT: Voigt-Reuss-Hill of the fitted constants" if reference else "")
        add("B (-V dP/dV)", "GPa", results["eos"]["B_pressure_GPa"], ref_b, "local, at the relaxed volume")
    if "elastic" in results:
        ref_el = (reference or {}).get("elastic") or {}
        ref_c = ref_el.get("constants_GPa") or {}
        spread = ref_el.get("window_range_GPa") or {}

        energy_route = ref_el.get("energy_route") or {}

        def window_note(name):
            lo_hi = spread.get(name)
            note = f"; DFT linear fits over ±1-6 %: {lo_hi[0]:.4g}-{lo_hi[1]:.4g}" if lo_hi else ""
            c_e, err_e = (energy_route.get("constants_GPa") or {}).get(name), (energy_route.get("standard_errors_GPa") or {}).get(name)
            c_s, err_s = ref_c.get(name), (ref_el.get("standard_errors_GPa") or {}).get(name)
            if ref_el.get("method", "").startswith("stress") and None not in (c_e, err_e, c_s, err_s):
                # the dataset's energies give the same constant independently: say when they disagree
                disagree = abs(c_e - c_s) > 3.0 * math.hypot(err_e, err_s)
                note += f"; DFT energies: {c_e:.4g} ± {err_e:.2g}" + (" (disagree with the stresses)" if disagree else "")
            return note

        at_dft = results.get("elastic_at_dft_volume") or {}
        on_cells = (results.get("elastic_on_dft_cells") or {}).get("constants_GPa") or {}
        reference_fit = (f"DFT: {ref_el.get('n_cells')} cells up to {100 * ref_el.get('max_strain', 0):.0f} %, "
                         f"order {ref_el.get('order')}") if ref_el.get("constants_GPa") else ""
        for key, value in results["elastic"].items():
            if key.startswith("C") and key.endswith("_GPa") and key[1:3].isdigit() and len(key) == 7:
                name = key[:3]
                add(name, "GPa", value, ref_c.get(name), f"{results['elastic']['ions']}-ion at the potential's equilibrium"
                    + (f"; {reference_fit}" if reference_fit else "") + window_note(name))
                if on_cells.get(name) is not None:
                    fit_range = (results.get("elastic_on_dft_cells") or {}).get("difference_range_percent", {}).get(name)
                    n_fits = len((results.get("elastic_on_dft_cells") or {}).get("by_fit") or {})
                    add(f"{name} (DFT cells)", "GPa", on_cells[name], ref_c.get(name),
                        "the potential's stresses on the dataset's strained cells, the DFT fit repeated"
                        + (f" (ground-state cell: {at_dft['pressure_GPa']:+.2f} GPa in the potential)" if "pressure_GPa" in at_dft else "")
                        + (f"; over {n_fits} fits (windows 2-10 %, orders 1-5): {fit_range[0]:+.1f} to {fit_range[1]:+.1f} %"
                           if fit_range else ""))
    if "vacancy" in results:
        ref_v = (reference or {}).get("vacancy") or {}
        add("E_vac (relaxed)", "eV", results["vacancy"]["E_vac_relaxed_eV"], ref_v.get("E_vac_eV"), ref_v.get("note", ""))
    for key, entry in (results.get("surfaces") or {}).items():
        refs = [s["gamma_J_m2"] for s in (reference or {}).get("surfaces", []) if s.get("miller") and _miller_key(s["miller"]) == key]
        add(f"γ{key} (relaxed)", "J/m²", entry.get("gamma_relaxed_J_m2"), refs[0] if refs else None,
            "ideal slab of the potential's lattice" + ("; DFT: the dataset's slab" if refs else ""))
    for entry in results.get("dataset_slabs") or []:
        add(f"γ{_miller_key(entry['miller']) if entry.get('miller') else '?'} on DFT slab {entry['index']}", "J/m²",
            entry.get("gamma_relaxed_J_m2"), entry["dft_gamma_J_m2"], f"{entry['n_atoms']} atoms, relaxed with the potential")
    if "phonons" in results:
        add("lowest phonon frequency", "THz", results["phonons"]["min_frequency_THz"], None,
            "imaginary modes" if results["phonons"]["imaginary_modes"] else "no imaginary modes")
    if "md" in results and "alpha_1e6_per_K" in results["md"]:
        t = results["md"]["temperatures_K"]
        add(f"α ({t[0]:g}-{t[-1]:g} K)", "1e-6/K", results["md"]["alpha_1e6_per_K"], None,
            f"± {results['md']['alpha_stderr_per_K'] * 1e6:.2g}, classical NVT + P-V")
    for row in rows:
        if row["potential"] is not None and row["dft"] not in (None, 0):
            row["difference_percent"] = 100.0 * (row["potential"] - row["dft"]) / abs(row["dft"])
    return rows


def _fmt(value, digits=4):
    if value is None:
        return "—"
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, (int, float)):
        return f"{value:.{digits}g}"
    return str(value)


def _markdown(results, figures) -> str:
    lines = [f"# Properties of {results['potential']} ({results['structure']})", ""]
    lines += ["| property | unit | potential | DFT | difference | note |", "|---|---|---|---|---|---|"]
    for row in results["comparison"]:
        diff = row.get("difference_percent")
        lines.append(f"| {row['property']} | {row['unit']} | {_fmt(row['potential'])} | {_fmt(row['dft'])} | "
                     f"{'' if diff is None else f'{diff:+.1f} %'} | {row['note']} |")
    eq = results["equilibrium"]
    lines += ["", "## Equilibrium", "",
              f"Space group {eq['spacegroup']}, {eq['volume_per_atom_A3']:.4f} Å^3/atom, {eq['energy_per_atom_eV']:.5f} eV/atom, "
              f"residual stress {max(abs(x) for x in eq['residual_stress_GPa']):.2g} GPa (cell and positions relaxed, symmetry kept)."]
    if "eos" in results:
        e = results["eos"]
        lines += ["", "## Equation of state", "",
                  f"{e['eos']} fit of {len(e['volumes_A3_per_atom'])} volumes: V0 = {e['V0_A3_per_atom']:.4f} Å^3/atom, "
                  f"a0 = {e['a0_A']:.4f} Å, B = {e['B_GPa']:.1f} GPa"
                  + (f", B' = {e['B_prime']:.2f}" if e.get("B_prime") is not None else "")
                  + f" (volumes ±{100 * e['volume_range']:g} %, RMS residual {_fmt(e['rms_fit_residual_meV_per_atom'], 2)} meV/atom); "
                  f"local -V dP/dV at the relaxed volume: {e['B_pressure_GPa']:.1f} GPa."]
    if "elastic" in results:
        el = results["elastic"]
        names = [k for k in el if k.startswith("C") and k.endswith("_GPa") and len(k) == 7]
        lines += ["", "## Elastic constants", "",
                  f"{el['ions'].capitalize()}-ion constants by stress-strain central differences (±{el['strain']:g}) on the relaxed cell, "
                  f"{el['crystal_system']} {el['spacegroup']}: " + ", ".join(f"{k[:3]} = {el[k]:.1f}" for k in names) + " GPa; "
                  f"B_VRH = {el['B_hill_GPa']:.1f} GPa, G_VRH = {el['G_hill_GPa']:.1f} GPa; Born stable: {el['born_stable']}; "
                  f"largest deviation of the raw matrix from the symmetric form {el['symmetry_deviation_GPa']:.2g} GPa."]
    if "phonons" in results:
        ph = results["phonons"]
        lines += ["", "## Phonons", "",
                  f"phonopy, {ph['n_atoms_supercell']}-atom supercell {ph['supercell']}, {ph['n_displacements']} displacement(s); "
                  f"lowest frequency {ph['min_frequency_THz']:.3f} THz "
                  f"({'IMAGINARY MODES' if ph['imaginary_modes'] else 'no imaginary modes'}), "
                  f"highest {ph['max_frequency_THz']:.2f} THz; at Γ: "
                  + ", ".join(f"{f:.3f}" for f in ph["gamma_frequencies_THz"]) + " THz."]
    if "vacancy" in results:
        v = results["vacancy"]
        lines += ["", "## Vacancy", "", f"{v['n_atoms']}-atom supercell: E_f = {v['E_vac_relaxed_eV']:.3f} eV relaxed, "
                  f"{v['E_vac_unrelaxed_eV']:.3f} eV unrelaxed ({v['note']})."]
    if "surfaces" in results:
        lines += ["", "## Surfaces (J/m²)", "", "| facet | atoms | unrelaxed | relaxed |", "|---|---|---|---|"]
        for key, s in results["surfaces"].items():
            lines.append(f"| {key} | {s['n_atoms']} | {_fmt(s['gamma_unrelaxed_J_m2'])} | {_fmt(s.get('gamma_relaxed_J_m2'))} |")
        if results.get("dataset_slabs"):
            lines += ["", "On the dataset's own slabs (scaled to the potential's lattice):", "",
                      "| dataset index | facet | atoms | potential unrelaxed | potential relaxed | DFT |", "|---|---|---|---|---|---|"]
            for s in results["dataset_slabs"]:
                lines.append(f"| {s['index']} | {_miller_key(s['miller']) if s.get('miller') else '?'} | {s['n_atoms']} | "
                             f"{_fmt(s['gamma_unrelaxed_J_m2'])} | {_fmt(s.get('gamma_relaxed_J_m2'))} | {_fmt(s['dft_gamma_J_m2'])} |")
    if "md" in results:
        m = results["md"]
        lines += ["", "## Molecular dynamics (NVT)", "",
                  f"{m['n_atoms']} atoms, {m['steps_per_run']} steps of {m['timestep_fs']:g} fs per run, "
                  f"B = {m['bulk_modulus_GPa']:.1f} GPa for the volume steps.", "",
                  "| T (K) | mean T (K) | a (Å) | V (Å^3/atom) | runs: V (Å^3/atom), P (GPa) | RDF first peak (Å) |",
                  "|---|---|---|---|---|---|"]
        for t in m["per_temperature"]:
            runs = "; ".join(f"{r['volume_A3_per_atom']:.4f}, {r['pressure_GPa']:+.3f}" for r in t["runs"])
            lines.append(f"| {t['temperature_K']:g} | {t['mean_temperature_K']:.0f} | {t['a_A']:.4f} | "
                         f"{t['volume_A3_per_atom']:.4f} | {runs} | {t['rdf']['first_peak_A']:.3f} |")
        if "alpha_per_K" in m:
            err = m.get("alpha_stderr_per_K")
            lines += ["", f"Linear thermal expansion α = {m['alpha_1e6_per_K']:.1f} ± {_fmt(None if err is None else err * 1e6, 2)} "
                      "× 10⁻⁶/K (classical MD: no zero-point motion)."]
    ref = results.get("reference")
    if ref:
        lines += ["", "## DFT reference", ""]
        for key in ("ground_state", "lattice", "elastic", "bulk_modulus", "vacancy"):
            if ref.get(key) and ref[key].get("note"):
                lines.append(f"* **{key}**: {ref[key]['note']}")
        el = ref.get("elastic") or {}
        if el.get("constants_GPa"):
            lines.append("* DFT constants (GPa, ± standard error): " + ", ".join(
                f"{k} = {_fmt(v)} ± {_fmt(el['standard_errors_GPa'].get(k), 2)}" for k, v in el["constants_GPa"].items()))
        if el.get("constants_by_window_GPa"):
            lines.append("* DFT constants by strain window (GPa): " + "; ".join(
                f"±{float(w) * 100:.0f} %: " + ", ".join(f"{k} {_fmt(v)}" for k, v in c.items() if v is not None)
                for w, c in el["constants_by_window_GPa"].items()))
        lines.append(f"* published: {ref.get('published_note')}")
    if figures:
        lines += ["", "## Figures", ""] + [f"![{name}]({os.path.basename(path)})" for name, path in figures.items()]
    timings = results["timings_s"]
    lines += ["", "Timings (s): " + ", ".join(f"{k} {v:g}" for k, v in timings.items()), ""]
    return "\n".join(lines)


def _plots(results, output_dir, label) -> dict:
    plt = _pyplot()
    figures = {}
    if "eos" in results:
        e = results["eos"]
        fig, ax = plt.subplots(figsize=(4.5, 3.5))
        ax.plot(e["volumes_A3_per_atom"], e["energies_eV_per_atom"], "o", label="potential")
        ax.axvline(e["V0_A3_per_atom"], color="k", lw=0.6, ls=":")
        ax.set_xlabel("volume (Å³/atom)")
        ax.set_ylabel("energy (eV/atom)")
        ax.set_title(f"{label}: B = {e['B_GPa']:.0f} GPa", fontsize=9)
        fig.tight_layout()
        figures["eos"] = os.path.join(output_dir, "eos.png")
        _save(fig, plt, figures["eos"])
    if "phonons" in results:
        ph = results["phonons"]
        fig, (ax, ax_dos) = plt.subplots(1, 2, figsize=(8, 4), gridspec_kw={"width_ratios": [3, 1]}, sharey=True)
        for d, f in zip(ph["band"]["distances"], ph["band"]["frequencies_THz"]):
            ax.plot(d, f, "b-", lw=0.8)
        for x in ph["band"]["ticks"]:
            ax.axvline(x, color="k", lw=0.4)
        ax.axhline(0, color="k", lw=0.4, ls=":")
        ax.set_xticks(ph["band"]["ticks"])
        ax.set_xticklabels(ph["band"]["labels"])
        ax.set_xlim(ph["band"]["ticks"][0], ph["band"]["ticks"][-1])
        ax.set_ylabel("frequency (THz)")
        ax.set_title(f"{label} phonons", fontsize=9)
        ax_dos.plot(ph["dos"]["states_per_THz"], ph["dos"]["frequency_THz"], "k-", lw=0.8)
        ax_dos.set_xlabel("DOS (states/THz)")
        fig.tight_layout()
        figures["phonons"] = os.path.join(output_dir, "phonons.png")
        _save(fig, plt, figures["phonons"])
    if "md" in results:
        fig, ax = plt.subplots(figsize=(4.5, 3.5))
        for t in results["md"]["per_temperature"]:
            ax.plot(t["rdf"]["r_A"], t["rdf"]["g"], label=f"{t['temperature_K']:g} K")
        ax.set_xlabel("r (Å)")
        ax.set_ylabel("g(r)")
        ax.legend(fontsize=8)
        ax.set_title(f"{label}: NVT radial distribution", fontsize=9)
        fig.tight_layout()
        figures["rdf"] = os.path.join(output_dir, "rdf.png")
        _save(fig, plt, figures["rdf"])
    compared = [r for r in results["comparison"] if r.get("difference_percent") is not None]
    if compared:
        fig, ax = plt.subplots(figsize=(6, 0.3 * len(compared) + 1.2))
        y = np.arange(len(compared))
        ax.barh(y, [r["difference_percent"] for r in compared], color="tab:blue")
        ax.set_yticks(y)
        ax.set_yticklabels([r["property"] for r in compared], fontsize=7)
        ax.axvline(0, color="k", lw=0.6)
        ax.invert_yaxis()
        ax.set_xlabel("potential - DFT (%)")
        ax.set_title(f"{label} against DFT", fontsize=9)
        fig.tight_layout()
        figures["comparison"] = os.path.join(output_dir, "comparison.png")
        _save(fig, plt, figures["comparison"])
    return figures
