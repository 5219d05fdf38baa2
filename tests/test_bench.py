"""``linpot bench`` end to end on a two-element mini database: one element by recipe, one by
preset; reports, summary and reuse of finished elements; bad databases as one-line errors."""

from __future__ import annotations

import json
from pathlib import Path

import ase.io
import pytest

from linpot.analysis import database
from linpot.cli import main

REPO = Path(__file__).resolve().parents[1]
RECIPE = """
[descriptor]
kind = "pair"
cutoff = 4.5
radial = { kind = "chebyshev", n_basis = 3 }
[model]
kind = "polynomial"
degree = 2
[fit]
kfold = 3
weights = { energy = 1000.0, forces = 10.0, stress = 1.0 }
"""


@pytest.fixture(scope="module")
def mini_db(tmp_path_factory):
    root = tmp_path_factory.mktemp("db")
    for source, element in (("alpha", "Cu"), ("beta", "Mo")):
        frames = ase.io.read(REPO / "data" / "mlearn" / element / "test.xyz", ":")
        folder = root / "data" / source / element
        folder.mkdir(parents=True)
        ase.io.write(folder / "train.xyz", frames[:16:2], format="extxyz")
        ase.io.write(folder / "test.xyz", frames[17:21], format="extxyz")
        (root / "data" / source / "manifest.toml").write_text(
            f'name = "{source}"\n[elements.{element}]\nstructure = "{"fcc" if element == "Cu" else "bcc"}"\n')
    recipes = root / "recipes"
    recipes.mkdir()
    (recipes / "alpha-Cu.toml").write_text(RECIPE)
    return root


def test_discover_reads_layout_and_manifests(mini_db):
    entries = database.discover(mini_db / "data")
    assert [(e.source, e.element, e.structure) for e in entries] == [("alpha", "Cu", "fcc"), ("beta", "Mo", "bcc")]
    assert [e.key for e in entries] == ["alpha-Cu", "beta-Mo"]


def test_discover_skips_multi_element_sets(tmp_path):
    """A folder listed under [systems.<name>] (an alloy, an oxide) is not a bench entry; its
    elemental neighbours are. The shipped database keeps its binaries out of the bench too."""
    frames = ase.io.read(REPO / "data" / "mlearn" / "Cu" / "test.xyz", "0:2")
    for name in ("Cu", "CuAg"):
        (tmp_path / "src" / name).mkdir(parents=True)
        ase.io.write(tmp_path / "src" / name / "train.xyz", frames, format="extxyz")
    (tmp_path / "src" / "manifest.toml").write_text(
        '[elements.Cu]\nstructure = "fcc"\n[systems.CuAg]\nelements = ["Ag", "Cu"]\n')
    assert [e.key for e in database.discover(tmp_path)] == ["src-Cu"]
    shipped = [e.key for e in database.discover(REPO / "data")]
    assert "snap_nbmotaw-Nb" in shipped
    assert not any(key.endswith(("-NbMo", "-MgO")) for key in shipped)


