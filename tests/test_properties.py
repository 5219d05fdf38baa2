"""Physical properties (linpot.analysis.properties) against models with known answers (ASE's
EMT), and the DFT-reference extraction against a synthetic EMT-labelled dataset."""

from __future__ import annotations

import os

import numpy as np
import pytest
from ase.build import fcc100, fcc111
from ase.calculators.emt import EMT
from ase.calculators.singlepoint import SinglePointCalculator
from ase.optimize import BFGS

from linpot.analysis import properties as P
from linpot.analysis import properties_crystal as pc
from linpot.analysis.properties_reference import J_PER_M2, dft_reference
from linpot.conventions import GPA

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))



@pytest.fixture(scope="module")
def calc():
    return EMT()


@pytest.fixture(scope="module")
def fcc(calc):
    return P.relax_structure(calc, P.build_crystal("Cu", "fcc"))


@pytest.fixture(scope="module")
def hcp(calc):
    return P.relax_structure(calc, P.build_crystal("Cu", "hcp"))


def _energy_at(calc, atoms, voigt, relax):
    strained = atoms.copy()
    strained.set_cell(atoms.cell.array @ (np.eye(3) + pc.strain_tensor(voigt)), scale_atoms=True)
    strained.calc = calc
    if relax:
        BFGS(strained, logfile=None).run(fmax=1e-7, steps=200)
    return strained.get_potential_energy()


def _energy_density_constant(calc, atoms, i, j, h=0.004, relax=False):
    """C_ij = (1/V) d2E / de_i de_j by central differences of the energy (GPa)."""
    def e(si, sj):
        v = np.zeros(6)
        v[i] += si * h
        v[j] += sj * h
        return _energy_at(calc, atoms, v, relax)

    if i == j:
        d2 = (e(1, 1) - 2 * e(0, 0) + e(-1, -1)) / (2 * h) ** 2  # e(1,1) strains component i by 2h
    else:
        d2 = (e(1, 1) - e(1, -1) - e(-1, 1) + e(-1, -1)) / (4 * h * h)
    return d2 / atoms.get_volume() / GPA


def test_elastic_constants_cubic_match_energy_density(calc, fcc):
    got = P.elastic_constants(calc, fcc)
    assert got["ions"] == "relaxed" and got["crystal_system"] == "cubic"
    for name, (i, j) in {"C11": (0, 0), "C12": (0, 1), "C44": (3, 3)}.items():
        want = _energy_density_constant(calc, fcc, i, j)
        assert got[f"{name}_GPa"] == pytest.approx(want, rel=5e-3), name
    # the projected matrix has the cubic form, e.g. C23 = C12 and C55 = C44
    c = np.array(got["C_voigt_GPa"])
    assert c[1, 2] == pytest.approx(got["C12_GPa"]) and c[4, 4] == pytest.approx(got["C44_GPa"]) and abs(c[0, 3]) < 1e-6


def test_elastic_constants_hexagonal_match_energy_density(calc, hcp):
    got = P.elastic_constants(calc, hcp)
    assert got["crystal_system"] == "hexagonal"
    pairs = {"C11": (0, 0), "C12": (0, 1), "C13": (0, 2), "C33": (2, 2), "C44": (3, 3)}
    for name, (i, j) in pairs.items():
        want = _energy_density_constant(calc, hcp, i, j, relax=True)
        assert got[f"{name}_GPa"] == pytest.approx(want, rel=1e-2), name
    # relaxed-ion and clamped-ion constants differ in hcp (internal relaxation under in-plane strain)
    clamped = P.elastic_constants(calc, hcp, relax_ions=False)
    assert clamped["ions"] == "clamped" and clamped["C11_GPa"] > got["C11_GPa"] + 1.0
    assert got["C66_GPa (=(C11-C12)/2)"] == pytest.approx(np.array(got["C_raw_GPa"])[5, 5], rel=2e-3)


