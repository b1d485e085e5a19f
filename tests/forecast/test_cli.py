"""``seqlab forecast [train]|predict`` through the CLI's main(argv): bad input, the airline run, predict."""

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
    code = main(["forecast", "predict", "--model", model, "--data", str(new), "--target", "passengers", "--time",
                 "month", "--plot", str(tmp_path / "new.png")])
    out = capsys.readouterr().out
    assert code == 0 and "no refitting" in out and "  1960-01 " in out
    expected = Forecaster.load(model).predict(str(new), target="passengers", time="month")
    assert f"{expected['forecast'].iloc[0]:.1f}" in out
    assert (tmp_path / "new.png").exists()
    # predict --out: the forecast table, as Forecaster.predict gives it
    table = tmp_path / "loaded.csv"
    assert main(["forecast", "predict", "--model", model, "--data", str(new), "--target", "passengers", "--time",
                 "month", "--no-plot", "--out", str(table)]) == 0
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
    assert main(["forecast", "predict", "--model", str(tmp_path / "missing.safetensors")]) == 2
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
    assert main(["forecast", "predict", "--model", str(tmp_path / "m.safetensors"), "--resume"]) == 2
    assert "unrecognized arguments: --resume" in capsys.readouterr().err  # predict trains nothing
    assert os.listdir(tmp_path) == []


# -- the sub-commands: train (the default) and predict ---------------------------------------------
def _parse(words):
    from seqlab.cli import build_parser

    return build_parser().parse_args(words)


@pytest.mark.parametrize("words", [[], ["--data", "x.csv", "--folds", "0"], ["--data", "predict"], ["--data=train"],
                                   ["--network", "hybrid", "--out", "predict"]])
def test_seqlab_forecast_with_options_is_seqlab_forecast_train(words):
    """A documented default sub-command: words that start with no sub-command are train's, and a
    value spelled like a sub-command (``--data predict``) stays a value."""
    from seqlab.forecast.cli import train_command

    bare, train = _parse(["forecast", *words]), _parse(["forecast", "train", *words])
    assert vars(bare) == vars(train) and bare.func is train_command and bare.action == "train"
    if "predict" in words:
        assert "predict" in (bare.data, bare.out)


def test_predict_takes_a_model_file_and_only_the_options_of_using_it(capsys):
    from seqlab.cli import build_parser
    from seqlab.forecast.cli import predict_command

    q = _parse(["forecast", "predict", "--model", "m.safetensors", "--data", "train", "--out", "f.csv"])
    assert q.func is predict_command and (q.model, q.data, q.out) == ("m.safetensors", "train", "f.csv")
    forecast = next(a for a in build_parser()._actions if a.dest == "command").choices["forecast"]
    predict = next(a for a in forecast._actions if a.dest == "action").choices["predict"]
    assert {o for a in predict._actions for o in a.option_strings if o.startswith("--")} == {
        "--help", "--model", "--data", "--sep", "--target", "--time", "--covariates", "--past-covariates",
        "--future-covariates", "--static-covariates", "--series-id", "--fill", "--wide", "--out", "--plot",
        "--no-plot", "--threads"}
    assert main(["forecast", "--help"]) == 0  # train's help: the one an unknown option's error points to
    text = capsys.readouterr().out
    assert text.startswith("usage: seqlab forecast train [-h]") and "--network" in text
    assert "'seqlab forecast predict --help' lists the options of forecasting with a saved model" in text


def test_forecast_options_use_the_shared_number_types(capsys):
    """The shared argparse types with their bounds only (the option's name comes from argparse)."""
    for option, value, expected in [("--folds", "-1", "argument --folds: expected an integer >= 0, got '-1'"),
                                    ("--ensemble", "1001", "argument --ensemble: expected an integer in [1, 1000]"),
                                    ("--level-penalty", "2e6", ("argument --level-penalty: expected a finite number "
                                                                ">= 0 and <= 1e+06, got '2e6'"))]:
        assert main(["forecast", option, value]) == 2
        err = capsys.readouterr().err
        assert err.startswith("seqlab forecast train: error: " + expected), err


# -- plots: seqlab.plotting, matplotlib checked before any work ------------------------------------
def test_without_matplotlib_the_default_plots_are_refused_before_any_work(tmp_path, capsys, monkeypatch):
    """The default forecast.png and backtest.png count as plots asked for: without matplotlib the
    run is refused at once with the fix (it used to train, print the forecast, then fail)."""
    import sys

    monkeypatch.chdir(tmp_path)
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # import fails as if not installed
    fix = "plotting needs matplotlib, which is not installed: pip install 'seqlab[plot]' (or --no-plot to run " \
          "without plots)"
    for words, option in [(["--folds", "0", "--epochs", "1", "--ensemble", "1"], "--plot"),
                          (["--plot", "p.svg", "--save", "m.safetensors"], "--plot"),
                          (["predict", "--model", "missing.safetensors"], "--plot")]:
        code = main(["forecast", *words])
        out, err = capsys.readouterr()
        assert code == 2 and out == "" and err.count("\n") == 1, err
        assert f"error: {option}: {fix}\n" in err, err  # predict: before the model file is even read
    assert os.listdir(tmp_path) == []


def test_without_matplotlib_no_plot_runs(tmp_path, capsys, monkeypatch):
    import sys

    monkeypatch.chdir(tmp_path)
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    assert main(["forecast", "--folds", "0", "--no-stats", "--network", "rnn", "--no-plot", "--threads", "1",
                 "--save", "m.safetensors", *FAST]) == 0
    assert main(["forecast", "predict", "--model", "m.safetensors", "--no-plot", "--out", "f.csv"]) == 0
    assert "wrote f.csv" in capsys.readouterr().out and sorted(os.listdir(tmp_path)) == ["f.csv", "m.safetensors"]


@pytest.mark.parametrize("name,magic", [("f.png", b"\x89PNG"), ("f.svg", b"<?xml"), ("f.pdf", b"%PDF")])
def test_the_plots_are_written_in_the_format_of_their_extension(tmp_path, name, magic):
    """Through seqlab.plotting.save_figure (the plots were PNG bytes whatever the extension)."""
    from seqlab.data import load_airline
    from seqlab.forecast.data import prepare
    from seqlab.forecast.plots import plot_forecast

    series = prepare(load_airline())
    plot_forecast(tmp_path / name, series, [0.1, 0.5, 0.9], [], np.ones((1, 12, 3)), title="t")
    assert (tmp_path / name).read_bytes().startswith(magic) and os.listdir(tmp_path) == [name]
