"""``seqlab forecast`` through the CLI's main(argv): bad input, the airline run, and --model."""

import os

import numpy as np
import pandas as pd
import pytest

from seqlab.cli import main
from seqlab.forecast import Forecaster
from seqlab.forecast.baselines import stat_names

FAST = ["--epochs", "2", "--ensemble", "1", "--hidden", "4", "--quiet"]


def write(path, text):
    path.write_text(text)
    return str(path)


def good_rows(n=60):
    t = pd.date_range("2010-01", periods=n, freq="MS").strftime("%Y-%m-%d")
    y = 100 + np.arange(n) + 10 * np.sin(np.arange(n) * np.pi / 6)
    return pd.DataFrame({"date": t, "sales": y})


def csv_of(df, path):
    df.to_csv(path, index=False)
    return str(path)


def bad_cases(tmp):
    df = good_rows()
    cases = {}
    d = df.astype({"sales": object}); d.loc[7, "sales"] = "lots"
    cases["non-numeric"] = (csv_of(d, tmp / "nonnum.csv"), "non-numeric value 'lots' at row 7")
    d = df.copy(); d.loc[3, "date"] = "not a date"
    cases["timestamp"] = (csv_of(d, tmp / "ts.csv"), "unparseable timestamp 'not a date'")
    d = df.copy(); d.loc[5, "date"] = d.loc[4, "date"]
    cases["duplicate"] = (csv_of(d, tmp / "dup.csv"), "duplicated timestamp")
    d = df.copy(); d.loc[9, "sales"] = np.nan
    cases["nan"] = (csv_of(d, tmp / "nan.csv"), "missing value (NaN) at row 9")
    d = df.copy(); d.loc[2, "sales"] = np.inf
    cases["inf"] = (csv_of(d, tmp / "inf.csv"), "infinite value")
    cases["short"] = (csv_of(df.head(13), tmp / "short.csv"), "has 13 values, fewer than the 14 a holdout of 12")
    cases["empty"] = (write(tmp / "empty.csv", ""), "is empty")
    cases["header only"] = (write(tmp / "header.csv", "date,sales\n"), "no rows")
    cases["missing"] = (str(tmp / "nope.csv"), "does not exist")
    return cases


@pytest.mark.parametrize("case", ["non-numeric", "timestamp", "duplicate", "nan", "inf", "short", "empty",
                                  "header only", "missing"])
def test_bad_input_one_line_exit_2_nothing_written(case, tmp_path, capsys, monkeypatch):
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    path, expected = bad_cases(data_dir)[case]
    monkeypatch.chdir(out_dir)  # default plot paths land here
    code = main(["forecast", "--data", path, "--target", "sales", "--time", "date", "--save",
                 str(out_dir / "m.safetensors"), *FAST])
    err = capsys.readouterr().err
    assert code == 2
    assert err.count("\n") == 1 and err.startswith("seqlab forecast: error:") and expected in err, err
    assert "Traceback" not in err
    assert os.listdir(out_dir) == []


