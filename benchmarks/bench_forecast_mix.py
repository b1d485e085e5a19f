"""The default model on airline, the 'mix', against its two parts: the hybrid and the rnn fitted
on the same history, and their quantile forecasts averaged (what ``--network mix``, and ``auto``
here, computes: tests/forecast/test_mix.py checks that the mix equals this mean bit for bit).

The airline origins 1957, 1958 and 1959 (the backtest of ``seqlab forecast``) decide; the 1960
holdout is printed after them. MAPE per origin and seed, then the mean over the backtest origins
and over the holdout's seeds. One thread; about 2 minutes on 2 cores.

    python benchmarks/bench_forecast_mix.py
"""

from __future__ import annotations

import os
import sys

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import machine_info  # noqa: E402

from seqlab.data import load_airline  # noqa: E402
from seqlab.forecast import Forecaster  # noqa: E402


def main() -> None:
    torch.set_num_threads(1)
    print(machine_info())
    print(f"load average at start: {os.getloadavg()[0]:.1f}")
    y = load_airline()
    kinds = ("hybrid", "rnn", "mix")
    rows: dict[str, dict[str, list[float]]] = {"backtest": {k: [] for k in kinds}, "holdout": {k: [] for k in kinds}}
    for origin in (48, 36, 24, 12):  # values before the end: 1957-01, 1958-01, 1959-01, 1960-01
        cut = len(y) - origin
        hist, true = y.iloc[:cut], y.iloc[cut:cut + 12].to_numpy(dtype=float)
        part = "holdout" if origin == 12 else "backtest"
        for seed in (0, 1, 2):
            fc = {kind: Forecaster(horizon=12, model=kind, seed=seed, verbose=0).fit(hist).predict()["forecast"]
                  .to_numpy(dtype=float) for kind in ("hybrid", "rnn")}
            fc["mix"] = (fc["hybrid"] + fc["rnn"]) / 2
            mape = {k: float(np.mean(np.abs(v - true) / true) * 100) for k, v in fc.items()}
            for k in kinds:
                rows[part][k].append(mape[k])
            print(f"{y.index[cut]:%Y-%m} seed {seed}: " + ", ".join(f"{k} {mape[k]:.2f} %" for k in kinds), flush=True)
    for part, res in rows.items():
        print(f"{part} mean MAPE: " + ", ".join(f"{k} {np.mean(v):.2f} %" for k, v in res.items()))
    print(f"load average at end: {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
