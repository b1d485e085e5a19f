"""``seqlab forecast``: bad input of every kind, table-driven (issue #18).

Each case runs the command in this process and asserts exit code 2, exactly one line on stderr,
no traceback, and that the earlier outputs in the working folder (a model, the plots, a CSV) are
byte-identical afterwards, with no temporary files left. Then good but unusual inputs that must
work: a byte-order mark, CRLF line ends, semicolons with --sep, quoted fields, Unicode and emoji,
a gzip-compressed CSV.
"""

import gzip

import numpy as np
import pandas as pd
import pytest

from tests.cli_helpers import (assert_one_line_error, assert_refused, assert_table, bad_model_cases, broken_inputs,
                               earlier_outputs, parametrize, prepare_case, snapshot, unreadable_cases)

FAST = ["--epochs", "1", "--ensemble", "1", "--folds", "0", "--no-stats", "--hidden", "4", "--quiet",
        "--threads", "1"]
COLS = ["--target", "sales", "--time", "date"]
EARLIER = {"model.safetensors": b"an earlier model", "forecast.png": b"an earlier plot",
           "backtest.png": b"an earlier backtest plot", "per_series.csv": b"series,forecast\nA,1\n"}


def rows(n=48):
    t = pd.date_range("2010-01", periods=n, freq="MS").strftime("%Y-%m-%d")
    return pd.DataFrame({"date": t, "sales": 100 + np.arange(n) + 10 * np.sin(np.arange(n) * np.pi / 6)})


@pytest.fixture(scope="module")
def world(tmp_path_factory, common_bad):
    from seqlab.cli import main

    d = tmp_path_factory.mktemp("forecast_bad")
    good = d / "good.csv"
    rows().to_csv(good, index=False)
    model = d / "good.safetensors"
    assert main(["forecast", "--data", str(good), *COLS, *FAST, "--no-plot", "--save", str(model)]) == 0
    files = broken_inputs(d, model, common_bad)

    def text(name, body):
        (d / name).write_text(body)
        files[name.split(".")[0]] = d / name

    csv = rows().to_csv(index=False)
    text("ragged.csv", csv.replace("\n2010-03-01,", "\n2010-03-01,1,", 1))
    text("nan.csv", csv.replace("\n2010-05-01,", "\n2010-05-01,nan\n2010-05-02,", 1))
    text("inf.csv", "date,sales\n" + "".join(f"2010-{m:02d}-01,{'inf' if m == 4 else m}\n" for m in range(1, 13)))
    text("nonnum.csv", "date,sales\n" + "".join(f"2010-{m:02d}-01,{'lots' if m == 4 else m}\n" for m in range(1, 13)))
    text("header_only.csv", "date,sales\n")
    text("huge.csv", "date,sales\n" + "".join(f"2010-{m:02d}-01,{m}e307\n" for m in range(1, 13)))
    text("tz_mixed.csv", "date,sales\n" + "".join(f"2010-{m:02d}-01T00:00{'+01:00' if m % 2 else ''},{m}\n"
                                                 for m in range(1, 13)))
    text("duplicate.csv", csv.replace("2010-03-01", "2010-02-01", 1))
    text("bad_time.csv", csv.replace("2010-03-01", "the third month", 1))
    text("short.csv", rows(5).to_csv(index=False))
    text("gap.csv", rows().drop(index=[20, 21, 22]).to_csv(index=False))  # three months missing
    steps = rows().assign(date=np.arange(48) * 10)
    steps.loc[30:, "date"] += 5
    text("irregular_steps.csv", steps.to_csv(index=False))
    monthly = rows(40).assign(id="A")
    daily = rows(40).assign(id="B", date=pd.date_range("2010-01-01", periods=40, freq="D").strftime("%Y-%m-%d"))
    text("two_frequencies.csv", pd.concat([monthly, daily]).to_csv(index=False))
    text("far_number.csv", "date,sales\n" + "".join(f"{t},{i + 1}\n" for i, t in
                                                     enumerate([0, 1, 2, 10**12, 10**12 + 1, 10**12 + 2])))
    text("far_date.csv", "date,sales\n" + "".join(f"{t},{i + 1}\n" for i, t in enumerate(
        ["2010-01-01 00:00:00", "2010-01-01 00:00:01", "2010-01-01 00:00:02", "2200-01-01 00:00:00"])))
    text("two_rows.csv", rows(2).to_csv(index=False))
    text("five_rows.csv", rows(5).to_csv(index=False))
    text("year_1.csv", "date,sales\n0001-01-01,1\n0001-02-01,2\n0001-03-01,3\n")
    text("year_9999.csv", "date,sales\n9999-01-01,1\n9999-02-01,2\n9999-03-01,3\n")
    text("odd_offsets.csv", "date,sales\n" + "".join(  # hourly, the offset jumping by 4 h and back: no zone's
        f"2010-01-01T{h:02d}:00:00{'+05:00' if h % 2 else '+01:00'},{h}\n" for h in range(12)))
    (d / "nul.csv").write_bytes(csv.encode().replace(b"sales\n", b"sales\n\x00", 1))
    files["nul"] = d / "nul.csv"
    (d / "truncated.csv.gz").write_bytes(gzip.compress(csv.encode())[:40])
    files["truncated_gz"] = d / "truncated.csv.gz"
    (d / "latin1.csv").write_bytes("date,caf\xe9\n2010-01-01,1\n".encode("latin-1"))
    files["latin1"] = d / "latin1.csv"
    return dict(files, good=good, model=model)


