"""``seqlab forecast`` on panels: the bad-input cases of issue #14 (one line, exit 2, nothing
written), the per-series CSV and plots, and the quality bar on a generated panel of 500 short
series (lengths 12-60, seasonality and trend, horizon 6)."""

import os

import numpy as np
import pandas as pd
import pytest

from seqlab.cli import main
from seqlab.data import make_panel

FAST = ["--epochs", "2", "--ensemble", "1", "--hidden", "4", "--quiet", "--folds", "1", "--no-stats"]


def panel(n=500, lo=12, hi=60, seed=0):
    """seqlab.data.make_panel: monthly series of lengths lo..hi ending in 2020-12, magnitudes 10 to
    10,000, a trend of about 1 % a month, a seasonal swing of 5-30 % and 1-6 % noise."""
    return make_panel(n, lo, hi, seed)


def with_price(df, extra=6):
    """Each series with a price column, known ``extra`` months past its last value."""
    out = []
    for sid, g in df.groupby("id", sort=False):
        fut = pd.date_range(pd.Timestamp(g["date"].iloc[-1]), periods=extra + 1, freq="MS")[1:]
        g = pd.concat([g, pd.DataFrame({"id": sid, "date": fut.strftime("%Y-%m-%d"), "y": np.nan})])
        out.append(g.assign(price=np.linspace(1, 2, len(g)), region="n" if sid < "s002" else "s"))
    return pd.concat(out, ignore_index=True)


def bad_panels():
    base = with_price(panel(4, 20, 30, seed=1))
    cases = {}
    d = base.copy()
    last = d.index[d["id"] == "s001"][-2]
    d.loc[last, "price"] = np.nan
    cases["future covariate gap"] = (d, "future covariate 'price' is missing at row", ["--future-covariates", "price"])
    d = base[~((base["id"] == "s002") & base["y"].isna() & (base.index % 2 == 0))]
    cases["future covariate short"] = (d, "known for", ["--future-covariates", "price"])
    d = base.dropna(subset=["y"]).copy()
    d.loc[d.index[d["id"] == "s003"][0], "region"] = "w"
    cases["static varies"] = (d, "static covariate 'region' varies within series 's003'", ["--static-covariates", "region"])
    d = pd.concat([base, pd.DataFrame({"id": ["empty", "empty"], "date": ["2020-01-01", "2020-02-01"],
                                       "y": [np.nan, np.nan], "price": [1.0, 1.0], "region": ["n", "n"]})])
    cases["id without values"] = (d.dropna(subset=["y"]).pipe(lambda x: pd.concat([x, d[d["id"] == "empty"]])),
                                  "series 'empty' has no values of 'y'", [])
    d = pd.concat([base.dropna(subset=["y"]), base.dropna(subset=["y"]).iloc[[5]]])
    cases["duplicated rows"] = (d, "duplicated timestamp", [])
    d = base.dropna(subset=["y"]).copy()
    q = pd.date_range(end="2020-12-31", periods=(d["id"] == "s000").sum(), freq="QS").strftime("%Y-%m-%d")
    d.loc[d["id"] == "s000", "date"] = q
    cases["mixed frequencies"] = (d, "different frequencies", [])
    return cases


@pytest.mark.parametrize("case", ["future covariate gap", "future covariate short", "static varies",
                                  "id without values", "duplicated rows", "mixed frequencies"])
def test_panel_bad_input_one_line_exit_2_nothing_written(case, tmp_path, capsys, monkeypatch):
    df, expected, extra = bad_panels()[case]
    data = tmp_path / "data.csv"
    df.to_csv(data, index=False)
    out = tmp_path / "out"
    out.mkdir()
    monkeypatch.chdir(out)
    code = main(["forecast", "--data", str(data), "--series-id", "id", "--time", "date", "--target", "y", *extra,
                 "--save", str(out / "m.safetensors"), "--out", str(out / "per_series.csv"), *FAST])
    err = capsys.readouterr().err
    assert code == 2, err
    assert err.count("\n") == 1 and expected in err and "Traceback" not in err, err
    assert os.listdir(out) == []


