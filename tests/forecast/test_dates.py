"""Dates and frequencies: a saved model refuses history without its dates or at another frequency,
times print at the data's resolution, seasons follow the frequency's multiplier, series ids keep
their leading zeros, PeriodIndex data is dated, a date column left out gets a note, and the
checkpoint messages say when a forecast run writes its checkpoint."""

import numpy as np
import pandas as pd
import pytest

from seqlab.cli import main
from seqlab.errors import SeqlabError
from seqlab.forecast import Forecaster, prepare
from seqlab.forecast.checkpoints import RunCheckpoint
from seqlab.forecast.data import read_csv
from seqlab.forecast.features import freq_name, natural_season, time_labels
from seqlab.forecast.forecaster import _calendar_phase, infer_season, season_choice

TINY = dict(horizon=4, lookback=8, hidden=4, epochs=2, ensemble=1, patience=5, verbose=0)
FAST = ["--epochs", "1", "--ensemble", "1", "--hidden", "4", "--quiet", "--no-plot", "--no-stats", "--threads", "1"]


def wave(n, period=12, level=50.0):
    t = np.arange(n)
    return level + 0.2 * t + 8 * np.sin(2 * np.pi * t / period) + np.random.default_rng(0).normal(0, 0.5, n)


def dated(n, freq, start="2015-01-01", period=12):
    return pd.Series(wave(n, period), index=pd.date_range(start, periods=n, freq=freq), name="y")


# -- 1: a saved model and the dates of the history ---------------------------------------------
@pytest.fixture(scope="module")
def monthly_model(tmp_path_factory):
    path = tmp_path_factory.mktemp("m") / "m.safetensors"
    Forecaster(**TINY, model="rnn", diff="first").fit(dated(60, "MS")).save(str(path))
    return str(path)


def test_a_model_with_calendar_features_refuses_history_without_dates_or_at_another_frequency(monthly_model):
    f = Forecaster.load(monthly_model)
    assert f.n_calendar == 2 and f.freq == "MS"
    with pytest.raises(SeqlabError, match=r"^data: the model was trained on monthly \(MS\) dates; this history has "
                                          r"no dates: pass --time COL"):
        f.predict(wave(48))
    with pytest.raises(SeqlabError, match=r"trained on monthly \(MS\) dates; this history has weekly \(W-SUN\) dates: "
                                          r"give MS dates"):
        f.predict(dated(48, "W-SUN"))
    with pytest.raises(SeqlabError, match=r"has 2-month \(2MS\) dates"):
        f.predict(dated(48, "2MS"))
    p = f.predict(dated(48, "MS", start="2016-01-01"))  # the same frequency: forecast after its last date
    assert p["time"].iloc[0] == pd.Timestamp("2020-01-01")
    assert f.predict()["time"].iloc[0] == pd.Timestamp("2020-01-01")  # the saved history still works


def test_two_dates_on_the_grid_take_the_models_frequency(monthly_model):
    f = Forecaster.load(monthly_model)
    s = prepare(pd.Series([50.0, 51.0], index=pd.to_datetime(["2019-03-01", "2019-04-01"])))
    assert s[0].freq is None  # two dates give pandas no frequency ...
    assert f.predict(s)["time"].iloc[0] == pd.Timestamp("2019-05-01")  # ... the model's grid does
    off = prepare(pd.Series([50.0, 51.0], index=pd.to_datetime(["2019-03-15", "2019-04-15"])))
    with pytest.raises(SeqlabError, match="dates that follow no one frequency"):
        f.predict(off)


def test_one_frequency_spelled_two_ways_is_the_same_frequency():
    f = Forecaster(**TINY, model="rnn", diff="first").fit(dated(60, "h"))
    s = prepare(dated(40, "h", start="2016-01-01"))[0]
    s.freq = "H"  # the alias of older pandas
    assert f.predict([s])["time"].iloc[0] == pd.Timestamp("2016-01-02 16:00")  # 40 hours on
    assert f.n_calendar and f._calendar(s, 0, 1).any()  # calendar features, not zeros


