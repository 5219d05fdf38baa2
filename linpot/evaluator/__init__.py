"""The compiled evaluator: a fitted potential rewritten as plain arrays, and the kernels that run them.

:mod:`.tables` compiles a potential's model into tables (merged polynomials in the expansion
coefficients or moment components, see its docstring); :mod:`.runtime` runs tables on a
structure. The runtime imports nothing from linpot but :mod:`linpot.kernels`, which is what lets
``linpot export`` copy it, with those kernels, into a standalone module. The tables may import
descriptors and models (to read their specs); never potential, fit or anything above.
"""

from .runtime import run_tables
from .tables import CompiledPotential, compile_tables, supports, table_summary

__all__ = ["CompiledPotential", "compile_tables", "run_tables", "supports", "table_summary"]
