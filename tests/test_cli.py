"""The command line end to end on a few shipped structures, and every kind of bad input: one
line on stderr naming the file and structure, exit status 2, no traceback, no partial output."""

import json
import os
import subprocess
import sys
from pathlib import Path

import ase.io
import numpy as np
import pytest
from ase import Atoms
from ase.calculators.singlepoint import SinglePointCalculator

from linpot.cli import main

REPO = Path(__file__).resolve().parents[1]
CU_TEST = REPO / "data" / "mlearn" / "Cu" / "test.xyz"
FAST = ["--cutoff", "4.5", "--n-basis", "4", "--degree", "2"]


@pytest.fixture(scope="module")
def small_cu(tmp_path_factory):
    """Eight shipped Cu structures (train) and four others (test), all config_types."""
    frames = ase.io.read(CU_TEST, ":")
    d = tmp_path_factory.mktemp("cu")
    train, test = d / "train.xyz", d / "test.xyz"
    ase.io.write(train, frames[:24:3], format="extxyz")
    ase.io.write(test, frames[25:29], format="extxyz")
    return train, test


@pytest.fixture(scope="module")
def fitted(small_cu, tmp_path_factory):
    train, test = small_cu
    pot = tmp_path_factory.mktemp("pot") / "cu.json"
    assert main(["fit", "--train", str(train), "--test", str(test), "-o", str(pot), *FAST]) == 0
    return pot


def labelled(symbols, positions, cell=None, energy=-1.0, forces=True, stress=False, pbc=True, config_type=None):
    atoms = Atoms(symbols, positions=positions, cell=cell if cell is not None else np.eye(3) * 6.0, pbc=pbc)
    kw = {}
    if energy is not None:
        kw["energy"] = energy
    if forces is not None and forces is not False:
        kw["forces"] = np.zeros((len(atoms), 3)) if forces is True else forces
    if stress is not None and stress is not False:
        kw["stress"] = np.zeros(6) if stress is True else stress
    if kw:
        atoms.calc = SinglePointCalculator(atoms, **kw)
    if config_type:
        atoms.info["config_type"] = config_type
    return atoms


def good_frame(shift=0.0):
    return labelled("Cu2", [[0, 0, 0], [2.5 + shift, 0.1, 0]])


def assert_one_line_error(capsys, code, *fragments):
    out = capsys.readouterr()
    assert code == 2
    lines = [line for line in out.err.splitlines() if line.strip()]
    errors = [line for line in lines if "error" in line]
    assert len(errors) == 1, out.err
    assert errors[0].startswith("linpot: error: ")
    assert "Traceback" not in out.err
    for fragment in fragments:
        assert fragment in errors[0], errors[0]
    return errors[0]


