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


def check_int(name: str, value: object, minimum: int = 1, none: str | None = None, meaning: str = "") -> int | None:
    """``value`` if it is an integer >= ``minimum`` (not a bool), else SeqlabError naming ``name``.

    ``none``: None is allowed too, and this says what it means (``"no limit"``); ``meaning`` is
    added to the message in parentheses (``"the time span to remember"``).
    """
    if value is None and none is not None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        what = {1: "a positive integer", 0: "a non-negative integer"}.get(minimum, f"an integer >= {minimum}")
        notes = "; ".join(filter(None, [meaning, none and f"or None for {none}"]))
        raise SeqlabError(f"{name}: expected {what}{f' ({notes})' if notes else ''}, got {value!r}")
    return value


def check_positive_int(name: str, value: object) -> int:
    """``value`` if it is an integer >= 1 (not a bool), else SeqlabError naming ``name``."""
    return check_int(name, value)
