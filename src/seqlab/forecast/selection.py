"""Choosing, per series, between the network and the baselines on the backtest (``--select backtest``).

``seqlab forecast`` backtests the network against the baselines before it scores the holdout. With
``select='backtest'`` each series is then forecast by the method of lowest backtest MASE (averaged
over the series' origins) among the network and the baselines computed, except that a baseline
must beat the network's backtest MASE by more than :data:`SELECT_MARGIN` (10 %): a baseline is
chosen only when its MASE is below ``(1 - SELECT_MARGIN)`` times the network's. The margin keeps
the network where the two are close, since the backtest's few origins measure either with noise.
The choice reads the backtest only, never the holdout, so the holdout score of the selection
(the method ``selected``: each series' holdout forecast by its chosen method) is an honest
estimate of what the selection does on new data.

Baselines give point forecasts. A chosen baseline's quantiles come from split conformal
prediction on its own absolute errors on the backtest (and the holdout, for the final forecast),
per horizon step (:func:`seqlab.forecast.conformal.residual_offsets`), each error divided by its
series' MASE scale so that the series of a panel share one calibration: quantile tau of a series
is its forecast plus the offset of tau times the MASE scale of the history it forecasts from.

:class:`Selection` holds the choice and the offsets; a :class:`~seqlab.forecast.Forecaster`
carrying one (saved in its model file) forecasts each series by its chosen method, refitting a
chosen baseline on the history it is given.
"""

from __future__ import annotations

import math
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from ..errors import SeqlabError

if TYPE_CHECKING:  # backtesting imports the forecaster, which imports this module
    from .backtesting import BacktestResult

SELECTS = ("network", "backtest")
NETWORK = "network"  # the choice of the network, in the choice tables, --out and the model file
SELECTED = "selected"  # the method name of the selection's forecasts in the holdout table
# A baseline is chosen for a series only when its backtest MASE is more than 10 % below the
# network's: below (1 - SELECT_MARGIN) times it (docs/forecast.md, "Choosing per series").
SELECT_MARGIN = 0.10


def check_select(select: Any) -> str:
    """``select`` if it is one of :data:`SELECTS`, else SeqlabError naming the choices."""
    if select not in SELECTS:
        raise SeqlabError(f"--select: expected network (the network forecasts every series) or backtest (per series "
                          f"the method of lowest backtest MASE, a baseline only when more than "
                          f"{100 * SELECT_MARGIN:.0f}% lower than the network's), got {select!r}")
    return select


def choose(mase: Mapping[str, float], margin: float = SELECT_MARGIN) -> str:
    """The method for one series from its backtest MASE per method (``NETWORK`` for the network,
    the baselines by name): the baseline of lowest MASE (the first of equal ones) when it is below
    ``(1 - margin)`` times the network's, else ``NETWORK``. A NaN or missing MASE of the network
    (no backtest for the series, a constant history) keeps the network; NaN baselines are ignored."""
    net = float(mase.get(NETWORK, math.nan))
    if not math.isfinite(net):
        return NETWORK
    best, best_mase = NETWORK, math.inf
    for name, v in mase.items():
        v = float(v)
        if name != NETWORK and math.isfinite(v) and v < best_mase:
            best, best_mase = name, v
    return best if best_mase < (1 - margin) * net else NETWORK


def backtest_mase(folds: pd.DataFrame, model_name: str) -> pd.DataFrame:
    """Backtest MASE per series (rows, in order of appearance) and method (columns: ``NETWORK``
    for the model ``model_name``, then the baselines), averaged over each series' origins."""
    per = folds.groupby(["series", "method"], sort=False)["MASE"].mean().unstack("method")
    methods = list(dict.fromkeys(folds["method"]))
    per = per.reindex(index=list(dict.fromkeys(folds["series"])), columns=methods)
    return per.rename(columns={model_name: NETWORK})


def choose_all(table: pd.DataFrame, margin: float = SELECT_MARGIN) -> dict[str, str]:
    """:func:`choose` for every series (row) of a :func:`backtest_mase` table."""
    return {name: choose(row.to_dict(), margin) for name, row in table.iterrows()}


def with_selected(res: BacktestResult, choice: Mapping[str, str]) -> BacktestResult:
    """``res`` (the holdout) with the method ``selected`` added: for each series the metrics of
    its chosen method's forecast (the network's where ``choice`` names none), in ``folds``,
    ``table`` and ``panel``, and each record's selected point forecast under ``'selected'``."""
    from .backtesting import panel_table
    from .metrics import METRICS

    folds = res.folds
    rows = []
    for name, group in folds.groupby("series", sort=False):
        method = choice.get(name, NETWORK)
        want = res.model_name if method == NETWORK else method
        pick = group[group["method"] == want]
        if pick.empty:  # the chosen baseline did not forecast this series here: the network did
            pick = group[group["method"] == res.model_name]
        rows.append(pick.assign(method=SELECTED))
    folds = pd.concat([folds, *rows], ignore_index=True)
    order = [*res.table.index, SELECTED]
    table = folds.groupby("method", sort=False)[list(METRICS)].mean().reindex(order)
    forecasts = []
    for r in res.forecasts:
        method = choice.get(r["series"], NETWORK)
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


