"""``--select backtest``: one method for the whole run, the network or a baseline, chosen on the
mean backtest MASE over the series only, scored on the holdout (the row ``selected``), forecast by
the chosen method with a conformal interval from its own errors, and kept in the model file so
that ``seqlab forecast predict`` refits the chosen baseline."""

import io
import json
import math

import numpy as np
import pandas as pd
import pytest

from seqlab import io as model_io
from seqlab.errors import ModelFileError, SeqlabError
from seqlab.forecast import Forecaster, baselines, run
from seqlab.forecast.backtesting import BacktestResult, panel_table
from seqlab.forecast.conformal import abs_scores, residual_offsets
from seqlab.forecast.data import prepare
from seqlab.forecast.metrics import METRICS, mase_scale
from seqlab.forecast.selection import (
    NETWORK,
    SELECT_MARGIN,
    SELECTED,
    Selection,
    backtest_mase,
    best,
    choose,
    compare,
    describe,
    with_selected,
)
from tests.cli_helpers import assert_one_line_error

TINY = {"model": "rnn", "diff": "none", "scaling": "series", "transform": "none", "epochs": 1, "ensemble": 1,
        "hidden": 2, "threads": 1, "verbose": 0}
H, SEASON = 12, 12


# -- the choice: a pure function of backtest MASE --------------------------------------------------
def test_the_margin_is_ten_percent_and_a_baseline_must_beat_it_strictly():
    assert SELECT_MARGIN == 0.10
    # one series: its backtest MASE per method
    assert choose({NETWORK: 1.0, "seasonal naive": 0.9}) == NETWORK  # exactly 10 % lower: not more
    assert choose({NETWORK: 2.0, "seasonal naive": 1.8}) == NETWORK
    assert choose({NETWORK: 1.0, "seasonal naive": 0.8999}) == "seasonal naive"
    assert choose({NETWORK: 1.0, "AutoETS": 0.95, "naive": 1.2}) == NETWORK  # better, but not by the margin
    assert choose({NETWORK: 1.0, "naive": 0.5, "AutoETS": 0.3, "drift": 0.4}) == "AutoETS"  # the lowest
    assert choose({NETWORK: 1.0, "naive": 0.5, "drift": 0.5}) == "naive"  # equal: the first
    assert choose({NETWORK: 1.0, "naive": 0.95}, margin=0.0) == "naive"
    assert choose({NETWORK: 1.0, "naive": 0.7}, margin=0.5) == NETWORK


def test_on_a_panel_the_margin_applies_to_the_mean_over_the_series():
    # the network's mean 2.0; naive's 1.8, exactly 10 % lower: the network, though naive wins series A by half
    table = pd.DataFrame({NETWORK: [1.0, 3.0], "naive": [0.5, 3.1]}, index=["A", "B"])
    assert choose(table) == NETWORK
    assert choose(table.loc[["A"]]) == "naive"  # A's own backtest would have taken naive
    table.loc["B", "naive"] = 3.0999  # the mean just under 1.8
    assert choose(table) == "naive"
    assert [(c.method, c.mase, c.network, c.series) for c in compare(table)] == [("naive", pytest.approx(1.79995),
                                                                                 2.0, 2)]


def test_no_evidence_keeps_the_network():
    assert choose({NETWORK: math.nan, "naive": 0.1}) == NETWORK  # e.g. a constant history: MASE undefined
    assert choose({"naive": 0.1}) == NETWORK  # no network to compare with
    assert choose({NETWORK: 1.0, "naive": math.nan, "drift": 0.5}) == "drift"  # NaN baselines are ignored
    assert choose({NETWORK: 0.0, "naive": 0.0}) == NETWORK
    assert choose(pd.DataFrame({NETWORK: [math.nan, math.nan], "naive": [0.1, 0.2]})) == NETWORK