# predict --model: a model file that is not a readable forecaster
MODEL_CASES = bad_model_cases("predict-model", ["predict", "--model", "{path}"],
                              wrong_kind="expected a 'forecaster' model", mismatch="not a valid seqlab forecaster")
DATA_CASES = unreadable_cases("data", ["--data", "{path}"]) + [  # --data: not a readable table of numbers
    ("data-ragged-row", ["--data", "{ragged}", *COLS], "Expected 2 fields in line 4"),
    ("data-nan", ["--data", "{nan}", *COLS], "missing value (NaN)"),
    ("data-inf", ["--data", "{inf}", *COLS], "infinite value"),
    ("data-non-numeric", ["--data", "{nonnum}", *COLS], "non-numeric value 'lots' at row 3"),
    ("data-header-only", ["--data", "{header_only}", *COLS], "no rows"),
    ("data-dates-with-a-gap", ["--data", "{gap}", *COLS], "its 45 dates from 2010-01-01 to 2013-12-01 follow no one frequency"),
    ("data-nan-suggests-fill", ["--data", "{nan}", *COLS], "at row 4 (line 6 of the file); fill or drop it before "
     "forecasting, or pass --fill interpolate|ffill|zero"),
    ("data-gap-names-its-frequency", ["--data", "{gap}", *COLS], "3 MS date(s) are missing between them: pass --fill"),
    ("fill-unknown-method", ["--data", "{good}", *COLS, "--fill", "mean"], "argument --fill: invalid choice: 'mean'"),
    ("fill-without-data", ["--fill", "zero"], "--fill/--wide and the covariate options need --data"),
    ("wide-with-target", ["--data", "{good}", "--wide", "--time", "date", "--target", "sales"],
     "--wide: a wide table has one column per series"),
    ("data-numeric-time-irregular", ["--data", "{irregular_steps}", *COLS], "numeric time steps are not regular (0, 10, ... then 290 to 305)"),
    ("data-near-1e308", ["--data", "{huge}", *COLS], "beyond the 1e+30"),
    ("data-naive-and-aware-times", ["--data", "{tz_mixed}", *COLS], "with and without a time zone"),
    ("data-duplicate-time", ["--data", "{duplicate}", *COLS], "duplicated timestamp"),
    ("data-unparseable-time", ["--data", "{bad_time}", *COLS], "unparseable timestamp 'the third month'"),
    ("data-too-short", ["--data", "{short}", *COLS], "fewer than"),
    ("data-nul-byte", ["--data", "{nul}", *COLS], "NUL"),
    ("data-truncated-gzip", ["--data", "{truncated_gz}", *COLS], "damaged gzip"),
    ("data-not-utf8", ["--data", "{latin1}", *COLS], "not UTF-8"),
    # --fill on series of two frequencies: refused as without --fill, not turned into the finer one
    ("fill-two-frequencies", ["--data", "{two_frequencies}", *COLS, "--series-id", "id", "--fill", "ffill"],
     "the series have different frequencies: MS (series 'A'), D (series 'B')"),
    ("fill-a-huge-numeric-gap", ["--data", "{far_number}", *COLS, "--fill", "zero"],
     "--fill would insert 999999999997 missing time(s), more than 10 times the 6 row(s) present or 10000000 rows "
     "in all; the largest gap misses 999999999997 step(s) between 2 and 1000000000000"),
    ("fill-a-huge-date-gap", ["--data", "{far_date}", *COLS, "--fill", "zero"],
     "the largest gap misses 5995814397 s date(s) between 2010-01-01 00:00:02 and 2200-01-01 00:00:00"),
    # one minimum for a holdout, whatever the length of the series that is too short
    ("data-two-rows", ["--data", "{two_rows}", *COLS, "--horizon", "3"],
     "has 2 values, fewer than the 6 a holdout of 3 steps needs (3 before it)"),
    ("data-five-rows", ["--data", "{five_rows}", *COLS, "--horizon", "3"],
     "has 5 values, fewer than the 6 a holdout of 3 steps needs (3 before it)"),
    ("wide-without-time", ["--data", "{good}", "--wide"], "column 'date' holds dates ('2010-01-01' at row 0 (line 2 "
     "of the file)), not a series of numbers, and no time column was given; pass --time date"),
    ("data-year-1", ["--data", "{year_1}", *COLS], "has the date '0001-01-01' at row 0 (line 2 of the file), outside "
     "the dates pandas can hold (1677-09-22 to 2262-04-11, years 1677-2262)"),
    ("data-year-9999", ["--data", "{year_9999}", *COLS], "outside the dates pandas can hold"),
    ("data-offsets-of-no-zone", ["--data", "{odd_offsets}", *COLS], "its UTC offsets (+1h, +5h) change in a way no "
     "time zone's do, so the times have no one local meaning; give the times in UTC (or all with one offset)"),
    ("data-unknown-column", ["--data", "{good}", "--target", "revenue", "--time", "date"], "'revenue' not found"),
    ("sep-two-chars", ["--data", "{good}", *COLS, "--sep", ";;"], "one separator character"),
    ("sep-wrong", ["--data", "{good}", *COLS, "--sep", ";"], "not found"),
]
NUMBER_CASES = [  # every numeric option: NaN, inf, 0, negative, absurdly large
    ("lr-nan", ["--lr", "nan"], "--lr"), ("lr-inf", ["--lr", "inf"], "--lr"), ("lr-zero", ["--lr", "0"], "--lr"),
    ("lr-negative", ["--lr", "-0.1"], "--lr"), ("lr-huge", ["--lr", "1e400"], "--lr"),
    ("hidden-zero", ["--hidden", "0"], "--hidden"), ("hidden-negative", ["--hidden", "-4"], "--hidden"),
    ("hidden-1e30", ["--hidden", "1" + "0" * 30], "--hidden"),
    ("hidden-out-of-memory", ["--hidden", "1000000"], "more than the"),
    ("layers-zero", ["--layers", "0"], "--layers"), ("layers-huge", ["--layers", "1000000"], "--layers"),
    ("batch-size-zero", ["--batch-size", "0"], "--batch-size"),
    ("batch-size-huge", ["--batch-size", "1" + "0" * 20], "--batch-size"),
    ("epochs-zero", ["--epochs", "0"], "--epochs"), ("epochs-nan", ["--epochs", "nan"], "--epochs"),
    ("horizon-zero", ["--horizon", "0"], "--horizon"), ("horizon-huge", ["--horizon", "1" + "0" * 30], "horizon"),
    ("lookback-negative", ["--lookback", "-1"], "--lookback"),
    ("season-zero", ["--season", "0"], "--season"),
    ("season-longer-than-the-data", ["--season", "1000000"], "--season: 1000000 steps is longer than the longest series"),
    ("dropout-one", ["--dropout", "1"], "--dropout"), ("dropout-nan", ["--dropout", "nan"], "--dropout"),
    ("ensemble-zero", ["--ensemble", "0"], "--ensemble"), ("ensemble-huge", ["--ensemble", "1000000"], "--ensemble"),
    ("seed-negative", ["--seed", "-1"], "--seed"), ("seed-beyond-2^64", ["--seed", str(2**64 + 1)], "--seed"),
    ("minutes-nan", ["--minutes", "nan"], "--minutes"), ("minutes-inf", ["--minutes", "inf"], "--minutes"),
    ("minutes-negative", ["--minutes", "-1"], "--minutes"),
    ("threads-negative", ["--threads", "-1"], "--threads"), ("threads-huge", ["--threads", "1000000"], "--threads"),
    ("quantiles-nan", ["--quantiles", "nan"], "quantiles"), ("quantiles-outside", ["--quantiles", "0,1"], "quantiles"),
    ("patience-zero", ["--patience", "0"], "--patience"), ("folds-negative", ["--folds", "-1"], "--folds"),
    ("windows-per-epoch-negative", ["--windows-per-epoch", "-5"], "--windows-per-epoch"),
    ("checkpoint-minutes-nan", ["--checkpoint-minutes", "nan"], "--checkpoint-minutes"),
]
DEVICE_CASES = [
    ("device-meta", ["--device", "meta"], "--device"),
    ("device-tpu", ["--device", "tpu"], "--device"),
    ("device-missing-gpu", ["--device", "cuda:99"], "cuda:99"),
]
OUTPUT_CASES = [  # every output path checked before any work
    ("save-folder", ["--save", "{out}"], "is a folder"),
    ("save-missing-folder", ["--save", "{out}/no/m.safetensors"], "does not exist"),
    ("save-under-a-file", ["--save", "{out}/model.safetensors/m.safetensors"], "is a file, not a folder"),
    ("plot-unsupported-extension", ["--plot", "{out}/plot.xyz"], "expected a file ending in"),
    ("backtest-plot-unsupported-extension", ["--backtest-plot", "{out}/b.doc"], "expected a file ending in"),
    ("out-folder", ["--out", "{out}"], "is a folder"),
    ("save-is-the-data", ["--data", "{good}", *COLS, "--save", "{good}"], "also the file of --data"),
    ("plot-is-the-save", ["--save", "{out}/forecast.png", "--plot", "{out}/forecast.png"],
     "give each output its own file"),
    ("plot-nul-in-name", ["--plot", "{out}/a\x00b.png"], "NUL"),
    ("backtest-out-without-a-backtest", ["--backtest-out", "{out}/bt.csv", "--folds", "0"],
     "--backtest-out: writes the backtest's forecasts, but --folds 0 skips the backtest"),
    ("backtest-out-folder", ["--backtest-out", "{out}", "--folds", "1"], "--backtest-out: "),
    ("backtest-out-folder-suggests-a-csv", ["--backtest-out", "{out}", "--folds", "1"],
     "is a folder; give a CSV file name such as '{out}/backtest.csv'"),
    ("out-folder-suggests-a-csv", ["--out", "{out}"], "is a folder; give a CSV file name such as '{out}/forecast.csv'"),
]
# predict takes only the options of using a model: a training option is not silently ignored
PREDICT_CASES = [(f"predict-with-{o[2:]}", ["predict", "--model", "{model}", o, *v], f"unrecognized arguments: {o}")
                 for o, v in [("--horizon", ["6"]), ("--epochs", ["5"]), ("--quantiles", ["0.05,0.5,0.95"]),
                              ("--lookback", ["12"]), ("--cell", ["gru"]), ("--folds", ["2"]), ("--no-stats", []),
                              ("--network", ["hybrid"]), ("--ensemble", ["2"]), ("--save", ["{out}/m.safetensors"]),
                              ("--backtest-out", ["bt.csv"])]] + [
    ("predict-without-a-model", ["predict", "--data", "{good}"], "the following arguments are required: --model"),
    ("predict-out-is-the-model", ["predict", "--model", "{model}", "--out", "{model}"], "is also the file of --model"),
    ("predict-out-a-folder", ["predict", "--model", "{model}", "--out", "{out}"], "is a folder"),
    ("predict-out-a-folder-suggests-a-csv", ["predict", "--model", "{model}", "--out", "{out}"],
     "give a CSV file name such as '{out}/forecast.csv'"),
    ("predict-plot-unsupported-extension", ["predict", "--model", "{model}", "--plot", "{out}/p.xyz"],
     "expected a file ending in"),
    # zeros from --fill zero under a log-transform model: a fix predict accepts (not --transform, a training option)
    ("predict-fill-zero-under-logs", ["predict", "--model", "{model}", "--data", "{gap}", *COLS, "--fill", "zero"],
     "give a history of positive values (with --fill: interpolate or ffill, not zero), or train a forecaster with "
     "--transform none"),
    # the old spellings: each answered with its new one, before any work
    ("train-load", ["--load", "{model}"], "--load is gone: use 'seqlab forecast predict --model PATH'"),
    ("predict-load", ["predict", "--load", "{model}"], "--load was renamed --model"),
    ("train-model-kind", ["--model", "hybrid"], "--model was renamed --network"),
    ("train-model-path", ["--model", "{model}"],
     "--model was renamed --network (to forecast with a saved model: seqlab forecast predict --model PATH)"),
]
CASES = MODEL_CASES + DATA_CASES + NUMBER_CASES + DEVICE_CASES + OUTPUT_CASES + PREDICT_CASES


