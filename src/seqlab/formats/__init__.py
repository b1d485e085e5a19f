"""Readers of standard data formats shared by the jobs: :mod:`seqlab.formats.ts`, the ``.ts``
files of the time-series classification archive."""

from __future__ import annotations

from .ts import TsData, fill_missing, parse_ts, read_ts

__all__ = ["TsData", "fill_missing", "parse_ts", "read_ts"]
