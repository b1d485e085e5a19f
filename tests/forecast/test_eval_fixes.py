"""Fixes from the evaluation against statsforecast: forecasts of non-negative series clipped at 0,
AutoARIMA left out of the default baselines for long seasons, the verdict against the best
baseline, and the holdout's forecasts in ``--holdout-out``."""

import io

import numpy as np
import pandas as pd
import pytest

from seqlab.forecast import Forecaster, baselines, run
from seqlab.forecast.baselines import select
from seqlab.forecast.data import prepare
from seqlab.forecast.scalers import TargetTransform

FAST = dict(epochs=1, ensemble=1, hidden=4, threads=1, verbose=0)


def _intermittent(n: int = 60, seed: int = 0, shift: float = 0.0) -> pd.DataFrame:
    """Monthly counts, mostly zeros with spikes (PBS-like); ``shift`` moves them (below 0)."""
    rng = np.random.default_rng(seed)
    y = rng.poisson(0.4, n) * rng.integers(1, 20, n) + shift
    return pd.DataFrame({"date": pd.date_range("2010-01-01", periods=n, freq="MS").strftime("%Y-%m-%d"), "y": y})


# -- 1. non-negative data: no negative forecast or bound ------------------------------------------
def test_transform_records_non_negative_training_values_and_keeps_it_saved():
    y = np.array([0.0, 1.0, 0.0, 3.0])
    tt = TargetTransform(False, 0).fit(y)
    assert tt.nonneg and TargetTransform.from_dict(tt.to_dict()).nonneg
    assert not TargetTransform(False, 0).fit(y - 1).nonneg
    old = {k: v for k, v in tt.to_dict().items() if k != "nonneg"}  # a file saved before: logs are positive
    assert not TargetTransform.from_dict({**old, "log": False}).nonneg
    assert TargetTransform.from_dict({**old, "log": True}).nonneg


def test_library_forecasts_of_non_negative_data_are_clipped_at_zero(tmp_path):
    df = _intermittent()
    f = Forecaster(horizon=6, model="rnn", **FAST).fit(df, target="y", time="date")
    f.calibrate([3.0] * 6)  # a wide interval: its lower bound goes far below 0 before clipping
    series = list(f.tails.values())
    raw = f.predict_array(series, clip=False)
    assert (raw < 0).any()  # the case the clipping is for
    clipped = f.predict_array(series)
    assert (clipped >= 0).all() and f.clipped == int((raw < 0).sum())
    np.testing.assert_array_equal(clipped, np.maximum(raw, 0))
    frame = f.predict()
    assert (frame[["forecast", "q0.1", "q0.5", "q0.9"]].to_numpy() >= 0).all()
    f.save(str(tmp_path / "m.safetensors"))
    g = Forecaster.load(str(tmp_path / "m.safetensors"))
    assert (g.predict_array(series) >= 0).all()


def test_library_forecasts_of_data_with_negatives_are_unchanged():
    df = _intermittent(shift=-3.0)
    f = Forecaster(horizon=6, model="rnn", **FAST).fit(df, target="y", time="date")
    f.calibrate([3.0] * 6)
    series = list(f.tails.values())
    raw = f.predict_array(series, clip=False)
    assert (raw < 0).any()
    np.testing.assert_array_equal(f.predict_array(series), raw)
    assert f.clipped == 0


def _run(df, tmp_path, **kw):
    path = tmp_path / "d.csv"
    df.to_csv(path, index=False)
    out = io.StringIO()
    r = run.forecast(str(path), target="y", time="date", horizon=6, folds=2, stats=False,
                     methods=["naive", "snaive", "drift"], plot=None, backtest_plot=None, model="rnn", out=out,
                     **FAST, **kw)
    return r, out.getvalue()


def test_command_gives_no_negative_forecast_or_bound_on_non_negative_data(tmp_path):
    r, text = _run(_intermittent(), tmp_path)
    for res in (r.backtest, r.holdout):
        for rec in res.forecasts:
            assert rec["nonneg"] and (rec["model"] >= 0).all()
    assert (r.forecast[["forecast", "q0.1", "q0.5", "q0.9"]].to_numpy() >= 0).all()
    # the calibrated holdout interval (as the report computes it) stays >= 0 too
    q = run._conformal(r.backtest, None, 0.2)
    if q is not None:
        from seqlab.forecast.conformal import widen

        for rec in r.holdout.forecasts:
            assert (run._clip_rec(rec, widen(rec["model"][None], q, 1)[0]) >= 0).all()
    clipped = r.backtest.clipped + r.holdout.clipped + r.forecaster.clipped
    assert clipped > 0  # the network's lower quantile on mostly-zero counts goes below 0
    assert "were clipped at 0: every training value of their series is >= 0" in text


def test_command_leaves_data_with_negatives_alone(tmp_path):
    r, text = _run(_intermittent(shift=-3.0), tmp_path)
    assert r.backtest.clipped == r.holdout.clipped == r.forecaster.clipped == 0
    assert not any(rec["nonneg"] for rec in r.backtest.forecasts + r.holdout.forecasts)
    assert "clipped at 0" not in text
    assert (r.forecast["q0.1"] < 0).any()  # negative forecasts are kept on such data


