"""Errors meant for people.

Every error raised for bad user input is a :class:`SeqlabError` (a ``ValueError``), so library
users can catch it like any ValueError and the command line can turn it into one line on stderr
with exit code 2. Messages name the argument, what was expected, what was received and the fix.
"""

from __future__ import annotations

import math
import numbers
import warnings


class SeqlabError(ValueError):
    """Bad input from a user: an argument, a file, a model. Printed as one line by the CLI."""


class ModelFileError(SeqlabError):
    """A model file that is missing, truncated, corrupted or not a seqlab model."""


def expect(condition: bool, message: str) -> None:
    """Raise :class:`SeqlabError` with ``message`` unless ``condition`` holds (never ``assert``)."""
    if not condition:
        raise SeqlabError(message)


def warn_deprecated(old: str, new: str) -> None:
    """A DeprecationWarning that ``old`` (a name or argument kept for old scripts) is deprecated,
    naming ``new``; called by the deprecated function or module ``__getattr__`` itself, so the
    warning points at its caller's line."""
    warnings.warn(f"{old} is deprecated and will be removed; use {new}", DeprecationWarning, stacklevel=3)


#: the largest magnitude of a data value (forecast series, classify features): squares of larger
#: ones overflow the variances, squared errors and scalers computed from them
MAX_ABS = 1e30


def check_int(name: str, value: object, minimum: int = 1, none: str | None = None, meaning: str = "",
              maximum: int | None = None) -> int | None:
    """``value`` if it is an integer in [``minimum``, ``maximum``] (not a bool), else SeqlabError
    naming ``name``.

    ``none``: None is allowed too, and this says what it means (``"no limit"``); ``meaning`` is
    added to the message in parentheses (``"the time span to remember"``).
    """
    if value is None and none is not None:
        return None
    bad = isinstance(value, bool) or not isinstance(value, int) or value < minimum
    if bad or (maximum is not None and value > maximum):
        what = {1: "a positive integer", 0: "a non-negative integer"}.get(minimum, f"an integer >= {minimum}")
        if maximum is not None:
            what = f"an integer in [{minimum}, {maximum}]"
        notes = "; ".join(filter(None, [meaning, none and f"or None for {none}"]))
        raise SeqlabError(f"{name}: expected {what}{f' ({notes})' if notes else ''}, got {value!r}")
    return value


def check_positive_int(name: str, value: object) -> int:
    """``value`` if it is an integer >= 1 (not a bool), else SeqlabError naming ``name``."""
    return check_int(name, value)


def check_float(name: str, value: object, low: float | None = None, high: float | None = None,
                low_open: bool = False, high_open: bool = False, none: str | None = None,
                meaning: str = "") -> float | None:
    """``value`` as a float if it is a finite number in the range, else SeqlabError naming ``name``.
    Any real number but a bool is a number: int, float and NumPy's scalars (``np.float32(2.0)``).

    ``low``/``high`` bound the range (``*_open``: the bound itself is excluded); ``none``: None is
    allowed and this says what it means; NaN and infinities are always refused.
    """
    if value is None and none is not None:
        return None
    lo = "" if low is None else ("(" if low_open else "[") + f"{low:g}"
    hi = "" if high is None else f"{high:g}" + (")" if high_open else "]")
    if low is not None and high is not None:
        what = f"a number in {lo}, {hi}"
    elif low is not None:
        what = f"a number {'>' if low_open else '>='} {low:g}"
    elif high is not None:
        what = f"a number {'<' if high_open else '<='} {high:g}"
    else:
        what = "a finite number"
    number = math.nan
    if isinstance(value, numbers.Real) and not isinstance(value, bool):
        try:  # converted before the checks: 10**400 or np.longdouble('1e400') is no finite float
            number = float(value)
        except OverflowError:
            pass
    ok = math.isfinite(number)
    if ok and low is not None:
        ok = number > low if low_open else number >= low
    if ok and high is not None:
        ok = number < high if high_open else number <= high
    if not ok:
        notes = "; ".join(filter(None, [meaning, none and f"or None for {none}"]))
        raise SeqlabError(f"{name}: expected {what}{f' ({notes})' if notes else ''}, got {value!r}")
    return number
