"""Coefficient counts and test errors of the compact and complete element couplings, 2 to 4 elements.

    python benchmarks/multicomponent_scaling.py --out docs

For each element set {Cu, Ag}, {Cu, Ag, Au}, {Cu, Ag, Au, Ni} a synthetic dataset is made with
ASE's EMT calculator (deterministic seeds): 32-atom fcc solid solutions (2x2x2 conventional cells,
lattice constant by Vegard's law from the EMT lattice constants, random compositions with about
one structure in six a pure element), each cell strained by up to 3 % per strain component and
rattled (root-mean-square displacement 0.05-0.15 Å); some with one or two vacancies, some (not
rattled) as the end of short velocity-Verlet runs (300-1000 K, 20-40 steps of 2 fs). Labels:
energy, forces, stress. Structures are split into training and test sets (``--n-train``,
``--n-test`` per element set).

Each element set is fitted in these forms, with the same descriptor setting (``SETTINGS["base"]``:
radial basis and orders), model and fit settings:

* compact one-hot (the default: one channel per element, the same channel in every factor),
* complete one-hot (independent element channel per factor),
* compact with K property channels (``channels = {kind = "properties", n_channels = K}``),
  K = 1 .. number of elements,
* compact with K = number of elements fitted channels (``channels = {kind = "fitted"}``: the
  joint diagonaliser of a complete order-2 fit's coefficients, linpot.fit.channel_fit),
* complete with K = 2 property channels.

The 4-element forms of the issue's criterion (compact K=4 against complete one-hot) are fitted
again on a larger training set (``--large-train``, a superset of the first; the same test set), to
see whether the complete form is short of data, and on that set with the other ``SETTINGS``
(variations with a finer power spectrum: higher l or more radial functions; compact and complete
forms with the same setting each time).

Writes ``<out>/multicomponent-scaling.json`` (every number, the command, the git revision),
``<out>/multicomponent-scaling.md`` (the table) and ``<out>/img/multicomponent-scaling.png``
(coefficients against force RMSE).
"""

from __future__ import annotations

import argparse
import json
import platform
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
from docs_table import write_between_markers

REPO = Path(__file__).resolve().parents[1]
ELEMENT_SETS = [["Cu", "Ag"], ["Cu", "Ag", "Au"], ["Cu", "Ag", "Au", "Ni"]]
CUTOFF = 5.5  # Å: EMT's own cutoff for these elements is about 5.4 Å (plus a smooth tail)
#: Descriptor settings: radial basis and orders (order, n_max, l_max), the same for every form of a
#: setting. "base" is fitted on every element set; it is small enough for the complete form on 4
#: elements (4740 coefficients, about 5.4 GB peak in the fit). The others are variations fitted on
#: the larger 4-element training set only, each with a finer power spectrum (order 2): l_max 6
#: ("l6"), or 8 radial functions instead of 6 ("n8"); compact K=4 stays under a quarter of the
#: complete form's coefficients in both.
SETTINGS = {
    "base": {"radial": {"kind": "chebyshev", "n_basis": 6}, "orders": [[1, 6, 0], [2, 6, 4], [3, 3, 2], [4, 2, 1]]},
    "l6": {"radial": {"kind": "chebyshev", "n_basis": 6}, "orders": [[1, 6, 0], [2, 6, 6], [3, 3, 2], [4, 2, 1]]},
    "n8": {"radial": {"kind": "chebyshev", "n_basis": 8}, "orders": [[1, 8, 0], [2, 8, 4], [3, 3, 2], [4, 2, 1]]},
}
#: The forms refitted on the larger training set (``--large-train``) of the last element set.
LARGE_FORMS = ("compact one-hot", "complete one-hot", "compact K=4", "compact K=4 fitted", "complete K=2")
#: The forms fitted with the variation settings (the criterion's pair, and the default for context).
VARIATION_FORMS = ("compact one-hot", "complete one-hot", "compact K=4", "compact K=4 fitted")
MODEL = {"kind": "polynomial", "degree": 1}
FIT = {"method": "ridge", "validation_fraction": 0.1, "kfold": 0, "seed": 0,
       "weights": {"energy": 10000.0, "forces": 100.0, "stress": 1.0}}
KINDS = (("strained", 0.5), ("vacancy", 0.2), ("md", 0.3))


# ---------------------------------------------------------------- data


