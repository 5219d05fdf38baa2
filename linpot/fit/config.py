"""Fit configuration: TOML files merged over built-in defaults.

A recipe looks like (``preset = "NAME"`` takes the descriptor and model of a preset in
``linpot/fit/presets/``; sections given in the recipe then refine it)::

    preset = "pair"

    [data]
    train = ["../data/mlearn/Cu/train.xyz"]     # paths relative to the recipe file
    test = ["../data/mlearn/Cu/test.xyz"]

    [descriptor]
    kind = "pair"
    cutoff = 6.0                                 # Å
    radial = { kind = "chebyshev", n_basis = 10 }

    [model]
    kind = "polynomial"
    degree = 3

    [fit]
    method = "ridge"          # ridge | lasso | elastic-net | omp | lars | bayes
    alphas = [1e-10, 1e-8, 1e-6]                 # relative ridge strengths tried on validation
    validation_fraction = 0.1                    # held-out structures per config_type ...
    kfold = 0                                    # ... or k-fold cross-validation by structure (k >= 2)
    max_features = 300                           # sparse methods: largest number of nonzero coefficients
    l1_ratio = 0.5                               # elastic-net mix
    seed = 0
    weights = { energy = 10000.0, forces = 30.0, stress = 1.0 }  # 1/(eV/atom), 1/(eV/Å), 1/GPa
    stress = "full"           # "deviatoric": the traceless part only; "pulay": all of it less one fitted
                              # Pulay stress proportional to the atom density (labels with a Pulay stress)
    config_type_weights = { Surface = 1.0 }
"""

from __future__ import annotations

import copy
import os
import sys
from pathlib import Path

import numpy as np

from ..errors import LinpotInputError
from .normal_equations import STRESS_PARTS

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

DEFAULT_CONFIG = {
    "data": {"train": [], "test": []},
    "descriptor": {"kind": "pair", "cutoff": 6.0, "radial": {"kind": "chebyshev", "n_basis": 10}},
    "model": {"kind": "polynomial", "degree": 3},
    "fit": {
        "method": "ridge",
        "alphas": [float(a) for a in np.logspace(-16, -2, 29)],
        "validation_fraction": 0.1,
        "kfold": 0,
        "max_features": None,
        "l1_ratio": 0.5,
        "seed": 0,
        "weights": {"energy": 10000.0, "forces": 30.0, "stress": 1.0},
        "stress": "full",
        "config_type_weights": {},
    },
    "elements": None,
}

_SECTIONS = set(DEFAULT_CONFIG) | {"preset", "committee"}
#: What a ``[[committee]]`` member may set; everything else (data, kfold, seed, method) is shared.
_MEMBER_KEYS = {"preset", "descriptor", "model", "fit"}
_MEMBER_FIT_KEYS = {"weights", "config_type_weights", "alphas"}
PRESET_DIR = Path(__file__).with_name("presets")


def preset_names() -> list[str]:
    return sorted(p.stem for p in PRESET_DIR.glob("*.toml"))


def load_preset(name: str) -> dict:
    """The ``[descriptor]`` and ``[model]`` sections of the named preset (``linpot/fit/presets/NAME.toml``)."""
    path = PRESET_DIR / f"{name}.toml"
    if not path.is_file():
        raise LinpotInputError(f"unknown descriptor preset {name!r} (known: {', '.join(preset_names())})")
    with open(path, "rb") as fh:
        preset = tomllib.load(fh)
    return {"descriptor": preset["descriptor"], "model": preset["model"]}


def apply_preset(config: dict, name: str) -> dict:
    """``config`` with its descriptor and model replaced by the preset's."""
    out = copy.deepcopy(config)
    out.update(copy.deepcopy(load_preset(name)))
    return out
_FIT_KEYS = set(DEFAULT_CONFIG["fit"])


