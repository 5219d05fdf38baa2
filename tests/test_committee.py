"""Committees: the mean of independently fitted potentials and their spread; the file format; the
committee's held-out errors against a direct refit without each fold; the command line."""

import json

import ase.io
import numpy as np
import pytest
from conftest import binary_cell, make_model, triclinic_cell
from test_cli import CU_TEST, assert_one_line_error

from linpot.cli import main
from linpot.errors import LinpotInputError, PotentialFileError
from linpot.fit.committee import fit_committee, held_out_parts
from linpot.fit.config import load_config
from linpot.fit.normal_equations import NormalEquations
from linpot.fit.ridge import ridge_solve
from linpot.potential import Potential
from linpot.potential.committee import CommitteePotential
from linpot.structures import read_datasets


def two_members(elements=("Cu",)):
    a = Potential(*make_model(elements=elements, kind="chebyshev", n_basis=4, degree=2, family="pair", seed=1))
    b = Potential(*make_model(elements=elements, kind="gaussian", n_basis=4, degree=1, family="invariants", seed=2))
    return a, b


def test_committee_is_the_members_mean_and_their_spread():
    a, b = two_members()
    committee = CommitteePotential([a, b])
    atoms = triclinic_cell()
    pa, pb, pc = a.predict_atoms(atoms), b.predict_atoms(atoms), committee.predict_atoms(atoms)
    assert abs(pa["energy"] - pb["energy"]) > 1e-3  # different members, so the mean is a real test
    assert pc["energy"] == pytest.approx(0.5 * (pa["energy"] + pb["energy"]), rel=1e-14, abs=1e-12)
    for key in ("forces", "stress", "energies"):
        assert np.allclose(pc[key], 0.5 * (pa[key] + pb[key]), rtol=1e-14, atol=1e-14)
    u = committee.predict_uncertainty(atoms.positions, atoms.numbers, atoms.cell.array, atoms.pbc)
    # sample standard deviation of two values: |x1 - x2| / sqrt(2)
    assert u["energy_std"] == pytest.approx(abs(pa["energy"] - pb["energy"]) / len(atoms) / np.sqrt(2), rel=1e-12)
    assert np.allclose(u["atomic_energy_std"], np.abs(pa["energies"] - pb["energies"]) / np.sqrt(2), rtol=1e-12)
    scaled = CommitteePotential([a, b], energy_std_scale=2.5)
    v = scaled.predict_uncertainty(atoms.positions, atoms.numbers, atoms.cell.array, atoms.pbc)
    assert v["energy_std"] == pytest.approx(2.5 * u["energy_std"], rel=1e-14) and v["energy_std_raw"] == u["energy_std"]
    for bad in (0.0, -1.0, float("nan")):
        with pytest.raises(LinpotInputError, match="energy_std_scale"):
            CommitteePotential([a, b], energy_std_scale=bad)


def test_committee_forces_and_stress_are_derivatives_of_its_energy():
    committee = CommitteePotential(two_members())
    atoms = triclinic_cell()
    out = committee.predict_atoms(atoms)
    def energy(p):
        return committee.predict_atoms(p)["energy"]
    h = 1e-5
    fd = np.zeros_like(out["forces"])
    for i in range(len(atoms)):
        for x in range(3):
            p = atoms.copy()
            p.positions[i, x] += h
            ep = energy(p)
            p.positions[i, x] -= 2 * h
            fd[i, x] = -(ep - energy(p)) / (2 * h)
    assert np.max(np.abs(out["forces"])) > 1e-3
    assert np.max(np.abs(fd - out["forces"])) / np.max(np.abs(out["forces"])) < 1e-6
    V, h = atoms.get_volume(), 1e-6
    fd_stress = []
    for a, b in [(0, 0), (1, 1), (2, 2), (1, 2), (0, 2), (0, 1)]:
        values = []
        for sign in (1, -1):
            eps = np.zeros((3, 3))
            eps[a, b] += sign * h / (1 if a == b else 2)
            if a != b:
                eps[b, a] += sign * h / 2
            p = atoms.copy()
            p.set_cell(atoms.cell.array @ (np.eye(3) + eps), scale_atoms=True)
            values.append(energy(p))
        fd_stress.append((values[0] - values[1]) / (2 * h) / V)
    assert np.allclose(out["stress"], fd_stress, rtol=1e-5, atol=1e-8)