def test_unknown_column_and_bad_option(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    path = csv_of(good_rows(), tmp_path / "ok.csv")
    assert main(["forecast", "--data", path, "--target", "revenue", "--time", "date", *FAST]) == 2
    err = capsys.readouterr().err
    assert "target column 'revenue' not found" in err and err.count("\n") == 1
    assert main(["forecast", "--data", path, "--target", "sales", "--time", "when", *FAST]) == 2
    assert "time column 'when' not found" in capsys.readouterr().err
    assert main(["forecast", "--quantiles", "0.1,abc"]) == 2
    assert "quantiles" in capsys.readouterr().err
    assert sorted(os.listdir(tmp_path)) == ["ok.csv"]


def test_airline_end_to_end_then_forecast_from_saved_model(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    model = str(tmp_path / "air.safetensors")
    code = main(["forecast", "--epochs", "5", "--ensemble", "1", "--folds", "1", "--quiet", "--save", model])
    out = capsys.readouterr().out
    assert code == 0
    assert "Backtest: 1 origin(s)" in out and "origins 1959-01" in out and "Holdout: the last 12 steps (1960-01 on)" in out
    stats = stat_names()  # statsforecast's AutoETS and AutoARIMA when installed, else statsmodels'
    for method in ["model (mix)", "naive", "seasonal naive", "drift", stats["ets"], stats["arima"]]:
        assert f"\n{method:<16}" in out
    assert "  1961-12 " in out and "1961-12-01" not in out  # monthly times print as months
    assert sorted(os.listdir(tmp_path)) == ["air.safetensors", "backtest.png", "forecast.png"]
    for png in ("backtest.png", "forecast.png"):
        assert (tmp_path / png).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"

    # new history: the airline data up to 1959 as a CSV; the forecast is 1960, no refitting
    from seqlab.data import load_airline

    air = load_airline()
    new = tmp_path / "new.csv"
    pd.DataFrame({"month": air.index[:132].strftime("%Y-%m"), "passengers": air.to_numpy()[:132]}).to_csv(new, index=False)
    code = main(["forecast", "--model", model, "--data", str(new), "--target", "passengers", "--time", "month",
                 "--plot", str(tmp_path / "new.png")])
    out = capsys.readouterr().out
    assert code == 0 and "no refitting" in out and "  1960-01 " in out
    expected = Forecaster.load(model).predict(str(new), target="passengers", time="month")
    assert f"{expected['forecast'].iloc[0]:.1f}" in out
    assert (tmp_path / "new.png").exists()
    # --out with --load: the forecast table, as Forecaster.predict gives it
    table = tmp_path / "loaded.csv"
    assert main(["forecast", "--load", model, "--data", str(new), "--target", "passengers", "--time", "month",
                 "--no-plot", "--out", str(table)]) == 0
    got = pd.read_csv(table)
    assert list(got.columns) == ["series", "time", "forecast", "q0.1", "q0.5", "q0.9"] and len(got) == 12
    np.testing.assert_allclose(got["forecast"], expected["forecast"], rtol=1e-12)
    assert list(got["time"]) == list(expected["time"].dt.strftime("%Y-%m-%d"))  # the file: dates, to join back


def test_output_folder_missing_fails_before_any_work(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    code = main(["forecast", "--plot", str(tmp_path / "no" / "f.png"), "--save", str(tmp_path / "m.safetensors"), *FAST])
    err = capsys.readouterr().err
    assert code == 2 and "--plot: folder" in err and "does not exist" in err and err.count("\n") == 1
    assert os.listdir(tmp_path) == []
    assert main(["forecast", "--model", str(tmp_path / "missing.safetensors")]) == 2
    assert "does not exist" in capsys.readouterr().err
    assert os.listdir(tmp_path) == []


@pytest.mark.parametrize("option,value,expected", [
    ("--lr", "nan", "--lr: expected a finite number"), ("--lr", "inf", "--lr: expected a finite number"),
    ("--lr", "-0.1", "--lr: expected a finite number"), ("--epochs", "-1", "--epochs: expected an integer"),
    ("--minutes", "-1", "--minutes: expected a finite number"), ("--minutes", "nan", "--minutes"),
    ("--dropout", "inf", "--dropout"), ("--threads", "-1", "--threads"), ("--batch-size", "0", "--batch-size"),
    ("--folds", "-1", "--folds"), ("--patience", "0", "--patience"), ("--hidden", "-3", "--hidden"),
    ("--ensemble", "nan", "--ensemble"), ("--seed", "-2", "--seed"), ("--horizon", "1e400", "--horizon"),
])
def test_bad_numeric_options_one_line_exit_2(option, value, expected, tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert main(["forecast", option, value, "--save", str(tmp_path / "m.safetensors"), *FAST]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and expected in err and "Traceback" not in err, err
    assert os.listdir(tmp_path) == []


def test_resume_needs_save_and_a_checkpoint(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert main(["forecast", "--resume", *FAST]) == 2
    assert "--resume: needs --save PATH" in capsys.readouterr().err
    assert main(["forecast", "--resume", "--save", str(tmp_path / "m.safetensors"), *FAST]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "no checkpoint at" in err and "m.ckpt.safetensors" in err
    assert main(["forecast", "--model", str(tmp_path / "m.safetensors"), "--resume"]) == 2
    assert "--resume" in capsys.readouterr().err
    assert os.listdir(tmp_path) == []