def describe(choice: Mapping[str, str], table: pd.DataFrame, panel: bool, margin: float = SELECT_MARGIN,
             out_csv: str | None = None) -> str:
    """The line the run prints: one series' choice with its backtest MASE and the network's, or a
    panel's count of series per method."""
    need = f"more than {100 * margin:.0f}% below the network's"
    if not panel:
        name, method = next(iter(choice.items()))
        row = table.loc[name]
        net = float(row.get(NETWORK, math.nan))
        if method != NETWORK:
            return (f"\nSelection (--select backtest): {method}, backtest MASE {float(row[method]):.3f} against the "
                    f"network's {net:.3f} (a baseline is chosen when its backtest MASE is {need})")
        rest = row.drop(NETWORK).astype(np.float64)
        rest = rest[np.isfinite(rest.to_numpy())]
        if rest.empty or not math.isfinite(net):
            return "\nSelection (--select backtest): the network (no backtest MASE to compare)"
        best = str(rest.idxmin())
        return (f"\nSelection (--select backtest): the network, backtest MASE {net:.3f}; the best baseline, {best} "
                f"{float(rest[best]):.3f}, is not {need}")
    shown = ", ".join(f"{m} {k}" for m, k in counts(choice.values()))
    where = "the 'method' column of --out" if out_csv else "--out FILE.csv lists them"
    return (f"\nSelection (--select backtest; a baseline when its backtest MASE is {need}): {shown} of "
            f"{len(choice)} series ({where})")


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
    """Per series, the method that forecasts it (``NETWORK`` or a baseline's name), chosen on the
    backtest with ``margin``; per chosen baseline, the signed offsets (Q, H) in MASE-scale units
    from its point forecast to each quantile (:func:`baseline_offsets`)."""

    choice: dict[str, str]
    offsets: dict[str, list[list[float]]] = field(default_factory=dict)
    margin: float = SELECT_MARGIN

    def method(self, name: str) -> str:
        return self.choice.get(name, NETWORK)

    def baselines(self) -> set[str]:
        """The series forecast by a baseline."""
        return {s for s, m in self.choice.items() if m != NETWORK}

    def to_dict(self) -> dict[str, Any]:
        return {"method": "backtest", "margin": self.margin, "choice": dict(self.choice),
                "offsets": {m: [list(map(float, row)) for row in v] for m, v in self.offsets.items()}}

    @classmethod
    def from_dict(cls, d: Any, series: Collection[str], quantiles: int, horizon: int) -> Selection:
        """The selection of a model file's header, checked against the forecaster's ``series``,
        number of ``quantiles`` and ``horizon``; ValueError naming what is wrong."""
        if not isinstance(d, dict):
            raise TypeError(f"selection: expected an object, got {type(d).__name__}")
        if d.get("method") != "backtest":
            raise ValueError(f"selection: method {d.get('method')!r}, expected 'backtest'")
        margin = d.get("margin")
        if isinstance(margin, bool) or not isinstance(margin, (int, float)) or not 0 <= margin < 1:
            raise ValueError(f"selection: margin {margin!r}, expected a number in [0, 1)")
        choice, offsets = d.get("choice"), d.get("offsets")
        if not isinstance(choice, dict) or not isinstance(offsets, dict):
            raise TypeError("selection: 'choice' and 'offsets' must be objects")
        known = _known_methods()
        for name, method in choice.items():
            if name not in series:
                raise ValueError(f"selection: series {name!r} is not one of the forecaster's")
            if method not in known:
                raise ValueError(f"selection: series {name!r} has the unknown method {method!r}; expected one of "
                                 f"{', '.join(known)}")
        for method in set(choice.values()) - {NETWORK}:
            v = offsets.get(method)
            ok = isinstance(v, list) and len(v) == quantiles and all(
                isinstance(row, list) and len(row) == horizon and all(
                    isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x) for x in row)
                for row in v)
            if not ok:
                raise ValueError(f"selection: the offsets of {method} must be {quantiles} lists of {horizon} finite "
                                 "numbers (one per quantile and horizon step)")
        return cls(dict(choice), {m: offsets[m] for m in set(choice.values()) - {NETWORK}}, float(margin))


__all__ = ["NETWORK", "SELECTED", "SELECTS", "SELECT_MARGIN", "Selection", "backtest_mase", "choose", "choose_all",
           "with_selected"]
