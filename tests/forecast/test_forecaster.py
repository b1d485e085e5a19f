"""The estimator: inputs, no leakage past the cut-off, quantiles, several series, save and load."""

import numpy as np
import pandas as pd
import pytest
import torch

from seqlab.errors import ModelFileError, SeqlabError
from seqlab.forecast import Forecaster, backtest, prepare
from seqlab.forecast.forecaster import infer_season
from seqlab.io import save_file

TINY = dict(horizon=4, lookback=8, hidden=6, epochs=3, ensemble=2, patience=5, verbose=0)


def seasonal(n=80, seed=0, level=50.0):
    t = np.arange(n)
    noise = np.random.default_rng(seed).normal(0, 1, n)
    return level + 0.5 * t + 8 * np.sin(2 * np.pi * t / 12) + noise


def monthly(y, start="2000-01"):
    return pd.Series(y, index=pd.date_range(start, periods=len(y), freq="MS"), name="sales")


def test_no_future_value_reaches_the_fit_or_the_forecast():
    y = seasonal()
    z = y.copy()
    z[60:] = z[60:] * 3 + 100  # perturb everything after the cut-off
    a = Forecaster(**TINY, season=12).fit(y[:60])
    b = Forecaster(**TINY, season=12).fit(z[:60])
    assert a.transforms["series"].to_dict() == b.transforms["series"].to_dict()
    np.testing.assert_array_equal(a.predict_array(prepare(y[:60])), b.predict_array(prepare(z[:60])))
    # the backtest at origin 60 sees the same inputs, scaler and forecasts for both series
    ra = backtest(y[:64], a.config, folds=1, include_stats=False, train=a.train_config)
    rb = backtest(np.concatenate([y[:60], z[60:64] * 0 + y[60:64]]), a.config, folds=1, include_stats=False,
                  train=a.train_config)
    np.testing.assert_array_equal(ra.forecasts[0]["model"], rb.forecasts[0]["model"])
    rc = backtest(np.concatenate([y[:60], z[60:64]]), a.config, folds=1, include_stats=False, train=a.train_config)
    np.testing.assert_array_equal(ra.forecasts[0]["model"], rc.forecasts[0]["model"])  # only the actuals differ
    assert not np.array_equal(ra.forecasts[0]["actual"], rc.forecasts[0]["actual"])


def test_same_seed_same_forecast_and_quantiles_ordered():
    s = monthly(seasonal())
    f1 = Forecaster(**TINY, quantiles=[0.9, 0.1]).fit(s)
    f2 = Forecaster(**TINY, quantiles=[0.9, 0.1]).fit(s)
    assert f1.config.quantiles == [0.1, 0.5, 0.9] and f1.config.season == 12  # 0.5 added, season from MS
    p1, p2 = f1.predict(), f2.predict()
    pd.testing.assert_frame_equal(p1, p2)
    assert list(p1.columns) == ["series", "time", "forecast", "q0.1", "q0.5", "q0.9"]
    assert np.all(p1["q0.1"] <= p1["q0.5"]) and np.all(p1["q0.5"] <= p1["q0.9"])
    assert p1["time"].iloc[0] == pd.Timestamp("2006-09-01")  # 80 months from 2000-01
    np.testing.assert_array_equal(p1["forecast"], p1["q0.5"])


@pytest.mark.parametrize("strategy,cell", [("direct", "gru"), ("recursive", "rnn"), ("recursive", "lstm")])
def test_strategies_and_cells_give_finite_forecasts(strategy, cell):
    f = Forecaster(**TINY, strategy=strategy, cell=cell, layers=2, season=12).fit(seasonal())
    p = f.predict_array(prepare(seasonal()))
    assert p.shape == (1, 4, 3) and np.all(np.isfinite(p))


def test_save_load_round_trip_and_new_history(tmp_path):
    y = seasonal(90)
    f = Forecaster(**TINY).fit(monthly(y[:70]))
    path = tmp_path / "f.safetensors"
    f.save(path)
    g = Forecaster.load(path)
    assert g.config == f.config
    pd.testing.assert_frame_equal(f.predict(), g.predict())  # from the saved history
    new = monthly(y[:85])  # new history: forecast without refitting
    pd.testing.assert_frame_equal(f.predict(new), g.predict(new))
    assert g.predict(new)["time"].iloc[0] == pd.Timestamp("2007-02-01")
    save_file(tmp_path / "other.safetensors", "classifier", {}, {"w": torch.zeros(1)})
    with pytest.raises(ModelFileError, match="expected a 'forecaster'"):
        Forecaster.load(tmp_path / "other.safetensors")


def test_the_hybrid_saved_with_a_shortened_history_keeps_its_seasonal_phase(tmp_path):
    """The saved tail of an undated series starts later than the series: its first step's place
    in the season goes with it (51 values, 6 kept: the tail starts 45 = 1 mod 4 steps later)."""
    y = seasonal(51)
    f = Forecaster(horizon=4, season=4, lookback=6, model="hybrid", **{k: v for k, v in TINY.items()
                                                                     if k not in ("horizon", "lookback")})
    f.fit(y)
    f.save(tmp_path / "h.safetensors")
    g = Forecaster.load(tmp_path / "h.safetensors")
    assert len(g.tails["series"]) == 6
    cols = ["forecast", "q0.1", "q0.9"]
    pd.testing.assert_frame_equal(f.predict()[cols], g.predict()[cols])