def test_elastic_constants_independent_of_orientation(calc, fcc):
    rotated = fcc.copy()
    rotated.rotate(37.0, (1, 2, 3), rotate_cell=True)
    a = P.elastic_constants(calc, fcc, relax_ions=False)
    b = P.elastic_constants(calc, rotated, relax_ions=False)
    for name in ("C11_GPa", "C12_GPa", "C44_GPa"):
        assert b[name] == pytest.approx(a[name], rel=2e-3)


def test_bulk_modulus_from_eos_matches_elastic_constants(calc, fcc):
    eos = P.equation_of_state(calc, fcc)
    el = P.elastic_constants(calc, fcc)
    assert eos["B_GPa"] == pytest.approx((el["C11_GPa"] + 2 * el["C12_GPa"]) / 3, rel=5e-3)
    assert eos["B_pressure_GPa"] == pytest.approx(eos["B_GPa"], rel=5e-3)
    assert eos["a0_A"] == pytest.approx(P.equilibrium(calc, fcc)["a_A"], abs=2e-4)


def test_phonons_acoustic_at_gamma_and_stability(calc, fcc, hcp):
    ph = P.phonons(calc, fcc, min_length=7.0)
    assert len(ph["gamma_frequencies_THz"]) == 3
    assert np.max(np.abs(ph["gamma_frequencies_THz"])) < 0.02
    assert not ph["imaginary_modes"] and ph["min_frequency_THz"] > -0.02 and ph["max_frequency_THz"] > 5
    assert ph["band"]["labels"][0] == "Γ" and len(ph["band"]["ticks"]) == len(ph["band"]["labels"])
    ph_hcp = P.phonons(calc, hcp, min_length=7.0)
    gamma = np.sort(ph_hcp["gamma_frequencies_THz"])
    assert np.max(np.abs(gamma[:3])) < 0.02 and gamma[3] > 1.0 and not ph_hcp["imaginary_modes"]
    # bcc Cu is mechanically unstable with EMT: imaginary modes must be reported
    bcc = P.relax_structure(calc, P.build_crystal("Cu", "bcc"))
    assert P.phonons(calc, bcc, min_length=6.0)["imaginary_modes"]


@pytest.mark.parametrize("structure, a, hkl, min_cn", [("fcc", 3.6344, (3, 3, 1), 7), ("fcc", 3.6344, (2, 1, 1), 7),
                                                       ("bcc", 3.17, (1, 1, 0), 6), ("diamond", 5.43, (1, 1, 1), 3)])
def test_build_slab_whole_planes(structure, a, hkl, min_cn):
    """Both faces are whole, equivalent planes (ase.build.surface alone leaves a partial plane on
    fcc (331) at this lattice parameter) and diamond (111) is cut between the widely spaced planes."""
    from ase.neighborlist import neighbor_list

    conv = pc.conventional_cell(P.build_crystal("Si" if structure == "diamond" else "Cu", structure, a=a))
    slab = P.build_slab(conv, hkl, min_thickness=9.0)
    d_nn = {"fcc": a / np.sqrt(2), "bcc": a * np.sqrt(3) / 2, "diamond": a * np.sqrt(3) / 4}[structure]
    cn = np.bincount(neighbor_list("i", slab, 1.05 * d_nn), minlength=len(slab))
    z = slab.positions @ pc.slab_geometry(slab)["normal"]
    order = np.argsort(z)
    assert cn.min() == min_cn
    assert list(cn[order]) == list(cn[order][::-1])
    assert pc.slab_geometry(slab)["thickness_A"] >= 9.0 - 1e-6


def _label(atoms, calc, config_type):
    atoms = atoms.copy()
    atoms.calc = calc
    results = {"energy": atoms.get_potential_energy(), "forces": atoms.get_forces()}
    if all(atoms.pbc):
        results["stress"] = atoms.get_stress()
    atoms.calc = SinglePointCalculator(atoms, **results)
    atoms.info["config_type"] = config_type
    return atoms