def test_each_baseline_is_compared_with_the_network_over_the_series_both_scored():
    # naive could not score the hard series B: over A alone it is 5 % better, not 10 %; against the
    # network's mean over both series (2.0) it would look 52 % better
    table = pd.DataFrame({NETWORK: [1.0, 3.0, math.nan], "naive": [0.95, math.nan, 0.0],
                          "drift": [1.2, 3.0, 5.0]}, index=["A", "B", "C"])  # C: the network has no MASE
    comps = {c.method: c for c in compare(table)}
    assert (comps["naive"].mase, comps["naive"].network, comps["naive"].series) == (0.95, 1.0, 1)
    assert (comps["drift"].mase, comps["drift"].network, comps["drift"].series) == (2.1, 2.0, 2)
    assert best(table).method == "naive"  # the lowest ratio to the network, 0.95
    assert choose(table) == NETWORK
    table.loc["A", "naive"] = 0.5
    assert choose(table) == "naive"
    # a baseline that scored no series beside the network is left out
    assert [c.method for c in compare(pd.DataFrame({NETWORK: [1.0, math.nan], "naive": [math.nan, 0.1]}))] == []


def _folds(rows):
    """A folds table from (series, cutoff, method, MASE) rows, the other metrics made up."""
    frame = pd.DataFrame(rows, columns=["series", "cutoff", "method", "MASE"])
    for m in METRICS:
        if m != "MASE":
            frame[m] = frame["MASE"] * 10
    return frame


def test_the_run_chooses_on_each_series_mean_backtest_mase_over_the_origins():
    folds = _folds([
        ("A", 10, "model (lstm)", 1.0), ("A", 10, "seasonal naive", 0.5), ("A", 10, "naive", 2.0),
        ("A", 22, "model (lstm)", 1.0), ("A", 22, "seasonal naive", 1.2), ("A", 22, "naive", 2.0),  # mean 0.85
        ("B", 10, "model (lstm)", 1.0), ("B", 10, "seasonal naive", 0.5), ("B", 10, "naive", 2.0),
        ("B", 22, "model (lstm)", 1.0), ("B", 22, "seasonal naive", 1.5), ("B", 22, "naive", 2.0),  # mean 1.0
    ])
    table = backtest_mase(folds, "model (lstm)")
    assert list(table.columns) == [NETWORK, "seasonal naive", "naive"] and list(table.index) == ["A", "B"]
    assert table.loc["A", "seasonal naive"] == pytest.approx(0.85)
    # per series A would take seasonal naive and B the network; the run takes one method, on the
    # mean over A and B (0.925 against 1.0: 7.5 % lower, not enough)
    assert [choose(table.loc[[k]]) for k in table.index] == ["seasonal naive", NETWORK]
    assert choose(table) == NETWORK
    assert choose(table, margin=0.05) == "seasonal naive"


def _holdout(folds: pd.DataFrame, model: str = "model (lstm)") -> BacktestResult:
    order = list(dict.fromkeys(folds["method"]))
    table = folds.groupby("method", sort=False)[list(METRICS)].mean().reindex(order)
    recs = [{"series": s, "cutoff": 10, "origin": 0, "time": None, "actual": np.arange(3.0), "scale": 1.0,
             "model": np.tile(np.array([[0.0, 1.0, 2.0]]), (3, 1)), "nonneg": False,
             "baselines": {m: np.full(3, float(k)) for k, m in enumerate(order[1:], 5)}}
            for s in dict.fromkeys(folds["series"])]
    return BacktestResult(table, folds, recs, model_name=model, panel=panel_table(folds, model, order))


def test_the_holdout_scores_every_series_by_the_chosen_method():
    ho = _holdout(_folds([("A", 10, "model (lstm)", 1.0), ("A", 10, "naive", 0.4), ("A", 10, "drift", 3.0),
                          ("B", 10, "model (lstm)", 0.6), ("B", 10, "naive", 0.2), ("B", 10, "drift", 0.1)]))
    res = with_selected(ho, "drift")  # chosen elsewhere: not the holdout's best
    sel = res.folds[res.folds["method"] == SELECTED].set_index("series")["MASE"]
    assert sel.to_dict() == {"A": 3.0, "B": 0.1}
    assert list(res.table.index) == ["model (lstm)", "naive", "drift", SELECTED]
    assert res.table.loc[SELECTED, "MASE"] == pytest.approx(1.55)
    assert res.panel.loc[SELECTED, "MASE mean"] == pytest.approx(1.55)
    for r in res.forecasts:
        np.testing.assert_array_equal(r[SELECTED], np.full(3, 6.0))  # drift's forecast
        assert r["method"] == "drift"
    frame = res.to_frame()
    assert list(frame.columns[-2:]) == [SELECTED, "method"]
    assert len(ho.folds) == 6 and "selected" not in ho.to_frame().columns  # the input is left alone
    kept = with_selected(ho, NETWORK)
    assert kept.table.loc[SELECTED, "MASE"] == pytest.approx(0.8)
    for r in kept.forecasts:
        np.testing.assert_array_equal(r[SELECTED], np.ones(3))  # the network's median
        assert r["method"] == NETWORK


