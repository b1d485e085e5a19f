"""Choosing, for the whole run, between the network and the baselines on the backtest (``--select backtest``).

``seqlab forecast`` backtests the network against the baselines before it scores the holdout. With
``select='backtest'`` the run then forecasts every series with one method: the one of lowest mean
backtest MASE over the series (each series' MASE averaged over its origins first) among the
network and the baselines computed, except that a baseline must beat the network by more than
:data:`SELECT_MARGIN` (10 %): it is chosen only when its mean is below ``(1 - SELECT_MARGIN)``
times the network's. Each baseline is compared with the network over the series where both have
a finite backtest MASE (its mean against the network's mean over the same series), so that a
series one of them could not score (a constant history, no origin) counts for neither; the
baseline of lowest ratio to the network is the candidate. One choice per run, not per series:
with the few short origins of a panel's series, each series' own backtest picks a baseline by
chance too often (docs/forecast.md, "Choosing the method: --select backtest"). The choice reads
the backtest only, never the holdout, so the holdout score of the selection (the method
``selected``) is an honest estimate of what it does on new data.

Baselines give point forecasts. A chosen baseline's quantiles come from split conformal
prediction on its own absolute errors on the backtest (and the holdout, for the final forecast),
per horizon step (:func:`seqlab.forecast.conformal.residual_offsets`), each error divided by its
series' MASE scale so that the series of a panel share one calibration: quantile tau of a series
is its forecast plus the offset of tau times the MASE scale of the history it forecasts from.

:class:`Selection` holds the choice and the offsets; a :class:`~seqlab.forecast.Forecaster`
carrying one (saved in its model file) forecasts every series by the chosen method, refitting a
chosen baseline on the history it is given.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from ..errors import SeqlabError

if TYPE_CHECKING:  # backtesting imports the forecaster, which imports this module
    from .backtesting import BacktestResult

SELECTS = ("network", "backtest")
NETWORK = "network"  # the choice of the network, in the choice tables, --out and the model file
SELECTED = "selected"  # the method name of the selection's forecasts in the holdout table
# A baseline is chosen only when its mean backtest MASE is more than 10 % below the network's:
# below (1 - SELECT_MARGIN) times it (docs/forecast.md, "Choosing the method: --select backtest").
SELECT_MARGIN = 0.10


def check_select(select: Any) -> str:
    """``select`` if it is one of :data:`SELECTS`, else SeqlabError naming the choices."""
    if select not in SELECTS:
        raise SeqlabError(f"--select: expected network (the network forecasts every series) or backtest (one method "
                          f"for every series: the one of lowest mean backtest MASE, a baseline only when more than "
                          f"{100 * SELECT_MARGIN:.0f}% lower than the network's), got {select!r}")
    return select


def backtest_mase(folds: pd.DataFrame, model_name: str) -> pd.DataFrame:
    """Backtest MASE per series (rows, in order of appearance) and method (columns: ``NETWORK``
    for the model ``model_name``, then the baselines), averaged over each series' origins."""
    per = folds.groupby(["series", "method"], sort=False)["MASE"].mean().unstack("method")
    methods = list(dict.fromkeys(folds["method"]))
    per = per.reindex(index=list(dict.fromkeys(folds["series"])), columns=methods)
    return per.rename(columns={model_name: NETWORK})


@dataclass(frozen=True)
class Comparison:
    """A baseline against the network over the ``series`` series where both have a finite
    backtest MASE: the baseline's mean MASE over them (``mase``) and the network's (``network``)."""

    method: str
    mase: float
    network: float
    series: int

    @property
    def ratio(self) -> float:
        """``mase / network`` (infinite when the network's mean is 0: nothing beats it)."""
        return self.mase / self.network if self.network > 0 else math.inf


def compare(table: pd.DataFrame | Mapping[str, float]) -> list[Comparison]:
    """Each baseline of a :func:`backtest_mase` table (or of one series' MASE per method)
    against the network, over the series where both are finite; a baseline with no such series is
    left out."""
    if not isinstance(table, pd.DataFrame):
        table = pd.DataFrame([dict(table)])
    if NETWORK not in table.columns:
        return []
    net = table[NETWORK].to_numpy(dtype=np.float64)
    out = []
    for name in table.columns:
        if name == NETWORK:
            continue
        v = table[name].to_numpy(dtype=np.float64)
        both = np.isfinite(net) & np.isfinite(v)
        if both.any():
            out.append(Comparison(str(name), float(v[both].mean()), float(net[both].mean()), int(both.sum())))
    return out


def best(table: pd.DataFrame | Mapping[str, float]) -> Comparison | None:
    """The baseline of lowest ratio to the network in :func:`compare` (the first of equal ones),
    or None without any."""
    found = None
    for c in compare(table):
        if found is None or c.ratio < found.ratio:
            found = c
    return found


