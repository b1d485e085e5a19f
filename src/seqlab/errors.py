"""Errors meant for people.

Every error raised for bad user input is a :class:`SeqlabError` (a ``ValueError``), so library
users can catch it like any ValueError and the command line can turn it into one line on stderr
with exit code 2. Messages name the argument, what was expected, what was received and the fix.
"""

from __future__ import annotations


class SeqlabError(ValueError):
    """Bad input from a user: an argument, a file, a model. Printed as one line by the CLI."""


class ModelFileError(SeqlabError):
    """A model file that is missing, truncated, corrupted or not a seqlab model."""


def expect(condition: bool, message: str) -> None:
    """Raise :class:`SeqlabError` with ``message`` unless ``condition`` holds (never ``assert``)."""
    if not condition:
        raise SeqlabError(message)


def check_positive_int(name: str, value: object) -> int:
    """``value`` if it is an integer >= 1 (not a bool), else SeqlabError naming ``name``."""
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise SeqlabError(f"{name}: expected a positive integer, got {value!r}")
    return value
