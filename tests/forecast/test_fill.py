"""Missing values and dates (``fill=``, ``--fill``), wide tables (``wide=``, ``--wide``) and the
backtest's forecasts as a table (``BacktestResult.to_frame``, ``--backtest-out``).

Every filled or melted series is compared with what pandas gives for the same table
(``asfreq`` then ``interpolate``/``ffill``/``fillna``, ``pandas.melt``), and the backtest table with
the result object's records and the data."""

import io

import numpy as np
import pandas as pd
import pytest

from seqlab.errors import SeqlabError
from seqlab.forecast.data import prepare
from seqlab.forecast.fill import regular_freq

FAST = ["--epochs", "1", "--ensemble", "1", "--hidden", "4", "--quiet", "--threads", "1", "--no-stats", "--no-plot"]


def monthly(n=36, start="2010-01", seed=0, scale=1.0):
    t = pd.date_range(start, periods=n, freq="MS")
    rng = np.random.default_rng(seed)
    y = scale * (100 + np.arange(n) + 10 * np.sin(np.arange(n) * np.pi / 6) + rng.normal(0, 1, n))
    return pd.DataFrame({"date": t, "y": y, "price": 1 + rng.random(n)})


def gappy_panel():
    """Two monthly series: A with a missing month and a missing value, B with two missing months
    and a missing price."""
    a = monthly(36, seed=1).assign(id="A")
    a.loc[7, "y"] = np.nan
    a = a.drop(index=[12])
    b = monthly(30, "2011-01", seed=2, scale=3).assign(id="B")
    b.loc[4, "price"] = np.nan
    b = b.drop(index=[20, 21])
    return pd.concat([a, b], ignore_index=True)[["id", "date", "y", "price"]]


def pandas_fill(df, method):
    """What pandas gives: each series on its own monthly grid (asfreq), then filled."""
    out = {}
    for k, g in df.groupby("id", sort=False):
        g = g.set_index("date").asfreq("MS")[["y", "price"]]
        if method == "interpolate":
            g = g.interpolate(method="time", limit_direction="both")
        elif method == "ffill":
            g = g.ffill().bfill()
        else:
            g = g.fillna(0.0)
        out[k] = g
    return out


# -- 1. missing values and dates -----------------------------------------------------------------
@pytest.mark.parametrize("method", ["interpolate", "ffill", "zero"])
def test_fill_matches_pandas_asfreq_then_fill_per_series(method):
    df = gappy_panel()
    notes = []
    series = prepare(df, "y", "date", ["price"], "id", fill=method, notes=notes)
    want = pandas_fill(df, method)
    assert [s.name for s in series] == ["A", "B"]
    for s in series:
        w = want[s.name]
        assert s.freq == "MS"
        assert s.time.equals(pd.DatetimeIndex(w.index))  # each series between its own first and last date
        np.testing.assert_allclose(s.target, w["y"].to_numpy(), rtol=1e-12)
        np.testing.assert_allclose(s.covariates[:, 0], w["price"].to_numpy(), rtol=1e-12)
    # A: 1 date inserted, its y and price and the NaN y filled (3 values); B: 2 dates (4) and a price (1)
    assert notes == ["data: --fill " + method + ": 3 missing MS date(s) inserted and 8 value(s) filled in 2 of 2 "
                     "series ('A' 1 date(s), 3 value(s), 'B' 2 date(s), 5 value(s))"]


def test_interpolate_is_linear_in_time_by_hand():
    """Between 2010-01-01 (0) and 2010-03-01 (59 days later, 10): 2010-02-01 is 31 days in."""
    df = pd.DataFrame({"date": ["2010-01-01", "2010-03-01", "2010-04-01"], "y": [0.0, 10.0, 20.0]})
    (s,) = prepare(df, "y", "date", fill="interpolate")
    np.testing.assert_allclose(s.target, [0.0, 10 * 31 / 59, 10.0, 20.0])