@pytest.fixture(scope="module")
def emt_dataset(calc, fcc):
    """EMT 'DFT' data: a ground state with a residual stress, strained cells (simple shears, so
    the cells are rotated; those of positive strain also rigidly rotated by 25 degrees), slabs
    (one rotated), a relaxed vacancy and an AIMD-like vacancy."""
    a_emt = fcc.cell.cellpar()[0]
    gs = P.build_crystal("Cu", "fcc", a=a_emt * 1.002) * (2, 2, 2)
    data = [_label(gs, calc, "Ground state")]
    for mode in range(6):
        for s in (-0.01, -0.005, 0.005, 0.01, 0.05):
            f = np.eye(3)
            if mode < 3:
                f[mode, mode] += s
            else:
                i, j = [(1, 2), (0, 2), (0, 1)][mode - 3]
                f[i, j] += s  # simple shear: vector j tilted along i, engineering strain s plus a rotation
            strained = gs.copy()
            strained.set_cell(gs.cell.array @ f.T, scale_atoms=True)
            if s > 0:
                strained.rotate(25.0, (1, 2, -1), rotate_cell=True)  # a rigidly rotated cell: rotated stress too
            data.append(_label(strained, calc, "Elastic"))
    for slab, rotate in ((fcc111("Cu", (1, 1, 6), a=a_emt * 1.002, vacuum=6.0, periodic=True), True),
                         (fcc100("Cu", (1, 1, 6), a=a_emt * 1.002, vacuum=6.0, periodic=True), False)):
        slab.calc = calc
        BFGS(slab, logfile=None).run(fmax=1e-4)
        if rotate:
            slab.rotate(50.0, (1, -1, 2), rotate_cell=True)
        data.append(_label(slab, calc, "Surface"))
    vac = gs.copy()
    del vac[5]
    vac.calc = calc
    BFGS(vac, logfile=None).run(fmax=1e-4)
    data.append(_label(vac, calc, "Vacancy"))
    hot = vac.copy()
    hot.rattle(0.1, seed=1)
    data.append(_label(hot, calc, "Vacancy"))
    return data


def test_dft_reference_recovers_emt(calc, fcc, emt_dataset):
    ref = dft_reference(emt_dataset, symprec=1e-3)
    gs = emt_dataset[0]
    # lattice: the ground state's residual stress removed recovers EMT's relaxed lattice
    assert ref["lattice"]["route"] == "stress"
    assert ref["lattice"]["a_A"] == pytest.approx(fcc.cell.cellpar()[0], abs=3e-4)
    assert abs(ref["lattice"]["ground_state_cell"]["a_A"] - fcc.cell.cellpar()[0]) > 5e-3
    # EMT's energies and stresses agree, so does the energy route
    assert ref["lattice"]["energy_route"]["a_A"] == pytest.approx(ref["lattice"]["a_A"], abs=1e-3)
    # elastic constants: the stress-strain fit equals EMT's own central differences at that cell
    direct = P.elastic_constants(calc, gs, relax_ions=False)
    assert ref["elastic"]["n_cells"] == 25  # 24 strained cells within 0.021 and the ground state
    for name in ("C11", "C12", "C44"):
        assert ref["elastic"]["constants_GPa"][name] == pytest.approx(direct[f"{name}_GPa"], rel=1e-2), name
    assert ref["bulk_modulus"]["B_GPa"] == pytest.approx((direct["C11_GPa"] + 2 * direct["C12_GPa"]) / 3, rel=1e-2)
    # surfaces: Miller indices from the geometry (one slab is rotated) and EMT's surface energies
    by_facet = {tuple(s["miller"]): s["gamma_J_m2"] for s in ref["surfaces"]}
    assert set(by_facet) == {(1, 1, 1), (1, 0, 0)}
    bulk_gs = P.build_crystal("Cu", "fcc", a=fcc.cell.cellpar()[0] * 1.002)
    direct_surfaces = P.surface_energies(calc, bulk_gs, facets=[(1, 1, 1), (1, 0, 0)], min_thickness=9.0)
    for facet, key in (((1, 1, 1), "(1,1,1)"), ((1, 0, 0), "(1,0,0)")):
        assert by_facet[facet] == pytest.approx(direct_surfaces[key]["gamma_relaxed_J_m2"], rel=1e-2), facet
    # vacancy: the relaxed cell only (the rattled snapshot is skipped), EMT's own formation energy
    direct_vac = P.vacancy_formation_energy(calc, bulk_gs, min_length=7.0)
    assert len(ref["vacancy"]["cells"]) == 1
    assert ref["vacancy"]["E_vac_eV"] == pytest.approx(direct_vac["E_vac_relaxed_eV"], abs=2e-3)
    assert J_PER_M2 == pytest.approx(16.0218, rel=1e-5)


