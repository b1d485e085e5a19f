"""The 'mix': the hybrid and the rnn fitted on the same data, each with its own settings, their
quantile forecasts averaged; chosen by ``auto`` on long seasonal data, saved, loaded, updated,
calibrated and backtested as one forecaster."""

import numpy as np
import pandas as pd
import pytest

from seqlab.data import load_airline, make_panel
from seqlab.errors import ModelFileError, SeqlabError
from seqlab.forecast import Forecaster, backtest, prepare
from seqlab.forecast import forecaster as fmod
from seqlab.forecast.conformal import widen
from seqlab.forecast.task import ForecastTask
from seqlab.io import load_file, save_file

TINY = dict(horizon=4, hidden=5, epochs=3, ensemble=2, patience=5, verbose=0, seed=1, threads=1)


def monthly(n=90, seed=0):
    t = np.arange(n)
    y = 50 + 0.5 * t + 8 * np.sin(2 * np.pi * t / 12) + np.random.default_rng(seed).normal(0, 1, n)
    return pd.Series(y, index=pd.date_range("2000-01", periods=n, freq="MS"), name="sales")


def test_auto_takes_the_mix_on_long_seasonal_data_only():
    air = prepare(load_airline().iloc[:-12])
    f = Forecaster(horizon=12)
    f.config = f.resolve(air)
    assert f.config.model == "mix"
    hybrid, rnn = f.part_configs(air)
    assert (hybrid.model, hybrid.lookbacks, hybrid.diff, hybrid.scaling) == ("hybrid", [36], "none", "window")
    assert (rnn.model, rnn.lookbacks, rnn.diff, rnn.scaling) == ("rnn", [12], "seasonal", "series")
    assert f.lag == 12  # before fitting: the rnn part's seasonal difference
    # short series (the rnn would not difference them): the hybrid; no season: the rnn
    assert Forecaster(horizon=6).resolve(prepare(make_panel(20, 12, 30, seed=0), "y", "date", series_id="id")).model == "hybrid"
    assert Forecaster(horizon=12, season=1).resolve(air).model == "rnn"
    # a setting only one kind takes picks that kind
    assert Forecaster(horizon=12, diff="first").resolve(air).model == "rnn"
    assert Forecaster(horizon=12, scaling="window").resolve(air).model == "hybrid"
    with pytest.raises(SeqlabError, match="the mix model forecasts the whole horizon at once"):
        Forecaster(model="mix", strategy="recursive")
    with pytest.raises(SeqlabError, match="model: expected one of auto, rnn, hybrid, mix"):
        Forecaster(model="ensemble")


def test_the_command_line_knows_the_same_models():
    from seqlab.forecast.cli import MODELS

    assert MODELS == fmod.MODELS


def test_the_mix_is_the_mean_of_its_kinds_fitted_alone():
    y = monthly(80)
    mix = Forecaster(**TINY, model="mix").fit(y)
    alone = [Forecaster(**TINY, model=k).fit(y) for k in ("hybrid", "rnn")]
    got = mix.predict_array(prepare(y))
    parts = [f.predict_array(prepare(y)) for f in alone]
    np.testing.assert_array_equal(got, (parts[0] + parts[1]) / 2)
    assert np.abs(parts[0] - parts[1]).max() > 0.1  # two different models, not one twice
    assert [p.config.model for p in mix.parts] == ["hybrid", "rnn"]
    assert mix.lag == 12 and len(mix.nets) == 4 and len(mix.history) == 4
    assert np.all(np.diff(got, axis=-1) >= 0)  # quantiles still in order
    with pytest.raises(SeqlabError, match="call it on each of its parts"):
        mix.window_inputs(prepare(y), 12)


def test_a_saved_mix_loads_updates_and_calibrates(tmp_path):
    y = monthly(90)
    f = Forecaster(**TINY, model="mix").fit(y.iloc[:80])
    path = tmp_path / "mix.safetensors"
    f.save(path)
    g = Forecaster.load(path)
    assert g.config == f.config and [p.config.model for p in g.parts] == ["hybrid", "rnn"]
    pd.testing.assert_frame_equal(f.predict(), g.predict())
    assert all(p.tails is g.tails for p in g.parts)  # one history, shared
    # update moves both parts: the forecast after 5 new values is the one from the longer history
    g.update(y.iloc[80:85].to_numpy())
    pd.testing.assert_frame_equal(g.predict(), f.predict(y.iloc[:85]))
    # conformal: the outer interval of the parts' mean is widened, and the calibration is saved
    hist = list(g.tails.values())
    raw = g.predict_array(hist, calibrated=False)
    q = np.array([0.1, 0.2, 0.3, 0.5])
    g.calibrate(q)
    np.testing.assert_allclose(g.predict_array(hist), widen(raw, q, g.mid), rtol=0, atol=1e-12)
    g.save(tmp_path / "cal.safetensors")
    np.testing.assert_array_equal(Forecaster.load(tmp_path / "cal.safetensors").predict_array(hist),
                                  g.predict_array(hist))


def test_a_mix_file_with_wrong_parts_is_refused(tmp_path):
    path = tmp_path / "mix.safetensors"
    Forecaster(**{**TINY, "epochs": 1, "ensemble": 1}, model="mix").fit(monthly(60)).save(path)
    cfg, tensors = load_file(path, "forecaster")
    one = dict(cfg, parts=cfg["parts"][:1])
    save_file(tmp_path / "one.safetensors", "forecaster", one, tensors)
    with pytest.raises(ModelFileError, match="a mix holds 2 parts"):
        Forecaster.load(tmp_path / "one.safetensors")
    swapped = dict(cfg, parts=cfg["parts"][::-1])
    moved = {("part1." + n[6:] if n.startswith("part0.") else "part0." + n[6:]): t for n, t in tensors.items()}
    save_file(tmp_path / "swapped.safetensors", "forecaster", swapped, moved)
    with pytest.raises(ModelFileError, match="part 0 is a 'rnn' forecaster, expected 'hybrid'"):
        Forecaster.load(tmp_path / "swapped.safetensors")
    nested = dict(cfg, parts=[dict(cfg), cfg["parts"][1]])  # a part that is a mix itself
    save_file(tmp_path / "nested.safetensors", "forecaster", nested, tensors)
    with pytest.raises(ModelFileError, match="part 0 is a 'mix' forecaster, expected 'hybrid'"):
        Forecaster.load(tmp_path / "nested.safetensors")


def test_a_mix_backtests_and_resumes_from_its_checkpoint(tmp_path, monkeypatch):
    y = monthly(84)
    c = Forecaster(**TINY, model="mix").config
    r = backtest(y, c, folds=2, include_stats=False, train=Forecaster(**TINY).train_config)
    assert r.table.index[0] == "model (mix)" and len(r.forecasts) == 2
    assert [p.config.model for p in r.forecaster.parts] == ["hybrid", "rnn"]
    # both parts checkpoint into one file; a resumed fit loads all four networks, trains none
    path = str(tmp_path / "mix.ckpt.safetensors")
    ref = Forecaster(**TINY, model="mix", checkpoint=path).fit(y)
    steps = []
    step = ForecastTask.training_step
    monkeypatch.setattr(ForecastTask, "training_step", lambda self, net, batch: steps.append(1) or step(self, net, batch))
    got = Forecaster(**TINY, model="mix", checkpoint=path, resume=True).fit(y)
    assert steps == []
    np.testing.assert_array_equal(got.predict_array(prepare(y)), ref.predict_array(prepare(y)))