def test_fill_leaves_the_horizon_of_future_covariates_unfilled_and_fills_them_from_their_own_values():
    df = monthly(30)
    df.loc[24:, "y"] = np.nan  # the 6 rows after the last target value: the horizon
    df.loc[3, "y"] = np.nan
    df.loc[26, "price"] = np.nan  # a gap in the horizon's prices
    df = df.drop(index=[10, 27])  # a missing month in the history, one in the horizon
    for method in ("ffill", "interpolate", "zero"):
        (s,) = prepare(df, "y", "date", future_covariates=["price"], fill=method)
        grid = df.set_index("date").asfreq("MS")
        assert len(s) == 24 and s.known_ahead == 6  # the target is not extended into the horizon
        assert s.time[-1] == pd.Timestamp("2011-12-01")
        price = grid["price"]
        want = {"ffill": price.ffill(), "interpolate": price.interpolate(method="time"),
                "zero": price.fillna(0.0)}[method]
        np.testing.assert_allclose(s.future[:, 0], want.to_numpy(), rtol=1e-12)  # never the target's values
        y = grid["y"].iloc[:24]
        want_y = {"ffill": y.ffill(), "interpolate": y.interpolate(method="time"), "zero": y.fillna(0.0)}[method]
        np.testing.assert_allclose(s.target, want_y.to_numpy(), rtol=1e-12)


def test_fill_numeric_time_steps_and_undated_rows():
    df = pd.DataFrame({"t": np.arange(0, 200, 10), "y": np.arange(20.0)}).drop(index=[3, 4])
    (s,) = prepare(df, "y", "t", fill="interpolate")
    np.testing.assert_array_equal(np.asarray(s.time), np.arange(0, 200, 10))
    np.testing.assert_allclose(s.target, np.arange(20.0))
    (u,) = prepare(pd.DataFrame({"y": [1.0, np.nan, 3.0, np.nan]}), "y", fill="ffill")
    np.testing.assert_array_equal(u.target, [1.0, 1.0, 3.0, 3.0])
    (a,) = prepare([1.0, np.nan, 5.0], fill="interpolate")
    np.testing.assert_array_equal(a.target, [1.0, 3.0, 5.0])


def test_regular_freq_takes_the_grid_that_needs_the_fewest_dates():
    b = pd.bdate_range("2024-01-01", periods=30).delete(7)  # business days, a Wednesday missing
    assert regular_freq([b]) == "B"
    w = pd.date_range("2024-01-07", periods=20, freq="W-SUN").delete([5, 6])
    assert regular_freq([w]) == "W-SUN"
    assert regular_freq([pd.DatetimeIndex(["2024-01-01", "2024-01-05", "2024-01-06", "2024-02-11"])]) is None


def test_fill_refuses_dates_on_no_regular_grid_and_an_unknown_method():
    df = pd.DataFrame({"date": ["2024-01-01", "2024-01-05", "2024-01-06", "2024-02-11"], "y": [1.0, 2, 3, 4]})
    with pytest.raises(SeqlabError, match="--fill: the dates lie on no one regular frequency"):
        prepare(df, "y", "date", fill="ffill")
    with pytest.raises(SeqlabError, match="--fill: expected one of interpolate, ffill, zero, got 'mean'"):
        prepare(monthly(), "y", "date", fill="mean")


def test_without_fill_a_nan_names_the_file_row_and_line_and_suggests_fill(tmp_path, cli):
    """The NaN is the 12th value of series 'B' but row 45 of the table, line 47 of the file."""
    df = gappy_panel().dropna().reset_index(drop=True)
    i = int(df.index[df["id"] == "B"][11])
    df.loc[i, "y"] = np.nan
    path = tmp_path / "panel.csv"
    df.to_csv(path, index=False)
    with pytest.raises(SeqlabError, match=rf"series 'B'\): column 'y' has a missing value \(NaN\) at row {i} "
                                          rf"\(line {i + 2} of the file\); .* or pass --fill interpolate\|ffill\|zero"):
        prepare(str(path), "y", "date", series_id="id")
    assert i == 45 and pd.read_csv(path).iloc[i].isna().any()  # pandas agrees: that row of the table
    assert path.read_text().splitlines()[i + 1].split(",")[2] == ""  # line i + 2 of the file (from 1)
    code, _, err = cli("forecast", "--data", path, "--target", "y", "--time", "date", "--series-id", "id", *FAST)
    assert code == 2 and len(err.strip().splitlines()) == 1
    assert f"at row {i} (line {i + 2} of the file)" in err and "--fill" in err