def emt_lattice_constants(elements: list[str]) -> dict[str, float]:
    """The fcc lattice constant (Å) minimising EMT's energy, per element."""
    from ase.build import bulk
    from ase.calculators.emt import EMT
    from scipy.optimize import minimize_scalar

    out = {}
    for el in elements:
        def energy(a, el=el):
            atoms = bulk(el, "fcc", a=a, cubic=True)
            atoms.calc = EMT()
            return atoms.get_potential_energy()
        out[el] = float(minimize_scalar(energy, bounds=(3.0, 4.6), method="bounded",
                                        options={"xatol": 1e-5}).x)
    return out


def labelled(atoms):
    """``atoms`` with a SinglePointCalculator holding EMT's energy, forces and stress."""
    from ase.calculators.emt import EMT
    from ase.calculators.singlepoint import SinglePointCalculator

    atoms.calc = EMT()
    energy, forces, stress = atoms.get_potential_energy(), atoms.get_forces(), atoms.get_stress()
    atoms.calc = SinglePointCalculator(atoms, energy=energy, forces=forces, stress=stress)
    return atoms


def make_structure(elements: list[str], lattice: dict[str, float], split: str, index: int, seed: int):
    """Structure ``index`` of the ``split`` ("train" or "test") of the element set, deterministic in
    ``seed``, the set, the split and ``index`` (so a larger training set holds the smaller one)."""
    from ase.build import bulk
    from ase.calculators.emt import EMT
    try:
        from ase.md.velocitydistribution import thermalize_momenta
    except ImportError:  # ASE < 3.27
        from ase.md.velocitydistribution import MaxwellBoltzmannDistribution as thermalize_momenta
    from ase.md.verlet import VelocityVerlet
    from ase.units import fs

    S = len(elements)
    rng = np.random.default_rng([seed, S, ("train", "test").index(split), index])
    kind = str(rng.choice([k for k, _ in KINDS], p=[p for _, p in KINDS]))
    if rng.random() < 1 / 6:
        fractions = np.eye(S)[rng.integers(S)]
    else:
        fractions = rng.dirichlet(np.ones(S))
    atoms = bulk("Cu", "fcc", a=1.0, cubic=True).repeat(2)  # 32 sites, scaled below
    species = rng.choice(S, size=len(atoms), p=fractions)
    atoms.set_chemical_symbols([elements[s] for s in species])
    x = np.bincount(species, minlength=S) / len(atoms)
    a = float(sum(x[s] * lattice[el] for s, el in enumerate(elements)))  # Vegard's law
    eps = rng.uniform(-0.03, 0.03, size=(3, 3))
    eps = 0.5 * (eps + eps.T)
    atoms.set_cell(a * atoms.cell.array @ (np.eye(3) + eps), scale_atoms=True)
    if kind == "vacancy":
        for _ in range(int(rng.integers(1, 3))):
            del atoms[int(rng.integers(len(atoms)))]
    if kind != "md":  # rattle: root-mean-square displacement 0.05-0.15 Å
        atoms.positions += rng.normal(0.0, rng.uniform(0.05, 0.15) / np.sqrt(3), size=atoms.positions.shape)
    else:  # thermal displacements instead
        temperature = float(rng.uniform(300.0, 1000.0))
        atoms.calc = EMT()
        # twice the target: about half the kinetic energy goes into the potential energy
        thermalize_momenta(atoms, temperature_K=2 * temperature, rng=rng)
        VelocityVerlet(atoms, timestep=2 * fs).run(int(rng.integers(20, 41)))
        atoms.set_velocities(np.zeros_like(atoms.positions))
    atoms.info["config_type"] = "emt"  # one group in the fit (memory); the kind is kept apart
    atoms.info["kind"] = kind
    return labelled(atoms)


def make_frames(elements, lattice, split: str, n: int, seed: int) -> list:
    return [make_structure(elements, lattice, split, i, seed) for i in range(n)]


# ---------------------------------------------------------------- fits


def forms(n_elements: int) -> list[tuple[str, str, dict | None]]:
    """(label, element_coupling, channels) of every form fitted on ``n_elements`` elements."""
    out = [("compact one-hot", "compact", None), ("complete one-hot", "complete", None)]
    out += [(f"compact K={K}", "compact", {"kind": "properties", "n_channels": K}) for K in range(1, n_elements + 1)]
    # channels fitted to the data (a complete order-2 fit first, linpot.fit.channel_fit)
    out.append((f"compact K={n_elements} fitted", "compact", {"kind": "fitted", "n_channels": n_elements}))
    out.append(("complete K=2", "complete", {"kind": "properties", "n_channels": 2}))
    return out


