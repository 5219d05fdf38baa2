"""Time and peak memory of `linpot fit`: serial against a two-worker dask cluster, and mlearn Cu
against a synthetic dataset ten times its size.

    python benchmarks/fit_scaling.py                        # preset invariants-medium
    python benchmarks/fit_scaling.py --preset pair --scale 10

Each fit runs as its own `linpot fit` process; its wall time and the peak resident memory of
its whole process tree (the dask workers included, sampled every 0.1 s with psutil) are
recorded. The synthetic dataset is mlearn Cu's training split repeated ``--scale`` times, each
copy rattled by 0.01 Å (labels copied: it measures cost, not accuracy). Memory must not grow
with the number of structures: the normal equations are streamed chunk by chunk. Results go
between the markers in docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import psutil
from docs_table import write_between_markers

REPO = Path(__file__).resolve().parents[1]


def run_fit(args: list[str]) -> dict:
    """Wall time (s) and peak RSS of the process tree (MB) of one `linpot fit`."""
    cmd = [sys.executable, "-m", "linpot", "-q", "fit", *args]
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    root = psutil.Process(proc.pid)
    peak = 0
    while proc.poll() is None:
        try:
            rss = root.memory_info().rss + sum(c.memory_info().rss for c in root.children(recursive=True))
            peak = max(peak, rss)
        except psutil.Error:
            pass
        time.sleep(0.1)
    seconds = time.perf_counter() - t0
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed: {proc.stderr.read().decode()}")
    return {"seconds": seconds, "peak_mb": peak / 1024**2}


def synthetic(train: Path, scale: int, out: Path) -> int:
    import ase.io

    frames = ase.io.read(train, ":")
    rng = np.random.default_rng(0)
    big = []
    for _ in range(scale):
        for atoms in frames:
            a = atoms.copy()
            a.calc = atoms.calc
            a.positions += 0.01 * rng.normal(size=a.positions.shape)
            big.append(a)
    ase.io.write(out, big, format="extxyz")
    return len(big)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--preset", default="invariants-medium")
    parser.add_argument("--scale", type=int, default=10)
    args = parser.parse_args()
    train = REPO / "data" / "mlearn" / "Cu" / "train.xyz"
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        pot = str(Path(tmp) / "pot.json")
        base = ["--train", str(train), "--descriptor", args.preset, "-o", pot]
        # Warm the numba cache so no run pays for compilation.
        run_fit(["--train", str(REPO / "data" / "mlearn" / "Cu" / "test.xyz"), "--descriptor", args.preset, "-o", pot])
        rows.append(("mlearn Cu train, serial", run_fit(base)))
        print(rows[-1], flush=True)
        rows.append(("mlearn Cu train, 2 dask workers", run_fit(base + ["--workers", "2"])))
        print(rows[-1], flush=True)
        big = Path(tmp) / "big.xyz"
        n = synthetic(train, args.scale, big)
        rows.append((f"{args.scale}x mlearn Cu ({n} structures), serial",
                     run_fit(["--train", str(big), "--descriptor", args.preset, "-o", pot])))
        print(rows[-1], flush=True)
    ref = rows[0][1]
    lines = ["| fit | wall time (s) | peak memory (MB) | time ratio | memory ratio |", "|---|---|---|---|---|"]
    for name, r in rows:
        lines.append(f"| {name} | {r['seconds']:.1f} | {r['peak_mb']:.0f} | {r['seconds'] / ref['seconds']:.2f} | "
                     f"{r['peak_mb'] / ref['peak_mb']:.2f} |")
    stamp = (f"Preset `{args.preset}`; ratios to the serial mlearn Cu fit. Made by "
             f"`python benchmarks/fit_scaling.py --preset {args.preset} --scale {args.scale}` on "
             f"{platform.processor() or platform.machine()} ({psutil.cpu_count()} cores), {time.strftime('%Y-%m-%d')}.")
    write_between_markers("fit-scaling", "\n".join(lines), stamp, "Fit cost: serial, distributed, and ten times the data")


if __name__ == "__main__":
    main()