def test_several_series_with_covariates_from_a_long_table():
    rows = []
    for sid, level in [("a", 20.0), ("b", 500.0)]:
        y = seasonal(60, seed=int(level), level=level)
        rows.append(pd.DataFrame({"date": pd.date_range("2001-01", periods=60, freq="MS").strftime("%Y-%m-%d"),
                                  "store": sid, "units": y, "price": np.cos(np.arange(60))}))
    df = pd.concat(rows).sample(frac=1.0, random_state=0)  # shuffled rows: sorted by time per series
    f = Forecaster(**TINY).fit(df, target="units", time="date", covariates=["price"], series_id="store")
    # inputs: the target, the price, the month's sin and cos; decoder: the month's sin and cos
    assert sorted(f.transforms) == ["a", "b"] and f.nets[0].cfg.input_size == 4 and f.nets[0].cfg.dec_size == 2
    assert f.transforms["a"].scaler.shift != f.transforms["b"].scaler.shift  # one scaler per series
    out = f.predict()
    assert list(out["series"].unique()) == ["a", "b"] and len(out) == 8
    assert out[out.series == "b"]["forecast"].mean() > 5 * out[out.series == "a"]["forecast"].mean()
    with pytest.raises(SeqlabError, match="recursive"):
        Forecaster(**TINY, strategy="recursive").fit(df, target="units", time="date", covariates=["price"],
                                                     series_id="store")
    other = df[df.store == "a"].assign(store="zzz")
    with pytest.raises(SeqlabError, match="not seen in training"):
        f.predict(other, target="units", time="date", covariates=["price"], series_id="store")


def test_inputs_list_of_series_and_validation():
    f = Forecaster(**TINY, season=1).fit([seasonal(50), seasonal(60, seed=3)])
    assert list(f.transforms) == ["series", "series_1"]
    assert infer_season(prepare(monthly(seasonal()))) == 12
    assert infer_season(prepare(seasonal())) == 1
    Forecaster(**TINY).fit(seasonal(3))  # one input and one target are enough: padded, masked windows
    with pytest.raises(SeqlabError, match="no series is long enough to train on"):
        Forecaster(**TINY).fit(seasonal(1))
    with pytest.raises(SeqlabError, match="cell"):
        Forecaster(cell="transformer")
    with pytest.raises(SeqlabError, match="quantiles"):
        Forecaster(quantiles=[0.1, 1.5])
    with pytest.raises(SeqlabError, match="unknown setting"):
        Forecaster(hiden=3)
    with pytest.raises(SeqlabError, match="not fitted"):
        Forecaster().predict()


def test_backtest_origins_metrics_and_refit():
    y = seasonal(100)
    probe = Forecaster(**TINY, season=12)
    cfg, train = probe.config, probe.train_config
    r = backtest(y, cfg, folds=3, end_offset=5, include_stats=False, train=train)
    assert [f["cutoff"] for f in r.forecasts] == [83, 87, 91]  # last test block ends at 100 - 5
    for f in r.forecasts:
        np.testing.assert_array_equal(f["actual"], y[f["cutoff"] : f["cutoff"] + 4])
        np.testing.assert_array_equal(f["baselines"]["naive"], np.full(4, y[f["cutoff"] - 1]))
    assert list(r.table.index) == ["model (mix)", "naive", "seasonal naive", "drift"]
    naive_mae = np.mean([np.abs(y[c : c + 4] - y[c - 1]).mean() for c in (83, 87, 91)])
    assert r.table.loc["naive", "MAE"] == pytest.approx(naive_mae)
    r2 = backtest(y, cfg, folds=3, end_offset=5, refit=False, include_stats=False, train=train)
    np.testing.assert_array_equal(r2.forecasts[0]["model"], r.forecasts[0]["model"])
    assert len(r2.forecaster.tails["series"]) == 83  # fitted once, at the first origin
    assert len(r.forecaster.tails["series"]) == 91  # refitted up to the last origin
    assert not np.array_equal(r2.forecasts[2]["model"], r.forecasts[2]["model"])


def test_a_file_saved_before_the_training_engine_still_loads(tmp_path):
    from seqlab.io import load_file

    f = Forecaster(**TINY).fit(monthly(seasonal()))
    path = tmp_path / "f.safetensors"
    f.save(path)
    cfg, tensors = load_file(path, "forecaster")
    assert cfg["train"]["epochs"] == 3 and "epochs" not in cfg["forecast"]
    # the old layout: training settings among the forecast ones, no "train" part
    del cfg["train"]
    cfg["forecast"].update(epochs=7, lr=0.02, patience=4, clip=0.5, seed=3, threads=1, verbose=0)
    save_file(tmp_path / "old.safetensors", "forecaster", cfg, tensors)
    g = Forecaster.load(tmp_path / "old.safetensors")
    t = g.train_config
    assert (t.epochs, t.lr, t.patience, t.clipnorm, t.seed, t.monitor) == (7, 0.02, 4, 0.5, 3, "val_loss")
    assert g.config == f.config
    pd.testing.assert_frame_equal(g.predict(), f.predict())
