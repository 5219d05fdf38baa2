"""Reading structures and labels with ase.io into the compact Dataset form."""

import ase.io
import numpy as np
import pytest
from ase.calculators.singlepoint import SinglePointCalculator
from conftest import binary_cell, distorted_fcc, triclinic_cell

from linpot.errors import LinpotInputError
from linpot.structures import Dataset, read_datasets, read_structures


def with_labels(atoms, energy=None, forces=None, stress=None, config_type=None):
    atoms = atoms.copy()
    kw = {k: v for k, v in (("energy", energy), ("forces", forces), ("stress", stress)) if v is not None}
    atoms.calc = SinglePointCalculator(atoms, **kw)
    if config_type:
        atoms.info["config_type"] = config_type
    return atoms


@pytest.mark.parametrize("fmt,suffix", [("extxyz", ".xyz"), ("traj", ".traj")])
def test_labels_are_optional_per_structure(tmp_path, fmt, suffix):
    a, b, c = distorted_fcc(repeat=(1, 1, 1)), triclinic_cell(), binary_cell()
    rng = np.random.default_rng(0)
    frames = [
        with_labels(a, energy=-3.0, forces=rng.normal(size=(len(a), 3)), stress=rng.normal(size=6), config_type="bulk"),
        with_labels(b, energy=-2.0, forces=rng.normal(size=(len(b), 3))),
        with_labels(c, energy=-1.0, config_type="alloy"),
    ]
    path = tmp_path / f"d{suffix}"
    ase.io.write(path, frames, format=fmt)
    ds = read_structures(path)
    assert len(ds) == 3 and ds.offsets[-1] == len(a) + len(b) + len(c)
    np.testing.assert_array_equal(ds.has_energy, [True, True, True])
    np.testing.assert_array_equal(ds.has_forces, [True, True, False])
    np.testing.assert_array_equal(ds.has_stress, [True, False, False])
    np.testing.assert_allclose(ds.stress[0], frames[0].get_stress(), atol=1e-7)  # extxyz keeps 8 decimals
    np.testing.assert_allclose(ds.forces[ds.atom_slice(1)], frames[1].get_forces(), atol=1e-7)
    assert np.all(np.isnan(ds.forces[ds.atom_slice(2)]))
    assert ds.config_type == ["bulk", "default", "alloy"]
    # Dataset.elements is documented as sorted by atomic number (Al 13, Ni 28, Cu 29): neither the
    # order of first appearance in the file (Cu, Al, Ni) nor the alphabetical one (Al, Cu, Ni)
    in_file = list(dict.fromkeys(s for f in frames for s in f.get_chemical_symbols()))
    assert in_file == ["Cu", "Al", "Ni"]
    assert ds.elements == ["Al", "Ni", "Cu"]
    assert ds.origin[2] == (str(path), 2)
    np.testing.assert_allclose(ds.atoms(2).positions, c.positions, atol=1e-7)
    assert len(ds.file_hashes[str(path)]) == 64


def test_shipped_files_read_with_their_labels():
    from pathlib import Path

    data = Path(__file__).resolve().parents[1] / "data" / "mlearn"
    test = read_structures(data / "Cu" / "test.xyz")
    assert len(test) == 31 and int(test.offsets[-1]) == 3178
    assert test.has_stress.all() and test.has_forces.all() and test.has_energy.all()
    assert set(test.config_type) == {"AIMD-NVT", "Elastic", "Surface", "Vacancy"}


def test_subset_and_concatenate_round_trip():
    frames = [with_labels(distorted_fcc(seed=s, repeat=(1, 1, 1)), energy=float(s)) for s in range(5)]
    ds = Dataset.from_atoms(frames)
    parts = [ds.subset([0, 1]), ds.subset([2, 3, 4])]
    joined = Dataset.concatenate(parts)
    np.testing.assert_array_equal(joined.positions, ds.positions)
    np.testing.assert_array_equal(joined.energy, ds.energy)
    np.testing.assert_array_equal(joined.offsets, ds.offsets)
    back = ds.subset([4, 0])
    assert back.energy.tolist() == [4.0, 0.0]


def test_empty_file_list_is_an_error():
    with pytest.raises(LinpotInputError, match="no structure files"):
        read_datasets([])


def test_wrong_force_shape_is_an_error():
    atoms = distorted_fcc(repeat=(1, 1, 1))
    atoms.info["energy"] = -1.0
    atoms.new_array("forces", np.zeros((len(atoms), 3)))
    ds = Dataset.from_atoms([atoms])  # labels from info/arrays when there is no calculator
    assert ds.has_energy[0] and ds.has_forces[0]
    atoms.info["energy"] = [1.0, 2.0]
    with pytest.raises(LinpotInputError, match="energy label has 2 values"):
        Dataset.from_atoms([atoms], path="x.xyz")