@pytest.mark.parametrize("freq,missing", [("W-SUN", 3), ("D", 2), ("QS-JAN", 1), ("MS", 2)])
def test_the_gap_hint_names_the_datas_own_frequency(freq, missing):
    t = pd.date_range("2020-01-05", periods=40, freq=freq)
    freq = pd.infer_freq(t)  # pandas' own name for it (quarters starting in January: QS-OCT)
    df = pd.DataFrame({"when": t, "y": np.arange(40.0)}).drop(index=list(range(10, 10 + missing)))
    with pytest.raises(SeqlabError) as e:
        prepare(df, "y", "when")
    msg = str(e.value)
    assert f"{missing} {freq} date(s) are missing" in msg and "--fill interpolate|ffill|zero" in msg
    assert f"df.set_index('when').asfreq('{freq}')" in msg and "'MS') for monthly" not in msg
    (s,) = prepare(df, "y", "when", fill="zero")
    assert s.freq == freq and len(s) == 40 and (s.target[10 : 10 + missing] == 0).all()


def test_a_panel_series_with_a_gap_gets_the_panels_frequency_in_the_hint():
    df = gappy_panel()
    df = pd.concat([df[df["id"] == "B"], monthly(30, seed=3).assign(id="C")])
    with pytest.raises(SeqlabError, match=r"series 'B' does not follow the panel's frequency MS .*2 MS date\(s\) are "
                                          r"missing.*--fill"):
        prepare(df, "y", "date", series_id="id")


def test_cli_fill_runs_and_reports_what_it_filled(tmp_path, cli):
    path = tmp_path / "gappy.csv"
    gappy_panel().to_csv(path, index=False)
    code, out, err = cli("forecast", "--data", path, "--target", "y", "--time", "date", "--series-id", "id",
                         "--covariates", "price", "--fill", "zero", "--horizon", "6", "--folds", "0", *FAST)
    assert code == 0, err
    assert "note: data " in out and ("--fill zero: 3 missing MS date(s) inserted and 8 value(s) filled in 2 of 2 "
                                     "series ('A' 1 date(s), 3 value(s), 'B' 2 date(s), 5 value(s))") in out
    code, _, err = cli("forecast", "--data", path, "--target", "y", "--time", "date", "--fill", "mean", *FAST)
    assert code == 2 and "--fill" in err and "'mean'" in err and len(err.strip().splitlines()) == 1


def test_forecaster_fit_fill_and_its_notes():
    from seqlab.forecast import Forecaster

    f = Forecaster(horizon=3, epochs=1, ensemble=1, hidden=4, threads=1, verbose=0)
    f.fit(gappy_panel(), "y", "date", covariates=["price"], series_id="id", fill="ffill")
    assert f.notes[0].startswith("data: --fill ffill: 3 missing MS date(s) inserted")
    assert list(f.predict()["series"].unique()) == ["A", "B"]


# -- 2. wide tables ------------------------------------------------------------------------------
def wide_table():
    t = pd.date_range("2015-01", periods=40, freq="MS").strftime("%Y-%m-%d")
    rng = np.random.default_rng(4)
    return pd.DataFrame({"date": t, **{f"S{i}": (i + 1) * (50 + np.arange(40) + rng.normal(0, 2, 40))
                                       for i in range(3)}})


def test_wide_equals_the_long_table_of_pandas_melt():
    w = wide_table()
    w.loc[:3, "S2"] = np.nan  # S2 starts later
    w.loc[38:, "S0"] = np.nan  # S0 ends earlier
    notes = []
    got = prepare(w, time="date", wide=True, notes=notes)
    long = pd.melt(w, id_vars=["date"], var_name="series", value_name="value").dropna()
    want = prepare(long, "value", "date", series_id="series")
    assert [s.name for s in got] == ["S0", "S1", "S2"] == [s.name for s in want]
    for g, e in zip(got, want):
        np.testing.assert_array_equal(g.target, e.target)
        assert g.time.equals(e.time) and g.freq == e.freq == "MS"
    assert len(got[0]) == 38 and len(got[2]) == 36
    assert notes == ["data: --wide: 3 column(s) read as series ('S0', 'S1', 'S2'); 6 empty cell(s) before a "
                     "column's first value or after its last are not part of its series"]