# -- conformal intervals from absolute errors -----------------------------------------------------
def test_residual_offsets_are_split_conformal_quantiles_of_the_absolute_errors():
    rng = np.random.default_rng(0)
    score = np.abs(rng.standard_normal((40, 3)))
    off, too_few = residual_offsets(score, [0.1, 0.5, 0.9])
    assert not too_few
    k = math.ceil(41 * 0.8)
    expect = np.sort(score, axis=0)[k - 1]
    np.testing.assert_allclose(off, [-expect, np.zeros(3), expect])
    inner, _ = residual_offsets(score, [0.25, 0.5, 0.75])  # each quantile at its own level |2 tau - 1|
    np.testing.assert_allclose(inner[2], np.sort(score, axis=0)[math.ceil(41 * 0.5) - 1])
    # three per step is too few for 80 %: every step's scores are pooled
    small = score[:3]
    off, too_few = residual_offsets(small, [0.1, 0.5, 0.9])
    assert not too_few
    np.testing.assert_allclose(off[2], np.sort(small.ravel())[math.ceil(10 * 0.8) - 1])
    # even the pool too small: the widest error, said
    off, too_few = residual_offsets(score[:1, :2], [0.1, 0.5, 0.9])
    assert too_few and off[2].tolist() == [score[0, :2].max()] * 2


def test_abs_scores_are_in_units_of_each_series_scale():
    s = abs_scores(np.array([[1.0, 4.0], [10.0, 10.0]]), np.array([[2.0, 2.0], [0.0, 30.0]]), np.array([2.0, 10.0]))
    np.testing.assert_allclose(s, [[0.5, 1.0], [1.0, 2.0]])
    assert np.isnan(abs_scores(np.ones((1, 2)), np.zeros((1, 2)), np.array([0.0]))).all()


# -- a run where seasonal naive wins the backtest and loses the holdout -----------------------------
def _seasonal_then_flat(n: int = 96) -> pd.DataFrame:
    """A pure seasonal pattern with a little noise, whose last season (the holdout) is flat:
    seasonal naive wins the backtest by far and naive the holdout."""
    t = np.arange(n)
    y = 100 + 20 * np.sin(2 * np.pi * t / SEASON) + 0.05 * np.random.default_rng(0).standard_normal(n)
    y[-H:] = y[-H - 1]
    return pd.DataFrame({"date": pd.date_range("2010-01-01", periods=n, freq="MS").strftime("%Y-%m-%d"), "y": y})


@pytest.fixture(scope="module")
def chosen(tmp_path_factory):
    d = tmp_path_factory.mktemp("select")
    _seasonal_then_flat().to_csv(d / "d.csv", index=False)
    out = io.StringIO()
    r = run.forecast(str(d / "d.csv"), target="y", time="date", horizon=H, folds=2, stats=False,
                     methods=["naive", "snaive", "drift"], plot=None, backtest_plot=None, out=out, select="backtest",
                     save=str(d / "m.safetensors"), out_csv=str(d / "o.csv"), holdout_csv=str(d / "h.csv"), **TINY)
    return r, out.getvalue(), d