def test_the_hybrids_calendar_phase_needs_dates_even_without_calendar_features():
    f = Forecaster(**{**TINY, "lookback": 12}, model="hybrid", calendar=False).fit(dated(60, "MS"))
    assert f.n_calendar == 0 and f.reads_dates()
    with pytest.raises(SeqlabError, match=r"trained on monthly \(MS\) dates; this history has no dates"):
        f.predict(wave(48))


def test_models_that_read_no_dates_keep_taking_undated_history():
    undated = Forecaster(**TINY, model="rnn").fit(wave(60))
    assert undated.freq is None and not undated.reads_dates()
    assert list(undated.predict(wave(40))["time"]) == [40, 41, 42, 43]
    plain = Forecaster(**TINY, model="rnn", calendar=False).fit(dated(60, "MS"))  # dated, but reads no dates
    assert not plain.reads_dates() and len(plain.predict(wave(40))) == 4


def test_the_cli_predict_refuses_undated_history_in_one_line(monthly_model, tmp_path, capsys):
    csv = tmp_path / "new.csv"
    pd.DataFrame({"date": pd.date_range("2016-01", periods=48, freq="MS").strftime("%Y-%m-%d"),
                  "y": wave(48)}).to_csv(csv, index=False)
    assert main(["forecast", "predict", "--model", monthly_model, "--data", str(csv), "--target", "y",
                 "--no-plot"]) == 2
    got = capsys.readouterr()
    assert got.err.count("\n") == 1 and "trained on monthly (MS) dates; this history has no dates" in got.err
    assert "note: " in got.out and "column 'date' holds dates" in got.out and "pass --time date" in got.out


# -- 2: times at the resolution of the frequency -------------------------------------------------
def test_time_labels_follow_the_resolution_of_the_frequency():
    h = pd.date_range("2024-03-01 22:00", periods=3, freq="h")
    assert time_labels(h, "h") == ["2024-03-01 22:00", "2024-03-01 23:00", "2024-03-02 00:00"]
    assert time_labels(pd.date_range("2024-03-01", periods=2, freq="30s"), "30s") == [
        "2024-03-01 00:00:00", "2024-03-01 00:00:30"]
    assert time_labels(pd.date_range("2024-03-01", periods=2, freq="D"), "D") == ["2024-03-01", "2024-03-02"]
    assert time_labels(pd.date_range("2024-03-03", periods=2, freq="W-SUN"), "W-SUN") == ["2024-03-03", "2024-03-10"]
    assert time_labels(pd.date_range("2024-03-01", periods=2, freq="MS"), "MS") == ["2024-03", "2024-04"]
    assert time_labels(pd.date_range("2024-01-01", periods=2, freq="QS"), "QS-OCT") == ["2024-01", "2024-04"]
    assert time_labels(pd.date_range("2024-01-01", periods=2, freq="YS"), "YS-JAN") == ["2024", "2025"]
    # files (compact=False) keep the date at monthly and coarser steps, to join back to the input
    assert time_labels(pd.date_range("2024-03-01", periods=2, freq="MS"), "MS", compact=False) == [
        "2024-03-01", "2024-04-01"]
    assert time_labels(h, "h", compact=False) == ["2024-03-01 22:00", "2024-03-01 23:00", "2024-03-02 00:00"]
    assert time_labels(h, None) == ["2024-03-01 22:00", "2024-03-01 23:00", "2024-03-02 00:00"]  # no freq: as needed
    assert time_labels([2025.0, 2026.0, 7, 2.5], None) == ["2025", "2026", "7", "2.5"]