def choose(table: pd.DataFrame | Mapping[str, float], margin: float = SELECT_MARGIN) -> str:
    """The one method for the run from a :func:`backtest_mase` table (rows the series, or one
    series' MASE per method as a mapping): the :func:`best` baseline when its mean backtest MASE
    is below ``(1 - margin)`` times the network's over the same series, else ``NETWORK`` (also
    when no series has a finite MASE of the network and a baseline)."""
    b = best(table)
    return b.method if b is not None and b.mase < (1 - margin) * b.network else NETWORK


def with_selected(res: BacktestResult, method: str) -> BacktestResult:
    """``res`` (the holdout) with the method ``selected`` added: every series' metrics of
    ``method``'s forecast (the network's where it is ``NETWORK`` or did not forecast the series),
    in ``folds``, ``table`` and ``panel``, and each record's selected point forecast under
    ``'selected'`` and its method under ``'method'``."""
    from .backtesting import panel_table
    from .metrics import METRICS

    folds = res.folds
    want = res.model_name if method == NETWORK else method
    rows = []
    for _, group in folds.groupby("series", sort=False):
        pick = group[group["method"] == want]
        if pick.empty:  # the chosen baseline did not forecast this series here: the network did
            pick = group[group["method"] == res.model_name]
        rows.append(pick.assign(method=SELECTED))
    folds = pd.concat([folds, *rows], ignore_index=True)
    order = [*res.table.index, SELECTED]
    table = folds.groupby("method", sort=False)[list(METRICS)].mean().reindex(order)
    forecasts = []
    for r in res.forecasts:
        point = r["baselines"].get(method) if method != NETWORK else None
        mid = res.forecaster.mid if res.forecaster is not None else r["model"].shape[1] // 2
        sel = r["model"][:, mid] if point is None else np.asarray(point, dtype=np.float64)
        forecasts.append({**r, SELECTED: sel, "method": NETWORK if point is None else method})
    return replace(res, table=table, folds=folds, forecasts=forecasts, panel=panel_table(folds, res.model_name, order))


def counts(methods: Iterable[str]) -> list[tuple[str, int]]:
    """How many series have each method (one per series in ``methods``), the network first, then
    by count."""
    n: dict[str, int] = {}
    for m in methods:
        n[m] = n.get(m, 0) + 1
    return sorted(n.items(), key=lambda kv: (kv[0] != NETWORK, -kv[1], kv[0]))


def describe(method: str, table: pd.DataFrame, panel: bool, margin: float = SELECT_MARGIN,
             n_series: int | None = None) -> str:
    """The line the run prints: the method chosen for every series, with its mean backtest MASE
    and the network's over the series both scored (or why the network stayed). ``n_series``: how
    many series the run forecasts (default: those in ``table``, the ones the backtest scored)."""
    need = f"more than {100 * margin:.0f}% below the network's"
    comps = {c.method: c for c in compare(table)}
    mean = "mean backtest MASE" if panel else "backtest MASE"
    n_all = len(table)
    n_run = n_all if n_series is None else max(n_series, n_all)
    every = ("" if not panel else f" for all {n_run} series" if n_run == n_all
             else f" for all {n_run} series (chosen on the {n_all} the backtest scored)")

    def over(c: Comparison) -> str:  # the series compared, where a panel's differ from all of them
        if not panel:
            return ""
        return f" over the {n_all} series" if c.series == n_all else f" over the {c.series} of {n_all} series both scored"

    if method != NETWORK:
        c = comps[method]
        return (f"\nSelection (--select backtest): {method}{every}, {mean} {c.mase:.3f} against the network's "
                f"{c.network:.3f}{over(c)} (a baseline is chosen when its {mean} is {need})")
    b = best(table)
    if b is None:
        return f"\nSelection (--select backtest): the network (no {mean} to compare)"
    return (f"\nSelection (--select backtest): the network{every}, {mean} {b.network:.3f}{over(b)}; the best "
            f"baseline, {b.method} {b.mase:.3f}, is not {need}")


# -- the chosen baselines' intervals and forecasts ------------------------------------------------
def baseline_offsets(records: Sequence[dict], method: str, quantiles: Sequence[float]) -> tuple[np.ndarray, bool]:
    """Signed offsets (Q, H) in MASE-scale units from ``method``'s point forecast to each quantile,
    calibrated on its absolute errors in backtest ``records`` (every series' where it forecast),
    and whether they were too few to calibrate (see :func:`seqlab.forecast.conformal.residual_offsets`)."""
    from .conformal import abs_scores, residual_offsets

    H = next(r["model"].shape[0] for r in records)
    rows = []
    for r in records:
        f = r["baselines"].get(method)
        if f is None:
            continue
        a = np.full(H, np.nan)
        a[: len(r["actual"])] = r["actual"]
        rows.append(abs_scores(a[None], np.asarray(f, dtype=np.float64)[None, :H], np.array([r["scale"]]))[0])
    score = np.array(rows) if rows else np.full((0, H), np.nan)
    return residual_offsets(score, list(quantiles))


