"""The embedded task: human-written dates to ISO ``YYYY-MM-DD``, generated with the standard library.

Every date between 1950-01-01 and 2049-12-31 can be written in any of :data:`FORMATS`
("tuesday 3 march 2015", "3/3/15", "march 3rd, 2015", "2015 mar 03", ...). Sources are lower
case; the source vocabulary lowercases what users type for this task.

Conventions that make every source unambiguous:

* slashes are US order, month first (``m/d/yy``); dots are European, day first (``d.m.yyyy``);
* two-digit years cover 1950-2049 (``50`` is 1950, ``49`` is 2049).

:func:`split_dates` splits the days into disjoint train, validation and test sets with a fixed
seed, so held-out dates are never seen in training whatever seed the training run uses.
"""

from __future__ import annotations

import datetime as dt
import random
from dataclasses import dataclass

FIRST = dt.date(1950, 1, 1)
LAST = dt.date(2049, 12, 31)
SPLIT_SEED = 20150303

MONTHS = ["january", "february", "march", "april", "may", "june", "july", "august", "september",
          "october", "november", "december"]
WEEKDAYS = ["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"]

#: name -> pattern; the fields are filled by :func:`fields`
FORMATS: dict[str, str] = {
    "d month yyyy": "{d} {month} {yyyy}",
    "dd mon yyyy": "{dd} {mon} {yyyy}",
    "weekday d month yyyy": "{weekday} {d} {month} {yyyy}",
    "wkd, d mon yyyy": "{wkd}, {d} {mon} {yyyy}",
    "month d, yyyy": "{month} {d}, {yyyy}",
    "month dth, yyyy": "{month} {dth}, {yyyy}",
    "weekday, month dth, yyyy": "{weekday}, {month} {dth}, {yyyy}",
    "mon. d, yyyy": "{mon}. {d}, {yyyy}",
    "mon dth yyyy": "{mon} {dth} {yyyy}",
    "dth of month yyyy": "{dth} of {month} {yyyy}",
    "the dth of month, yyyy": "the {dth} of {month}, {yyyy}",
    "d-mon-yyyy": "{d}-{mon}-{yyyy}",
    "dd-mon-yy": "{dd}-{mon}-{yy}",
    "m/d/yy": "{m}/{d}/{yy}",
    "mm/dd/yyyy": "{mm}/{dd}/{yyyy}",
    "d.m.yyyy": "{d}.{m}.{yyyy}",
    "dd.mm.yyyy": "{dd}.{mm}.{yyyy}",
    "yyyy mon dd": "{yyyy} {mon} {dd}",
    "yyyy month d": "{yyyy} {month} {d}",
    "yyyy/mm/dd": "{yyyy}/{mm}/{dd}",
    "yyyy-mm-dd": "{yyyy}-{mm}-{dd}",
    "yyyymmdd": "{yyyy}{mm}{dd}",
}


def ordinal(n: int) -> str:
    """``1st, 2nd, 3rd, 4th, ... 11th, 12th, 13th, ... 21st, 22nd, 23rd, ... 31st``."""
    if 10 <= n % 100 <= 20:
        return f"{n}th"
    return f"{n}{ {1: 'st', 2: 'nd', 3: 'rd'}.get(n % 10, 'th') }"


def fields(d: dt.date) -> dict[str, str]:
    """Every field a format may use, for date ``d``."""
    return {
        "d": str(d.day), "dd": f"{d.day:02d}", "dth": ordinal(d.day),
        "m": str(d.month), "mm": f"{d.month:02d}",
        "month": MONTHS[d.month - 1], "mon": MONTHS[d.month - 1][:3],
        "weekday": WEEKDAYS[d.weekday()], "wkd": WEEKDAYS[d.weekday()][:3],
        "yyyy": f"{d.year:04d}", "yy": f"{d.year % 100:02d}",
    }


def render(d: dt.date, fmt: str) -> str:
    """Date ``d`` written in format ``fmt`` (a key of :data:`FORMATS`)."""
    return FORMATS[fmt].format(**fields(d))


def iso(d: dt.date) -> str:
    return d.isoformat()


def all_dates() -> list[dt.date]:
    n = (LAST - FIRST).days + 1
    return [FIRST + dt.timedelta(days=i) for i in range(n)]


@dataclass(frozen=True)
class DateSplit:
    """Disjoint sets of days: ``train`` for learning, ``val`` to watch, ``test`` held out."""

    train: tuple[dt.date, ...]
    val: tuple[dt.date, ...]
    test: tuple[dt.date, ...]


def split_dates(n_val: int = 500, n_test: int = 2000, seed: int = SPLIT_SEED) -> DateSplit:
    """Shuffle all days with ``seed`` and cut off ``n_test`` then ``n_val`` held-out days."""
    days = all_dates()
    random.Random(seed).shuffle(days)
    test, val, train = days[:n_test], days[n_test : n_test + n_val], days[n_test + n_val :]
    return DateSplit(tuple(train), tuple(val), tuple(test))


def make_pairs(dates: tuple[dt.date, ...] | list[dt.date], n: int, seed: int,
               formats: list[str] | None = None) -> list[tuple[str, str]]:
    """``n`` (source, ISO target) pairs: each a random date of ``dates`` in a random format.

    With ``n == len(dates)`` every date is used once (in shuffled order), so a held-out set of
    2,000 dates gives 2,000 distinct dates.
    """
    rng = random.Random(seed)
    names = list(formats or FORMATS)
    if n == len(dates):
        chosen = list(dates)
        rng.shuffle(chosen)
    else:
        chosen = [rng.choice(dates) for _ in range(n)]
    return [(render(d, rng.choice(names)), iso(d)) for d in chosen]
