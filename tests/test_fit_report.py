"""The fit report has one name and one unit per quantity: every error key of a real
`linpot fit --report` JSON (k-fold and committee) is one of the names documented in
docs/fitting.md, and the same quantity has the same value wherever it appears -- in the report,
in the printed summary and tables, and in `linpot evaluate --json` of the written potential."""

import json
import re
from pathlib import Path

import pytest
from test_cli import FAST, small_cu  # noqa: F401  (fixture)
from test_committee import small_cu_committee  # noqa: F401  (fixture)

from linpot.cli import main
from linpot.fit.report import MAE_KEYS, RMSE_KEYS, UNITS

DOCS = Path(__file__).resolve().parents[1] / "docs" / "fitting.md"
#: a key naming an error, a spread or a noise level (the dimensionless energy_std_scale aside)
ERROR_LIKE = re.compile(r"rmse|mae|_std|noise|sigma")
#: the printed precision of energy (meV/atom), forces (eV/Å) and stress (GPa)
DECIMALS = dict(zip(RMSE_KEYS, (3, 4, 3)))


def documented_units() -> dict:
    """The units table of docs/fitting.md's "Fit report" section: {key: unit}."""
    section = DOCS.read_text().split("## Fit report", 1)[1]
    return {m.group(1): m.group(2) for m in re.finditer(r"^\| `([a-z_]+)` \| ([^|]+?) \|", section, re.M)}


def test_the_documented_units_table_is_the_code_s():
    assert documented_units() == UNITS
    for key, unit in UNITS.items():  # the unit is in the name
        suffix = {"meV/atom": "_mev_per_atom", "eV/Å": "_ev_per_angstrom", "GPa": "_gpa", "meV": "_mev"}[unit]
        assert key.endswith(suffix), key


def error_keys(node, path=()):
    """(path, key) of every error-like key anywhere in a report (the user's recipe aside)."""
    if isinstance(node, dict):
        for key, value in node.items():
            if path == () and key == "config":
                continue
            if ERROR_LIKE.search(key) and key != "energy_std_scale":
                yield path, key
            yield from error_keys(value, (*path, key))
    elif isinstance(node, list):
        for k, value in enumerate(node):
            yield from error_keys(value, (*path, k))


def chosen_entry(report):
    chosen = [entry for entry in report["validation_curve"] if entry["chosen"]]
    assert len(chosen) == 1
    return chosen[0]


def check_fit(report):
    """One fit's (or committee's) held-out numbers agree wherever they appear."""
    held_out, entry = report["held_out"], chosen_entry(report)
    assert held_out["energy_rmse_mev_per_atom"] is not None and held_out["force_rmse_ev_per_angstrom"] is not None
    for key in RMSE_KEYS:  # computed once: equal to the bit
        assert held_out[key] == entry[key], key
    # the per-config_type held-out errors split the same rows: one energy row per structure
    # (computed per config_type from normal equations, where |Xw - y|^2 = w^T A w - 2 b^T w + y^T y
    # cancels ~7 digits: agreement to 1e-6, where a unit slip would be a factor of 1e6)
    by_type = report["validation_by_config_type"]
    assert sum(t["n_structures"] for t in by_type.values()) == held_out["n_structures"] == report["n_validation"]
    pooled = sum(t["energy_rmse_mev_per_atom"] ** 2 * t["n_structures"] for t in by_type.values())
    assert held_out["energy_rmse_mev_per_atom"] ** 2 * held_out["n_structures"] == pytest.approx(pooled, rel=1e-6)
    for member in report.get("members", []):
        check_fit(member)


def printed(value: float, key: str) -> str:
    return f"{value:.{DECIMALS[key]}f}"