def test_bench_end_to_end_and_reuse(mini_db, capsys, monkeypatch):
    out = mini_db / "report"
    args = ["bench", str(mini_db / "data"), "--recipes", str(mini_db / "recipes"), "--descriptor", "pair",
            "--no-properties", "-o", str(out)]
    assert main(args) == 0
    printed = capsys.readouterr().out
    summary = json.loads((out / "summary.json").read_text())
    assert [(r["element"], r["how"]) for r in summary] == [("Cu", "recipe alpha-Cu.toml"), ("Mo", "preset pair")]
    for r in summary:
        folder = out / f"{r['source']}-{r['element']}"
        assert (folder / "potential.json").is_file() and (folder / "parity.png").read_bytes()[:4] == b"\x89PNG"
        assert r["element"] in (folder / "report.md").read_text()
        overall = r["test_errors"]["overall"]
        assert overall["n_structures"] == 4 and overall["energy_rmse_mev_per_atom"] > 0
        assert f"{overall['energy_rmse_mev_per_atom']:.2f}" in printed
    assert (out / "summary.png").read_bytes()[:4] == b"\x89PNG" and "alpha-Cu/report.md" in (out / "summary.md").read_text()
    # The recipe was used as written: its pair model with 3 radial functions, degree 2 (3 + 6 terms + constant).
    from linpot.potential import load

    assert load(out / "alpha-Cu" / "potential.json").n_features == 10

    # A rerun reuses both finished elements: nothing is fitted.
    def no_fit(*a, **k):
        raise AssertionError("a finished element was fitted again")

    monkeypatch.setattr(database, "fit_entry", no_fit)
    assert main(args) == 0
    assert json.loads((out / "summary.json").read_text()) == summary
    # A changed recipe invalidates only that element.
    (mini_db / "recipes" / "alpha-Cu.toml").write_text(RECIPE.replace("degree = 2", "degree = 1"))
    monkeypatch.undo()
    calls = []
    original = database.fit_entry
    monkeypatch.setattr(database, "fit_entry", lambda entry, *a: calls.append(entry.key) or original(entry, *a))
    assert main(args) == 0
    assert calls == ["alpha-Cu"]


@pytest.mark.parametrize("make, fragment", [
    (lambda root: None, "database folder not found"),
    (lambda root: (root / "empty").mkdir(parents=True), "no <source>/<element>/train.xyz"),
])
def test_bad_database_is_a_one_line_error(tmp_path, capsys, make, fragment):
    make(tmp_path)
    target = tmp_path / ("empty" if "train" in fragment else "missing")
    code = main(["bench", str(target), "-o", str(tmp_path / "out")])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1 and fragment in err[0]


def test_properties_command(tmp_path, capsys):
    out = tmp_path / "props"
    assert main(["properties", str(REPO / "fits" / "mlearn-Cu.json"), "--skip", "md", "phonons", "vacancy",
                 "--reference", str(REPO / "data" / "mlearn" / "Cu" / "test.xyz"), "-o", str(out)]) == 0
    printed = capsys.readouterr().out
    results = json.loads((out / "properties.json").read_text())
    rows = {r["property"]: r for r in results["comparison"]}
    # fcc Cu: a near 3.6 Å, cubic constants with C11 > C12 > 0, the Born stability of a cubic crystal
    assert 3.5 < rows["a"]["potential"] < 3.7
    c11, c12, c44 = (rows[k]["potential"] for k in ("C11", "C12", "C44"))
    assert c11 > abs(c12) and c44 > 0 and c11 + 2 * c12 > 0
    assert "| C44 |" in printed and (out / "properties.md").read_text().startswith("# Properties")


def test_properties_bad_reference_is_one_line(tmp_path, capsys):
    bad = tmp_path / "bad.xyz"
    bad.write_text("not an xyz file\n")
    code = main(["properties", str(REPO / "fits" / "mlearn-Cu-pair.json"), "--skip", "md", "phonons", "vacancy", "surfaces",
                 "eos", "elastic", "--reference", str(bad), "-o", str(tmp_path / "p")])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1 and str(bad) in err[0]


def test_element_key_changes_with_linpot_sources(tmp_path, monkeypatch):
    """A finished element is not reused by different linpot code: the key covers the sources."""
    train = tmp_path / "train.xyz"
    train.write_text("1\nLattice=\"3 0 0 0 3 0 0 0 3\" Properties=species:S:1:pos:R:3 energy=-1.0 pbc=\"T T T\"\nCu 0 0 0\n")
    entry = database.Entry("src", "Cu", train, None, {})
    key = database.element_key(entry, None, "pair")
    assert database.element_key(entry, None, "pair") == key
    monkeypatch.setattr(database, "code_hash", lambda: "other sources")
    assert database.element_key(entry, None, "pair") != key