# -- 2. AutoARIMA out of the default set for a long season ----------------------------------------
def test_arima_leaves_the_default_set_for_a_season_of_52_with_a_note():
    if not baselines.stat_names():
        pytest.skip("neither statsforecast nor statsmodels is installed")
    names = baselines.stat_names()
    notes: list[str] = []
    chosen = select(None, n_series=1, notes=notes, season=52, length=520)
    assert names["arima"] not in chosen
    assert {names["ets"], names["theta"], "naive", "seasonal naive", "drift"} <= set(chosen)
    assert notes == [f"{names['arima']} is left out of the default baselines for a season of 52 steps (more than 24) "
                     "(the slowest baseline to fit); --baselines naive,snaive,drift,ets,arima,theta adds it"]
    notes.clear()
    assert names["arima"] in select(None, n_series=1, notes=notes, season=24, length=500) and not notes
    assert names["arima"] not in select(None, n_series=1, notes=notes, season=12,
                                        length=baselines.ARIMA_DEFAULT_MAX_LENGTH + 1)
    assert names["arima"] in select(["arima"], season=52, length=520)  # asked for by name: kept


def test_backtest_passes_the_season_and_length_to_the_baseline_choice(monkeypatch, tmp_path):
    from seqlab.forecast import backtesting

    seen = {}

    def fake_select(names, include_stats=True, **kw):
        seen.update(kw)
        return {"naive": baselines.naive}

    monkeypatch.setattr(backtesting, "select", fake_select)
    y = 10 + np.sin(2 * np.pi * np.arange(130) / 52)
    df = pd.DataFrame({"y": y})
    backtesting.backtest(df, Forecaster(horizon=4, model="rnn", season=52, **FAST).config, folds=1,
                         train=Forecaster(**FAST).train_config, target="y")
    assert seen["season"] == 52 and seen["length"] == 130 and seen["n_series"] == 1


# -- 3. the verdict names the best baseline -------------------------------------------------------
def test_best_baseline_is_the_lowest_mase_but_the_model():
    mase = pd.Series({"model (lstm)": 0.766, "seasonal naive": 1.2, "AutoETS": 3.102, "AutoARIMA": 0.338,
                      "AutoTheta": float("nan")})
    assert run.best_baseline(mase, "model (lstm)") == ("AutoARIMA", 0.338)
    assert run.best_baseline(pd.Series({"model": 1.0}), "model") is None


def test_the_verdict_compares_with_the_best_baseline(tmp_path):
    r, text = _run(_intermittent(shift=5.0), tmp_path)
    table = r.holdout.table["MASE"]
    model = float(table.loc[r.holdout.model_name])
    name = table.drop(r.holdout.model_name).astype(float).idxmin()
    best = float(table.loc[name])
    verdict = "beats" if model < best else "does not beat"
    assert f"holdout MASE: model {model:.3f} {verdict} the best baseline, {name} {best:.3f}" in text
    assert f"holdout MASE: model {model:.3f} " in text and "seasonal naive" in text  # the earlier line stays


# -- 4. the holdout's forecasts in --holdout-out --------------------------------------------------
def test_holdout_out_holds_the_runs_holdout_forecasts(tmp_path, cli):
    r, _ = _run(_intermittent(shift=5.0), tmp_path, holdout_csv=str(tmp_path / "ho.csv"))
    assert str(tmp_path / "ho.csv") in r.written
    written = pd.read_csv(tmp_path / "ho.csv")
    (rec,) = r.holdout.forecasts
    assert list(written.columns) == ["series", "origin", "cutoff", "step", "time", "actual", "forecast", "q0.1",
                                     "q0.5", "q0.9", "naive", "seasonal naive", "drift"]
    assert set(written["origin"]) == {"holdout"} and len(written) == 6
    np.testing.assert_allclose(written[["q0.1", "q0.5", "q0.9"]].to_numpy(), rec["model"], rtol=1e-12)
    np.testing.assert_allclose(written["actual"].to_numpy(), rec["actual"], rtol=1e-12)
    np.testing.assert_allclose(written["naive"].to_numpy(), rec["baselines"]["naive"], rtol=1e-12)
    dates = pd.date_range("2010-01-01", periods=60, freq="MS")
    assert list(written["time"]) == [d.strftime("%Y-%m-%d") for d in dates[-6:]]
    # the holdout's model MASE in the table is the one of these values
    from seqlab.forecast.metrics import all_metrics

    head = prepare(str(tmp_path / "d.csv"), "y", "date")[0].target[:-6]
    m = all_metrics(rec["actual"], written["forecast"].to_numpy(), head, r.holdout.config.season)["MASE"]
    assert m == pytest.approx(float(r.holdout.table.loc[r.holdout.model_name, "MASE"]), rel=1e-9)
    # and from the command line, with --folds 0 too
    code, _, err = cli("forecast", "--data", tmp_path / "d.csv", "--target", "y", "--time", "date", "--horizon", "6",
                       "--folds", "0", "--no-stats", "--epochs", "1", "--ensemble", "1", "--hidden", "4", "--quiet",
                       "--no-plot", "--holdout-out", tmp_path / "ho2.csv")
    assert code == 0, err
    assert len(pd.read_csv(tmp_path / "ho2.csv")) == 6
