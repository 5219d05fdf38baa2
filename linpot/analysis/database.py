"""``linpot bench``: a potential for every element of a database of elemental datasets, and a report.

A database is a folder laid out as ``DB/<source>/<El>/{train,test}.xyz`` with an optional
``DB/<source>/manifest.toml`` per source (licence, citation, DFT settings, labels, and per element
its ground-state ``structure``: fcc, bcc, hcp, ...). A folder the manifest lists under
``[systems.<name>]`` instead of ``[elements.<El>]`` holds a multi-element set (an alloy, an oxide):
the bench, which characterises elements, skips it. For every element folder, ``bench``:

1. fits a potential: the recipe ``RECIPES/<source>-<El>.toml`` if there is one (its data are
   replaced by the element folder's files), else the chosen descriptor (``auto`` by default:
   :mod:`linpot.analysis.auto`; or a preset name);
2. evaluates it on the test split: errors per config_type and a parity plot;
3. computes physical properties with it and, where the dataset holds them, their DFT values
   (:mod:`linpot.analysis.properties`);
4. writes ``OUT/<source>-<El>/``: ``report.md``, ``report.json``, ``parity.png``, the property
   plots and ``potential.json``.

Then ``OUT/summary.md`` (cross-element table of test errors and properties against DFT),
``OUT/summary.json`` and ``OUT/summary.png`` (bar chart of the test errors). Elements run in
parallel on a dask cluster when one is given; each finished element is kept under a hash of its
recipe or descriptor choice, its data files and the linpot version, so a rerun reuses it.
"""

from __future__ import annotations

import hashlib
import json
import logging
import sys
import time
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import numpy as np

from ..errors import LinpotInputError
from ..io import atomic_write_text
from ..version import __version__

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

log = logging.getLogger("linpot.bench")

#: Columns of the cross-element property table (rows of properties_report's comparison).
SUMMARY_PROPERTIES = ["a", "B (EOS)", "C11", "C12", "C44", "C13", "C33", "E_vac (relaxed)", "γ(1,0,0) (relaxed)",
                      "γ(1,1,0) (relaxed)", "γ(1,1,1) (relaxed)", "lowest phonon frequency"]


@dataclass
class Entry:
    """One element of a database: its source, element, files and manifest entry."""

    source: str
    element: str
    train: Path
    test: Path | None
    manifest: dict

    @property
    def key(self) -> str:
        return f"{self.source}-{self.element}"

    @property
    def structure(self) -> str | None:
        return self.manifest.get("structure")


def discover(root) -> list[Entry]:
    """Every ``<source>/<El>/train.xyz`` below ``root``, sorted by source and element; folders that
    their source's manifest lists under ``[systems.<name>]`` (multi-element sets) are skipped."""
    root = Path(root)
    if not root.is_dir():
        raise LinpotInputError("database folder not found", str(root))
    entries = []
    for source in sorted(p for p in root.iterdir() if p.is_dir()):
        manifest = {}
        if (source / "manifest.toml").is_file():
            try:
                with open(source / "manifest.toml", "rb") as fh:
                    manifest = tomllib.load(fh)
            except tomllib.TOMLDecodeError as exc:
                raise LinpotInputError(f"invalid manifest ({exc})", str(source / "manifest.toml")) from None
        for folder in sorted(p for p in source.iterdir() if p.is_dir()):
            train = folder / "train.xyz"
            if not train.is_file():
                continue
            if folder.name in manifest.get("systems", {}) and folder.name not in manifest.get("elements", {}):
                log.info("%s: skipped (a multi-element set, [systems.%s] in its manifest)", folder, folder.name)
                continue
            test = folder / "test.xyz"
            entries.append(Entry(source.name, folder.name, train, test if test.is_file() else None,
                                 manifest.get("elements", {}).get(folder.name, {})))
    if not entries:
        raise LinpotInputError("no <source>/<element>/train.xyz folders in the database", str(root))
    return entries