def test_fit_evaluate_info_end_to_end(fitted, small_cu, capsys):
    capsys.readouterr()
    train, test = small_cu
    assert main(["evaluate", str(fitted), str(test), "--json"]) == 0
    table = json.loads(capsys.readouterr().out)
    assert set(table) == {"overall", "by_config_type"}
    for entry in [table["overall"], *table["by_config_type"].values()]:
        for key in ("energy_rmse_mev_per_atom", "energy_mae_mev_per_atom", "force_rmse_ev_per_angstrom",
                    "force_mae_ev_per_angstrom", "stress_rmse_gpa", "n_structures"):
            assert key in entry
    assert table["overall"]["n_structures"] == 4
    # a fit on 8 structures is no benchmark, but it must be far better than nothing
    assert table["overall"]["energy_rmse_mev_per_atom"] < 50 and table["overall"]["force_rmse_ev_per_angstrom"] < 0.5
    assert main(["info", str(fitted), "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["elements"] == ["Cu"] and info["cutoff"] == 4.5
    assert info["n_features"] == 1 + 4 + 10 and info["n_nonzero"] <= info["n_features"]
    assert info["provenance"]["datasets"][0]["path"] == str(train)
    assert main(["evaluate", str(fitted), str(test)]) == 0
    text = capsys.readouterr().out
    assert "overall" in text and "meV/at" in text


def test_config_file_and_flag_override(small_cu, tmp_path, capsys):
    train, test = small_cu
    cfg = tmp_path / "recipe.toml"
    cfg.write_text(f'[data]\ntrain = ["{train}"]\n[descriptor]\ncutoff = 4.0\nradial = {{ kind = "gaussian", n_basis = 3 }}\n'
                   '[model]\ndegree = 1\n')
    pot = tmp_path / "p.json"
    assert main(["fit", "--config", str(cfg), "--degree", "2", "-o", str(pot)]) == 0
    doc = json.loads(pot.read_text())
    assert doc["model"]["degree"] == 2
    assert doc["model"]["descriptor"]["cutoff"] == 4.0
    assert doc["model"]["descriptor"]["radial"]["kind"] == "gaussian"


def test_calculator_reproduces_cli_fit(fitted, small_cu):
    import linpot

    _, test = small_cu
    frames = ase.io.read(test, ":")
    calc = linpot.Calculator(str(fitted))
    for atoms in frames:
        ref = atoms.get_potential_energy()
        atoms.calc = calc
        assert abs(atoms.get_potential_energy() - ref) / len(atoms) < 0.05


def write(path, frames):
    ase.io.write(path, frames, format="extxyz")
    return path


BAD_INPUTS = {
    "no_labels": (lambda: [good_frame(), labelled("Cu2", [[0, 0, 0], [2.5, 0, 0]], energy=None, forces=None)],
                  ["structure 1", "no labels"]),
    "nan_forces": (lambda: [good_frame(), good_frame(0.2),
                            labelled("Cu2", [[0, 0, 0], [2.5, 0, 0]], forces=np.array([[0, np.nan, 0], [0, 0, 0.0]]))],
                   ["structure 2", "NaN"]),
    "overlap": (lambda: [good_frame(), labelled("Cu3", [[0, 0, 0], [2.5, 0, 0], [0.05, 0, 0]])],
                ["structure 1", "closer than 0.1"]),
    "nan_energy": (lambda: [labelled("Cu2", [[0, 0, 0], [2.5, 0, 0]], energy=float("nan"))], ["structure 0", "energy"]),
    "nan_stress": (lambda: [good_frame(), labelled("Cu2", [[0, 0, 0], [2.5, 0, 0]], stress=np.array([0, 0, np.nan, 0, 0, 0]))],
                   ["structure 1", "stress contains NaN"]),
}


@pytest.mark.parametrize("case", sorted(BAD_INPUTS))
def test_bad_training_data(case, tmp_path, capsys):
    frames, fragments = BAD_INPUTS[case]
    data = write(tmp_path / f"{case}.xyz", frames())
    out = tmp_path / "out.json"
    code = main(["fit", "--train", str(data), "-o", str(out), *FAST])
    assert_one_line_error(capsys, code, str(data), *fragments)
    assert sorted(os.listdir(tmp_path)) == [f"{case}.xyz"]


def test_malformed_file_names_structure(tmp_path, capsys):
    data = write(tmp_path / "bad.xyz", [good_frame(), good_frame(0.1)])
    lines = data.read_text().splitlines()
    lines[-1] = "Cu 0.0 zero 1.0 0 0 0"  # last atom of structure 1 is garbled
    data.write_text("\n".join(lines) + "\n")
    code = main(["fit", "--train", str(data), "-o", str(tmp_path / "out.json"), *FAST])
    assert_one_line_error(capsys, code, str(data), "structure 1", "cannot read")
    assert not (tmp_path / "out.json").exists()


def test_truncated_structure_file(tmp_path, capsys):
    data = write(tmp_path / "cut.xyz", [good_frame(), good_frame(0.1)])
    text = data.read_text()
    data.write_text(text[: len(text) - 40])
    code = main(["fit", "--train", str(data), "-o", str(tmp_path / "out.json"), *FAST])
    assert_one_line_error(capsys, code, str(data), "structure 1")


@pytest.mark.parametrize("content", ["", "\n\n"])
def test_empty_dataset(tmp_path, capsys, content):
    data = tmp_path / "empty.xyz"
    data.write_text(content)
    code = main(["fit", "--train", str(data), "-o", str(tmp_path / "out.json")])
    assert_one_line_error(capsys, code, str(data), "no structures")
    assert not (tmp_path / "out.json").exists()


def test_missing_file(tmp_path, capsys):
    code = main(["evaluate", str(tmp_path / "nope.json"), str(tmp_path / "x.xyz")])
    assert_one_line_error(capsys, code, "nope.json")


def test_unknown_element_in_evaluate(fitted, tmp_path, capsys):
    data = write(tmp_path / "ni.xyz", [good_frame(), good_frame(0.2), labelled("Ni2", [[0, 0, 0], [2.5, 0, 0]])])
    code = main(["evaluate", str(fitted), str(data)])
    assert_one_line_error(capsys, code, str(data), "structure 2", "element Ni")


def test_unknown_element_in_test_set_fails_before_fitting(small_cu, tmp_path, capsys):
    train, _ = small_cu
    data = write(tmp_path / "ni.xyz", [labelled("Ni2", [[0, 0, 0], [2.5, 0, 0]])])
    out = tmp_path / "out.json"
    code = main(["fit", "--train", str(train), "--test", str(data), "-o", str(out), *FAST])
    assert_one_line_error(capsys, code, str(data), "structure 0", "Ni")
    assert not out.exists()


def test_truncated_potential_file(fitted, small_cu, tmp_path, capsys):
    _, test = small_cu
    bad = tmp_path / "cut.json"
    text = fitted.read_text()
    bad.write_text(text[: len(text) * 2 // 3])
    for argv in (["evaluate", str(bad), str(test)], ["info", str(bad)]):
        code = main(argv)
        assert_one_line_error(capsys, code, str(bad), "truncated")


def test_stress_on_non_periodic_structure(tmp_path, capsys):
    data = write(tmp_path / "np.xyz", [labelled("Cu2", [[0, 0, 0], [2.5, 0, 0]], stress=True, pbc=False)])
    code = main(["fit", "--train", str(data), "-o", str(tmp_path / "o.json"), *FAST])
    assert_one_line_error(capsys, code, str(data), "structure 0", "not periodic")


def test_cutoff_longer_than_non_periodic_box_fits(tmp_path, capsys):
    """Clusters in a 2 Å box (or no box) with a 4.5 Å cutoff: neighbours are the real atoms only."""
    rng = np.random.default_rng(0)
    frames = []
    for k in range(12):
        base = np.array([[0, 0, 0], [2.4, 0, 0], [1.2, 2.0, 0], [1.2, 0.7, 2.0]], float)
        pos = base + rng.normal(scale=0.1, size=base.shape)
        d = np.linalg.norm(pos[:, None] - pos[None], axis=-1)
        e = float(np.sum(np.triu((d - 2.45) ** 2, 1)))
        frames.append(labelled("Cu4", pos, cell=np.eye(3) * (2.0 if k % 2 else 0.0), energy=e, forces=None, pbc=False))
    data = write(tmp_path / "clusters.xyz", frames)
    out = tmp_path / "o.json"
    assert main(["fit", "--train", str(data), "-o", str(out), *FAST]) == 0
    assert out.exists()


def test_bad_config(tmp_path, capsys):
    cfg = tmp_path / "bad.toml"
    cfg.write_text("[descriptor\ncutoff = 5")
    code = main(["fit", "--config", str(cfg), "-o", str(tmp_path / "o.json")])
    assert_one_line_error(capsys, code, str(cfg), "TOML")
    cfg.write_text("[fit]\nmethd = 'ridge'\n")
    code = main(["fit", "--config", str(cfg), "-o", str(tmp_path / "o.json")])
    assert_one_line_error(capsys, code, str(cfg), "methd")


def test_real_process_exit_status_and_no_traceback(tmp_path):
    data = write(tmp_path / "bad.xyz", [good_frame(), labelled("Cu2", [[0, 0, 0], [2.5, 0, 0]], energy=None, forces=None)])
    out = tmp_path / "o.json"
    proc = subprocess.run([sys.executable, "-m", "linpot", "fit", "--train", str(data), "-o", str(out)],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines()[-1].startswith("linpot: error: ")
    assert "Traceback" not in proc.stderr
    assert not out.exists()


def test_descriptor_preset_and_invariants_fit(small_cu, tmp_path, capsys):
    train, test = small_cu
    pot = tmp_path / "inv.json"
    assert main(["fit", "--train", str(train), "--test", str(test), "--descriptor", "invariants-small",
                 "--cutoff", "4.5", "-o", str(pot)]) == 0
    doc = json.loads(pot.read_text())
    assert doc["model"]["descriptor"]["kind"] == "invariants"
    assert doc["model"]["descriptor"]["cutoff"] == 4.5
    assert doc["model"]["descriptor"]["orders"] == [[1, 6, 0], [2, 6, 4], [3, 4, 3]]
    capsys.readouterr()
    assert main(["evaluate", str(pot), str(test), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["overall"]["n_structures"] == 4


def test_recipe_preset_key_and_unknown_preset(small_cu, tmp_path, capsys):
    train, _ = small_cu
    cfg = tmp_path / "r.toml"
    cfg.write_text(f'preset = "invariants-small"\n[data]\ntrain = ["{train}"]\n[descriptor]\ncutoff = 4.0\n')
    pot = tmp_path / "p.json"
    assert main(["fit", "--config", str(cfg), "-o", str(pot)]) == 0
    doc = json.loads(pot.read_text())
    assert doc["model"]["descriptor"]["kind"] == "invariants" and doc["model"]["descriptor"]["cutoff"] == 4.0
    code = main(["fit", "--train", str(train), "--descriptor", "nonsense", "-o", str(tmp_path / "q.json")])
    assert_one_line_error(capsys, code, "unknown descriptor preset", "invariants-medium")


def test_presets_listed_and_coupling_table_check(capsys):
    assert main(["presets"]) == 0
    out = capsys.readouterr().out
    for name in ("pair", "invariants-small", "invariants-medium", "invariants-large", "invariants-order6"):
        assert name in out
    assert main(["coupling-tables", "--check", "--reach", "2:4,3:3,4:2,5:1,6:1"]) == 0
    assert "agree" in capsys.readouterr().out
