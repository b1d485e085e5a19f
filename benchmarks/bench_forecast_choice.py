"""The evidence behind ``seqlab forecast``'s default model (docs/forecast.md, "Choosing the model").

Each run backtests one setting of the forecaster on one data set, with no look at a final
holdout: the airline passengers at the origins 1957-01, 1958-01 and 1959-01 (3 x 12 months,
the 1960 holdout left out), the statsmodels data sets co2 (monthly means of the weekly series),
elnino (monthly, 1950-2010) and macrodata (realgdp, realcons, realinv, cpi, m1, pop; quarterly,
horizon 8) at 3 origins one horizon apart before their last horizon, and generated panels
(the generator of tests/forecast/test_panel_cli.py, another seed): ``short`` (200 series of
12-60 months, horizon 6) and ``long`` (200 series of 60 months, horizon 12), scored on their
last horizon; and the real panels of ``bench_forecast_panel.py compare`` (``fertility``,
``grunfeld``, ``macro60``) at 3 origins one horizon apart before the holdout that compare scores. It prints the mean MASE and MAPE over the series and seeds, and the load.

    python benchmarks/bench_forecast_choice.py airline hybrid-L36 model=hybrid lookback=36
    python benchmarks/bench_forecast_choice.py long rnn model=rnn seeds=0 base=ets,snaive
    python benchmarks/bench_forecast_choice.py short pen100 model=hybrid level_penalty=100 seeds=0

``key=value``: any ForecastConfig field (JSON values: ``lookbacks=[36,48]``), or epochs, lr,
patience; ``seeds=0,1,2`` (default), ``base=ets,snaive`` to score baselines beside it.
Training runs on one thread (a 2-core machine shared with others: run at most two at once).

``select`` scores ``seqlab forecast --select backtest`` on the holdouts of the real data sets
(the statsmodels ones above; no download): per data set the default model and the default
baselines are backtested at its origins, one method for the whole data set is chosen on that
backtest alone (:mod:`seqlab.forecast.selection`: the lowest mean backtest MASE over the series,
a baseline only when more than 10 % below the network's), and the holdout (the last horizon,
which the backtest leaves out) is scored for the network, the selection and every baseline (and,
for comparison, for each series forecast by the method of its own backtest, with the same margin:
the per-series choice ``--select backtest`` made before). It prints the mean holdout MASE over the
series of each data set, then the mean over the data sets and a CSV of the rows:

    python benchmarks/bench_forecast_choice.py select                 # every real data set, seed 0
    python benchmarks/bench_forecast_choice.py select airline,nile seeds=0,1
"""

from __future__ import annotations

import json
import os
import sys
import time

os.environ.setdefault("SEQLAB_NO_PROGRESS", "1")

import numpy as np
import pandas as pd

from seqlab.data import make_panel  # noqa: E402

NAMES = {"ets": "ETS", "snaive": "seasonal naive", "theta": "Theta", "arima": "ARIMA"}