def test_a_seasonal_baseline_that_wins_the_backtest_is_chosen_and_forecasts(chosen):
    r, text, d = chosen
    bt = r.backtest.table["MASE"]
    assert bt["seasonal naive"] < (1 - SELECT_MARGIN) * bt[r.backtest.model_name]
    assert r.selection.method == "seasonal naive" and r.selection.baseline == "seasonal naive"
    assert (f"Selection (--select backtest): seasonal naive, backtest MASE {bt['seasonal naive']:.3f} against the "
            f"network's {bt[r.backtest.model_name]:.3f}") in text
    assert "Forecast: the 12 steps after the data by seasonal naive, chosen on the backtest" in text
    y = prepare(str(d / "d.csv"), "y", "date")[0].target
    expected = baselines.seasonal_naive(y, H, SEASON)  # fitted on the full history
    np.testing.assert_array_equal(r.forecast["forecast"].to_numpy(), expected)
    np.testing.assert_array_equal(r.forecast["q0.5"].to_numpy(), expected)
    assert set(r.forecast["method"]) == {"seasonal naive"}


def test_the_chosen_baselines_interval_is_conformal_on_its_backtest_and_holdout_errors(chosen):
    r, _, d = chosen
    recs = r.backtest.forecasts + r.holdout.forecasts
    score = np.array([np.abs(x["actual"] - x["baselines"]["seasonal naive"]) / x["scale"] for x in recs])  # (3, 12)
    k = math.ceil((score.size + 1) * 0.8)  # 3 per step is too few for 80 %: the steps pooled
    q = np.sort(score.ravel())[k - 1]
    y = prepare(str(d / "d.csv"), "y", "date")[0].target
    width = q * mase_scale(y, SEASON)
    f = r.forecast["forecast"].to_numpy()
    np.testing.assert_allclose(r.forecast["q0.9"], f + width, rtol=1e-12)
    np.testing.assert_allclose(r.forecast["q0.1"], np.maximum(f - width, 0.0), rtol=1e-12)  # non-negative: clipped


def test_the_choice_reads_the_backtest_only_never_the_holdout(chosen):
    r, text, d = chosen
    ho = r.holdout.table["MASE"]
    # on the holdout naive is best and seasonal naive worst: a choice made there would differ
    assert ho["naive"] < ho["seasonal naive"] and ho["naive"] < ho[r.holdout.model_name]
    assert ho[SELECTED] == ho["seasonal naive"]
    assert f"\n{'selected':<16}" in text and f"holdout MASE: selected {ho[SELECTED]:.3f}" in text
    assert "does not beat the best baseline, naive" in text  # 'selected' is not a baseline
    per = pd.read_csv(d / "o.csv")
    assert set(per["method"]) == {"seasonal naive"}
    assert per["holdout MASE selected"].iloc[0] == pytest.approx(per["holdout MASE seasonal naive"].iloc[0])
    written = pd.read_csv(d / "h.csv")
    np.testing.assert_allclose(written["selected"], written["seasonal naive"])
    assert set(written["method"]) == {"seasonal naive"}


def test_save_load_and_predict_refit_the_chosen_baseline(chosen, cli):
    r, _, d = chosen
    g = Forecaster.load(str(d / "m.safetensors"))
    assert g.selection.method == "seasonal naive" and g.selection.margin == SELECT_MARGIN
    assert len(g.tails["y"]) == 96  # the whole history: the baseline is refitted on it
    pd.testing.assert_frame_equal(g.predict(), r.forecast)
    # new history: the first 84 values; the baseline refitted on them, the same conformal offsets
    df = _seasonal_then_flat()
    new = df.head(84)
    new.to_csv(d / "new.csv", index=False)
    got = g.predict(str(d / "new.csv"), target="y", time="date")
    y = prepare(str(d / "new.csv"), "y", "date")[0].target  # the values as read from the file
    point = baselines.seasonal_naive(y, H, SEASON)
    np.testing.assert_array_equal(got["forecast"], point)
    off = np.asarray(g.selection.offsets)
    np.testing.assert_allclose(got["q0.9"], point + off[2] * mase_scale(y, SEASON), rtol=1e-12)
    assert list(got["time"].dt.strftime("%Y-%m"))[:2] == ["2017-01", "2017-02"]
    # the command: the same forecast, and it says which method made it
    code, out, err = cli("forecast", "predict", "--model", d / "m.safetensors", "--data", d / "new.csv", "--target",
                         "y", "--time", "date", "--no-plot", "--out", d / "loaded.csv")
    assert code == 0, err
    assert "seasonal naive, chosen on the backtest, refitted on this history" in out
    loaded = pd.read_csv(d / "loaded.csv")
    assert list(loaded.columns) == ["series", "time", "forecast", "q0.1", "q0.5", "q0.9", "method"]
    np.testing.assert_allclose(loaded["forecast"], point, rtol=1e-12)