def test_at_least_forty_cases():
    assert_table(CASES)


@parametrize(CASES)
def test_bad_input_is_one_line_and_touches_nothing(args, expected, world, tmp_path, monkeypatch, cli):
    out, filled = prepare_case(tmp_path, monkeypatch, EARLIER, args, world)  # the default plot paths are in out
    if filled[0] == "predict":  # the options of using a model only
        assert_refused(cli, out, ["forecast", *filled], expected.replace("{out}", str(out)))
        return
    filled += ["--save", str(out / "model.safetensors"), "--out", str(out / "per_series.csv")] \
        if "--save" not in filled and "--out" not in filled else []
    # the case's options after FAST: they win
    assert_refused(cli, out, ["forecast", *FAST, *filled], expected.replace("{out}", str(out)))


def test_a_failure_while_writing_the_outputs_changes_no_earlier_file(world, tmp_path, monkeypatch, cli):
    """The outputs are written together once everything is computed: when the last of them (the
    backtest plot) fails, the model and forecast plot written before it in the code are not."""
    import seqlab.forecast.plots as plots
    from seqlab.errors import SeqlabError

    out = earlier_outputs(tmp_path, EARLIER)
    before = snapshot(out)

    def broken(*a, **k):
        raise SeqlabError("plot: the backtest plot failed")

    monkeypatch.setattr(plots, "plot_backtest", broken)
    code, _, err = cli("forecast", "--data", world["good"], *COLS, *FAST[:4], "--folds", "1", *FAST[6:],
                       "--save", out / "model.safetensors", "--plot", out / "forecast.png",
                       "--backtest-plot", out / "backtest.png", "--out", out / "per_series.csv")
    assert_one_line_error(code, err, "the backtest plot failed")
    after = snapshot(out)
    assert after.pop("model.ckpt.safetensors")  # the run's checkpoint stays, for --resume to finish the run
    assert after == before