def dataset(name: str):
    """(data, prepare keywords, horizon, folds, end offset) of a data set."""
    panel = dict(target="y", time="date", series_id="id")
    if name == "airline":
        from seqlab.data import load_airline

        return load_airline(), {}, 12, 3, 12
    if name == "short":  # scored on each series' last 6 months
        return make_panel(200, 12, 60, 7), panel, 6, 1, 0
    if name == "long":  # scored on each series' last 12 months
        return make_panel(200, 60, 60, 7), panel, 12, 1, 0
    import statsmodels.api as sm

    if name == "co2":
        return sm.datasets.co2.load_pandas().data["co2"].resample("MS").mean().interpolate().rename("co2"), {}, 12, 3, 12
    if name == "elnino":
        v = sm.datasets.elnino.load_pandas().data.iloc[:, 1:].to_numpy().ravel()
        return pd.Series(v, pd.date_range("1950-01-01", periods=len(v), freq="MS"), name="temp"), {}, 12, 3, 12
    if name == "macro":
        d = sm.datasets.macrodata.load_pandas().data
        idx = pd.date_range("1959-01-01", periods=len(d), freq="QS")
        return [pd.Series(d[c].to_numpy(), idx, name=c)
                for c in ("realgdp", "realcons", "realinv", "cpi", "m1", "pop")], {}, 8, 3, 8
    if name == "sunspots":  # yearly 1700-2008, no season; horizon 10; plus 1, so that the log transform applies
        v = sm.datasets.sunspots.load_pandas().data["SUNACTIVITY"].to_numpy()
        return pd.Series(v + 1.0, pd.Index(np.arange(1700, 1700 + len(v))), name="sunspots"), {}, 10, 3, 10
    if name == "nile":  # yearly flow 1871-1970, no season; horizon 10
        v = sm.datasets.nile.load_pandas().data["volume"].to_numpy()
        return pd.Series(v, pd.Index(np.arange(1871, 1871 + len(v))), name="nile"), {}, 10, 3, 10
    if name in ("fertility", "grunfeld", "macro60"):  # the real panels of bench_forecast_panel.py compare,
        # backtested before their holdout (the last horizon, which compare scores, stays out)
        sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
        from bench_forecast_panel import real_panels

        key = {"fertility": "fertility", "grunfeld": "grunfeld", "macro60": "macrodata"}[name]
        frame, H = next(v for k, v in real_panels().items() if k.startswith(key))
        return frame, panel, H, 3, H
    raise SystemExit(f"data set: expected airline, co2, elnino, macro, short, long, sunspots, nile, fertility, grunfeld or macro60, "
                     f"got {name!r}")


REAL = ("airline", "co2", "elnino", "macro", "sunspots", "nile", "fertility", "grunfeld", "macro60")


def select(names: list[str], seeds: list[int]) -> None:
    """The holdout mean MASE of the network and of the selection on the backtest (see the module
    docstring), per data set and seed, and the mean over the data sets."""
    from seqlab.forecast import ForecastConfig, backtest, training
    from seqlab.forecast.selection import (
        NETWORK,
        SELECTED,
        backtest_mase,
        best,
        choose,
        counts,
        with_selected,
    )

    def mean_mase(res):  # per method: the mean over the series of each series' MASE
        return res.folds.groupby(["method", "series"], sort=False)["MASE"].mean().groupby("method", sort=False).mean()

    rows = []
    for name in names:
        data, kw, H, folds, offset = dataset(name)
        for s in seeds:
            t0 = time.perf_counter()
            train = training(seed=s, threads=1, verbose=0)
            bt = backtest(data, ForecastConfig(horizon=H), folds=folds, end_offset=offset, train=train, **kw)
            ho = backtest(data, ForecastConfig(horizon=H), folds=1, end_offset=0, train=train, **kw)
            table = backtest_mase(bt.folds, bt.model_name)  # the choice reads the backtest only
            one = choose(table)  # --select backtest: one method for the whole run
            per = mean_mase(with_selected(ho, one))
            # for comparison: each series its own method (11e97c0's per-series choice), same margin
            own = {k: choose(table.loc[[k]]) for k in table.index}
            h = backtest_mase(ho.folds, ho.model_name)  # holdout MASE per series and method
            pick = [h.at[k, own.get(k, NETWORK)] if np.isfinite(h.at[k, own.get(k, NETWORK)]) else h.at[k, NETWORK]
                    for k in h.index]
            each = float(np.nanmean(np.asarray(pick, dtype=np.float64)))
            base = per.drop([ho.model_name, SELECTED])
            top = str(base.idxmin())
            b = best(table)
            rows.append((name, s, per[ho.model_name], per[SELECTED], each, top, base[top], one))
            shown = ", ".join(f"{m} {k}" for m, k in counts(own.values()))
            vs = "" if b is None else f" (backtest: {b.method} {b.mase:.3f} against the network's {b.network:.3f})"
            panel = f", per series {each:.3f} ({shown})" if len(table) > 1 else ""
            print(f"{name:10s} seed {s} ({ho.model_name}): holdout MASE network {per[ho.model_name]:.3f}, selected "
                  f"{per[SELECTED]:.3f} ({one}{vs}){panel}, best baseline {top} {base[top]:.3f} "
                  f"({time.perf_counter() - t0:.0f} s, load {os.getloadavg()[0]:.1f})", flush=True)
    a = pd.DataFrame(rows, columns=["data", "seed", "network", "selected", "each", "best", "best MASE", "chosen"])
    by = a.groupby("data", sort=False)[["network", "selected", "each", "best MASE"]].mean()
    print(f"mean over {len(by)} data set(s), seeds {seeds}: network {by['network'].mean():.3f}, selected "
          f"{by['selected'].mean():.3f} (per series: {by['each'].mean():.3f}), the best baseline of each "
          "holdout (chosen after the fact) "
          f"{by['best MASE'].mean():.3f}; the network loses to the best baseline on "
          f"{int((by['network'] > by['best MASE']).sum())}, the selection on {int((by['selected'] > by['best MASE']).sum())}",
          flush=True)
    print(a.to_csv(index=False), flush=True)