def test_fit_drops_a_loaded_selection(chosen, tmp_path):
    """A loaded file whose selection chose a baseline, fitted again on other data: the new network
    forecasts, not the old choice with its old offsets."""
    from dataclasses import replace

    _, _, d = chosen
    g = Forecaster.load(str(d / "m.safetensors"))
    assert g.selection is not None and g.selection.baseline == "seasonal naive"
    g.train_config = replace(g.train_config, epochs=1, threads=1, verbose=0)
    other = _seasonal_then_flat(84)
    other["y"] = other["y"] * 2
    g.fit(other, target="y", time="date")
    assert g.selection is None
    frame = g.predict()
    assert "method" not in frame.columns
    series = list(g.tails.values())
    np.testing.assert_array_equal(g.predict_array(series), g.predict_array(series, selected=False))


def test_a_run_that_keeps_the_network_calls_the_selected_interval_the_networks(tmp_path, monkeypatch):
    _seasonal_then_flat(72).to_csv(tmp_path / "d.csv", index=False)
    monkeypatch.setattr(run, "choose", lambda table: NETWORK)
    out = io.StringIO()
    r = run.forecast(str(tmp_path / "d.csv"), target="y", time="date", horizon=H, folds=2, stats=False,
                     methods=["naive"], plot=None, backtest_plot=None, out=out, select="backtest", **TINY)
    text = out.getvalue()
    assert r.selection.method == NETWORK
    assert "  selected (the network kept: the network's interval): covers " in text
    assert "a chosen baseline's interval" not in text


def test_a_panel_choice_names_every_series_it_forecasts_and_those_it_was_chosen_on():
    table = pd.DataFrame({NETWORK: [1.0, 1.2, 0.9, 1.1], "naive": [0.5, 0.6, 0.4, 0.5]}, index=list("ABCD"))
    line = describe("naive", table, panel=True, n_series=5)
    assert line.startswith("\nSelection (--select backtest): naive for all 5 series (chosen on the 4 the backtest "
                           "scored), mean backtest MASE 0.500 against the network's 1.050 over the 4 series")
    kept = describe(NETWORK, table.assign(naive=1.0), panel=True, n_series=5)
    assert kept.startswith("\nSelection (--select backtest): the network for all 5 series (chosen on the 4 the "
                           "backtest scored), mean backtest MASE 1.050 over the 4 series;")
    assert "for all 4 series (" not in describe("naive", table, panel=True, n_series=4)


def _edit_selection(src, dst, change):
    config, tensors = model_io.load_file(src)
    change(config)
    dst.write_bytes(model_io.model_bytes("forecaster", config, tensors))
    return dst


@pytest.mark.parametrize("name,change,expected", [
    ("unknown-method", lambda c: c["selection"].update(method="prophet"), "unknown method 'prophet'"),
    ("not-an-object", lambda c: c.update(selection=[1, 2]), "selection: expected an object"),
    ("bad-margin", lambda c: c["selection"].update(margin=1.5), "margin 1.5"),
    ("short-offsets", lambda c: c["selection"]["offsets"].pop(), "offsets of seasonal naive"),
    ("nan-offset", lambda c: c["selection"]["offsets"][0].__setitem__(0, float("nan")), "offsets of seasonal naive"),
    ("missing-offsets", lambda c: c["selection"].pop("offsets"), "offsets of seasonal naive"),
    ("other-select", lambda c: c["selection"].update(select="holdout"), "select 'holdout'"),
])
def test_a_malformed_selection_in_a_model_file_is_refused(chosen, cli, tmp_path, name, change, expected):
    _, _, d = chosen
    bad = _edit_selection(d / "m.safetensors", tmp_path / f"{name}.safetensors", change)
    with pytest.raises(ModelFileError, match="is not a valid seqlab forecaster"):
        Forecaster.load(str(bad))
    code, _, err = cli("forecast", "predict", "--model", bad, "--no-plot")
    assert_one_line_error(code, err, expected)


