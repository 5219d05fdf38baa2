"""Test errors per config_type of multi-element potentials, beside a reference model's.

For the Nb-Mo set: every potential given is run on the test split, and its energy MAE
(meV/atom) and force RMSE (eV/Å) per config_type are put beside those of the published
NbMoTaW SNAP (``docs/nbmo-snap-reference.json``, made by ``benchmarks/snap_nbmo_reference.py``;
SNAP's per-element energy offsets fitted on the training split). A cell is marked when the
potential is not below the reference.

``--cost SNAP_DIR``: also the cost of energy + forces + stress per atom per step on a rattled
random bcc Nb-Mo cell (250 atoms, one core), as the median ratio to the published SNAP itself
(``pair_style snap`` with the files in SNAP_DIR, the obsolete ``diagonalstyle`` line dropped)
over interleaved rounds in the same process (:func:`linpot.analysis.cost.relative_costs`).

    python benchmarks/multicomponent_table.py fits/snap_nbmotaw-NbMo.json fits/snap_nbmotaw-NbMo-compact.json \\
        --test data/snap_nbmotaw/NbMo/test.xyz --reference docs/nbmo-snap-reference.json \\
        --cost benchmarks/reference/nbmotaw_snap --out docs/multicomponent-nbmo
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from linpot.analysis.metrics import error_table, predict_dataset
from linpot.io import atomic_write_text
from linpot.potential import load
from linpot.structures import read_datasets


def potential_errors(path, test) -> dict:
    potential = load(path)
    t0 = time.perf_counter()
    table = error_table(test, predict_dataset(potential, test))
    seconds = time.perf_counter() - t0
    rows = {"all": table["overall"], **table["by_config_type"]}
    return {"potential": str(path), "n_coefficients": int(potential.model.n_coefficients) if hasattr(potential, "model")
            else None, "descriptor": _descriptor_summary(potential), "evaluation_s": seconds,
            "errors": {name: {"energy_mae_meV_per_atom": r["energy_mae_mev_per_atom"],
                              "force_rmse_eV_per_A": r["force_rmse_ev_per_angstrom"],
                              "stress_rmse_GPa": r["stress_rmse_gpa"], "n_structures": r["n_structures"]}
                       for name, r in rows.items()}}


def _descriptor_summary(potential) -> str:
    model = getattr(potential, "model", None)
    if model is None:
        return "committee"
    d = model.descriptor.spec()
    parts = [d["kind"], d.get("element_coupling", "compact")]
    if d.get("channels"):
        parts.append(f"{len(d['channels']['weights'])} channels")
    return ", ".join(parts)


def snap_costs(paths, snap_dir, elements=("Nb", "Mo"), n_atoms=250, rounds=5) -> dict:
    """Median cost ratios of the potentials to the SNAP in ``snap_dir`` (same run, interleaved)."""
    import tempfile

    from linpot.analysis.cost import LammpsPairTimer, benchmark_cell, relative_costs

    snap_dir = Path(snap_dir)
    coeff = next(snap_dir.glob("*.snapcoeff"))
    param = next(snap_dir.glob("*.snapparam"))
    with tempfile.TemporaryDirectory() as tmp:
        # current LAMMPS rejects the obsolete keyword; it changes nothing in the model
        kept = [line for line in param.read_text().splitlines() if not line.strip().startswith("diagonalstyle")]
        (Path(tmp) / "ref.snapparam").write_text("\n".join(kept) + "\n")
        atoms = benchmark_cell(list(elements), n_atoms)
        reference = LammpsPairTimer(atoms, list(elements), f"pair_style snap\npair_coeff * * {coeff} {tmp}/ref.snapparam "
                                    + " ".join(elements), "published NbMoTaW SNAP")
        try:
            out = relative_costs([load(p) for p in paths], atoms, reference, rounds=rounds)
        finally:
            reference.close()
    out["n_atoms"] = len(atoms)
    return out


def markdown(records: list[dict], reference: dict | None, reference_name: str) -> str:
    types = list(records[0]["errors"])
    head = "| config_type | " + " | ".join(f"{Path(r['potential']).stem} E / F" for r in records)
    head += f" | {reference_name} E / F |" if reference else " |"
    lines = [head, "|" + "---|" * (len(records) + 1 + bool(reference))]
    for t in types:
        ref = (reference or {}).get(t)
        cells = []
        for r in records:
            e = r["errors"][t]
            mark_e = " **>**" if ref and e["energy_mae_meV_per_atom"] >= ref["energy_mae_meV_per_atom"] else ""
            mark_f = " **>**" if ref and e["force_rmse_eV_per_A"] >= ref["force_rmse_eV_per_A"] else ""
            cells.append(f"{e['energy_mae_meV_per_atom']:.2f}{mark_e} / {e['force_rmse_eV_per_A']:.4f}{mark_f}")
        row = f"| {t} | " + " | ".join(cells)
        row += f" | {ref['energy_mae_meV_per_atom']:.2f} / {ref['force_rmse_eV_per_A']:.4f} |" if ref else " |"
        lines.append(row)
    lines.append("")
    lines.append("E: energy MAE (meV/atom); F: force RMSE (eV/Å), on the test split. **>**: not below the reference.")
    lines.append("")
    with_cost = all("cost_ratio" in r for r in records)
    lines.append("| potential | descriptor | coefficients |" + (" cost / SNAP | µs/atom/step |" if with_cost else ""))
    lines.append("|---|---|---|" + ("---|---|" if with_cost else ""))
    for r in records:
        row = f"| {Path(r['potential']).name} | {r['descriptor']} | {r['n_coefficients']} |"
        if with_cost:
            row += f" {r['cost_ratio']:.2f} | {r['us_per_atom']:.0f} |"
        lines.append(row)
    return "\n".join(lines) + "\n"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("potentials", nargs="+")
    parser.add_argument("--test", nargs="+", required=True, help="test structures")
    parser.add_argument("--reference", help="reference errors JSON (benchmarks/snap_nbmo_reference.py)")
    parser.add_argument("--reference-name", default="SNAP (published)")
    parser.add_argument("--cost", metavar="SNAP_DIR", help="also time the potentials against the SNAP in SNAP_DIR")
    parser.add_argument("--out", required=True, help="output prefix: PREFIX.json and PREFIX.md")
    args = parser.parse_args(argv)
    test = read_datasets(args.test)
    records = []
    for k, path in enumerate(args.potentials):
        print(f"[{k + 1}/{len(args.potentials)}] {path}", flush=True)
        records.append(potential_errors(path, test))
    cost = None
    if args.cost:
        print("timing against the published SNAP (5 interleaved rounds)", flush=True)
        cost = snap_costs(args.potentials, args.cost)
        for r, ratio, us in zip(records, cost["ratios"], cost["us_per_atom"]):
            r["cost_ratio"], r["us_per_atom"] = ratio, us
    reference = None
    if args.reference:
        reference = json.loads(Path(args.reference).read_text())["errors_train_offsets"]["test"]
    out = {"command": "python benchmarks/multicomponent_table.py " + " ".join(argv or []), "test": args.test,
           "potentials": records, "reference": reference, "cost": cost}
    atomic_write_text(f"{args.out}.json", json.dumps(out, indent=1))
    atomic_write_text(f"{args.out}.md", markdown(records, reference, args.reference_name))
    print(markdown(records, reference, args.reference_name))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(__import__("sys").argv[1:]))