# -- good but unusual input: must work ------------------------------------------------------------
def _variants(tmp_path):
    df = rows()
    plain = df.to_csv(index=False)
    semi = df.to_csv(index=False, sep=";")
    quoted = "".join(f'"{a}","{b}"\n' for a, b in [("date", "sales")] + list(df.itertuples(index=False)))
    files = {
        "bom": ("\ufeff" + plain).encode("utf-8"),
        "crlf": plain.replace("\n", "\r\n").encode(),
        "semicolon": semi.encode(),
        "quoted": quoted.encode(),
        "gzip": gzip.compress(plain.encode()),
        "all-at-once": gzip.compress(("\ufeff" + semi).replace("\n", "\r\n").encode("utf-8")),
    }
    seps = {"semicolon": ";", "all-at-once": ";"}
    paths = {}
    for name, data in files.items():
        p = tmp_path / (f"{name}.csv.gz" if name in ("gzip", "all-at-once") else f"{name}.csv")
        p.write_bytes(data)
        paths[name] = (p, seps.get(name, ","))
    return df, paths


@pytest.mark.parametrize("variant", ["bom", "crlf", "semicolon", "quoted", "gzip", "all-at-once"])
def test_unusual_csv_reads_as_the_plain_one(variant, tmp_path):
    from seqlab.forecast.run import load_series

    df, paths = _variants(tmp_path)
    path, sep = paths[variant]
    plain = tmp_path / "plain.csv"
    df.to_csv(plain, index=False)
    (series,), _ = load_series(str(path), "sales", "date", sep=sep)
    (want,), _ = load_series(str(plain), "sales", "date")
    np.testing.assert_array_equal(series.target, want.target)
    np.testing.assert_allclose(series.target, df["sales"].to_numpy(), rtol=1e-15)
    assert list(series.time.strftime("%Y-%m-%d")) == list(df["date"])


def test_unicode_and_emoji_names_and_an_unusual_file_forecast(tmp_path, cli, monkeypatch):
    """End to end: a gzip-compressed CSV with a byte-order mark, CRLF line ends, semicolons,
    quoted fields and emoji in its column and series names."""
    monkeypatch.chdir(tmp_path)
    df = rows(40)
    lines = ['"mois";"ventes 📈";"magasin"'] + [f'"{d}";"{v:.3f}";"Zürich 🏪"' for d, v in df.itertuples(index=False)]
    path = tmp_path / "ventes.csv.gz"
    path.write_bytes(gzip.compress(("\ufeff" + "\r\n".join(lines) + "\r\n").encode("utf-8")))
    code, out, err = cli("forecast", "--data", path, "--sep", ";", "--target", "ventes 📈", "--time", "mois",
                         "--series-id", "magasin", *FAST, "--horizon", "6", "--no-plot")
    assert code == 0, err
    assert "Zürich 🏪" in out and "Forecast" in out
