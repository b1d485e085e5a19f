"""Forecasting at panel scale, and the panel quality bar (issue #14).

Speed: 1,000 generated monthly series of 60 values, horizon 12, one global model:
``seqlab forecast`` with a one-fold backtest, the holdout and the forecast, timed end to end
(the command's own "done in" line), with the model only (``--baselines naive,snaive``) and with
the statistical baselines run in parallel over the series.

Quality: a generated panel of 500 series of lengths 12-60 (trend, seasonality of random phase
and amplitude, magnitudes 10 to 10,000), horizon 6: the holdout mean and median MASE of the
rnn and hybrid models against seasonal naive, ETS, ARIMA and Theta (backtest: one origin
before the holdout). Seeds and data are fixed; every number comes from this run.

    python benchmarks/bench_forecast_panel.py            # both (about 15 minutes on 2 busy cores)
    python benchmarks/bench_forecast_panel.py speed
    python benchmarks/bench_forecast_panel.py quality
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import tempfile
import time

import numpy as np
import pandas as pd

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import machine_info  # noqa: E402


def panel(n: int, lo: int, hi: int, seed: int) -> pd.DataFrame:
    """The generator of tests/forecast/test_panel_cli.py."""
    rng = np.random.default_rng(seed)
    rows = []
    for i in range(n):
        T = int(rng.integers(lo, hi + 1))
        t = np.arange(T)
        level, slope = 10 ** rng.uniform(1, 4), rng.normal(0.01, 0.01)
        amp, phase, noise = rng.uniform(0.05, 0.3), rng.uniform(0, 2 * np.pi), rng.uniform(0.01, 0.06)
        y = level * (1 + slope * t) * (1 + amp * np.sin(2 * np.pi * t / 12 + phase)) * (1 + noise * rng.standard_normal(T))
        dates = pd.date_range(end="2020-12-01", periods=T, freq="MS").strftime("%Y-%m-%d")
        rows.append(pd.DataFrame({"id": f"s{i:04d}", "date": dates, "y": np.maximum(y, 0.01 * level)}))
    return pd.concat(rows, ignore_index=True)


def run(args: list[str], cwd: str) -> tuple[str, float]:
    t0 = time.perf_counter()
    out = subprocess.run([sys.executable, "-m", "seqlab", "forecast", *args], cwd=cwd, capture_output=True,
                         text=True, env=dict(os.environ, SEQLAB_NO_PROGRESS="1"))
    if out.returncode:
        raise SystemExit(out.stderr)
    return out.stdout, time.perf_counter() - t0


def load() -> str:
    with open("/proc/loadavg") as fh:
        return fh.read().split()[0]


def speed(tmp: str) -> None:
    panel(1000, 60, 60, 0).to_csv(os.path.join(tmp, "p1000.csv"), index=False)
    common = ["--data", "p1000.csv", "--series-id", "id", "--time", "date", "--target", "y", "--horizon", "12",
              "--folds", "1", "--no-plot", "--quiet"]
    for label, extra in (("model only (naive, seasonal naive baselines)", ["--baselines", "naive,snaive"]),
                         ("with ETS and Theta in parallel", ["--baselines", "naive,snaive,ets,theta"])):
        for model in ("auto", "hybrid"):
            before = load()
            out, wall = run([*common, "--model", model, *extra], tmp)
            done = float(re.search(r"done in ([0-9.]+) s", out).group(1))
            print(f"1000 x 60, horizon 12, {model:6s} {label}: {done:6.1f} s in the command, {wall:6.1f} s with "
                  f"start-up (load before: {before})", flush=True)


def quality(tmp: str) -> None:
    panel(500, 12, 60, 0).to_csv(os.path.join(tmp, "p500.csv"), index=False)
    common = ["--data", "p500.csv", "--series-id", "id", "--time", "date", "--target", "y", "--horizon", "6",
              "--folds", "1", "--no-plot", "--quiet", "--baselines", "snaive,ets,arima,theta"]
    for model in ("hybrid", "rnn"):
        out, wall = run([*common, "--model", model, "--out", f"{model}.csv"], tmp)
        table = pd.read_csv(os.path.join(tmp, f"{model}.csv")).groupby("series").first()
        cols = [c for c in table.columns if c.startswith("holdout MASE ")]
        print(f"\n500 series, lengths 12-60, horizon 6, --model {model} (seed 0), holdout MASE over the series "
              f"({wall:.0f} s):")
        print(f"  {'method':<22}{'mean':>8}{'median':>8}{'model beats':>13}")
        model_col = next(c for c in cols if c.startswith("holdout MASE model"))
        for c in cols:
            beats = "" if c == model_col else f"{100 * (table[model_col] < table[c]).mean():.0f}%"
            print(f"  {c[len('holdout MASE '):]:<22}{table[c].mean():>8.3f}{table[c].median():>8.3f}{beats:>13}")


def main() -> None:
    what = sys.argv[1:] or ["speed", "quality"]
    print(machine_info())
    with tempfile.TemporaryDirectory() as tmp:
        if "speed" in what:
            speed(tmp)
        if "quality" in what:
            quality(tmp)


if __name__ == "__main__":
    main()
