"""Does the extrapolation grade flag what the training data did not cover? mlearn Mo, trained on its
AIMD-NVT structures only (hot bulk at one volume): how well the per-structure scores of the test
split separate its surfaces and vacancies (positives) from its bulk (negatives), as ROC AUC.

Scores: the maxvol grade (the largest per-atom grade, :mod:`linpot.potential.active_set`) and
the structure grade (the grade of the structure's energy-per-atom row against the configuration
set, :class:`linpot.potential.active_set.ConfigurationSet`) of each preset's linear model fitted
by ridge; the Bayesian predictive standard deviation of the
energy per atom (the same model fitted with ``--method bayes``); the spread of a committee of
presets fitted by ridge. Two definitions of "bulk" are reported: the test AIMD-NVT structures
(the training distribution) and those plus the test Elastic structures (cold bulk strained to
volumes of 14.6-17.5 Å^3/atom, outside the training volume of 15.63). A third column scores
the training split's own non-AIMD structures (Vacancy and Surface against Elastic and Ground
state), none of which the fit saw. A fourth, on the training split only, is the one the
structure grade's settings were chosen by: 5-fold cross-validation over the training AIMD
structures (contiguous folds, the frames of a trajectory being correlated): the grade from four
folds, the training split's vacancies and surfaces against the held-out fold's AIMD structures,
the mean AUC of the folds (the per-atom grade's only for the presets of ``--cv-atoms``: it
selects the per-atom active set five more times).

How wrong the AIMD-only model actually is, measured against the labels: each preset is also
fitted on all training structures (the reference), and per config_type of the test split and of
the training split's non-AIMD structures the energy error |dE| per atom (median, max; meV/atom)
and the force RMSE (eV/Å) of both fits are printed (the reference was trained on the latter, so
there its numbers are training errors). Further columns, each score against the |dE| per atom of
the model it belongs to (a committee's mean, the Bayesian fit's mean): "+Elastic", the AUC with
the test Elastic cells counted as positives (surfaces, vacancies and Elastic against test AIMD);
"rho |dE|", the Spearman correlation of the score with |dE| per atom over all held-out
structures (test split and the training split's non-AIMD structures); "err label", the AUC for
positives defined by the error itself (|dE| per atom above twice the model's RMSE on the test
AIMD structures), over the same structures. An "oracle" row per model uses its |dE| per atom
itself as the score: the AUCs a perfect predictor of that model's energy errors would get (a
grade can score higher against the config_type labels, which are not its errors).

    python benchmarks/extrapolation_auc.py                         # ~8 min on 2 shared cores
    python benchmarks/extrapolation_auc.py --presets invariants-small snap --json out.json
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import time
from pathlib import Path

import numpy as np
from scipy.stats import spearmanr

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from linpot.analysis.metrics import error_summary, predict_dataset  # noqa: E402
from linpot.analysis.selection import extrapolation_scores  # noqa: E402
from linpot.fit import fit_potential  # noqa: E402
from linpot.fit.active_set import ActiveSetSelector, add_active_set, select_configurations  # noqa: E402
from linpot.fit.committee import fit_committee  # noqa: E402
from linpot.fit.config import apply_preset, load_config, merge  # noqa: E402
from linpot.structures import read_datasets  # noqa: E402

PRESETS = ["invariants-small", "snap", "moment-tensors", "pair", "invariants-medium", "symmetry-functions"]
COMMITTEE = ["invariants-small", "snap", "moment-tensors", "pair"]
DEFECTS = ("Surface", "Vacancy")


def roc_auc(positive, negative) -> float:
    """Probability that a random positive scores above a random negative (ties count half)."""
    p, n = np.asarray(positive, dtype=float)[:, None], np.asarray(negative, dtype=float)[None, :]
    return float(np.mean((p > n) + 0.5 * (p == n)))


def aucs(score: np.ndarray, types: np.ndarray, negatives, positives=DEFECTS) -> float:
    return roc_auc(score[np.isin(types, positives)], score[np.isin(types, negatives)])


def energy_errors(ds, pred: dict) -> np.ndarray:
    """|dE| per atom (meV/atom) of each structure."""
    return np.abs(pred["energy"] - ds.energy) / ds.n_atoms * 1000.0


def error_table(ds, predictions: dict) -> dict:
    """Per config_type of ``ds``, for each model (``{name: predict_dataset(...)}``): |dE| per atom
    (median, max; meV/atom) and force RMSE (eV/Å)."""
    types = np.array(ds.config_type)
    out = {}
    for t in sorted(set(types)):
        m = types == t
        out[t] = {"n": int(m.sum())}
        for name, pred in predictions.items():
            de = energy_errors(ds, pred)[m]
            out[t][name] = {"energy_abs_median_mev_per_atom": float(np.median(de)),
                            "energy_abs_max_mev_per_atom": float(de.max()),
                            "force_rmse_ev_per_angstrom": error_summary(ds, pred, m)["force_rmse_ev_per_angstrom"]}
    return out


def evaluate(name: str, score_test, score_other, test_types, other_types, errors, cv=None) -> dict:
    """``errors``: |dE| per atom of the test and the training-split structures, and the error
    label's threshold (meV/atom)."""
    err_test, err_other, threshold = errors
    score, err = np.concatenate([score_test, score_other]), np.concatenate([err_test, err_other])
    return {"score": name,
            "auc_vs_aimd": aucs(score_test, test_types, ["AIMD-NVT"]),
            "auc_vs_bulk": aucs(score_test, test_types, ["AIMD-NVT", "Elastic"]),
            "auc_train_split_defects": aucs(score_other, other_types, ["Elastic", "Ground state"]),
            "auc_train_cv": cv,
            "auc_with_elastic_vs_aimd": aucs(score_test, test_types, ["AIMD-NVT"], DEFECTS + ("Elastic",)),
            "spearman_abs_energy_error": float(spearmanr(score, err)[0]),
            "auc_error_label": roc_auc(score[err > threshold], score[err <= threshold]),
            "test": {t: np.round(score_test[test_types == t], 4).tolist() for t in sorted(set(test_types))}}


