"""The ``.ts`` format of the time-series classification archive (UCR/UEA; also shipped by aeon and sktime).

A file is a header of ``@keyword value`` lines, then ``@data`` and one case per line::

    # comments start with '#' (or '%')
    @problemName GunPoint
    @timeStamps false
    @missing false
    @univariate true            (false: several channels, '@dimensions C' may say how many)
    @equalLength true
    @seriesLength 150
    @classLabel true 1 2        (the class labels; false: no labels; '@targetLabel true': a number)
    @data
    -0.65,-0.64,...,-0.64:2                    one channel, then the label
    0.1,0.2,?,0.4:0.5,0.6,0.7,0.8:walking      two channels; '?' is a missing value

Channels are separated by ``:``, values by ``,``; the last field is the class label (or the
regression target) when the header says the file has one. Missing values (``?`` or ``NaN``)
are read as NaN. Cases may differ in length (``@equalLength false``), but the channels of one
case have the same length. Header keywords are matched without regard to case; class labels
keep their spelling (a label differing from a declared one only in case takes the declared
spelling). Files with ``@timeStamps true`` (values written as ``(time,value)``) are refused.

:func:`read_ts` returns a :class:`TsData`: ``X`` a list of ``(T_i, C)`` float arrays (time by
channel, as :mod:`seqlab` takes sequences), ``y`` the labels (strings) or targets (floats) or
None, and the header. Every problem is one :class:`~seqlab.errors.SeqlabError` naming the file
and the line.
"""

from __future__ import annotations

import math
import os
import re
from dataclasses import dataclass, field

import numpy as np

from ..errors import SeqlabError

#: header keywords whose value is true or false
_BOOLEAN = ("timestamps", "missing", "univariate", "equallength", "targetlabel")
_MISSING = ("?", "nan")


@dataclass
class TsData:
    """One ``.ts`` file: ``X`` (N cases, each ``(T_i, C)`` float64, NaN where missing), ``y``
    (N labels as strings, N float targets, or None), and what the header said."""

    X: list[np.ndarray]
    y: list | None
    problem: str = ""
    class_labels: list[str] | None = None  # declared by @classLabel true ...; None without labels
    target: bool = False  # @targetLabel true: y holds numbers (regression)
    header: dict = field(default_factory=dict)  # every @keyword (lower case) -> its raw value

    @property
    def channels(self) -> int:
        return int(self.X[0].shape[1])

    @property
    def lengths(self) -> np.ndarray:
        return np.array([len(x) for x in self.X], dtype=np.int64)

    @property
    def missing(self) -> int:
        """How many values are missing (NaN)."""
        return int(sum(np.isnan(x).sum() for x in self.X))


def _bool(value: str, where: str) -> bool:
    v = value.strip().lower()
    if v not in ("true", "false"):
        raise SeqlabError(f"{where}: expected true or false, got {value.strip()!r}")
    return v == "true"


def _float(text: str, where: str) -> float:
    t = text.strip()
    if t.lower() in _MISSING:
        return math.nan
    try:
        v = float(t)
    except ValueError:
        raise SeqlabError(f"{where}: {t!r} is not a number (a missing value is written '?')") from None
    if not math.isfinite(v):
        raise SeqlabError(f"{where}: {t!r} is not a finite number (a missing value is written '?')")
    return v