def test_strain_between_removes_rotation():
    rng = np.random.default_rng(3)
    cell0 = np.array([[3.0, 0.1, 0.0], [0.4, 3.2, 0.0], [0.2, -0.3, 5.1]])
    strain = 0.01 * rng.normal(size=(3, 3))
    strain = 0.5 * (strain + strain.T)
    from scipy.spatial.transform import Rotation

    rotation = Rotation.from_rotvec([0.3, -0.5, 0.2]).as_matrix()
    cell = cell0 @ ((rotation @ (np.eye(3) + strain)).T)
    got_strain, got_rotation = pc.strain_between(cell0, cell)
    assert np.allclose(got_strain, strain, atol=1e-12) and np.allclose(got_rotation, rotation, atol=1e-12)


def test_dft_reference_without_stresses_or_relaxed_vacancies(calc, emt_dataset):
    stripped = []
    for atoms in emt_dataset:
        if atoms.info["config_type"] == "Vacancy" and np.abs(atoms.get_forces()).max() < 0.05:
            continue  # keep only the AIMD-like vacancy
        copy = atoms.copy()
        copy.calc = SinglePointCalculator(copy, energy=atoms.get_potential_energy(), forces=atoms.get_forces())
        copy.info.update(atoms.info)
        stripped.append(copy)
    ref = dft_reference(stripped, symprec=1e-3)
    constants = ref["elastic"]["constants_GPa"]
    assert ref["elastic"]["method"].startswith("energy")
    # uniaxial and shear strains alone do not determine C12 from energies: None, not a number
    assert constants["C12"] is None and constants["C11"] is not None and constants["C44"] is not None
    assert ref["bulk_modulus"]["B_GPa"] is None
    assert ref["vacancy"]["E_vac_eV"] is None and "not relaxed" in ref["vacancy"]["note"]


def test_properties_report_on_fitted_potential(tmp_path, emt_dataset):
    path = os.path.join(ROOT, "fits", "mlearn-Cu-pair.json")
    results, markdown = P.properties_report(path, "fcc", reference_dataset=emt_dataset,
                                            output_dir=tmp_path, md_steps=30, supercell_length_A=7.0,
                                            facets=[(1, 1, 1)], dataset_slabs=True)
    for name in ("eos", "phonons", "rdf", "comparison"):
        data = (tmp_path / f"{name}.png").read_bytes()
        assert data[:8] == b"\x89PNG\r\n\x1a\n", name
    assert (tmp_path / "properties.md").read_text() == markdown
    assert "| property | unit | potential | DFT |" in markdown and "C44" in markdown
    rows = {r["property"]: r for r in results["comparison"]}
    assert rows["a"]["dft"] is not None and rows["C11"]["potential"] > 0
    el = results["elastic"]
    # the potential's stress is its strain derivative: the local bulk modulus from the pressure
    # equals (C11 + 2 C12)/3 from the stress-strain constants
    assert results["eos"]["B_pressure_GPa"] == pytest.approx((el["C11_GPa"] + 2 * el["C12_GPa"]) / 3, rel=1e-2)
    ph = results["phonons"]
    assert np.max(np.abs(ph["gamma_frequencies_THz"])) < 0.05 and not ph["imaginary_modes"]
    assert results["md"]["alpha_per_K"] is not None and len(results["dataset_slabs"]) == 2
    assert set(results["timings_s"]) >= {"equilibrium", "eos", "elastic", "phonons", "vacancy", "surfaces", "md", "total"}


