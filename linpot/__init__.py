"""linpot: linear machine-learning interatomic potentials from DFT data.

Pipeline: structures -> neighbours -> descriptors -> models (design matrix) -> fit -> potential
-> calculator / evaluator.
"""

__version__ = "0.1.0"


def __getattr__(name):
    # Lazy, so that `import linpot` stays light (no numba compile) for the CLI's --help.
    if name == "Calculator":
        from .calculator import Calculator
        return Calculator
    if name == "Potential":
        from .potential import Potential
        return Potential
    raise AttributeError(name)