def mean_rows(model, ds) -> np.ndarray:
    out = []
    for k in range(len(ds)):
        s = ds.atom_slice(k)
        out.append(model.atomic_rows(ds.positions[s], ds.numbers[s], ds.cells[k], ds.pbc[k]).mean(axis=0))
    return np.array(out)


def cross_validated(model, train, other, other_types, kind: str, folds: int = 5) -> float:
    """Mean over ``folds`` contiguous folds of the training structures: the AUC of the training
    split's defects (``other``) against the held-out fold, the grade built from the other folds."""
    defects = other.subset(np.nonzero(np.isin(other_types, DEFECTS))[0])
    if kind == "structure":
        X, P = mean_rows(model, train), mean_rows(model, defects)
    out = []
    for fold in np.array_split(np.arange(len(train)), folds):
        keep = np.setdiff1d(np.arange(len(train)), fold)
        if kind == "structure":
            c = select_configurations(X[keep])
            out.append(roc_auc(c.grades(P), c.grades(X[fold])))
        else:
            from linpot.potential import Potential

            pot = Potential(model, np.zeros(len(model.elements) * (1 + model.n_terms)))
            pot.active_set = ActiveSetSelector(structures=False).fit(model, train.subset(keep)).active_set_
            g = extrapolation_scores(pot, defects)["grade"], extrapolation_scores(pot, train.subset(fold))["grade"]
            out.append(roc_auc(*g))
    return float(np.mean(out))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", default=str(REPO / "data" / "mlearn" / "Mo"))
    parser.add_argument("--presets", nargs="+", default=PRESETS, help="models whose grade is scored")
    parser.add_argument("--bayes", default="invariants-small", help="the model fitted with --method bayes")
    parser.add_argument("--committee", nargs="*", default=COMMITTEE, help="the committee's members (presets)")
    parser.add_argument("--cv-atoms", nargs="*", default=["invariants-small"],
                        help="presets whose per-atom grade is also cross-validated on the training split")
    parser.add_argument("--json", help="also write the results here")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)

    full = read_datasets([f"{args.data}/train.xyz"])
    types = np.array(full.config_type)
    train = full.subset(np.nonzero(types == "AIMD-NVT")[0])
    other = full.subset(np.nonzero(types != "AIMD-NVT")[0])
    test = read_datasets([f"{args.data}/test.xyz"])
    test_types, other_types = np.array(test.config_type), np.array(other.config_type)
    print(f"training: {len(train)} AIMD-NVT structures ({int(train.offsets[-1])} atoms); test: "
          + ", ".join(f"{t} {int((test_types == t).sum())}" for t in sorted(set(test_types))), flush=True)
    base = load_config(None)
    rows = []

    header = (f"{'score, model':<56} {'vs AIMD':>8} {'vs bulk':>8} {'train split':>10} {'train CV':>8}"
              f" {'+Elastic':>8} {'rho |dE|':>8} {'err label':>9}")

    def run(label, potential, cv=None, reference=None):
        """Score ``potential`` (fitted on the training AIMD structures); ``reference``: the same
        model fitted on all training structures, whose errors are printed beside its own."""
        t0 = time.perf_counter()
        s_test, s_other = extrapolation_scores(potential, test), extrapolation_scores(potential, other)
        models = {"aimd_only": potential, **({"all_training": reference} if reference is not None else {})}
        tables = {}
        for split, ds in (("test", test), ("train_split", other)):
            pred = {name: predict_dataset(m, ds) for name, m in models.items()}
            tables[split] = error_table(ds, pred)
            (s_test if split == "test" else s_other)["oracle"] = energy_errors(ds, pred["aimd_only"])
        threshold = 2 * float(np.sqrt(np.mean(s_test["oracle"][test_types == "AIMD-NVT"] ** 2)))
        n_positive = int((s_test["oracle"] > threshold).sum() + (s_other["oracle"] > threshold).sum())
        print(f"# {label}: |dE| per atom median/max (meV/atom), force RMSE (eV/Å) of the AIMD-only fit"
              + (" [of the fit on all training structures, which saw the train split]" if reference else "")
              + f"; error label: |dE| > {threshold:.1f} meV/atom (2x test AIMD RMSE), {n_positive} of "
              f"{len(test) + len(other)} held-out structures", flush=True)
        for split, table in tables.items():
            for t, row in table.items():
                print(f"#   {split:<11} {t:<12} {row['n']:3d} " + "  ".join(
                    f"{'[' if name != 'aimd_only' else ''}{e['energy_abs_median_mev_per_atom']:7.1f} /"
                    f"{e['energy_abs_max_mev_per_atom']:7.1f} {e['force_rmse_ev_per_angstrom']:6.3f}"
                    f"{']' if name != 'aimd_only' else ''}" for name, e in row.items() if name != "n"), flush=True)
        errors = (s_test["oracle"], s_other["oracle"], threshold)
        out = []
        for key, name in (("grade", f"grade, {label}"), ("structure_grade", f"structure grade, {label}"),
                          ("energy_std", f"std, {label}"), ("oracle", f"oracle (|dE| per atom), {label}")):
            if np.all(np.isfinite(s_test[key])):
                out.append({**evaluate(name, s_test[key], s_other[key], test_types, other_types, errors,
                                       (cv or {}).get(key)), "n_features": potential.n_features})
        out[-1].update(errors=tables, error_label_threshold_mev_per_atom=threshold, error_label_positives=n_positive)
        print(header, flush=True)
        for r in out:
            cv_text = f"{r['auc_train_cv']:8.3f}" if r["auc_train_cv"] is not None else f"{'-':>8}"
            print(f"{r['score']:<56} {r['auc_vs_aimd']:8.3f} {r['auc_vs_bulk']:8.3f} {r['auc_train_split_defects']:10.3f}"
                  f" {cv_text} {r['auc_with_elastic_vs_aimd']:8.3f} {r['spearman_abs_energy_error']:8.3f}"
                  f" {r['auc_error_label']:9.3f}   ({time.perf_counter() - t0:.0f} s scoring)", flush=True)
        rows.extend(out)

    for preset in args.presets:
        t0 = time.perf_counter()
        pot, _ = fit_potential(train, apply_preset(base, preset))
        add_active_set(pot, train)
        c = pot.active_set.configurations
        print(f"# {preset}: fitted with its active set in {time.perf_counter() - t0:.0f} s; structure grade: "
              f"{len(c.rows)} structures, {c.info['rank']} of {c.width} directions", flush=True)
        t0 = time.perf_counter()
        reference, _ = fit_potential(full, apply_preset(base, preset))
        print(f"# {preset}: fitted on all {len(full)} training structures in {time.perf_counter() - t0:.0f} s", flush=True)
        t0 = time.perf_counter()
        cv = {"structure_grade": cross_validated(pot.model, train, other, other_types, "structure")}
        if preset in args.cv_atoms:
            cv["grade"] = cross_validated(pot.model, train, other, other_types, "atom")
        print(f"# {preset}: cross-validated in {time.perf_counter() - t0:.0f} s", flush=True)
        run(f"{preset} (ridge)", pot, cv, reference)
    if args.bayes:
        pot, _ = fit_potential(train, merge(apply_preset(base, args.bayes), {"fit": {"method": "bayes"}}))
        pot.active_set = None
        run(f"{args.bayes} (bayes)", pot)
    if args.committee:
        t0 = time.perf_counter()
        committee, _ = fit_committee(train, {**base, "committee": [{"preset": p} for p in args.committee]})
        print(f"# committee of {len(args.committee)} fitted in {time.perf_counter() - t0:.0f} s", flush=True)
        run(f"committee spread ({'+'.join(args.committee)})", committee)
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