def parse_ts(text: str, name: str = "<string>") -> TsData:
    """Parse the contents of a ``.ts`` file (see the module docstring); ``name`` is used in errors."""
    header: dict[str, str] = {}
    lines = text.splitlines()
    start = None
    for k, raw in enumerate(lines):
        line = raw.strip()
        if not line or line[0] in "#%":
            continue
        if not line.startswith("@"):
            raise SeqlabError(f"{name}, line {k + 1}: expected a header line '@keyword value' or '@data' before the "
                              f"data, got {line[:40]!r}")
        key, _, value = line[1:].partition(" ")
        key = key.lower()
        if key == "data":
            if value.strip():
                raise SeqlabError(f"{name}, line {k + 1}: '@data' takes no value, got {value.strip()!r}")
            start = k + 1
            break
        header[key] = value.strip()
    if start is None:
        raise SeqlabError(f"{name}: no '@data' line; a .ts file is a header of @keyword lines, then @data and one "
                          "case per line")
    flags = {key: _bool(header[key], f"{name}: @{key}") for key in _BOOLEAN if key in header}
    if flags.get("timestamps"):
        raise SeqlabError(f"{name}: @timeStamps true (values written as (time,value)) is not supported; write the "
                          "values alone, one comma-separated list per channel")
    labels: list[str] | None = None
    target = flags.get("targetlabel", False)
    if "classlabel" in header and not target:
        first, _, rest = header["classlabel"].partition(" ")
        if _bool(first, f"{name}: @classLabel"):
            labels = rest.split()
            if not labels:
                raise SeqlabError(f"{name}: '@classLabel true' must list the class labels, e.g. '@classLabel true 1 2'")
    has_y = labels is not None or target
    lower = {v.lower(): v for v in (labels or [])}
    want_c = int(header["dimensions"]) if header.get("dimensions", "").isdigit() else None
    if flags.get("univariate") and want_c is None:
        want_c = 1
    want_t = int(header["serieslength"]) if header.get("serieslength", "").isdigit() and flags.get("equallength") else None

    X: list[np.ndarray] = []
    y: list = []
    for k in range(start, len(lines)):
        line = re.sub(r"\s+", "", lines[k])
        if not line or line[0] in "#%":
            continue
        where = f"{name}, line {k + 1}"
        fields = line.split(":")
        if has_y:
            if len(fields) < 2:
                raise SeqlabError(f"{where}: expected the values, ':' and the {'target' if target else 'class label'}, "
                                  f"got no ':'")
            last = fields.pop()
            if target:
                v = _float(last, f"{where}: target")
                if math.isnan(v):
                    raise SeqlabError(f"{where}: the target is missing")
                y.append(v)
            else:
                if last not in labels:
                    if last.lower() not in lower:
                        raise SeqlabError(f"{where}: class label {last!r} is not one declared by @classLabel "
                                          f"({' '.join(labels)})")
                    last = lower[last.lower()]
                y.append(last)
        chans = []
        for c, f in enumerate(fields):
            if f == "":
                raise SeqlabError(f"{where}: channel {c} has no values")
            chans.append([_float(v, f"{where}, channel {c}") for v in f.split(",")])
        if want_c is not None and len(chans) != want_c:
            raise SeqlabError(f"{where}: {len(chans)} channel(s), but the header says {want_c}"
                              + ("" if has_y else " (a label after ':' with '@classLabel false'?)"))
        if len({len(ch) for ch in chans}) > 1:
            raise SeqlabError(f"{where}: the channels have different lengths {[len(ch) for ch in chans]}; the "
                              "channels of one case must have the same length")
        if X and len(chans) != X[0].shape[1]:
            raise SeqlabError(f"{where}: {len(chans)} channel(s), but the first case has {X[0].shape[1]}")
        x = np.array(chans, dtype=np.float64).T  # (C, T) -> (T, C)
        if want_t is not None and len(x) != want_t:
            raise SeqlabError(f"{where}: {len(x)} values per channel, but the header says @seriesLength {want_t}")
        if np.isnan(x).all(axis=0).any():
            raise SeqlabError(f"{where}: channel {int(np.flatnonzero(np.isnan(x).all(axis=0))[0])} has only missing "
                              "values")
        X.append(x)
    if not X:
        raise SeqlabError(f"{name}: no cases after '@data'")
    if flags.get("missing") is False and any(np.isnan(x).any() for x in X):
        k = next(i for i, x in enumerate(X) if np.isnan(x).any())
        raise SeqlabError(f"{name}: case {k} has missing values ('?') but the header says '@missing false'")
    return TsData(X, y if has_y else None, header.get("problemname", ""), labels, target, header)


def read_ts(path: str | os.PathLike, option: str = "--data") -> TsData:
    """Read a ``.ts`` file (gzip-compressed too) through :mod:`seqlab.files`'s read boundary."""
    from ..files import read_text

    return parse_ts(read_text(path, option, "data file", "text"), str(path))


def fill_missing(x: np.ndarray) -> np.ndarray:
    """One case ``(T, C)`` with NaN filled per channel: linear interpolation between the present
    values, the nearest present value before the first and after the last. A channel with no
    value at all is an error of the caller (:func:`parse_ts` refuses it)."""
    out = np.array(x, dtype=np.float64, copy=True)
    t = np.arange(len(out))
    for c in range(out.shape[1]):
        col = out[:, c]
        gap = np.isnan(col)
        if gap.any():
            col[gap] = np.interp(t[gap], t[~gap], col[~gap])  # np.interp holds the end values beyond the ends
    return out


__all__ = ["TsData", "fill_missing", "parse_ts", "read_ts"]
