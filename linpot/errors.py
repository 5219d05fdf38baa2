"""Errors raised for a user's mistake (bad input), reported as one line without a traceback."""

from __future__ import annotations


class LinpotInputError(Exception):
    """Bad input: the message names the file, the structure index (if any) and what is wrong."""

    def __init__(self, message: str, path: str | None = None, index: int | None = None):
        self.path = None if path is None else str(path)
        self.index = index
        self.reason = message
        where = []
        if self.path is not None:
            where.append(self.path)
        if index is not None:
            where.append(f"structure {index}")
        super().__init__(": ".join(where + [message]))


class PotentialFileError(LinpotInputError):
    """A potential file that is truncated, corrupted, of an unknown version or not a potential."""