def main() -> None:
    if len(sys.argv) >= 2 and sys.argv[1] == "select":
        import torch

        torch.set_num_threads(1)
        opts = dict(p.split("=", 1) for p in sys.argv[2:] if "=" in p)
        names = next((p.split(",") for p in sys.argv[2:] if "=" not in p), list(REAL))
        select(names, [int(x) for x in opts.get("seeds", "0").split(",")])
        return
    if len(sys.argv) < 3:
        raise SystemExit(__doc__)
    import torch

    torch.set_num_threads(1)
    from seqlab.forecast import ForecastConfig, backtest, training

    name, label, *pairs = sys.argv[1:]
    opts = dict(p.split("=", 1) for p in pairs)
    seeds = [int(x) for x in opts.pop("seeds", "0,1,2").split(",")]
    base = [b for b in opts.pop("base", "").split(",") if b]
    train, cfg = {}, {}
    for k, v in opts.items():
        value = json.loads(v) if v[:1] in "[-0123456789" or v in ("true", "false") else v
        (train if k in ("epochs", "lr", "patience") else cfg)[k] = value
    data, kw, H, folds, offset = dataset(name)
    t0, res = time.perf_counter(), []
    for s in seeds:
        r = backtest(data, ForecastConfig(horizon=H, **cfg), folds=folds, end_offset=offset, include_stats=bool(base),
                     methods=base, train=training(seed=s, threads=1, verbose=0, **train), **kw)
        per = r.folds.groupby(["method", "series"], sort=False)[["MASE", "MAPE"]].mean()
        m = per.loc[r.model_name]
        res.append((m["MASE"].mean(), m["MAPE"].mean()))
        line = f"  {name} {label} seed {s} ({r.model_name}, lookback {r.config.lookback}): MASE {res[-1][0]:.3f} " \
               f"MAPE {res[-1][1]:.2f}%"
        methods = per.index.get_level_values(0)
        for b in base:
            bname = next(n for n in (NAMES.get(b, b), "Auto" + NAMES.get(b, b)) if n in methods)  # statsforecast's
            pb = per.loc[bname]
            line += f"; {bname} {pb['MASE'].mean():.3f} / {pb['MAPE'].mean():.2f}%, model better on " \
                    f"{(m['MASE'] < pb['MASE']).mean():.0%}"
        print(line, flush=True)
    a = np.array(res)
    print(f"{name:8s} {label:24s} MASE {a[:, 0].mean():.3f} MAPE {a[:, 1].mean():.2f}% (seeds {seeds}, "
          f"{time.perf_counter() - t0:.0f} s, load {os.getloadavg()[0]:.1f}) {cfg} {train}", flush=True)


if __name__ == "__main__":
    main()
