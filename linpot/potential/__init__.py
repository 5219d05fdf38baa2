"""Fitted potentials and their files.

Owns the file envelope (format, version, checksum, atomic writing: :mod:`.envelope`), the single
potential (:mod:`.single`) and the committee of potentials (:mod:`.committee`); :func:`load`
returns either. May import models, descriptors, the evaluator (a potential predicts through its
compiled tables) and the base modules; never fit, interfaces or analysis.
"""

from .committee import COMMITTEE_FORMAT, CommitteePotential
from .envelope import UNITS, check_envelope, load, sealed, write_payload
from .single import FORMAT, FORMAT_VERSION, Potential

__all__ = ["COMMITTEE_FORMAT", "FORMAT", "FORMAT_VERSION", "UNITS", "CommitteePotential", "Potential",
           "check_envelope", "load", "sealed", "write_payload"]