def test_wide_with_a_datetime_index_and_with_fill():
    w = wide_table()
    w.loc[10, "S1"] = np.nan  # a missing value inside a column
    idx = w.set_index(pd.DatetimeIndex(w.pop("date")))
    with pytest.raises(SeqlabError, match=r"series 'S1'\): column 'S1' has a missing value \(NaN\) at row 10; .*--fill"):
        prepare(idx, wide=True)
    got = prepare(idx, wide=True, fill="interpolate")
    want = idx.interpolate(method="time")
    for s in got:
        np.testing.assert_allclose(s.target, want[s.name].to_numpy(), rtol=1e-12)


def test_wide_refuses_long_table_options_and_text_columns():
    w = wide_table()
    with pytest.raises(SeqlabError, match="--wide: .* so --target does not apply; drop --target"):
        prepare(w, "S0", "date", wide=True)
    with pytest.raises(SeqlabError, match=r"or pass --wide \(wide=True in Python\)"):
        prepare(w, time="date")
    w["S1"] = w["S1"].astype(object)
    w.loc[5, "S1"] = "n/a?"
    with pytest.raises(SeqlabError, match=r"--wide: column 'S1' has a non-numeric value 'n/a\?' at row 5"):
        prepare(w, time="date", wide=True)


def test_cli_wide_outputs_use_the_column_names(tmp_path, cli):
    path, out_csv = tmp_path / "wide.csv", tmp_path / "per_series.csv"
    wide_table().to_csv(path, index=False)
    code, out, err = cli("forecast", "--data", path, "--wide", "--time", "date", "--horizon", "4", "--folds", "0",
                         "--out", out_csv, *FAST)
    assert code == 0, err
    assert "3 series" in out and "--wide: 3 column(s) read as series" in out
    got = pd.read_csv(out_csv)
    assert list(got["series"].unique()) == ["S0", "S1", "S2"] and len(got) == 12
    assert got["time"].iloc[0] == "2018-05-01"  # the month after the table's last
    code, _, err = cli("forecast", "--data", path, "--wide", "--time", "date", "--target", "S0", *FAST)
    assert code == 2 and "--wide" in err and "--target" in err


def test_forecaster_fit_of_a_wide_frame():
    from seqlab.forecast import Forecaster

    w = wide_table().set_index("date")
    w.index = pd.DatetimeIndex(w.index)
    f = Forecaster(horizon=2, epochs=1, ensemble=1, hidden=4, threads=1, verbose=0).fit(w, wide=True)
    pred = f.predict()
    assert list(pred["series"].unique()) == ["S0", "S1", "S2"]
    assert pred["time"].iloc[0] == pd.Timestamp("2018-05-01")


