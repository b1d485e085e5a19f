"""The forecast and backtest plots, drawn with :mod:`seqlab.plotting` (matplotlib on Agg, imported
lazily; written atomically in the format of the path's extension, with the run's other outputs)."""

from __future__ import annotations

import os

import numpy as np
import pandas as pd

from ..plotting import pyplot, save_figure
from .data import SeriesData


def _axis(s: SeriesData, start: int, n: int):
    if s.time is not None and len(s.time) >= start + n:
        return s.time[start : start + n]
    if isinstance(s.time, pd.DatetimeIndex) and s.freq:
        return s.all_time(start + n - len(s.time))[start : start + n]
    return np.arange(start, start + n)


def plot_forecast(path: str | os.PathLike, series: list[SeriesData], quantiles: list[float], holdout: list[dict],
                  future: np.ndarray | None = None, title: str = "") -> None:
    """One panel per series: its history, the holdout forecast (median and outer quantile band,
    from the records ``holdout`` of that series) against the actual values, and the forecast
    past the end of the data (``future`` (S, H, Q))."""
    plt = pyplot()
    n = len(series)
    fig, axes = plt.subplots(n, 1, figsize=(10, 3.2 + 2.6 * (n - 1) if n > 1 else 4.5), squeeze=False)
    mid = quantiles.index(0.5)
    band = f"{quantiles[0]:g}-{quantiles[-1]:g} interval"
    for i, (s, ax) in enumerate(zip(series, axes[:, 0])):
        x = _axis(s, 0, len(s))
        ax.plot(x, s.target, color="black", lw=1.2, label="history / actual")
        for r in (r for r in holdout if r["series"] == s.name):
            hq = r["model"]
            xh = _axis(s, r["cutoff"], len(hq))
            ax.plot(xh, hq[:, mid], color="tab:blue", lw=1.6, label="holdout forecast")
            if len(quantiles) > 1:
                ax.fill_between(xh, hq[:, 0], hq[:, -1], color="tab:blue", alpha=0.25, label=f"holdout {band}")
            ax.axvline(xh[0], color="grey", ls=":", lw=1)
        if future is not None:
            f = future[i]
            xf = s.future_time(len(f)) if s.time is not None else np.arange(len(s), len(s) + len(f))
            ax.plot(xf, f[:, mid], color="tab:orange", lw=1.6, label="forecast")
            if len(quantiles) > 1:
                ax.fill_between(xf, f[:, 0], f[:, -1], color="tab:orange", alpha=0.25, label=f"forecast {band}")
        ax.set_title(f"{s.name}: {title}" if n > 1 or not title else title, fontsize=9 if n > 1 else None)
        if i == 0:
            ax.legend(loc="upper left", fontsize=7)
        ax.grid(alpha=0.3)
    save_figure(fig, path)


def plot_backtest(path: str | os.PathLike, series: SeriesData, records: list[dict], model_name: str,
                  quantiles: list[float], table=None) -> None:
    """Every backtest origin of one series: actual values, the model's median and band, and the
    seasonal naive forecast; the MASE per method in a bar chart beside it."""
    plt = pyplot()
    fig, (ax, bx) = plt.subplots(1, 2, figsize=(12, 4.5), gridspec_kw={"width_ratios": [3, 1]})
    ax.plot(_axis(series, 0, len(series)), series.target, color="black", lw=1.0, label="actual")
    mid = quantiles.index(0.5)
    for i, r in enumerate(rec for rec in records if rec["series"] == series.name):
        xh = _axis(series, r["cutoff"], len(r["actual"]))
        p = r["model"]
        ax.plot(xh, p[:, mid], color="tab:blue", lw=1.5, label=model_name if i == 0 else None)
        if len(quantiles) > 1:
            ax.fill_between(xh, p[:, 0], p[:, -1], color="tab:blue", alpha=0.2)
        if "seasonal naive" in r["baselines"]:
            ax.plot(xh, r["baselines"]["seasonal naive"], color="tab:red", lw=1, ls="--",
                    label="seasonal naive" if i == 0 else None)
        ax.axvline(xh[0], color="grey", ls=":", lw=1)
    ax.set_title(f"{series.name}: rolling-origin backtest")
    ax.legend(loc="upper left", fontsize=8)
    ax.grid(alpha=0.3)
    if table is not None:
        names = list(table.index)
        bx.barh(names[::-1], table["MASE"].to_numpy()[::-1], color="tab:blue")
        bx.axvline(1.0, color="grey", ls=":", lw=1)
        bx.set_title("MASE (lower is better)")
    save_figure(fig, path)