def _sha256(path: Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


@cache
def code_hash() -> str:
    """A hash of linpot's own Python sources: a report made by other code (a fixed property, a new
    table row) is not reused, though the version string is the same between releases."""
    package = Path(__file__).resolve().parents[1]
    digest = hashlib.sha256()
    for path in sorted(package.rglob("*.py")):
        digest.update(str(path.relative_to(package)).encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()


def element_key(entry: Entry, recipe: Path | None, descriptor: str) -> str:
    """Cache key: the recipe's text (or the descriptor choice), the data files' hashes, the version
    and the hash of linpot's sources (:func:`code_hash`)."""
    parts = {"recipe": recipe.read_text() if recipe else None, "descriptor": None if recipe else descriptor,
             "train": _sha256(entry.train), "test": _sha256(entry.test) if entry.test else None, "linpot": __version__,
             "code": code_hash()}
    return hashlib.sha256(json.dumps(parts, sort_keys=True).encode()).hexdigest()[:16]


def fit_entry(entry: Entry, recipe: Path | None, descriptor: str, time_limit_min: float):
    """Fit the element's potential (recipe, preset or auto); returns ``(potential, how)``."""
    from ..fit import fit_potential
    from ..fit.committee import fit_committee
    from ..fit.config import apply_preset, load_config
    from ..structures import read_datasets

    train = read_datasets([entry.train])
    if recipe is not None:
        config = load_config(recipe)
        config["data"] = {"train": [str(entry.train)], "test": [str(entry.test)] if entry.test else []}
        if config.get("committee"):
            potential, _ = fit_committee(train, config)
        else:
            potential, _ = fit_potential(train, config)
        return potential, f"recipe {recipe.name}"
    if descriptor == "auto":
        from .auto import choose_model

        potential, report, _ = choose_model(train, time_limit_min=time_limit_min)
        return potential, f"--descriptor auto: {report['auto']['chosen']}"
    config = apply_preset(load_config(), descriptor)
    config["fit"]["kfold"] = 5
    potential, _ = fit_potential(train, config)
    return potential, f"preset {descriptor}"


def bench_element(entry: Entry, recipes_dir, descriptor: str, out_dir, time_limit_min: float = 10.0,
                  properties: bool = True, md_steps: int = 300) -> dict:
    """Fit, evaluate and characterise one element; write ``OUT/<source>-<El>/`` and return its record."""
    from ..potential import load
    from ..structures import read_datasets
    from .metrics import error_table, format_error_table, predict_dataset
    from .plots import parity_plot

    recipe = Path(recipes_dir) / f"{entry.key}.toml" if recipes_dir else None
    recipe = recipe if recipe is not None and recipe.is_file() else None
    key = element_key(entry, recipe, descriptor)
    folder = Path(out_dir) / entry.key
    cached = folder / "report.json"
    if cached.is_file():
        record = json.loads(cached.read_text())
        if record.get("key") == key:
            log.info("%s: reusing the finished report (%s)", entry.key, cached)
            return record
    folder.mkdir(parents=True, exist_ok=True)
    stages = {}
    t0 = time.perf_counter()
    log.info("%s: fitting (%s)", entry.key, f"recipe {recipe.name}" if recipe else f"descriptor {descriptor}")
    potential, how = fit_entry(entry, recipe, descriptor, time_limit_min)
    potential.save(folder / "potential.json")
    potential = load(folder / "potential.json")
    stages["fit_s"] = time.perf_counter() - t0
    record = {"key": key, "source": entry.source, "element": entry.element, "how": how,
              "n_coefficients": int(potential.n_features), "structure": entry.structure, "linpot_version": __version__}
    text = [f"# {entry.element} ({entry.source})", "", f"Potential: {how}; {potential.n_features} coefficients, "
            f"cutoff {potential.cutoff:g} Å (`potential.json`).", ""]
    if entry.test is not None:
        t0 = time.perf_counter()
        log.info("%s: evaluating on %s", entry.key, entry.test)
        test = read_datasets([entry.test])
        pred = predict_dataset(potential, test)
        table = error_table(test, pred)
        parity_plot(test, pred, folder / "parity.png", f"{entry.element} test split")
        record["test_errors"] = table
        text += ["## Test errors", "", "```", format_error_table(table, f"test errors ({entry.test.name})"), "```", "",
                 "![parity](parity.png)", ""]
        stages["evaluate_s"] = time.perf_counter() - t0
    if properties and entry.structure:
        t0 = time.perf_counter()
        log.info("%s: properties (%s)", entry.key, entry.structure)
        from .properties import properties_report

        results, _ = properties_report(potential, structure=entry.structure,
                                       reference_dataset=[entry.train] + ([entry.test] if entry.test else []),
                                       output_dir=folder, md_steps=md_steps, title=f"{entry.element} ({how})")
        record["properties"] = results["comparison"]
        text += ["## Properties", "", "Details: [properties.md](properties.md).", ""]
        stages["properties_s"] = time.perf_counter() - t0
    record["stages"] = stages
    atomic_write_text(folder / "report.md", "\n".join(text) + "\n")
    atomic_write_text(cached, json.dumps(record, indent=1, sort_keys=True, default=_jsonable) + "\n")
    return record


def _jsonable(value):
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, (np.floating, np.integer)):
        return value.item()
    return str(value)


def run_bench(root, out_dir, recipes_dir=None, descriptor: str = "auto", client=None, time_limit_min: float = 10.0,
              properties: bool = True, md_steps: int = 300) -> list[dict]:
    """Bench every element of the database at ``root``; write the per-element reports and the summary."""
    from .pareto import progress_bar

    entries = discover(root)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    log.info("%d elements: %s", len(entries), ", ".join(e.key for e in entries))
    bar = progress_bar(len(entries), "bench", "element")
    records = {}
    if client is not None:
        from dask.distributed import as_completed

        futures = {client.submit(bench_element, e, recipes_dir, descriptor, str(out_dir), time_limit_min, properties,
                                 md_steps, pure=False): e.key for e in entries}
        for future in as_completed(futures):
            records[futures[future]] = future.result()
            bar.update(1)
            bar.set_postfix_str(f"{futures[future]} done")
    else:
        for e in entries:
            bar.set_postfix_str(e.key)
            records[e.key] = bench_element(e, recipes_dir, descriptor, out_dir, time_limit_min, properties, md_steps)
            bar.update(1)
    bar.close()
    ordered = [records[e.key] for e in entries]
    write_summary(ordered, out_dir)
    return ordered


def summary_table(records: list[dict]) -> str:
    """Markdown: test errors and (where computed) properties against DFT, one row per element."""
    def fmt(v, spec):
        return "-" if v is None else format(v, spec)

    lines = ["| element | source | potential | test E (meV/atom) | test F (eV/Å) | test S (GPa) |",
             "|---|---|---|---|---|---|"]
    for r in records:
        overall = (r.get("test_errors") or {}).get("overall", {})
        lines.append(f"| [{r['element']}]({r['source']}-{r['element']}/report.md) | {r['source']} | {r['how']} | "
                     f"{fmt(overall.get('energy_rmse_mev_per_atom'), '.2f')} | "
                     f"{fmt(overall.get('force_rmse_ev_per_angstrom'), '.4f')} | {fmt(overall.get('stress_rmse_gpa'), '.3f')} |")
    props = [r for r in records if r.get("properties")]
    if props:
        names = [n for n in SUMMARY_PROPERTIES if any(row["property"] == n for r in props for row in r["properties"])]
        lines += ["", "Properties, potential (DFT from the element's data; - where the data cannot give it):", "",
                  "| element | " + " | ".join(names) + " |", "|---|" + "---|" * len(names)]
        for r in props:
            rows = {row["property"]: row for row in r["properties"]}
            cells = []
            for name in names:
                row = rows.get(name) or {}
                cells.append(f"{fmt(row.get('potential'), '.4g')} ({fmt(row.get('dft'), '.4g')})" if row else "")
            lines.append(f"| {r['element']} ({r['source']}) | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def write_summary(records: list[dict], out_dir) -> None:
    """``summary.md``, ``summary.json`` and ``summary.png`` (test energy and force RMSE per element)."""
    from .plots import _pyplot, _save

    out_dir = Path(out_dir)
    atomic_write_text(out_dir / "summary.md", "# Database report\n\n" + summary_table(records) + "\n")
    atomic_write_text(out_dir / "summary.json", json.dumps(records, indent=1, sort_keys=True, default=_jsonable) + "\n")
    plt = _pyplot()
    fig, axes = plt.subplots(1, 2, figsize=(9, 3.5))
    labels = [f"{r['element']}\n{r['source']}" for r in records]
    for ax, column, ylabel in ((axes[0], "energy_rmse_mev_per_atom", "test energy RMSE (meV/atom)"),
                               (axes[1], "force_rmse_ev_per_angstrom", "test force RMSE (eV/Å)")):
        values = [((r.get("test_errors") or {}).get("overall") or {}).get(column) or 0.0 for r in records]
        ax.bar(range(len(records)), values, color="C0")
        ax.set_xticks(range(len(records)))
        ax.set_xticklabels(labels, fontsize=7)
        ax.set_ylabel(ylabel)
    fig.tight_layout()
    _save(fig, plt, out_dir / "summary.png")