def test_reference_constants_by_strain_window(calc, emt_dataset):
    """The constants are refitted per strain window and the range spans them. The EMT data hold
    cells within 1 % (the first three windows see the same cells: the same constants) and unpaired
    +5 % cells, which EMT's nonlinearity moves by far more than the ±2 % fit's standard error: the
    range shows what the standard error cannot."""
    ref = dft_reference(emt_dataset, symprec=1e-3)["elastic"]
    by_window = ref["constants_by_window_GPa"]
    assert set(by_window) == {"0.011", "0.021", "0.041", "0.061"}
    for name, (lo, hi) in ref["window_range_GPa"].items():
        values = [c[name] for c in by_window.values()]
        assert (lo, hi) == (min(values), max(values))
        assert lo <= ref["constants_GPa"][name] <= hi
    assert by_window["0.011"] == pytest.approx(by_window["0.041"], rel=1e-12)
    lo, hi = ref["window_range_GPa"]["C12"]
    assert hi - lo > 10 * ref["standard_errors_GPa"]["C12"]


def test_potential_constants_at_the_reference_volume(calc, fcc, emt_dataset):
    """EMT as the potential, EMT data as the reference: at the dataset's ground-state volume the
    potential's constants are the reference's (the DFT slopes are taken around that cell)."""
    results, _ = P.properties_report(calc, fcc.copy(), reference_dataset=emt_dataset,
                                     skip=("eos", "phonons", "vacancy", "surfaces", "md"))
    at_ref = results["elastic_at_dft_volume"]
    gs = emt_dataset[0]
    assert at_ref["volume_per_atom_A3"] == pytest.approx(gs.get_volume() / len(gs), rel=1e-12)
    ref = results["reference"]["elastic"]["constants_GPa"]
    for name in ("C11", "C12", "C44"):
        assert at_ref[f"{name}_GPa"] == pytest.approx(ref[name], rel=1e-2), name
    # the DFT fit repeated on the potential's labels of the same cells: here the same labels, so the
    # same constants to round-off
    on_cells = results["elastic_on_dft_cells"]["constants_GPa"]
    rows = {r["property"]: r for r in results["comparison"]}
    for name in ("C11", "C12", "C44"):
        assert on_cells[name] == pytest.approx(ref[name], rel=1e-9, abs=1e-9), name
        assert rows[f"{name} (DFT cells)"]["dft"] == ref[name]
        assert rows[f"{name} (DFT cells)"]["potential"] == on_cells[name]
    # and over every comparison fit the cells allow: the same numbers on both sides
    by_fit = results["elastic_on_dft_cells"]["by_fit"]
    assert "0.021/1" in by_fit
    for entry in by_fit.values():
        for name, value in entry["dft"].items():
            assert entry["potential"][name] == pytest.approx(value, rel=1e-9), name
    for lo, hi in results["elastic_on_dft_cells"]["difference_range_percent"].values():
        assert abs(lo) < 1e-6 and abs(hi) < 1e-6