def test_panel_command_with_covariates_writes_the_per_series_csv_and_plots(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    df = with_price(panel(12, 8, 40, seed=3))
    df.to_csv(tmp_path / "long.csv", index=False)
    code = main(["forecast", "--data", "long.csv", "--series-id", "id", "--time", "date", "--target", "y",
                 "--future-covariates", "price", "--static-covariates", "region", "--horizon", "6",
                 "--out", "per_series.csv", "--plot-series", "s000,s005", *FAST[:-3], "--folds", "2",
                 "--baselines", "naive,snaive"])
    out = capsys.readouterr().out
    assert code == 0, out
    assert "12 series" in out and "1 known-future covariate(s), 1 static covariate(s)" in out
    assert "model beats" in out and "% of series" in out
    assert "conformal (calibrated on the backtest)" in out and "backtest coverage" in out
    assert "notes (" in out  # the 8-value series sit backtest origins out
    table = pd.read_csv("per_series.csv")
    assert len(table) == 12 * 6 and table["forecast"].notna().all()
    assert table["time"].iloc[0] == "2021-01-01"  # the file keeps dates (the console prints months)
    assert set(os.listdir(tmp_path)) == {"long.csv", "per_series.csv", "forecast.png", "backtest.png"}
    assert main(["forecast", "--data", "long.csv", "--series-id", "id", "--time", "date", "--target", "y",
                 "--future-covariates", "price", "--horizon", "6", "--plot-series", "nope", *FAST]) == 2
    assert "--plot-series: no series 'nope'" in capsys.readouterr().err


DATA = os.path.join(os.path.dirname(os.path.abspath(__file__)), "data")
# the stored holdout forecasts of the 500-series test's panel: statsmodels' ETS (seqlab's 'ETS'
# without statsforecast) and statsforecast's AutoETS (2.1.1; the 'ETS' in use with it). Their
# mean MASE: 1.488 and 1.421; the command below (seed 0) 0.861, seasonal naive 1.354
REFERENCES = {"ETS": os.path.join(DATA, "panel500_ets.csv"), "AutoETS": os.path.join(DATA, "panel500_autoets.csv")}


def stat_holdout(df, name, horizon=6):
    """A baseline of seqlab.forecast.baselines ('ETS' or 'AutoETS') on each series' last
    ``horizon`` values, fitted on the values before them, as the command runs it: (series,
    horizon), series in order of appearance."""
    from seqlab.forecast.baselines import run_baselines

    hs = [g["y"].to_numpy()[:-horizon] for _, g in df.groupby("id", sort=False)]
    return np.stack([r[name] for r in run_baselines(hs, horizon, 12, [name])])


@pytest.mark.slow
def test_a_panel_of_500_short_series_beats_seasonal_naive_and_ets(tmp_path, capsys, monkeypatch):
    """Issue #14's bar: every series forecast, holdout mean MASE below seasonal naive's and ETS's
    (statsmodels' ETS and statsforecast's AutoETS, whichever the command would run).

    The 500 ETS fits took 62 s in one process, most of the test's time; their forecasts are stored
    (``python tests/forecast/test_panel_cli.py ETS`` and ``... AutoETS`` write them) and each
    library installed here recomputes 10 of the series to check them."""
    from seqlab.forecast.baselines import statsforecast_available
    from seqlab.forecast.metrics import mase

    monkeypatch.chdir(tmp_path)
    df = panel(500, 12, 60, seed=0)
    stored = {name: np.loadtxt(path, delimiter=",") for name, path in REFERENCES.items()}  # (500, 6) each
    some = df[df["id"].isin(df["id"].unique()[::50])]
    for name in ["ETS", "AutoETS"] if statsforecast_available() else ["ETS"]:
        np.testing.assert_allclose(stat_holdout(some, name), stored[name][::50], rtol=1e-6, atol=1e-6)
    df.to_csv("p500.csv", index=False)
    code = main(["forecast", "--data", "p500.csv", "--series-id", "id", "--time", "date", "--target", "y",
                 "--horizon", "6", "--folds", "0", "--network", "hybrid", "--ensemble", "1", "--epochs", "8",
                 "--windows-per-epoch", "4096", "--no-plot", "--quiet", "--threads", "1", "--out", "per_series.csv",
                 "--baselines", "snaive"])
    out = capsys.readouterr().out
    assert code == 0, out
    table = pd.read_csv("per_series.csv")
    assert table["series"].nunique() == 500 and np.isfinite(table["forecast"]).all()  # every series forecast
    per = table.groupby("series", sort=False).first()
    model = per["holdout MASE model (hybrid)"].mean()
    assert model < per["holdout MASE seasonal naive"].mean(), out
    for name, fc in stored.items():
        ets_mase = np.mean([mase(g["y"].to_numpy()[-6:], f, g["y"].to_numpy()[:-6], 12)
                            for (_, g), f in zip(df.groupby("id", sort=False), fc)])
        assert model < ets_mase, (name, model, ets_mase, out)


if __name__ == "__main__":  # write the stored forecasts of the 500-series test: ETS or AutoETS
    import sys

    name = sys.argv[1]
    os.makedirs(DATA, exist_ok=True)
    np.savetxt(REFERENCES[name], stat_holdout(panel(500, 12, 60, seed=0), name), delimiter=",", fmt="%.12g")


def test_make_panel_is_seeded_and_shaped_as_documented():
    a, b = make_panel(30, 5, 9, seed=4), make_panel(30, 5, 9, seed=4)
    pd.testing.assert_frame_equal(a, b)
    assert not a.equals(make_panel(30, 5, 9, seed=5))
    sizes = a.groupby("id").size()
    assert list(sizes.index) == [f"s{i:03d}" for i in range(30)] and sizes.between(5, 9).all()
    assert (a.groupby("id")["date"].last() == "2020-12-01").all() and (a["y"] > 0).all()
    with pytest.raises(ValueError, match="min_length"):
        make_panel(3, 10, 5)