def test_committee_is_invariant_under_rotation_reflection_translation_permutation_and_replication():
    committee = CommitteePotential(two_members())
    atoms = triclinic_cell()
    ref = committee.predict_atoms(atoms)
    rng = np.random.default_rng(7)
    q, r = np.linalg.qr(rng.normal(size=(3, 3)))
    q = q @ np.diag(np.sign(np.diag(r)))
    for rot in (q, -q):  # a proper or improper rotation, and its reflection
        moved = atoms.copy()
        moved.set_cell(atoms.cell.array @ rot.T, scale_atoms=False)
        moved.positions = atoms.positions @ rot.T + rng.normal(size=3)
        out = committee.predict_atoms(moved)
        assert out["energy"] == pytest.approx(ref["energy"], rel=1e-10)
        assert np.allclose(out["forces"], ref["forces"] @ rot.T, atol=1e-9)
    perm = rng.permutation(len(atoms))
    out = committee.predict_atoms(atoms[perm])
    assert out["energy"] == pytest.approx(ref["energy"], rel=1e-10)
    assert np.allclose(out["forces"], ref["forces"][perm], atol=1e-10)
    big = committee.predict_atoms(atoms.repeat((2, 1, 2)))
    assert big["energy"] == pytest.approx(4 * ref["energy"], rel=1e-10)
    assert np.allclose(big["stress"], ref["stress"], atol=1e-10)


def test_committee_file_round_trip_and_refusals(tmp_path):
    committee = CommitteePotential(two_members(), {"fit": {"method": "committee"}}, energy_std_scale=1.7)
    path = tmp_path / "committee.json"
    committee.save(path)
    loaded = Potential.load(path)
    assert isinstance(loaded, CommitteePotential) and len(loaded.members) == 2 and loaded.energy_std_scale == 1.7
    atoms = triclinic_cell()
    a, b = committee.predict_atoms(atoms), loaded.predict_atoms(atoms)
    assert a["energy"] == b["energy"] and np.array_equal(a["forces"], b["forces"])
    loaded.save(tmp_path / "again.json")
    assert (tmp_path / "again.json").read_bytes() == path.read_bytes()
    doc = json.loads(path.read_text())
    doc["members"][1]["coefficients"][0][1] += 1.0  # edited inside a member: both checksums catch it
    (tmp_path / "edited.json").write_text(json.dumps(doc))
    with pytest.raises(PotentialFileError, match="checksum"):
        Potential.load(tmp_path / "edited.json")
    with pytest.raises(LinpotInputError, match="at least 2 members"):
        CommitteePotential(two_members()[:1])
    cu, alni = two_members()[0], two_members(("Al", "Ni"))[1]
    with pytest.raises(LinpotInputError, match="member 2 has elements Al Ni"):
        CommitteePotential([cu, alni])
    assert CommitteePotential(two_members(("Al", "Ni"))).predict_atoms(binary_cell())["forces"].shape == (len(binary_cell()), 3)