def fit_one(train, test, elements, setting: dict, coupling, channels) -> dict:
    from linpot.analysis.metrics import error_table, predict_dataset
    from linpot.fit import fit_potential
    from linpot.fit.config import load_config, merge

    descriptor = {"kind": "invariants", "cutoff": CUTOFF, "radial": dict(setting["radial"]), "orders": setting["orders"],
                  "element_coupling": coupling}
    if channels is not None:
        descriptor["channels"] = dict(channels)
    config = merge(load_config(), {"model": MODEL, "fit": FIT})
    config["descriptor"] = descriptor
    config["elements"] = list(elements)
    t0 = time.perf_counter()
    potential, report = fit_potential(train, config)
    fit_s = time.perf_counter() - t0
    errors = error_table(test, predict_dataset(potential, test))["overall"]
    model = potential.model
    return {"n_features": int(model.descriptor.n_features), "n_coefficients": int(model.n_coefficients),
            "n_channels": int(model.descriptor.n_channels),
            "energy_rmse_mev_per_atom": float(errors["energy_rmse_mev_per_atom"]),
            "force_rmse_ev_per_angstrom": float(errors["force_rmse_ev_per_angstrom"]),
            "stress_rmse_gpa": None if errors["stress_rmse_gpa"] is None else float(errors["stress_rmse_gpa"]),
            "alpha": report.get("alpha"), "alpha_at_edge": any("ridge strength" in w for w in report["warnings"]),
            "fit_s": round(fit_s, 2), "times": {k: round(v, 2) for k, v in report["times"].items()},
            "solve_peak_mb": round(report["peak_memory_mb"]["solve_peak_mb"])}


def criterion(rows: list[dict], n_train: int, setting: str, reference: str, form: str = "compact K=4") -> dict | None:
    """The issue's check on 4 elements and ``n_train`` training structures: compact K=4 (``form``:
    property or fitted channels) with ``setting`` against complete one-hot with ``reference``."""
    def find(form, name):
        return next((r for r in rows if r["n_elements"] == 4 and r["form"] == form and r["n_train"] == n_train
                     and r["setting"] == name), None)

    compact, complete = find(form, setting), find("complete one-hot", reference)
    if compact is None or complete is None:
        return None
    ratio_e = compact["energy_rmse_mev_per_atom"] / complete["energy_rmse_mev_per_atom"]
    ratio_f = compact["force_rmse_ev_per_angstrom"] / complete["force_rmse_ev_per_angstrom"]
    ratio_c = compact["n_coefficients"] / complete["n_coefficients"]
    return {"n_train": n_train, "form": form, "compact_setting": setting, "complete_setting": reference,
            "energy_ratio": ratio_e, "force_ratio": ratio_f, "coefficient_ratio": ratio_c,
            "holds": bool(ratio_e <= 1.2 and ratio_f <= 1.2 and ratio_c <= 0.25)}


# ---------------------------------------------------------------- output