# -- 3. the backtest's forecasts -----------------------------------------------------------------
def test_backtest_to_frame_and_backtest_out_hold_the_records_values(tmp_path):
    from seqlab.forecast import run

    df = gappy_panel().dropna(subset=["y"])
    df = pd.concat([df[df["id"] == "A"], monthly(30, "2011-01", seed=5).assign(id="B")])
    path, bt_csv = tmp_path / "panel.csv", tmp_path / "backtest.csv"
    df.to_csv(path, index=False)
    r = run.forecast(str(path), target="y", time="date", series_id="id", fill="interpolate", folds=2,
                     horizon=4, stats=False, methods=["naive", "snaive"], plot=None, backtest_plot=None,
                     backtest_csv=str(bt_csv), epochs=1, ensemble=1, hidden=4, threads=1, verbose=0,
                     out=io.StringIO())
    bt = r.backtest
    frame = bt.to_frame()
    assert list(frame.columns) == ["series", "origin", "cutoff", "step", "time", "actual", "forecast", "q0.1",
                                   "q0.5", "q0.9", "naive", "seasonal naive"]
    assert len(frame) == 4 * len(bt.forecasts) == 16
    series = {s.name: s for s in prepare(str(path), "y", "date", series_id="id", fill="interpolate")}
    for (_, g), rec in zip(frame.groupby(["series", "origin"], sort=False), bt.forecasts):
        assert g["series"].iloc[0] == rec["series"] and g["origin"].iloc[0] == rec["origin"] + 1
        np.testing.assert_array_equal(g[["q0.1", "q0.5", "q0.9"]].to_numpy(), rec["model"])
        np.testing.assert_array_equal(g["forecast"].to_numpy(), rec["model"][:, 1])
        np.testing.assert_array_equal(g["actual"].to_numpy(), rec["actual"])
        np.testing.assert_array_equal(g["naive"].to_numpy(), rec["baselines"]["naive"])
        np.testing.assert_array_equal(g["step"].to_numpy(), [1, 2, 3, 4])
        s = series[rec["series"]]
        assert (g["cutoff"] == s.time[rec["cutoff"] - 1]).all()
        assert list(g["time"]) == list(s.time[rec["cutoff"] : rec["cutoff"] + 4])
        # by hand: the naive forecast is the last value the forecast saw
        assert (g["naive"] == s.target[rec["cutoff"] - 1]).all()
    # the actual values are the data's (pandas lookup by series and date; A's gap filled by time)
    filled = pandas_fill(df[["id", "date", "y", "price"]], "interpolate")
    look = frame.apply(lambda row: filled[row["series"]].loc[row["time"], "y"], axis=1)
    np.testing.assert_allclose(frame["actual"].to_numpy(), look.to_numpy(), rtol=1e-12)
    written = pd.read_csv(bt_csv)
    assert list(written.columns) == list(frame.columns)
    assert list(written["time"]) == [t.strftime("%Y-%m-%d") for t in frame["time"]]
    assert list(written["cutoff"]) == [t.strftime("%Y-%m-%d") for t in frame["cutoff"]]
    np.testing.assert_allclose(written[["actual", "forecast", "q0.1", "q0.9", "naive", "seasonal naive"]].to_numpy(),
                               frame[["actual", "forecast", "q0.1", "q0.9", "naive", "seasonal naive"]].to_numpy(),
                               rtol=1e-15)


def test_backtest_to_frame_of_undated_series_numbers_the_steps():
    from seqlab.forecast import ForecastConfig, backtest, training

    y = 100 + np.arange(40.0) + 5 * np.sin(np.arange(40))
    res = backtest(y, ForecastConfig(horizon=3, hidden=4, ensemble=1), folds=2, include_stats=False,
                   methods=["naive"], train=training(epochs=1, threads=1, verbose=0))
    frame = res.to_frame()
    assert list(frame["cutoff"]) == [33] * 3 + [36] * 3 and list(frame["time"]) == list(range(34, 40))
    np.testing.assert_array_equal(frame["actual"], y[34:40])
    np.testing.assert_array_equal(frame["naive"], np.repeat([y[33], y[36]], 3))


def test_backtest_out_refused_without_a_backtest_and_with_load(tmp_path, cli):
    path = tmp_path / "y.csv"
    monthly().to_csv(path, index=False)
    before = set(tmp_path.iterdir())
    code, _, err = cli("forecast", "--data", path, "--target", "y", "--time", "date", "--folds", "0",
                       "--backtest-out", tmp_path / "bt.csv", *FAST)
    assert code == 2 and err.startswith("seqlab forecast: error: --backtest-out:") and "--folds" in err
    code, _, err = cli("forecast", "predict", "--model", tmp_path / "m.safetensors", "--backtest-out",
                       tmp_path / "bt.csv")
    assert code == 2 and "unrecognized arguments: --backtest-out" in err  # predict has no backtest
    code, _, err = cli("forecast", "--data", path, "--target", "y", "--time", "date", "--backtest-out", tmp_path,
                       *FAST)
    assert code == 2 and "--backtest-out" in err and "is a folder" in err
    assert set(tmp_path.iterdir()) == before