def merge(base: dict, override: dict) -> dict:
    out = copy.deepcopy(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict) and key not in ("radial", "config_type_weights"):
            out[key] = merge(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


def read_toml(path, what: str = "config") -> dict:
    """The TOML document at ``path``; a missing or invalid file is a one-line error naming it."""
    path = os.fspath(path)
    try:
        with open(path, "rb") as fh:
            return tomllib.load(fh)
    except FileNotFoundError:
        raise LinpotInputError(f"{what} file not found", path) from None
    except tomllib.TOMLDecodeError as exc:
        raise LinpotInputError(f"invalid TOML ({exc})", path) from None


def data_paths(section: dict, path) -> dict:
    """``{"train": [...], "test": [...]}`` of a ``[data]`` section, relative paths made relative
    to the folder of the file at ``path`` (and kept relative to the working directory when ``path``
    is: the potential's provenance then names ``data/...``, not this machine's folders)."""
    here = os.path.dirname(os.fspath(path))
    out = {}
    for key in ("train", "test"):
        files = section.get(key, [])
        files = [files] if isinstance(files, str) else list(files)
        out[key] = [f if os.path.isabs(f) else os.path.normpath(os.path.join(here, f)) for f in files]
    return out


def load_config(path=None) -> dict:
    """Defaults, overridden by the TOML file at ``path``; data paths made relative to it."""
    if path is None:
        return copy.deepcopy(DEFAULT_CONFIG)
    path = os.fspath(path)
    user = read_toml(path)
    unknown = set(user) - _SECTIONS
    if unknown:
        raise LinpotInputError(f"unknown config section(s): {', '.join(sorted(unknown))}", path)
    unknown = set(user.get("fit", {})) - _FIT_KEYS
    if unknown:
        raise LinpotInputError(f"unknown [fit] option(s): {', '.join(sorted(unknown))}", path)
    stress_part = user.get("fit", {}).get("stress", "full")
    if stress_part not in STRESS_PARTS:
        raise LinpotInputError(f"[fit] stress must be one of {', '.join(STRESS_PARTS)}, got {stress_part!r}", path)
    if "committee" in user:
        check_committee(user["committee"], path)
    base = DEFAULT_CONFIG
    if "preset" in user:
        base = apply_preset(base, user.pop("preset"))
    if "descriptor" in user and user["descriptor"].get("kind", base["descriptor"]["kind"]) != base["descriptor"]["kind"]:
        base = copy.deepcopy(base)
        base["descriptor"] = {}
        base["model"] = {"kind": "polynomial", "degree": 1}
    config = merge(base, user)
    config["data"].update(data_paths(config["data"], path))
    return config


def check_committee(members, path=None) -> None:
    """A one-line error unless ``members`` is a list of at least two member tables with known keys."""
    if not isinstance(members, list) or not all(isinstance(m, dict) for m in members):
        raise LinpotInputError("committee must be an array of tables ([[committee]])", path)
    if len(members) < 2:
        raise LinpotInputError(f"a committee needs at least 2 [[committee]] members, got {len(members)}", path)
    for k, member in enumerate(members, start=1):
        unknown = set(member) - _MEMBER_KEYS
        if unknown:
            raise LinpotInputError(f"committee member {k}: unknown option(s) {', '.join(sorted(unknown))} "
                                   f"(a member sets {', '.join(sorted(_MEMBER_KEYS))})", path)
        unknown = set(member.get("fit", {})) - _MEMBER_FIT_KEYS
        if unknown:
            raise LinpotInputError(f"committee member {k}: [fit] option(s) {', '.join(sorted(unknown))} are shared "
                                   f"by all members (a member sets {', '.join(sorted(_MEMBER_FIT_KEYS))})", path)


def committee_member_config(config: dict, member: dict) -> dict:
    """The full config of one committee member: the shared config (data, [fit] method, kfold,
    seed, ...) with the member's preset, descriptor, model and loss settings in place."""
    out = copy.deepcopy({k: v for k, v in config.items() if k != "committee"})
    if "preset" in member:
        out = apply_preset(out, member["preset"])
    if "descriptor" in member:
        out["descriptor"] = copy.deepcopy(member["descriptor"])
    if "model" in member:
        out["model"] = copy.deepcopy(member["model"])
    if "fit" in member:
        out["fit"] = merge(out["fit"], member["fit"])
    return out