def quantile_forecasts(point: np.ndarray, offsets: np.ndarray, scale: float) -> np.ndarray:
    """Quantile forecasts (H, Q) of a point forecast (H,): ``point + offsets * scale`` (offsets
    (Q, H)), quantiles in order; a scale that is not a positive number gives the point forecast."""
    s = scale if math.isfinite(scale) and scale > 0 else 0.0
    return np.sort(np.asarray(point, dtype=np.float64)[:, None] + np.asarray(offsets).T * s, axis=-1)


def history_scale(y: np.ndarray, season: int) -> float:
    """The MASE scale of a history (:func:`seqlab.forecast.metrics.mase_scale`), NaN when it has
    too few values."""
    from .metrics import mase_scale

    try:
        return mase_scale(y, season)
    except SeqlabError:
        return math.nan


def baseline_point(histories: Sequence[np.ndarray], method: str, horizon: int, season: int,
                   threads: int | None = None) -> np.ndarray:
    """``method``'s point forecasts (S, horizon) of ``histories``, each fitted on its history as
    in the backtest (:func:`seqlab.forecast.baselines.baseline_forecasts`); SeqlabError when its
    library is not installed."""
    from ..utils import resolve_threads, thread_policy
    from . import baselines as b

    if method in b.SF_MODELS and not b.statsforecast_available():
        raise SeqlabError(f"--select: a series is forecast by {method}, chosen on the backtest, which needs "
                          "statsforecast (pip install seqlab[statsforecast])")
    if method not in b.SF_MODELS and method not in b._STATIC and not b.statsmodels_available():
        raise SeqlabError(f"--select: a series is forecast by {method}, chosen on the backtest, which needs "
                          "statsmodels (pip install seqlab[stats])")
    workers = resolve_threads(threads) or 1
    with thread_policy(threads):
        results, _ = b.baseline_forecasts(list(histories), horizon, season, [method], workers)
    return np.stack([r[method] for r in results])


# -- what a forecaster keeps ----------------------------------------------------------------------
def _known_methods() -> tuple[str, ...]:
    from .baselines import _STATIC, _STATS

    return (NETWORK, *_STATIC, *_STATS)


@dataclass
class Selection:
    """The method that forecasts every series (``NETWORK`` or a baseline's name), chosen on the
    backtest with ``margin``; for a chosen baseline, the signed offsets (Q, H) in MASE-scale
    units from its point forecast to each quantile (:func:`baseline_offsets`)."""

    method: str = NETWORK
    offsets: list[list[float]] | None = None
    margin: float = SELECT_MARGIN

    @property
    def baseline(self) -> str | None:
        """The chosen baseline, or None when the network was kept."""
        return None if self.method == NETWORK else self.method

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {"select": "backtest", "margin": self.margin, "method": self.method}
        if self.baseline is not None:
            d["offsets"] = [list(map(float, row)) for row in (self.offsets or [])]
        return d

    @classmethod
    def from_dict(cls, d: Any, quantiles: int, horizon: int) -> Selection:
        """The selection of a model file's header, checked against the forecaster's number of
        ``quantiles`` and ``horizon``; ValueError naming what is wrong."""
        if not isinstance(d, dict):
            raise TypeError(f"selection: expected an object, got {type(d).__name__}")
        if d.get("select") != "backtest":
            raise ValueError(f"selection: select {d.get('select')!r}, expected 'backtest'")
        margin = d.get("margin")
        if isinstance(margin, bool) or not isinstance(margin, (int, float)) or not 0 <= margin < 1:
            raise ValueError(f"selection: margin {margin!r}, expected a number in [0, 1)")
        method, known = d.get("method"), _known_methods()
        if method not in known:
            raise ValueError(f"selection: the unknown method {method!r}; expected one of {', '.join(known)}")
        if method == NETWORK:
            return cls(NETWORK, None, float(margin))
        v = d.get("offsets")
        ok = isinstance(v, list) and len(v) == quantiles and all(
            isinstance(row, list) and len(row) == horizon and all(
                isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x) for x in row)
            for row in v)
        if not ok:
            raise ValueError(f"selection: the offsets of {method} must be {quantiles} lists of {horizon} finite "
                             "numbers (one per quantile and horizon step)")
        return cls(method, v, float(margin))


__all__ = ["NETWORK", "SELECTED", "SELECTS", "SELECT_MARGIN", "Comparison", "Selection", "backtest_mase", "best",
           "choose", "compare", "with_selected"]
