"""The blocked values-only invariant kernel (``invariant_values``: ``descriptor.features``, the
extrapolation grade) against the values of ``invariant_features`` (``descriptor.compute``, itself
checked against its twin in test_twins.py): every invariant kind, more atoms than one block, atoms
without neighbours. Correctness only; no timings."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from ase import Atoms
from conftest import distorted_fcc

from linpot.descriptors import InvariantDescriptor
from linpot.kernels.invariants import VALUES_BLOCK, invariant_values
from linpot.potential import load

ROOT = Path(__file__).resolve().parents[1]

RADIAL = {"kind": "gaussian", "n_basis": 3, "r_min": 1.2, "width": 0.9}
KINDS = {
    "compact": dict(orders=[[1, 3, 0], [2, 3, 3], [3, 2, 2], [4, 2, 2], [5, 1, 1], [6, 1, 2]]),
    "mixed": dict(orders=[[1, 2, 0], [2, 2, 3], [3, 2, 2], [4, 2, 1]], mixed_orders=[2, 3, 4]),
    "complete": dict(orders=[[1, 2, 0], [2, 2, 3], [3, 2, 2], [4, 1, 2]], element_coupling="complete"),
    "complete-mixed": dict(orders=[[1, 2, 0], [2, 2, 2], [3, 2, 1]], mixed_orders=[2, 3], element_coupling="complete"),
    "channels": dict(orders=[[1, 2, 0], [2, 2, 3], [3, 2, 2], [4, 1, 2]], element_coupling="complete",
                     channels={"kind": "properties", "n_channels": 2}),
}


def binary(atoms: Atoms) -> Atoms:
    symbols = atoms.get_chemical_symbols()
    for k in range(0, len(atoms), 3):
        symbols[k] = "Al"
    atoms.set_chemical_symbols(["Ni" if s == "Cu" else s for s in symbols])
    return atoms


def structures(elements):
    """More atoms than a block (and not a multiple of it), a small periodic cell, and a cluster
    with an isolated atom (no neighbours)."""
    big = distorted_fcc(seed=3, repeat=(3, 3, 4), rattle=0.1)
    assert len(big) > VALUES_BLOCK and len(big) % VALUES_BLOCK
    small = distorted_fcc(seed=4, repeat=(1, 1, 1))
    rng = np.random.default_rng(5)
    cluster = Atoms("Cu6", positions=np.vstack([rng.normal(scale=1.3, size=(5, 3)), [[30.0, 0.0, 0.0]]]))
    cases = {"big": big, "small": small, "cluster": cluster}
    return {name: binary(atoms) if len(elements) > 1 else atoms for name, atoms in cases.items()}


def check_values(d, cases):
    for name, atoms in cases.items():
        args = (atoms.positions, atoms.numbers, atoms.cell.array, atoms.pbc)
        G, context = d.features(*args)
        reference = d.compute(*args).G
        assert G.shape == reference.shape == (len(atoms), d.n_features)
        np.testing.assert_array_equal(context.species, d.compute(*args).species)
        scale = np.maximum(np.abs(reference).max(axis=0), 1e-300)
        np.testing.assert_allclose(G / scale, reference / scale, rtol=0, atol=1e-12, err_msg=name)
        if name == "cluster":
            np.testing.assert_array_equal(G[-1], reference[-1])


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_values_kernel_equals_the_features_kernel(kind):
    elements = ["Cu"] if kind == "compact" else ["Al", "Ni"]
    d = InvariantDescriptor(elements, cutoff=4.0, radial=RADIAL, **KINDS[kind])
    check_values(d, structures(elements))


def test_values_kernel_equals_the_features_kernel_for_the_shipped_copper_descriptor():
    d = load(ROOT / "fits" / "mlearn-Cu.json").model.descriptor
    atoms = distorted_fcc(seed=6, repeat=(2, 2, 2), rattle=0.05, a=3.62)
    check_values(d, {"cell": atoms})


def test_values_kernel_without_atoms():
    d = InvariantDescriptor(["Cu"], cutoff=4.0, radial=RADIAL, **KINDS["compact"])
    tables = d.kernel_tables()
    G = invariant_values(np.zeros(1, dtype=np.int64), np.zeros(0, dtype=np.int64), np.zeros((0, 3)),
                         np.zeros((0, (d.l_max + 1) ** 2)), 1, tables)
    assert G.shape == (0, d.n_features)