@pytest.fixture(scope="module")
def small_cu_committee(tmp_path_factory):
    d = tmp_path_factory.mktemp("committee")
    frames = ase.io.read(CU_TEST, ":")
    train = d / "train.xyz"
    ase.io.write(train, frames[:30:2], format="extxyz")
    cfg = d / "committee.toml"
    cfg.write_text(f"""
[data]
train = ["{train}"]
[fit]
kfold = 3
weights = {{ energy = 1000.0, forces = 10.0, stress = 1.0 }}
[[committee]]
descriptor = {{ kind = "pair", cutoff = 4.5, radial = {{ kind = "chebyshev", n_basis = 4 }} }}
model = {{ kind = "polynomial", degree = 2 }}
[[committee]]
model = {{ kind = "polynomial", degree = 1 }}
fit = {{ weights = {{ energy = 3000.0 }} }}
[committee.descriptor]
kind = "invariants"
cutoff = 4.5
radial = {{ kind = "gaussian", n_basis = 3, r_min = 1.5 }}
orders = [[1, 3, 0], [2, 3, 2], [3, 2, 2], [4, 1, 2]]
""")
    return cfg, train


def test_committee_held_out_errors_equal_refits_without_each_fold(small_cu_committee):
    """The slow twin: refit every member without each fold from freshly accumulated normal
    equations at its chosen ridge strength, average the members' predictions on the fold."""
    cfg, _ = small_cu_committee
    config = load_config(cfg)
    train = read_datasets(config["data"]["train"])
    committee, report = fit_committee(train, config)
    assert report["method"] == "committee" and len(report["members"]) == 2
    parts = held_out_parts(train, config["fit"])
    assert sorted(np.concatenate(parts).tolist()) == list(range(len(train)))
    weights = [{"energy": 1000.0, "forces": 10.0, "stress": 1.0}, {"energy": 3000.0, "forces": 10.0, "stress": 1.0}]
    err_e, err_f, spread = [], [], []
    member_err_e, member_err_f = [[], []], [[], []]
    for idx in parts:
        held = set(idx.tolist())
        predictions = []
        for member, w, member_report in zip(committee.members, weights, report["members"]):
            eq = NormalEquations(member.model.n_coefficients)
            for k in range(len(train)):
                if k in held:
                    continue
                s = train.atom_slice(k)
                rows = member.model.design_rows(train.positions[s], train.numbers[s], train.cells[k], train.pbc[k])
                eq.add_structure(rows, s.stop - s.start, energy=train.energy[k], forces=train.forces[s],
                                 stress=train.stress[k])
            A, b, _ = eq.combined(w)
            coef = ridge_solve(A, b, member_report["alpha"], member.model.constant_columns())
            predictions.append([member.model.predict(coef, train.positions[train.atom_slice(k)],
                                                     train.numbers[train.atom_slice(k)], train.cells[k], train.pbc[k])
                                for k in idx])
        for j, k in enumerate(idx):
            s = train.atom_slice(k)
            err_e.append((np.mean([p[j]["energy"] for p in predictions]) - train.energy[k]) / (s.stop - s.start))
            spread.append(np.std([p[j]["energy"] for p in predictions], ddof=1) / (s.stop - s.start))
            err_f.append(np.mean([p[j]["forces"] for p in predictions], axis=0) - train.forces[s])
            for m, p in enumerate(predictions):
                member_err_e[m].append((p[j]["energy"] - train.energy[k]) / (s.stop - s.start))
                member_err_f[m].append(p[j]["forces"] - train.forces[s])
    held_out = report["held_out"]
    assert held_out["energy_rmse_mev_per_atom"] == pytest.approx(1000 * np.sqrt(np.mean(np.square(err_e))), rel=1e-6)
    assert held_out["force_rmse_ev_per_angstrom"] == pytest.approx(np.sqrt(np.mean(np.concatenate(err_f) ** 2)), rel=1e-6)
    assert held_out["n_structures"] == len(train)
    assert report["energy_std_rms_mev_per_atom"] == pytest.approx(1000 * np.sqrt(np.mean(np.square(spread))), rel=1e-6)
    # the spread is calibrated to the held-out error: RMSE over the root mean square spread
    scale = np.sqrt(np.mean(np.square(err_e))) / np.sqrt(np.mean(np.square(spread)))
    assert report["energy_std_scale"] == pytest.approx(scale, rel=1e-6)
    assert committee.energy_std_scale == report["energy_std_scale"] and abs(scale - 1.0) > 1e-3
    # the members' own pooled errors on the same rows are in their reports, and differ from the committee's
    assert all(abs(m["held_out"]["energy_rmse_mev_per_atom"] - held_out["energy_rmse_mev_per_atom"]) > 1e-6
               for m in report["members"])
    for m, member_report in enumerate(report["members"]):
        own = member_report["held_out"]
        assert own["energy_rmse_mev_per_atom"] == pytest.approx(1000 * np.sqrt(np.mean(np.square(member_err_e[m]))), rel=1e-6)
        assert own["force_rmse_ev_per_angstrom"] == pytest.approx(np.sqrt(np.mean(np.concatenate(member_err_f[m]) ** 2)),
                                                                  rel=1e-6)