def test_hourly_times_keep_their_hours_in_headers_table_and_csv_of_a_run_and_of_predict(tmp_path, capsys):
    n = 24 * 10
    t = pd.date_range("2024-03-01", periods=n, freq="h")
    pd.DataFrame({"time": t.strftime("%Y-%m-%d %H:%M"), "y": wave(n, 24)}).to_csv(tmp_path / "h.csv", index=False)
    model, out, loaded = (str(tmp_path / x) for x in ("h.safetensors", "h_out.csv", "h_load.csv"))
    args = ["forecast", "--data", str(tmp_path / "h.csv"), "--target", "y", "--time", "time", "--horizon", "6",
            "--folds", "1", "--lookback", "24", "--network", "rnn", *FAST]
    assert main([*args, "--out", out, "--save", model]) == 0
    text = capsys.readouterr().out
    assert "origins 2024-03-10 12:00" in text and "Holdout: the last 6 steps (2024-03-10 18:00 on)" in text
    assert "  y            2024-03-11 00:00 " in text and "2024-03-11 05:00" in text
    table = pd.read_csv(out)
    assert list(table["time"]) == [f"2024-03-11 0{h}:00" for h in range(6)]  # one row per hour, no duplicates
    assert main(["forecast", "predict", "--model", model, "--out", loaded, "--no-plot"]) == 0
    assert "  y            2024-03-11 00:00 " in capsys.readouterr().out
    assert list(pd.read_csv(loaded)["time"]) == list(table["time"])  # predict writes the same times


def test_daily_origins_print_as_dates_and_integer_years_without_a_fraction(tmp_path, capsys):
    d = pd.date_range("2024-01-01", periods=70, freq="D")
    pd.DataFrame({"date": d.strftime("%Y-%m-%d"), "y": wave(70, 7)}).to_csv(tmp_path / "d.csv", index=False)
    assert main(["forecast", "--data", str(tmp_path / "d.csv"), "--time", "date", "--horizon", "7", "--folds", "2",
                 "--network", "rnn", "--lookback", "14", *FAST]) == 0
    text = capsys.readouterr().out
    assert "origins 2024-02-19, 2024-02-26\n" in text and "(2024-03-04 on)" in text  # steps 49, 56, 63 of 70 days
    pd.DataFrame({"year": np.arange(1980, 2020), "y": wave(40, 5)}).to_csv(tmp_path / "y.csv", index=False)
    assert main(["forecast", "--data", str(tmp_path / "y.csv"), "--time", "year", "--horizon", "3", "--folds", "1",
                 "--network", "rnn", *FAST]) == 0
    text = capsys.readouterr().out
    assert "origins 2014\n" in text and "(2017 on)" in text  # steps 34 and 37 of 1980-2019
    rows = text.split("Forecast:")[1].splitlines()[1:4]
    assert [r.split()[1] for r in rows] == ["2020", "2021", "2022"]


# -- 3: seasons from the frequency and its multiplier -------------------------------------------
@pytest.mark.parametrize("freq,season", [("h", 24), ("2h", 12), ("30min", 48), ("15min", 96), ("D", 7), ("B", 5),
                                         ("W-SUN", 52), ("2W-SUN", 26), ("MS", 12), ("2MS", 6), ("ME", 12),
                                         ("QS-OCT", 4), ("2QS-OCT", 2), ("YS-JAN", 1)])
def test_the_season_is_the_steps_in_the_natural_cycle(freq, season):
    assert natural_season(freq) == (season, None)
    assert infer_season(prepare(dated(200, freq))) == season


def test_steps_that_do_not_divide_the_cycle_give_season_one_with_the_reason(tmp_path, capsys):
    assert season_choice(prepare(dated(60, "5h"))) == (1, "5h steps do not divide a day evenly")
    assert season_choice(prepare(dated(60, "5MS"))) == (1, "5MS steps do not divide a year evenly")
    assert season_choice(prepare(dated(500, "min")))[0] == 1  # a day of 1440 steps: longer than the data
    t = pd.date_range("2024-01-01", periods=60, freq="5h")
    pd.DataFrame({"t": t.strftime("%Y-%m-%d %H:%M"), "y": wave(60)}).to_csv(tmp_path / "5h.csv", index=False)
    assert main(["forecast", "--data", str(tmp_path / "5h.csv"), "--time", "t", "--horizon", "4", "--folds", "0",
                 *FAST]) == 0
    assert "season 1 (5h steps do not divide a day evenly; --season N sets it)" in capsys.readouterr().out


