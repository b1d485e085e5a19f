"""Rolling-origin backtest: several forecast origins, an expanding training window, optional refit.

For each origin ``c`` (see :func:`seqlab.forecast.windows.cutoffs`) the model and every baseline
see the values before ``c`` only and forecast ``[c, c + horizon)``. With ``refit=True`` the model
is fitted again at every origin; with ``refit=False`` it is fitted once at the first origin and
then forecasts from each later origin's history without refitting. Metrics are computed per
series and origin, MASE scaled by that training part's in-sample seasonal naive error, then
averaged into one table with a row per method.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Sequence

import numpy as np
import pandas as pd

from ..errors import SeqlabError
from ..train import TrainConfig
from ..utils import thread_policy
from .baselines import baselines
from .checkpoints import RunCheckpoint
from .data import SeriesData, prepare
from .forecaster import ForecastConfig, Forecaster
from .metrics import METRICS, all_metrics
from .windows import cutoffs


@dataclass
class BacktestResult:
    """``table``: mean metrics per method (rows) ; ``folds``: one row per method, series and origin;
    ``forecasts``: per series and origin, the actual values, the model's quantiles (H, Q) and each
    baseline's forecast; ``coverage``: share of actual values inside the model's outer interval."""

    table: pd.DataFrame
    folds: pd.DataFrame
    forecasts: list[dict] = field(default_factory=list)
    coverage: float = float("nan")
    model_name: str = "model"
    config: ForecastConfig | None = None
    forecaster: Forecaster | None = None  # the last fitted one


def max_folds(series: Sequence[SeriesData], forecaster: Forecaster, horizon: int, step: int, end_offset: int = 0) -> int:
    """How many origins fit: every training part must hold ``forecaster.min_length()`` values."""
    need = forecaster.min_length()
    return max(0, min((len(s) - end_offset - horizon - need) // step + 1 for s in series))


def backtest(data: Any, config: ForecastConfig | None = None, folds: int = 3, step: int | None = None,
             end_offset: int = 0, refit: bool = True, include_stats: bool = True,
             model_name: str | None = None, train: TrainConfig | None = None,
             checkpoint: RunCheckpoint | None = None, **data_kwargs: Any) -> BacktestResult:
    """Backtest a forecaster with ``config`` (training with ``train``, default
    :func:`seqlab.forecast.task.training`) and the baselines on ``data``.

    The last origin's test block ends ``end_offset`` steps before the end of each series (use the
    horizon to keep a final holdout out of the backtest); earlier origins are ``step`` (default
    ``horizon``) steps apart. Every refit checkpoints into ``checkpoint`` (or one file at
    ``train.checkpoint``), so an interrupted backtest resumes (see
    :mod:`seqlab.forecast.checkpoints`).
    """
    series = prepare(data, **data_kwargs)
    probe = Forecaster(config, train)
    t = probe.train_config
    if checkpoint is None and t.checkpoint:
        checkpoint = RunCheckpoint(t.checkpoint, t.resume)
    c = probe.resolve(series)
    probe.config = c
    H, m = c.horizon, c.season
    step = H if step is None else step
    possible = max_folds(series, probe, H, step, end_offset)
    if possible < folds:
        raise SeqlabError(
            f"backtest: {folds} origin(s) {step} steps apart need series of at least "
            f"{probe.min_length() + H + end_offset + (folds - 1) * step} values, the shortest has "
            f"{min(len(s) for s in series)}; use fewer folds or a smaller lookback/horizon")
    name = model_name or f"model ({c.cell})"
    base = baselines(include_stats)
    per_series_cuts = {s.name: cutoffs(len(s), H, folds, step, len(s) - end_offset) for s in series}
    rows, forecasts, inside = [], [], []
    fitted: Forecaster | None = None
    for k in range(folds):
        heads = [s.head(per_series_cuts[s.name][k]) for s in series]
        if refit or fitted is None:
            fitted = Forecaster(c, t).fit(heads, checkpoint=checkpoint)
        pred = fitted.predict_array(heads)  # (S, H, Q)
        for s, h, p in zip(series, heads, pred):
            cut = len(h)
            actual = s.target[cut : cut + H]
            rec = {"series": s.name, "cutoff": cut, "time": s.time, "actual": actual, "model": p, "baselines": {}}
            rows.append({"method": name, "series": s.name, "cutoff": cut,
                         **all_metrics(actual, p[:, fitted.mid], h.target, m)})
            lo, hi = 0, p.shape[1] - 1
            inside.append((actual >= p[:, lo]) & (actual <= p[:, hi]))
            for bname, fn in base.items():
                try:
                    with thread_policy(t.threads):
                        f = fn(h.target, H, m)
                except (ValueError, np.linalg.LinAlgError, IndexError):  # a statistical fit that fails
                    continue
                rec["baselines"][bname] = f
                rows.append({"method": bname, "series": s.name, "cutoff": cut, **all_metrics(actual, f, h.target, m)})
            forecasts.append(rec)
    folds_df = pd.DataFrame(rows)
    order = [name, *base]
    table = folds_df.groupby("method", sort=False)[list(METRICS)].mean()
    table = table.reindex([o for o in order if o in table.index])
    cov = float(np.concatenate(inside).mean()) if c.quantiles and len(c.quantiles) > 1 else float("nan")
    return BacktestResult(table, folds_df, forecasts, cov, name, c, fitted)


def format_table(table: pd.DataFrame) -> str:
    """The metrics table as aligned text (MAPE and sMAPE in percent)."""
    lines = [f"{'method':<16}" + "".join(f"{m:>9}" for m in METRICS)]
    for method, row in table.iterrows():
        cells = []
        for mname in METRICS:
            v = row[mname]
            cells.append(f"{v:>9.3f}" if mname == "MASE" else (f"{v:>8.2f}%" if "MAPE" in mname else f"{v:>9.2f}"))
        lines.append(f"{method:<16}" + "".join(cells))
    return "\n".join(lines)
