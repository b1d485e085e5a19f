"""The embedded date generator: every format parses back to its date, splits are disjoint."""

import calendar
import datetime as dt
import random
import re

import pytest

from seqlab.seq2seq import dates

MONTHS = [m.lower() for m in calendar.month_name[1:]]  # the standard library as the reference
DAYS = [d.lower() for d in calendar.day_name]

# one regular expression per field, written from the field's meaning, not from the generator
FIELD = {
    "d": r"(?P<d>[1-9]|[12]\d|3[01])", "dd": r"(?P<dd>0[1-9]|[12]\d|3[01])",
    "dth": r"(?P<dth>\d{1,2})(?P<sfx>st|nd|rd|th)",
    "m": r"(?P<m>[1-9]|1[0-2])", "mm": r"(?P<mm>0[1-9]|1[0-2])",
    "month": "(?P<month>" + "|".join(MONTHS) + ")", "mon": "(?P<mon>" + "|".join(m[:3] for m in MONTHS) + ")",
    "weekday": "(?P<weekday>" + "|".join(DAYS) + ")", "wkd": "(?P<wkd>" + "|".join(d[:3] for d in DAYS) + ")",
    "yyyy": r"(?P<yyyy>\d{4})", "yy": r"(?P<yy>\d{2})",
}


def pattern_regex(pattern: str) -> re.Pattern:
    out, pos = "", 0
    for m in re.finditer(r"\{(\w+)\}", pattern):
        out += re.escape(pattern[pos : m.start()]) + FIELD[m.group(1)]
        pos = m.end()
    return re.compile(out + re.escape(pattern[pos:]))


def parse(text: str, pattern: str) -> dt.date | None:
    m = pattern_regex(pattern).fullmatch(text)
    if m is None:
        return None
    g = {k: v for k, v in m.groupdict().items() if v is not None}
    day = int(g.get("d") or g.get("dd") or g["dth"])
    if "sfx" in g:
        want = "th" if 10 <= day % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(day % 10, "th")
        if g["sfx"] != want:
            return None
    if "month" in g or "mon" in g:
        month = [m[: len(g.get("mon") or g["month"])] for m in MONTHS].index(g.get("mon") or g["month"]) + 1
    else:
        month = int(g.get("m") or g["mm"])
    year = int(g["yyyy"]) if "yyyy" in g else (1900 if int(g["yy"]) >= 50 else 2000) + int(g["yy"])
    try:
        d = dt.date(year, month, day)
    except ValueError:
        return None
    wd = g.get("weekday") or g.get("wkd")
    if wd is not None and DAYS[d.weekday()][: len(wd)] != wd:
        return None
    return d


EDGE = [dt.date(1950, 1, 1), dt.date(2049, 12, 31), dt.date(2000, 2, 29), dt.date(1999, 12, 31),
        dt.date(2015, 3, 3)] + [dt.date(2011, 10, d) for d in (1, 2, 3, 4, 11, 12, 13, 21, 22, 23, 31)]


@pytest.mark.parametrize("fmt", list(dates.FORMATS))
def test_every_format_parses_back_to_its_date(fmt):
    rng = random.Random(1)
    days = dates.all_dates()
    for d in EDGE + [rng.choice(days) for _ in range(300)]:
        text = dates.render(d, fmt)
        assert text == text.lower()
        assert parse(text, dates.FORMATS[fmt]) == d, (fmt, text)


def test_sources_are_unambiguous_across_formats():
    """A text that several formats can read means the same date in each (3/3/15 vs 3.3.2015)."""
    rng = random.Random(2)
    days = dates.all_dates()
    for _ in range(400):
        d, fmt = rng.choice(days), rng.choice(list(dates.FORMATS))
        text = dates.render(d, fmt)
        readings = {parse(text, p) for p in dates.FORMATS.values()} - {None}
        assert readings == {d}, (text, readings)


def test_hand_written_examples():
    d = dt.date(2015, 3, 3)
    assert dates.render(d, "weekday d month yyyy") == "tuesday 3 march 2015"
    assert dates.render(d, "m/d/yy") == "3/3/15"
    assert dates.render(d, "month dth, yyyy") == "march 3rd, 2015"
    assert dates.render(d, "yyyy mon dd") == "2015 mar 03"
    assert dates.render(dt.date(1962, 11, 12), "dd-mon-yy") == "12-nov-62"
    assert [dates.ordinal(n) for n in (1, 2, 3, 4, 11, 12, 13, 21, 22, 23, 30, 31)] == [
        "1st", "2nd", "3rd", "4th", "11th", "12th", "13th", "21st", "22nd", "23rd", "30th", "31st"]
    assert dates.MONTHS == MONTHS and dates.WEEKDAYS == DAYS


def test_split_is_disjoint_and_pairs_are_seeded():
    split = dates.split_dates(n_val=500, n_test=2000)
    assert len(split.test) == 2000 and len(split.val) == 500
    assert len(split.train) + 2500 == (dates.LAST - dates.FIRST).days + 1
    assert not set(split.test) & set(split.train) and not set(split.val) & set(split.train)
    assert not set(split.test) & set(split.val)
    assert split == dates.split_dates(n_val=500, n_test=2000)  # fixed, whatever the training seed
    test = dates.make_pairs(split.test, 2000, seed=7)
    assert sorted(t for _, t in test) == sorted(d.isoformat() for d in split.test)  # each once
    for s, t in test[:200]:
        assert any(parse(s, p) == dt.date.fromisoformat(t) for p in dates.FORMATS.values())
    assert dates.make_pairs(split.train, 50, seed=3) == dates.make_pairs(split.train, 50, seed=3)
    assert dates.make_pairs(split.train, 50, seed=3) != dates.make_pairs(split.train, 50, seed=4)