def test_a_file_without_the_selection_forecasts_with_the_network(chosen, tmp_path):
    _, _, d = chosen
    old = _edit_selection(d / "m.safetensors", tmp_path / "old.safetensors", lambda c: c.pop("selection"))
    g = Forecaster.load(str(old))
    assert g.selection is None
    f = Forecaster.load(str(d / "m.safetensors"))
    series = list(g.tails.values())
    np.testing.assert_array_equal(g.predict_array(series), f.predict_array(series, selected=False))
    assert "method" not in g.predict().columns


# -- the default, and bad values ------------------------------------------------------------------
def test_select_network_is_the_default_and_changes_nothing(tmp_path):
    _seasonal_then_flat().to_csv(tmp_path / "d.csv", index=False)
    texts, files = [], []
    for k, extra in enumerate(({}, {"select": "network"})):
        out = io.StringIO()
        r = run.forecast(str(tmp_path / "d.csv"), target="y", time="date", horizon=H, folds=1, stats=False,
                         methods=["naive", "snaive"], plot=None, backtest_plot=None, out=out,
                         save=str(tmp_path / f"m{k}.safetensors"), **TINY, **extra)
        texts.append("\n".join(x for x in out.getvalue().splitlines() if not x.startswith(("done in", "wrote"))))
        files.append((tmp_path / f"m{k}.safetensors").read_bytes())
        assert r.selection is None and r.forecaster.selection is None
        assert list(r.forecast.columns) == ["series", "time", "forecast", "q0.1", "q0.5", "q0.9"]
        assert SELECTED not in r.holdout.table.index
    assert texts[0] == texts[1] and files[0] == files[1]
    assert "selected" not in texts[0] and "Selection" not in texts[0] and "chosen on the backtest" not in texts[0]
    assert "selection" not in json.dumps(model_io.load_file(tmp_path / "m0.safetensors")[0])


