"""linpot: linear machine-learning interatomic potentials from DFT data.

Pipeline: structures -> neighbours -> descriptors -> models (design matrix) -> fit -> potential
-> calculator / evaluator.
"""

from .version import __version__

__all__ = ["Calculator", "Potential", "__version__"]


def __getattr__(name):
    # Lazy, so that `import linpot` stays light (no numba compile) for the CLI's --help.
    if name == "Calculator":
        from .interfaces.calculator import Calculator
        return Calculator
    if name == "Potential":
        from .potential import Potential
        return Potential
    raise AttributeError(name)
