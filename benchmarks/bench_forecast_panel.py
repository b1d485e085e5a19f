"""Forecasting at panel scale, the panel quality bar, and the comparison with statsforecast (issue #14).

Speed: 1,000 generated monthly series of 60 values, horizon 12, one global model:
``seqlab forecast`` with a one-fold backtest, the holdout and the forecast, timed end to end
(the command's own "done in" line), with the model only (``--baselines naive,snaive``), with
the default baselines (with statsforecast installed: AutoETS and AutoTheta, AutoARIMA being left
out above 200 series), which run beside the model's fits (a background process starts on each
backtest's histories before its fit, the model trains on the other half of the threads, then
both finish the baselines left; see seqlab.forecast.backtesting.beside_split), and with the
default baselines after the fits (how they ran before: the background process switched off), then
each statistical baseline's CPU per history.

Quality: a generated panel of 500 series of lengths 12-60 (trend, seasonality of random phase
and amplitude, magnitudes 10 to 10,000), horizon 6: the holdout mean and median MASE of the
rnn and hybrid models against seasonal naive, ETS, ARIMA and Theta (backtest: one origin
before the holdout).

Compare (needs statsforecast): the default command (``--network auto``, seeds 0, 1, 2) against
statsforecast's AutoETS, AutoARIMA and AutoTheta on the holdout of panels of short series: a
generated one (lengths 12-60, trend, season, noise, level shifts) and the real panels shipped
in statsmodels (fertility: yearly rates of 196 countries, 22-52 values; grunfeld: 33 yearly
series of 20 values, 11 firms x 3 variables; macrodata: the last 15 years of 12 quarterly US
series): mean and median MASE over the series and the share of series where the model's MASE is
lower (ties count half).

Intervals: the default command with 3 backtest origins on the real panels and the generated one
of compare, seed 0: the coverage of the 0.1-0.9 interval (nominal 80 %) on the holdout, raw and
conformal, and on the backtest with each origin calibrated on the other two.

Seeds and data are fixed; every number comes from this run.

    python benchmarks/bench_forecast_panel.py            # all four (about 45 minutes on 2 busy cores)
    python benchmarks/bench_forecast_panel.py speed
    python benchmarks/bench_forecast_panel.py quality
    python benchmarks/bench_forecast_panel.py compare
    python benchmarks/bench_forecast_panel.py intervals
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

from seqlab.data import make_panel  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import machine_info  # noqa: E402


# the command with its baselines after the model's fits, as before they ran beside them
AFTER = ("import sys; import seqlab.forecast.backtesting as b; b.BESIDE_MIN_HISTORIES = float('inf'); "
         "from seqlab.cli import main; sys.exit(main(sys.argv[1:]))")


def run(args: list[str], cwd: str, after: bool = False) -> tuple[str, float]:
    t0 = time.perf_counter()
    head = ["-c", AFTER] if after else ["-m", "seqlab"]
    out = subprocess.run([sys.executable, *head, "forecast", *args], cwd=cwd, capture_output=True,
                         text=True, env=dict(os.environ, SEQLAB_NO_PROGRESS="1"))
    if out.returncode:
        raise SystemExit(out.stderr)
    return out.stdout, time.perf_counter() - t0


def load() -> str:
    with open("/proc/loadavg") as fh:
        return " ".join(fh.read().split()[:3])


def speed(tmp: str) -> None:
    make_panel(1000, 60, 60, 0).to_csv(os.path.join(tmp, "p1000.csv"), index=False)
    common = ["--data", "p1000.csv", "--series-id", "id", "--time", "date", "--target", "y", "--horizon", "12",
              "--folds", "1", "--no-plot", "--quiet"]
    for label, extra, after in (("model only (naive, seasonal naive baselines)", ["--baselines", "naive,snaive"], False),
                                ("default baselines, beside the fits", [], False),
                                ("default baselines, after the fits (as before)", [], True)):
        for model in ("auto",):
            before = load()
            out, wall = run([*common, "--network", model, *extra], tmp, after)
            done = float(re.search(r"done in ([0-9.]+) s", out).group(1))
            print(f"1000 x 60, horizon 12, {model:6s} {label}: {done:6.1f} s in the command, {wall:6.1f} s with "
                  f"start-up (load before: {before}; after: {load()})", flush=True)
            print("  " + "\n  ".join(line for line in out.splitlines() if line.startswith(("method", "model (")) or
                                   "of series" in line), flush=True)
    if statsforecast_ok():
        from seqlab.forecast.baselines import run_baselines

        hist = [g["y"].to_numpy()[:-12] for _, g in pd.read_csv(os.path.join(tmp, "p1000.csv")).groupby("id")]
        for name, n in (("AutoETS", 1000), ("AutoTheta", 1000), ("AutoARIMA", 100)):
            t0, c0 = time.perf_counter(), time.process_time()
            run_baselines(hist[:n], 12, 12, [name], workers=1)
            print(f"{name} alone on {n} of the holdout histories (48 values), one process: "
                  f"{time.perf_counter() - t0:.1f} s, {1000 * (time.process_time() - c0) / n:.0f} ms of CPU a "
                  f"history (load {load()})", flush=True)


def quality(tmp: str) -> None:
    make_panel(500, 12, 60, 0).to_csv(os.path.join(tmp, "p500.csv"), index=False)
    common = ["--data", "p500.csv", "--series-id", "id", "--time", "date", "--target", "y", "--horizon", "6",
              "--folds", "1", "--no-plot", "--quiet", "--baselines", "snaive,ets,arima,theta"]
    for model in ("hybrid", "rnn"):
        out, wall = run([*common, "--network", model, "--out", f"{model}.csv"], tmp)
        table = pd.read_csv(os.path.join(tmp, f"{model}.csv")).groupby("series").first()
        cols = [c for c in table.columns if c.startswith("holdout MASE ")]
        print(f"\n500 series, lengths 12-60, horizon 6, --network {model} (seed 0), holdout MASE over the series "
              f"({wall:.0f} s):")
        print(f"  {'method':<22}{'mean':>8}{'median':>8}{'model beats':>13}")
        model_col = next(c for c in cols if c.startswith("holdout MASE model"))
        for c in cols:
            beats = "" if c == model_col else f"{100 * (table[model_col] < table[c]).mean():.0f}%"
            print(f"  {c[len('holdout MASE '):]:<22}{table[c].mean():>8.3f}{table[c].median():>8.3f}{beats:>13}")


def statsforecast_ok() -> bool:
    try:
        import statsforecast  # noqa: F401
    except ImportError:
        return False
    return True


def shifted_panel(n: int, lo: int, hi: int, seed: int) -> pd.DataFrame:
    """Monthly series of lengths lo-hi: level, trend, a season of random phase and amplitude (none
    for a fifth of them), noise, and in half of them a level shift of -30 % to +30 % at a random time."""
    rng = np.random.default_rng(seed)
    rows = []
    for i in range(n):
        T = int(rng.integers(lo, hi + 1))
        t = np.arange(T)
        level, slope = 10 ** rng.uniform(1, 4), rng.normal(0.005, 0.01)
        amp = rng.uniform(0.05, 0.3) if rng.random() < 0.8 else 0.0
        y = level * (1 + slope * t) * (1 + amp * np.sin(2 * np.pi * t / 12 + rng.uniform(0, 2 * np.pi)))
        if rng.random() < 0.5:
            y = y * np.where(t >= rng.integers(T // 4, T), 1 + rng.uniform(-0.3, 0.3), 1.0)
        y = y * (1 + rng.uniform(0.01, 0.1) * rng.standard_normal(T))
        dates = pd.date_range(end="2020-12-01", periods=T, freq="MS").strftime("%Y-%m-%d")
        rows.append(pd.DataFrame({"id": f"g{i:04d}", "date": dates, "y": np.maximum(y, 0.01 * level)}))
    return pd.concat(rows, ignore_index=True)


def real_panels() -> dict[str, tuple[pd.DataFrame, int]]:
    """The real panels of short series shipped in statsmodels, as long tables, with a horizon."""
    import statsmodels.api as sm

    out = {}
    fert = sm.datasets.fertility.load_pandas().data.set_index("Country Code")
    years = [c for c in fert.columns if c.isdigit()]
    long = fert[years].stack().dropna().rename("y").reset_index()  # missing years dropped
    long.columns = ["id", "date", "y"]
    span = long.groupby("id")["date"].agg(lambda d: int(d.iloc[-1]) - int(d.iloc[0]) + 1)
    size = long.groupby("id")["date"].size()
    keep = size[(size == span) & (size >= 20)].index  # no gap inside, at least 20 years
    long = long[long["id"].isin(keep)].assign(date=lambda d: d["date"] + "-01-01")
    out["fertility (yearly, births per woman)"] = (long, 6)
    g = sm.datasets.grunfeld.load_pandas().data
    rows = [pd.DataFrame({"id": f"{firm} {var}", "date": [f"{int(y)}-01-01" for y in d["year"]], "y": d[var]})
            for firm, d in g.groupby("firm") for var in ("invest", "value", "capital")]
    out["grunfeld (yearly, 20 values)"] = (pd.concat(rows, ignore_index=True), 3)
    m = sm.datasets.macrodata.load_pandas().data.tail(60)
    dates = [f"{int(y)}-{3 * int(q) - 2:02d}-01" for y, q in zip(m["year"], m["quarter"])]
    rows = [pd.DataFrame({"id": c, "date": dates, "y": m[c]}) for c in
            ("realgdp", "realcons", "realinv", "realgovt", "realdpi", "cpi", "m1", "tbilrate", "unemp", "pop",
             "infl", "realint")]
    out["macrodata (quarterly, last 60 values)"] = (pd.concat(rows, ignore_index=True), 4)
    return out


def _beats(a: pd.Series, b: pd.Series) -> float:
    """Share of series where ``a`` < ``b`` (ties count half), over the series both have."""
    ok = a.notna() & b.notna()
    return float(((a[ok] < b[ok]).sum() + 0.5 * (a[ok] == b[ok]).sum()) / ok.sum())


def compare(tmp: str, seeds: tuple[int, ...] = (0, 1, 2)) -> None:
    if not statsforecast_ok():
        print("compare: needs statsforecast (pip install seqlab[statsforecast]); skipped")
        return
    panels = {**real_panels(),
              "generated (500 monthly series of 12-60 values, level shifts)": (shifted_panel(500, 12, 60, 7), 6)}
    for k, (name, (frame, horizon)) in enumerate(panels.items()):
        path = os.path.join(tmp, f"cmp{k}.csv")
        frame.to_csv(path, index=False)
        runs = []
        for seed in seeds:
            before = load()
            out_csv = os.path.join(tmp, f"cmp{k}_{seed}.csv")
            _, wall = run(["--data", path, "--series-id", "id", "--time", "date", "--target", "y", "--horizon",
                           str(horizon), "--folds", "0", "--no-plot", "--quiet", "--seed", str(seed), "--baselines",
                           "snaive,autoets,autoarima,autotheta", "--out", out_csv], tmp)
            runs.append((seed, pd.read_csv(out_csv).groupby("series").first(), wall, before, load()))
        table = runs[0][1]  # the baselines are the same in every run
        cols = [c for c in table.columns if c.startswith("holdout MASE ") and not c.startswith("holdout MASE model")]
        print(f"\n{name}: {len(table)} series, horizon {horizon}, holdout MASE over the series")
        print(f"  {'method':<26}{'mean':>8}{'median':>8}   model beats {' / '.join(c[13:] for c in cols)}")
        means = []
        for seed, t, wall, before, after in runs:
            m = next(c for c in t.columns if c.startswith("holdout MASE model"))
            means.append(t[m].mean())
            beats = " / ".join(f"{100 * _beats(t[m], t[c]):.0f}%" for c in cols)
            print(f"  {m[13:] + f' seed {seed}':<26}{t[m].mean():>8.3f}{t[m].median():>8.3f}   {beats}"
                  f"   ({wall:.0f} s; load {before} -> {after})", flush=True)
        print(f"  {'model, mean over seeds':<26}{np.mean(means):>8.3f}")
        for c in cols:
            print(f"  {c[13:]:<26}{table[c].mean():>8.3f}{table[c].median():>8.3f}", flush=True)


def intervals(tmp: str, seed: int = 0) -> None:
    """Coverage of the 0.1-0.9 interval (nominal 80 %) on the real panels and a generated one:
    the default command with 3 backtest origins prints the raw and the conformal coverage on the
    holdout, and the backtest's coverage with each origin calibrated on the other two."""
    panels = {**real_panels(),
              "generated (500 monthly series of 12-60 values, level shifts)": (shifted_panel(500, 12, 60, 7), 6)}
    for k, (name, (frame, horizon)) in enumerate(panels.items()):
        path = os.path.join(tmp, f"cov{k}.csv")
        frame.to_csv(path, index=False)
        out, wall = run(["--data", path, "--series-id", "id", "--time", "date", "--target", "y", "--horizon",
                         str(horizon), "--folds", "3", "--no-plot", "--seed", str(seed), "--baselines", "snaive"], tmp)
        lines = [line.strip() for line in out.splitlines() if "cover" in line]
        print(f"\n{name}, horizon {horizon}, seed {seed} ({wall:.0f} s, load {load()}):", *lines, sep="\n  ", flush=True)


def main() -> None:
    what = sys.argv[1:] or ["speed", "quality", "compare", "intervals"]
    print(machine_info())
    print(f"load average (1, 5, 15 min): {load()}; the machine may be shared with other programs")
    with tempfile.TemporaryDirectory() as tmp:
        if "speed" in what:
            speed(tmp)
        if "quality" in what:
            quality(tmp)
        if "compare" in what:
            compare(tmp)
        if "intervals" in what:
            intervals(tmp)


if __name__ == "__main__":
    main()