def test_comparison_flags_constants_where_dft_energies_and_stresses_disagree(calc, fcc, emt_dataset):
    """The elastic energies determine C11 and C44 independently of the stresses: with the shear
    stresses of the data zeroed (a dataset whose shear stresses are broken), C44's row says that
    the routes disagree; on the consistent EMT data it does not."""
    broken = []
    for atoms in emt_dataset:
        copy = atoms.copy()
        kwargs = {"energy": atoms.get_potential_energy(), "forces": atoms.get_forces()}
        if all(atoms.pbc):
            kwargs["stress"] = atoms.get_stress() * np.array([1.0, 1.0, 1.0, 0.0, 0.0, 0.0])
        copy.calc = SinglePointCalculator(copy, **kwargs)
        copy.info.update(atoms.info)
        broken.append(copy)
    skip = ("eos", "phonons", "vacancy", "surfaces", "md")
    for data, flagged in ((emt_dataset, False), (broken, True)):
        results, _ = P.properties_report(calc, fcc.copy(), reference_dataset=data, skip=skip)
        rows = {r["property"]: r for r in results["comparison"]}
        assert "DFT energies:" in rows["C44"]["note"]
        assert ("disagree" in rows["C44"]["note"]) is flagged
        assert "disagree" not in rows["C11"]["note"]


@pytest.mark.parametrize("route, words", [("stress", "stress route"), ("energy", "energy route"),
                                          ("ground-state cell as stored", "as stored")])
def test_lattice_row_names_the_route_its_dft_value_came_from(route, words):
    lattice = {"a_A": 3.6, "route": route}
    if route == "stress":
        lattice["stress_route"] = {"a_A": 3.6}
    rows = P._comparison({"equilibrium": {"a_A": 3.61}}, {"lattice": lattice})
    assert rows[0]["property"] == "a" and rows[0]["dft"] == 3.6
    assert words in rows[0]["note"]


def test_nonlinear_modes_need_twice_the_order_in_amplitudes():
    strains = np.zeros((9, 6))
    strains[:8, 0] = [-0.04, -0.03, -0.02, -0.01, 0.01, 0.02, 0.03, 0.04]
    strains[:5, 3] = [-0.02, -0.01, 0.01, 0.02, 0.03]
    assert pc.nonlinear_modes(strains, 3) == [0]          # 8 amplitudes >= 6; 5 < 6
    assert pc.nonlinear_modes(strains, 2) == [0, 3]       # 5 >= 4
    assert pc.nonlinear_modes(strains, 1) == []


def test_polynomial_reference_recovers_the_constants_from_strains_up_to_six_percent(calc):
    """EMT 'DFT' cells strained by up to 6 % (uniaxial and shear, eight amplitudes each): the
    default reference fits them with cubic stress-strain terms and recovers EMT's constants from
    +-0.1 % central differences to 1 %; a linear fit over the same cells is off by more than 2 %
    (EMT's stress-strain curves bend over 6 %)."""
    from ase.build import bulk

    gs = P.relax_structure(calc, bulk("Cu", "fcc", a=3.6, cubic=True))
    data = [_label(gs, calc, "Ground state")]
    for mode in (0, 3):
        for s in (-0.06, -0.04, -0.02, -0.01, 0.01, 0.02, 0.04, 0.06):
            strain = np.zeros(6)
            strain[mode] = s
            f = np.eye(3) + pc.stress_tensor(strain * np.array([1, 1, 1, 0.5, 0.5, 0.5]))
            strained = gs.copy()
            strained.set_cell(gs.cell.array @ f.T, scale_atoms=True)
            data.append(_label(strained, calc, "Elastic"))
    exact = P.elastic_constants(calc, gs, strain=0.001, relax_ions=False, symprec=1e-3)
    ref = dft_reference(data, symprec=1e-3)["elastic"]
    assert ref["order"] == 3 and ref["max_strain"] > 0.06 and set(ref["nonlinear_modes"]) >= {0, 3}
    linear = dft_reference(data, symprec=1e-3, max_strain=0.101, order=1)["elastic"]
    worst_linear = 0.0
    for name in ("C11", "C12", "C44"):
        assert ref["constants_GPa"][name] == pytest.approx(exact[f"{name}_GPa"], rel=1e-2), name
        worst_linear = max(worst_linear, abs(linear["constants_GPa"][name] / exact[f"{name}_GPa"] - 1))
    assert worst_linear > 0.02
