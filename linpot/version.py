"""The linpot version, written into every potential file and exported module."""

__version__ = "0.1.0"