def table(rows: list[dict]) -> str:
    lines = ["| elements | train structures | setting | form | features | coefficients | E RMSE (meV/atom) | F RMSE (eV/Å) | "
             "stress RMSE (GPa) | fit (s) |", "|---|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        stress = "-" if r["stress_rmse_gpa"] is None else f"{r['stress_rmse_gpa']:.3f}"
        lines.append(f"| {'-'.join(r['elements'])} | {r['n_train']} | {r['setting']} | {r['form']} | {r['n_features']} | "
                     f"{r['n_coefficients']} | {r['energy_rmse_mev_per_atom']:.2f} | "
                     f"{r['force_rmse_ev_per_angstrom']:.4f} | {stress} | {r['fit_s']:.0f} |")
    return "\n".join(lines)


def form_style(form: str) -> tuple[str, str]:
    """(colour, marker) of a form in the plot."""
    if form == "compact one-hot":
        return "C0", "o"
    if form == "complete one-hot":
        return "C3", "s"
    if form.startswith("complete"):
        return "C1", "D"
    return "C2", "^"


def plot(rows: list[dict], path: Path) -> None:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.ticker import FormatStrFormatter, LogLocator, NullFormatter

    counts = sorted({r["n_elements"] for r in rows})
    base_train = min(r["n_train"] for r in rows)
    fig, axes = plt.subplots(1, len(counts), figsize=(4.8 * len(counts), 4.8), squeeze=False)
    for ax, S in zip(axes[0], counts):
        for r in (r for r in rows if r["n_elements"] == S):
            colour, marker = form_style(r["form"])
            large = r["n_train"] != base_train
            if r["setting"] != "base":
                colour = "C4" if r["setting"] == "l6" else "C5"
            ax.scatter(r["n_coefficients"], r["force_rmse_ev_per_angstrom"], marker=marker, s=45, zorder=3,
                       facecolors="none" if large else colour, edgecolors=colour)
            label = r["form"].replace(" one-hot", "").replace("compact ", "").replace("complete", "compl.")
            tag = ", ".join(t for t in (str(r["n_train"]) if large else "",
                                        r["setting"] if r["setting"] != "base" else "") if t)
            ax.annotate(label + (f" ({tag})" if tag else ""),
                        (r["n_coefficients"], r["force_rmse_ev_per_angstrom"]), fontsize=7, xytext=(4, 3),
                        textcoords="offset points")
        ax.set_xscale("log")
        ax.set_yscale("log")
        for axis, fmt in ((ax.xaxis, "%d"), (ax.yaxis, "%.3g")):
            axis.set_major_locator(LogLocator(subs=(1, 2, 5)))
            axis.set_major_formatter(FormatStrFormatter(fmt))
            axis.set_minor_formatter(NullFormatter())
        ax.set_title(f"{S} elements ({'-'.join(ELEMENT_SETS[S - 2])})")
        ax.set_xlabel("coefficients")
        ax.grid(True, which="both", alpha=0.3)
    axes[0][0].set_ylabel("test force RMSE (eV/Å)")
    handles = [plt.Line2D([], [], color=form_style(f)[0], marker=form_style(f)[1], linestyle="", label=f)
               for f in ("compact one-hot", "complete one-hot", "compact K=2", "complete K=2")]
    handles[2].set_label("compact, K property channels")
    handles.append(plt.Line2D([], [], color="k", marker="o", markerfacecolor="none", linestyle="",
                              label="larger training set"))
    handles += [plt.Line2D([], [], color=c, marker="o", markerfacecolor="none", linestyle="", label=f"setting {name}")
                for name, c in (("l6", "C4"), ("n8", "C5")) if any(r["setting"] == name for r in rows)]
    fig.legend(handles=handles, fontsize=8, loc="lower center", ncol=4)
    large = sorted({r["n_train"] for r in rows} - {base_train})
    fig.suptitle(f"EMT Cu-Ag-Au-Ni: coefficients vs test force RMSE, {base_train} training structures (filled)"
                 + (f", {', '.join(map(str, large))} (open)" if large else ""))
    fig.tight_layout(rect=(0, 0.1, 1, 1))
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=120)
    plt.close(fig)


def load_data(elements, lattice, n_train: int, args, datasets: list, start: float):
    """(train, test) datasets of the element set; their summary appended to ``datasets``."""
    from linpot.structures import Dataset

    t0 = time.perf_counter()
    train_frames = make_frames(elements, lattice, "train", n_train, args.seed)
    test_frames = make_frames(elements, lattice, "test", args.n_test, args.seed)
    kinds = {k: sum(a.info["kind"] == k for a in train_frames + test_frames) for k, _ in KINDS}
    datasets.append({"elements": elements, "n_train": len(train_frames), "n_test": len(test_frames),
                     "train_atoms": sum(map(len, train_frames)), "test_atoms": sum(map(len, test_frames)),
                     "kinds": kinds, "seconds": round(time.perf_counter() - t0, 1)})
    print(f"[{time.perf_counter() - start:6.0f} s] data {'-'.join(elements)}: {len(train_frames)} train, "
          f"{len(test_frames)} test, kinds {kinds} ({time.perf_counter() - t0:.0f} s)", flush=True)
    return Dataset.from_atoms(train_frames), Dataset.from_atoms(test_frames)