def test_the_calendar_phase_counts_steps_of_the_multiplied_frequency():
    assert _calendar_phase(prepare(dated(30, "2h", start="2024-01-01 06:00"))[0], 12) == 3  # 06:00 is step 3 of 12
    assert _calendar_phase(prepare(dated(200, "30min", start="2024-01-01 01:30"))[0], 48) == 3
    assert _calendar_phase(prepare(dated(30, "2MS", start="2024-05-01"))[0], 6) == 2  # May: the third 2 months
    assert _calendar_phase(prepare(dated(30, "MS", start="2024-05-01"))[0], 12) == 4
    assert freq_name("30min") == "30-minute" and freq_name("W-SUN") == "weekly"


# -- 4: series ids as text -----------------------------------------------------------------------
def test_series_ids_keep_their_leading_zeros(tmp_path):
    path = tmp_path / "ids.csv"
    path.write_text("id,date,y\n" + "".join(f"{i},2020-0{m}-01,{m}\n" for i in ("00001", "00002") for m in range(1, 6)))
    assert read_csv(path, ",", ["id"])["id"].tolist()[:1] == ["00001"]
    assert [s.name for s in prepare(str(path), "y", "date", series_id="id")] == ["00001", "00002"]


# -- 5: PeriodIndex data and a date column left out ---------------------------------------------
def test_a_period_index_is_read_as_dates():
    y = pd.Series(wave(48), index=pd.period_range("2000-01", periods=48, freq="M"))
    s = prepare(y)[0]
    assert s.freq == "MS" and s.time[0] == pd.Timestamp("2000-01-01") and infer_season([s]) == 12
    q = prepare(pd.DataFrame({"y": wave(20)}, index=pd.period_range("2000Q1", periods=20, freq="Q")))[0]
    assert q.freq.startswith("QS") and infer_season([q]) == 4
    col = prepare(pd.DataFrame({"p": pd.period_range("2000-01", periods=48, freq="M"), "y": wave(48)}), "y", "p")[0]
    assert col.freq == "MS"
    p = Forecaster(**TINY, model="rnn").fit(y).predict()
    assert p["time"].iloc[0] == pd.Timestamp("2004-01-01")  # dated forecasts, not step numbers


def test_a_column_of_dates_without_time_gets_a_note(tmp_path):
    df = pd.DataFrame({"date": pd.date_range("2020-01", periods=30, freq="MS").strftime("%Y-%m-%d"),
                       "region": ["north"] * 30, "code": ["A-1"] * 30, "y": wave(30)})
    notes = []
    prepare(df, "y", notes=notes)
    assert len(notes) == 1 and "column 'date' holds dates but no time column was given" in notes[0]
    assert "pass --time date" in notes[0]
    notes = []
    prepare(df, "y", "date", notes=notes)
    assert notes == []


# -- 6: when a forecast run writes its checkpoint ------------------------------------------------
def test_the_missing_checkpoint_message_says_when_a_forecast_run_writes_it(tmp_path):
    with pytest.raises(SeqlabError, match="writes one there when each network finishes and every "
                                          "--checkpoint-minutes") as e:
        RunCheckpoint(tmp_path / "m.ckpt.safetensors", resume=True)
    assert "epoch end" not in str(e.value)


def test_checkpoint_minutes_and_steps_reach_the_training_settings(monkeypatch):
    from seqlab.forecast import run

    got = {}
    monkeypatch.setattr(run, "forecast", lambda *a, **k: got.update(k))
    assert main(["forecast", "--checkpoint-minutes", "0.5", "--checkpoint-steps", "7", "--quiet"]) == 0
    assert got["checkpoint_minutes"] == 0.5 and got["checkpoint_steps"] == 7
    assert main(["forecast", "--checkpoint-minutes", "0", "--quiet"]) == 0
    assert got["checkpoint_minutes"] is None  # 0: only when each network finishes
    f = Forecaster(checkpoint_minutes=None, checkpoint_steps=7)
    assert f.train_config.checkpoint_minutes is None and f.train_config.checkpoint_steps == 7