def test_committee_on_the_command_line(small_cu_committee, tmp_path, capsys):
    cfg, train = small_cu_committee
    out = tmp_path / "committee.json"
    assert main(["fit", "--config", str(cfg), "-o", str(out), "--report", str(tmp_path / "r.json")]) == 0
    text = capsys.readouterr().out
    assert "fit: committee (members 2)" in text and "member 2 alone" in text
    assert isinstance(Potential.load(out), CommitteePotential)
    assert main(["info", str(out)]) == 0
    assert "committee      2 members" in capsys.readouterr().out
    assert main(["evaluate", str(out), str(train), "--uncertainty", "--json"]) == 0
    table = json.loads(capsys.readouterr().out)
    assert table["overall"]["n_structures"] == 15 and table["uncertainty"]["overall"]["energy_std_mean_mev_per_atom"] > 0
    code = main(["export", str(out), "-o", str(tmp_path / "mod.py")])
    assert_one_line_error(capsys, code, str(out), "committee")
    assert not (tmp_path / "mod.py").exists()


@pytest.mark.parametrize("body, fragment", [
    ("[[committee]]\ndescriptor = { kind = 'pair' }\n", "at least 2"),
    ("[[committee]]\n[[committee]]\ncutof = 4.0\n", "member 2: unknown option(s) cutof"),
    ("[[committee]]\nfit = { kfold = 3 }\n[[committee]]\n", "member 1: [fit] option(s) kfold are shared"),
    ("committee = 3\n", "array of tables"),
])
def test_bad_committee_configs_are_one_line_errors(small_cu_committee, tmp_path, capsys, body, fragment):
    _, train = small_cu_committee
    cfg = tmp_path / "bad.toml"
    cfg.write_text(body)
    code = main(["fit", "--config", str(cfg), "--train", str(train), "-o", str(tmp_path / "o.json")])
    assert_one_line_error(capsys, code, str(cfg), fragment)
    assert not (tmp_path / "o.json").exists()


def test_bayes_committee_is_refused(small_cu_committee, tmp_path, capsys):
    cfg, _ = small_cu_committee
    code = main(["fit", "--config", str(cfg), "--method", "bayes", "-o", str(tmp_path / "o.json")])
    assert_one_line_error(capsys, code, "bayes")


@pytest.mark.parametrize("flags, fragment", [(["--cutoff", "4.0"], "--cutoff"), (["--n-basis", "3"], "--cutoff"),
                                             (["--degree", "1"], "--degree"), (["--descriptor", "invariants-small"], "--descriptor"),
                                             (["--energy-weight", "10"], "weight")])
def test_member_settings_on_the_command_line_are_refused_for_committees(small_cu_committee, tmp_path, capsys, flags, fragment):
    cfg, _ = small_cu_committee
    code = main(["fit", "--config", str(cfg), "-o", str(tmp_path / "o.json"), *flags])
    assert_one_line_error(capsys, code, str(cfg), fragment, "[[committee]]")
    assert not (tmp_path / "o.json").exists()