def git_revision() -> str:
    try:
        return subprocess.run(["git", "rev-parse", "HEAD"], cwd=REPO, capture_output=True, text=True,
                              check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="docs", help="folder of the .json and .md (the plot goes to OUT/img)")
    parser.add_argument("--n-train", type=int, default=200, help="training structures per element set")
    parser.add_argument("--n-test", type=int, default=60, help="test structures per element set")
    parser.add_argument("--large-train", type=int, default=600,
                        help="refit the 4-element criterion forms on this many training structures (0: no)")
    parser.add_argument("--n-elements", type=int, nargs="+", default=[2, 3, 4], choices=[2, 3, 4])
    parser.add_argument("--variations", nargs="*", default=[s for s in SETTINGS if s != "base"],
                        choices=[s for s in SETTINGS if s != "base"],
                        help="settings also fitted on the larger 4-element training set (default: all)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    start = time.perf_counter()
    out = Path(args.out)
    lattice = emt_lattice_constants(ELEMENT_SETS[-1])
    print("EMT lattice constants (Å):", {k: round(v, 4) for k, v in lattice.items()}, flush=True)
    runs = [(S, args.n_train, "base", None) for S in args.n_elements]
    if args.large_train > args.n_train and 4 in args.n_elements:
        runs.append((4, args.large_train, "base", LARGE_FORMS))
        runs += [(4, args.large_train, name, VARIATION_FORMS) for name in args.variations]
    rows, datasets, loaded = [], [], {}
    for S, n_train, setting, only in runs:
        elements = ELEMENT_SETS[S - 2]
        if (S, n_train) not in loaded:
            loaded[S, n_train] = load_data(elements, lattice, n_train, args, datasets, start)
        train, test = loaded[S, n_train]
        for label, coupling, channels in forms(S):
            if only is not None and label not in only:
                continue
            result = fit_one(train, test, elements, SETTINGS[setting], coupling, channels)
            row = {"elements": elements, "n_elements": S, "n_train": n_train, "setting": setting, "form": label,
                   "element_coupling": coupling, "channels": channels, **result}
            rows.append(row)
            print(f"[{time.perf_counter() - start:6.0f} s] {'-'.join(elements):12s} {n_train:4d} train {setting:5s} "
                  f"{label:17s} coef {row['n_coefficients']:6d}  E {row['energy_rmse_mev_per_atom']:7.3f} meV/atom  "
                  f"F {row['force_rmse_ev_per_angstrom']:.4f} eV/Å  fit {row['fit_s']:.1f} s", flush=True)
    checks = []
    for n_train in sorted({n for _, n, _, _ in runs}):
        for setting in SETTINGS:
            for reference in dict.fromkeys([setting, "base"]):
                for form in ("compact K=4", "compact K=4 fitted"):
                    check = criterion(rows, n_train, setting, reference, form)
                    if check is not None:
                        checks.append(check)

    command = "python benchmarks/multicomponent_scaling.py " + " ".join(sys.argv[1:])
    record = {"command": command.strip(), "git_revision": git_revision(), "date": time.strftime("%Y-%m-%d"),
              "machine": platform.processor() or platform.machine(), "seconds": round(time.perf_counter() - start),
              "emt_lattice_constants": lattice, "cutoff": CUTOFF, "settings": SETTINGS,
              "model": MODEL, "fit": FIT, "datasets": datasets, "criterion": checks, "rows": rows}
    out.mkdir(parents=True, exist_ok=True)
    (out / "multicomponent-scaling.json").write_text(json.dumps(record, indent=1) + "\n")
    plot(rows, out / "img" / "multicomponent-scaling.png")
    doc = out / "multicomponent-scaling.md"
    if not doc.is_file():
        doc.write_text("# Compact and complete element coupling: scaling with the number of elements\n")
    lines = [f"- 4 elements, {c['n_train']} training structures, {c['form']} ({c['compact_setting']}) against "
             f"complete one-hot ({c['complete_setting']}): energy RMSE "
             f"x{c['energy_ratio']:.2f}, force RMSE x{c['force_ratio']:.2f}, coefficients x{c['coefficient_ratio']:.3f}: "
             f"the criterion (errors within 20 %, at most a quarter of the coefficients) "
             f"{'holds' if c['holds'] else 'fails'}" for c in checks]
    stamp = (f"Made by `{record['command']}` at linpot {record['git_revision'][:12]} on {record['machine']}, "
             f"{record['date']}, in {record['seconds']} s (one process). Settings (radial, orders as (order, n_max, "
             f"l_max)): " + "; ".join(f"{k} {v['radial']} {v['orders']}" for k, v in SETTINGS.items())
             + f"; cutoff {CUTOFF} Å, model {MODEL}, ridge strength chosen on a 10 % validation "
             f"split of the training structures, weights {FIT['weights']}; {args.n_test} test structures.")
    write_between_markers("multicomponent-scaling", table(rows) + "\n\n" + "\n".join(lines), stamp,
                          heading="Table", doc=doc)
    print(f"total {time.perf_counter() - start:.0f} s")


if __name__ == "__main__":
    main()
