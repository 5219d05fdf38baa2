"""Pareto searches, order comparison and automatic model choice, end to end on a few shipped
structures: fronts against brute force, resuming re-fits nothing already done, held-out errors
equal those of the fit itself, costs measured in the same run, the budget respected."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import ase.io
import numpy as np
import pytest

from linpot.analysis import auto, pareto
from linpot.cli import main

REPO = Path(__file__).resolve().parents[1]
CU_TEST = REPO / "data" / "mlearn" / "Cu" / "test.xyz"

SEARCH = """
[data]
train = ["train.xyz"]
test = ["test.xyz"]
[search]
kfold = 3
rounds = 2
benchmark_atoms = 32
cost_reference = "lj"
[common]
fit = {{ weights = {{ energy = 1000.0, forces = 10.0, stress = 1.0 }} }}
[[grid]]
name = "pair"
descriptor = {{ kind = "pair", cutoff = 4.5, radial = {{ kind = "chebyshev", n_basis = 3 }} }}
model = {{ kind = "polynomial", degree = 1 }}
vary = {{ "descriptor.cutoff" = [4.0, 4.5], "model.degree" = [1, 2] }}
[[grid]]
name = "inv"
descriptor = {{ kind = "invariants", cutoff = 4.5, radial = {{ kind = "gaussian", n_basis = 3, r_min = 0.0 }}, {orders} }}
model = {{ kind = "polynomial", degree = 1 }}
"""
ORDERS = 'orders = [[1, 3, 0], [2, 3, 2], [3, 2, 2]]'


@pytest.fixture(scope="module")
def small_cu(tmp_path_factory):
    frames = ase.io.read(CU_TEST, ":")
    d = tmp_path_factory.mktemp("cu")
    ase.io.write(d / "train.xyz", frames[:24:3], format="extxyz")
    ase.io.write(d / "test.xyz", frames[25:29], format="extxyz")
    (d / "search.toml").write_text(SEARCH.format(orders=ORDERS))
    return d


def brute_force_front(costs, errors):
    """Points no other point dominates (as cheap or cheaper and as accurate or more, better in one)."""
    return {k for k in range(len(costs))
            if not any(costs[j] <= costs[k] and errors[j] <= errors[k] and (costs[j] < costs[k] or errors[j] < errors[k])
                       for j in range(len(costs)))}


def test_mark_fronts_matches_brute_force():
    rng = np.random.default_rng(3)
    for _ in range(50):
        n = int(rng.integers(1, 25))
        records = [{"cost_ratio": float(c), "cv_energy_rmse": float(e), "cv_force_rmse": float(f)}
                   for c, e, f in zip(rng.integers(1, 8, n), rng.integers(1, 8, n), rng.random(n))]
        pareto.mark_fronts(records)
        for quantity, column in (("energy", "cv_energy_rmse"), ("force", "cv_force_rmse")):
            expected = brute_force_front([r["cost_ratio"] for r in records], [r[column] for r in records])
            assert {k for k, r in enumerate(records) if r[f"pareto_{quantity}"]} == expected


def test_expand_grid_is_the_cartesian_product():
    points = pareto.expand_grid({"name": "g", "descriptor": {"kind": "pair", "cutoff": 5.0},
                                 "vary": {"descriptor.cutoff": [4.0, 5.0, 6.0], "model.degree": [1, 2]}},
                                search={"kfold": 4, "seed": 7})
    assert [n for n, _ in points] == [f"g[cutoff={c:g},degree={d}]" for c in (4.0, 5.0, 6.0) for d in (1, 2)]
    assert [(c["descriptor"]["cutoff"], c["model"]["degree"]) for _, c in points] == [
        (c, d) for c in (4.0, 5.0, 6.0) for d in (1, 2)]
    assert all(c["fit"]["kfold"] == 4 and c["fit"]["seed"] == 7 for _, c in points)


@pytest.mark.parametrize("text, fragment", [
    ("[data]\ntrain = ['a.xyz']\n", "no [[grid]]"),
    ("[data]\ntrain = ['a.xyz']\n[[grid]]\nname = 'x'\nvary = { 'descriptor.nope.deep' = [1] }\n", "not a table"),
    ("[data]\ntrain = ['a.xyz']\n[search]\nfolds = 3\n[[grid]]\nname = 'x'\n", "unknown [search]"),
    ("[data]\ntrain = ['a.xyz']\n[[grid]]\nname = 'x'\nvary = { 'model.degree' = [] }\n", "non-empty list"),
])
def test_bad_search_files_are_one_line_errors(tmp_path, capsys, text, fragment):
    path = tmp_path / "s.toml"
    path.write_text(text)
    code = main(["pareto", str(path), "-o", str(tmp_path / "out")])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1 and fragment in err[0] and str(path) in err[0]
    assert not (tmp_path / "out").exists()


def test_pareto_end_to_end_and_resume(small_cu, capsys, monkeypatch):
    out = small_cu / "out"
    assert main(["pareto", str(small_cu / "search.toml"), "-o", str(out)]) == 0
    printed = capsys.readouterr().out
    doc = json.loads((out / "points.json").read_text())
    points = doc["points"]
    assert [p["name"] for p in points] == ["pair[cutoff=4,degree=1]", "pair[cutoff=4,degree=2]",
                                           "pair[cutoff=4.5,degree=1]", "pair[cutoff=4.5,degree=2]", "inv"]
    rows = list(csv.DictReader((out / "points.csv").open()))
    assert [r["name"] for r in rows] == [p["name"] for p in points]
    for p in points:
        assert p["name"] in printed
        assert p["cost_reference"].startswith("ASE Lennard-Jones") and p["cost_ratio"] > 0 and p["operations_per_atom"] > 0
        assert 0 < p["cv_energy_rmse"] < 100 and 0 < p["cv_force_rmse"] < 2 and p["test_energy_rmse"] > 0
        # the held-out error is that of the fit itself: refit the same recipe directly
    from linpot.fit import fit_potential
    from linpot.structures import read_datasets

    train = read_datasets([small_cu / "train.xyz"])
    _, report = fit_potential(train, points[4]["recipe"])
    assert pareto.held_out_errors(report)["cv_force_rmse"] == pytest.approx(points[4]["cv_force_rmse"], rel=1e-12)
    # the front marks and the written Pareto potentials agree with brute force on the stored numbers
    for quantity, column in (("energy", "cv_energy_rmse"), ("force", "cv_force_rmse")):
        expected = brute_force_front([p["cost_ratio"] for p in points], [p[column] for p in points])
        assert {k for k, p in enumerate(points) if p[f"pareto_{quantity}"]} == expected
    on_front = {k for k, p in enumerate(points) if p["pareto_energy"] or p["pareto_force"]}
    assert len(list((out / "pareto").glob("*.json"))) == len(on_front)
    for name in ("pareto-energy.png", "pareto-force.png"):
        assert (out / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"

    # Resume: nothing is refitted or retimed.
    def no_fit(*args, **kwargs):
        raise AssertionError("a finished point was fitted again")

    monkeypatch.setattr(pareto, "fit_point", no_fit)
    monkeypatch.setattr(pareto, "relative_costs", no_fit)
    assert main(["pareto", str(small_cu / "search.toml"), "-o", str(out)]) == 0
    assert json.loads((out / "points.json").read_text())["points"] == points


def test_interrupted_search_continues_where_it_stopped(small_cu, monkeypatch):
    out = small_cu / "interrupted"
    real_fit = pareto.fit_point
    calls = []

    def fit_then_interrupt(name, *args, **kwargs):
        calls.append(name)
        if len(calls) == 3:
            raise KeyboardInterrupt
        return real_fit(name, *args, **kwargs)

    monkeypatch.setattr(pareto, "fit_point", fit_then_interrupt)
    assert main(["pareto", str(small_cu / "search.toml"), "-o", str(out)]) == 130
    assert len(list((out / "points").glob("*.pot.json"))) == 2 and not (out / "points.csv").exists()
    calls.clear()
    monkeypatch.setattr(pareto, "fit_point", lambda name, *a, **k: calls.append(name) or real_fit(name, *a, **k))
    assert main(["pareto", str(small_cu / "search.toml"), "-o", str(out)]) == 0
    assert calls == ["pair[cutoff=4.5,degree=1]", "pair[cutoff=4.5,degree=2]", "inv"]


def test_compare_orders(small_cu, capsys, monkeypatch):
    from linpot.analysis import compare

    monkeypatch.setattr(compare, "ORDER_TABLE", [[1, 3, 0], [2, 3, 2], [3, 2, 2]])
    out = small_cu / "orders"
    assert main(["compare", str(small_cu / "train.xyz"), "--test", str(small_cu / "test.xyz"), "--orders", "1..3",
                 "--cutoff", "4.5", "--kfold", "3", "--reference", "lj", "-o", str(out)]) == 0
    points = json.loads((out / "points.json").read_text())["points"]
    assert [p["name"] for p in points] == ["order<=1", "order<=2", "order<=3"]
    assert [p["recipe"]["descriptor"]["orders"] for p in points] == [[[1, 3, 0]], [[1, 3, 0], [2, 3, 2]],
                                                                     [[1, 3, 0], [2, 3, 2], [3, 2, 2]]]
    n = [p["n_coefficients"] for p in points]
    assert n[0] < n[1] < n[2]
    assert (out / "orders.png").read_bytes()[:4] == b"\x89PNG"
    for text in ("7", "0..2", "a..b"):
        assert main(["compare", str(small_cu / "train.xyz"), "--orders", text, "-o", str(out)]) == 2


TINY_STAGE = [("pair-small", {"kind": "pair", "cutoff": 4.5, "radial": {"kind": "chebyshev", "n_basis": 3}},
               {"kind": "polynomial", "degree": 1}),
              ("invariants-small", {"kind": "invariants", "cutoff": 4.5, "radial": {"kind": "gaussian", "n_basis": 3, "r_min": 0.0},
                                    "orders": [[1, 3, 0], [2, 3, 2], [3, 2, 2]]}, {"kind": "polynomial", "degree": 2})]


def test_auto_respects_the_budget(small_cu, monkeypatch, capsys, tmp_path):
    monkeypatch.setattr(auto, "STAGE_1", TINY_STAGE)
    monkeypatch.setattr(auto, "KFOLD", 3)
    # Deterministic costs (timing itself is exercised by the Pareto test): 10 µs/atom for pair
    # models, 100 for invariants, 1 more per Å of cutoff beyond 4.5.
    def fake_costs(configs, elements, reference_kind="auto", rounds=3):
        us = [(10.0 if c["descriptor"]["kind"] == "pair" else 100.0) + max(c["descriptor"]["cutoff"] - 4.5, 0.0)
              for c in configs]
        return {"reference": "fake", "reference_us_per_atom": 1.0, "ratios": us, "us_per_atom": us, "rounds": rounds}

    monkeypatch.setattr(auto, "candidate_costs", fake_costs)
    from linpot.structures import read_datasets

    train = read_datasets([small_cu / "train.xyz"])
    # Between the families: only pair models are fitted, and of the refinements only those within budget.
    _, report, history = auto.choose_model(train, budget_us=10.2, time_limit_min=5)
    names = [r["name"] for r in history]
    assert names[:5] == ["pair-small", "pair-small, cutoff 4 Å", "pair-small, energy weight 30000",
                         "pair-small, energy weight 3333.33", "pair-small, 5 radial functions"]
    assert all(n.startswith("pair-small") and "cutoff 5 Å" not in n for n in names)  # 5 Å costs 10.5 > 10.2
    assert all(r["cost_us_per_atom"] <= 10.2 for r in history)
    # no setting fitted twice, and every refinement round centred on the best so far
    signatures = [auto._signature(r["recipe"]) for r in history]
    assert len(set(signatures)) == len(signatures)
    assert report["auto"]["chosen"] == min(history, key=auto.score)["name"]
    assert report["auto"]["candidates"] == history
    # A budget that admits both families fits both, cheapest first.
    _, _, history = auto.choose_model(train, budget_us=1000, time_limit_min=5)
    assert [r["name"] for r in history[:2]] == ["pair-small", "invariants-small"]
    # A budget below the cheapest candidate is a one-line error before any fit.
    out = tmp_path / "p.json"
    capsys.readouterr()
    code = main(["-q", "fit", "--descriptor", "auto", "--budget", "1e-6", "--train", str(small_cu / "train.xyz"), "-o", str(out)])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1 and "below the cheapest candidate" in err[0] and not out.exists()
    assert main(["fit", "--descriptor", "auto", "--degree", "2", "--train", str(small_cu / "train.xyz"), "-o", str(out)]) == 2


def test_budget_and_time_limit_need_auto(small_cu, tmp_path, capsys):
    out = tmp_path / "p.json"
    for flags in (["--budget", "100"], ["--time-limit", "5"]):
        code = main(["-q", "fit", "--descriptor", "pair", *flags, "--train", str(small_cu / "train.xyz"), "-o", str(out)])
        err = capsys.readouterr().err.strip().splitlines()
        assert code == 2 and len(err) == 1 and "go with --descriptor auto" in err[0] and not out.exists()


def test_auto_adds_complete_invariants_for_two_or_three_elements():
    """Alloys get a candidate whose invariants couple different elements; one element (where they
    equal the compact ones) and four or more (too many of them) do not."""
    def names(elements):
        return [name for name, _, _ in auto.stage_1_candidates(elements)]

    assert "invariants-complete" not in names(["Cu"])
    assert names(["Nb", "Mo"])[1] == "invariants-complete" and "invariants-complete" in names(["Cu", "Ag", "Au"])
    assert "invariants-complete" not in names(["Cu", "Ag", "Au", "Ni"])
    _, descriptor, model = auto.COMPLETE_CANDIDATE
    from linpot.fit import build_model

    built = build_model({"descriptor": descriptor, "model": model}, ["Nb", "Mo"])
    compact = build_model({"descriptor": dict(descriptor, element_coupling="compact"), "model": model}, ["Nb", "Mo"])
    assert built.descriptor.element_coupling == "complete" and built.n_coefficients > compact.n_coefficients