def check_printed_summary(text: str, report: dict):
    """The printed held-out line and error tables show the report's numbers in the same units."""
    line = next(line for line in text.splitlines() if line.startswith("held-out RMSE"))
    shown = dict(re.findall(r"(energy|forces|stress) (-?[0-9.]+) (?:meV/atom|eV/Å|GPa)", line))
    held_out = report["held_out"]
    assert shown == {name: printed(held_out[key], key) for name, key in zip(("energy", "forces", "stress"), RMSE_KEYS)
                     if held_out[key] is not None}
    assert "energy" in shown and "forces" in shown
    for k, member in enumerate(report.get("members", []), start=1):
        line = next(line for line in text.splitlines() if line.startswith(f"  member {k} alone"))
        assert f"energy {printed(member['held_out']['energy_rmse_mev_per_atom'], 'energy_rmse_mev_per_atom')} meV/atom" in line
    for split, table in report["errors"].items():
        lines = text.split(f"{split} errors", 1)[1].splitlines()
        overall = next(line for line in lines if line.startswith("overall")).split()
        expected = [printed(table["overall"][rmse], rmse) + " " + printed(table["overall"][mae], rmse)
                    for rmse, mae in zip(RMSE_KEYS, MAE_KEYS)]
        assert " ".join(overall[2:]) == " ".join(expected)


def check_report(path: Path, potential: Path, data: dict, text: str, capsys) -> dict:
    report = json.loads(path.read_text())
    documented = documented_units()
    keys = list(error_keys(report))
    assert keys, "the report has no errors at all"
    unknown = sorted({key for _, key in keys if key not in documented})
    assert not unknown, f"undocumented error keys: {unknown}"
    check_fit(report)
    check_printed_summary(text, report)
    # the error tables are those of the written potential, as `linpot evaluate --json` gives them
    for split, table in report["errors"].items():
        capsys.readouterr()
        assert main(["evaluate", str(potential), *data[split], "--json"]) == 0
        assert json.loads(capsys.readouterr().out) == table
    return report


def test_kfold_report_has_one_name_and_one_value_per_quantity(small_cu, tmp_path, capsys):  # noqa: F811
    train, test = small_cu
    pot, path = tmp_path / "pot.json", tmp_path / "report.json"
    capsys.readouterr()
    assert main(["fit", "--train", str(train), "--test", str(test), "-o", str(pot), *FAST, "--kfold", "3",
                 "--report", str(path)]) == 0
    text = capsys.readouterr().out
    report = check_report(path, pot, {"train": [str(train)], "test": [str(test)]}, text, capsys)
    assert len(report["validation_curve"]) > 3 and report["kfold"] == 3


def test_committee_report_has_one_name_and_one_value_per_quantity(small_cu_committee, tmp_path, capsys):  # noqa: F811
    cfg, train = small_cu_committee
    pot, path = tmp_path / "committee.json", tmp_path / "report.json"
    capsys.readouterr()
    assert main(["fit", "--config", str(cfg), "-o", str(pot), "--report", str(path)]) == 0
    text = capsys.readouterr().out
    report = check_report(path, pot, {"train": [str(train)]}, text, capsys)
    assert report["method"] == "committee" and len(report["members"]) == 2
    assert report["energy_std_rms_mev_per_atom"] > 0
    # the committee's scale relates two numbers in the same unit
    assert report["energy_std_scale"] == pytest.approx(
        report["held_out"]["energy_rmse_mev_per_atom"] / report["energy_std_rms_mev_per_atom"], rel=1e-12)


def test_bayes_report_names_its_noise_with_units(small_cu, tmp_path, capsys):  # noqa: F811
    """The Bayesian fit's label noise and held-out errors use the same names, and its potential
    file's provenance records the noise under them too."""
    train, test = small_cu
    pot, path = tmp_path / "bayes.json", tmp_path / "report.json"
    assert main(["fit", "--train", str(train), "-o", str(pot), *FAST, "--method", "bayes", "--kfold", "3",
                 "--report", str(path)]) == 0
    text = capsys.readouterr().out
    report = check_report(path, pot, {"train": [str(train)]}, text, capsys)
    chosen = report["chosen"]
    assert chosen["energy_noise_std_mev_per_atom"] > 0 and chosen["force_noise_std_ev_per_angstrom"] > 0
    # sigma_E^2 = |residual|^2 / max(N - gamma, 1) with 0 < gamma < N: between the training RMSE
    # and sqrt(N) times it, in the same unit
    overall = report["errors"]["train"]["overall"]
    ratio = chosen["energy_noise_std_mev_per_atom"] / overall["energy_rmse_mev_per_atom"]
    assert 1 - 1e-6 < ratio < overall["n_structures"] ** 0.5 + 1e-6
    provenance = json.loads(pot.read_text())
    assert "energy_noise_std_mev_per_atom" in json.dumps(provenance)