def test_bad_select_values_are_refused_in_one_line(cli, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    code, _, err = cli("forecast", "--select", "holdout", "--epochs", "1")
    assert_one_line_error(code, err, "argument --select: invalid choice: 'holdout'")
    code, _, err = cli("forecast", "--select", "backtest", "--folds", "0", "--epochs", "1")
    assert_one_line_error(code, err, "--select backtest: chooses the method on the backtest, but --folds 0")
    code, _, err = cli("forecast", "predict", "--model", tmp_path / "m.safetensors", "--select", "backtest")
    assert_one_line_error(code, err, "unrecognized arguments: --select backtest")  # the saved choice is kept
    assert list(tmp_path.iterdir()) == []
    with pytest.raises(SeqlabError, match=r"--select: expected network .* or backtest .*, got 'holdout'"):
        run.forecast(select="holdout", plot=None, backtest_plot=None)


# -- panels and non-negative series ---------------------------------------------------------------
def test_a_panel_gets_one_method_though_each_series_own_backtest_would_differ(tmp_path):
    # three seasonal series whose last season is flat, and a straight line: per series, seasonal
    # naive would win the backtest of the first three and drift the line's; the run takes one
    # method, seasonal naive, on the mean over the four, for all four
    frames = []
    for k in range(3):
        d = _seasonal_then_flat(60).assign(id=f"S{k}")
        d["y"] = d["y"] * (k + 1)
        frames.append(d)
    t = np.arange(60)
    frames.append(frames[0].assign(id="line", y=50 + 2.0 * t + 0.05 * np.random.default_rng(1).standard_normal(60)))
    pd.concat(frames).to_csv(tmp_path / "p.csv", index=False)
    out = io.StringIO()
    r = run.forecast(str(tmp_path / "p.csv"), target="y", time="date", series_id="id", horizon=H, folds=2,
                     stats=False, methods=["naive", "snaive", "drift"], plot=None, backtest_plot=None, out=out,
                     select="backtest", out_csv=str(tmp_path / "o.csv"), holdout_csv=str(tmp_path / "h.csv"), **TINY)
    text = out.getvalue()
    table = backtest_mase(r.backtest.folds, r.backtest.model_name)
    own = {k: choose(table.loc[[k]]) for k in table.index}
    assert own == {"S0": "seasonal naive", "S1": "seasonal naive", "S2": "seasonal naive", "line": "drift"}
    assert r.selection.method == choose(table) == "seasonal naive"
    c = next(x for x in compare(table) if x.method == "seasonal naive")
    assert (f"Selection (--select backtest): seasonal naive for all 4 series, mean backtest MASE {c.mase:.3f} "
            f"against the network's {c.network:.3f} over the 4 series (a baseline is chosen when its mean backtest "
            "MASE is more than 10% below the network's)") in text
    # the backtest only: on the holdout (flat last seasons) naive would have been chosen
    assert choose(backtest_mase(r.holdout.folds, r.holdout.model_name)) == "naive"
    sel = r.holdout.folds[r.holdout.folds["method"] == SELECTED].set_index("series")["MASE"]
    snaive = r.holdout.folds[r.holdout.folds["method"] == "seasonal naive"].set_index("series")["MASE"]
    pd.testing.assert_series_equal(sel, snaive, check_names=False)
    assert f"holdout mean MASE: selected {r.holdout.panel.loc[SELECTED, 'MASE mean']:.3f} (seasonal naive, " in text
    assert "Forecast: the 12 steps after the data by seasonal naive, chosen on the backtest" in text
    per = pd.read_csv(tmp_path / "o.csv")
    assert set(per["method"]) == {"seasonal naive"} and set(per["series"]) == set(own)
    assert set(pd.read_csv(tmp_path / "h.csv")["method"]) == {"seasonal naive"}
    for s in prepare(str(tmp_path / "p.csv"), "y", "date", series_id="id"):
        got = r.forecast[r.forecast["series"] == s.name]["forecast"].to_numpy()
        np.testing.assert_array_equal(got, baselines.seasonal_naive(s.target, H, SEASON))  # the line's too


def test_a_panel_that_keeps_the_network_says_so(tmp_path):
    table = pd.DataFrame({NETWORK: [1.0, 3.0, math.nan], "naive": [0.5, 3.1, 0.2]}, index=["A", "B", "C"])
    line = describe(NETWORK, table, panel=True)
    assert line == ("\nSelection (--select backtest): the network for all 3 series, mean backtest MASE 2.000 over "
                    "the 2 of 3 series both scored; the best baseline, naive 1.800, is not more than 10% below the "
                    "network's")
    one = describe("naive", pd.DataFrame({NETWORK: [1.0], "naive": [0.5]}, index=["y"]), panel=False)
    assert one == ("\nSelection (--select backtest): naive, backtest MASE 0.500 against the network's 1.000 (a "
                   "baseline is chosen when its backtest MASE is more than 10% below the network's)")


def test_a_file_whose_selection_kept_the_network_forecasts_with_it(chosen, tmp_path):
    _, _, d = chosen
    kept = _edit_selection(d / "m.safetensors", tmp_path / "kept.safetensors",
                           lambda c: c.update(selection={"select": "backtest", "margin": 0.1, "method": NETWORK}))
    g = Forecaster.load(str(kept))
    assert g.selection.method == NETWORK and g.selection.baseline is None
    series = list(g.tails.values())
    np.testing.assert_array_equal(g.predict_array(series), g.predict_array(series, selected=False))
    assert set(g.predict()["method"]) == {NETWORK}


def test_a_chosen_baseline_on_non_negative_data_is_clipped_at_zero():
    rng = np.random.default_rng(1)
    y = rng.poisson(0.5, 48) * 3.0  # counts, mostly zeros
    df = pd.DataFrame({"date": pd.date_range("2010-01-01", periods=48, freq="MS"), "y": y})
    f = Forecaster(horizon=6, **TINY).fit(df, target="y", time="date")
    f.selection = Selection("naive", [[-5.0] * 6, [0.0] * 6, [5.0] * 6])
    series = list(f.tails.values())
    raw = f.predict_array(series, clip=False)
    w = 5.0 * mase_scale(y, 12)
    np.testing.assert_allclose(raw[0, :, 0], y[-1] - w)
    assert (raw < 0).any()
    got = f.predict_array(series)
    np.testing.assert_array_equal(got, np.maximum(raw, 0.0))
    assert f.predict()["method"].tolist() == ["naive"] * 6
