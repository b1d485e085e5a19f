"""Panels of short series: padded and masked windows, per-series scaling, the three kinds of
covariates, the hybrid's smoothing, leakage, and the per-series notes."""

import numpy as np
import pandas as pd
import pytest
import torch

from seqlab.errors import SeqlabError
from seqlab.forecast import Forecaster, prepare
from seqlab.forecast.features import StaticEncoder, calendar_features
from seqlab.forecast.model import CELLS, ForecastNet, HybridNet, NetConfig, rollout
from seqlab.forecast.scalers import TargetTransform
from seqlab.forecast.windows import padded_windows, window_level

FAST = dict(hidden=5, epochs=3, ensemble=1, patience=5, verbose=0, seed=0)


def long_table(lengths, seed=0, future=False, static=False, extra=0, start_end="2020-12-01"):
    """A long table of monthly series ending at ``start_end``, with a price (known ahead by
    ``extra`` rows past the last target when ``future``) and a region."""
    rng = np.random.default_rng(seed)
    rows = []
    for i, n in enumerate(lengths):
        dates = pd.date_range(end=pd.Timestamp(start_end), periods=n, freq="MS")
        if extra:
            dates = dates.append(pd.date_range(dates[-1], periods=extra + 1, freq="MS")[1:])
        t = np.arange(len(dates))
        level = 10.0 ** (1 + i % 3)  # magnitudes 10, 100, 1000 in one panel
        price = 1 + 0.1 * rng.standard_normal(len(dates))
        y = level * (1 + 0.02 * t) * (1 + 0.2 * np.sin(2 * np.pi * t / 12)) * (2 - price)
        y[n:] = np.nan
        frame = pd.DataFrame({"id": f"s{i}", "date": dates.strftime("%Y-%m-%d"), "y": y})
        if future:
            frame["price"] = price
        if static:
            frame["region"] = "north" if i % 2 else "south"
        rows.append(frame)
    return pd.concat(rows, ignore_index=True)


# -- windows ------------------------------------------------------------------------------------
def test_padded_windows_pad_right_mask_targets_and_take_decoder_rows():
    enc = np.arange(10, dtype=float)[:, None] * np.array([[1.0, -1.0]])  # (10, 2)
    dec = 100 + np.arange(14, dtype=float)[:, None]  # (14, 1): known 4 steps past the target
    X, lengths, Y, D = padded_windows(enc, enc[:, 0], np.array([1, 3, 8, 10]), lookback=4, horizon=3, dec=dec)
    assert lengths.tolist() == [1, 3, 4, 4]
    np.testing.assert_array_equal(X[0, :, 0], [0, 0, 0, 0])  # one value (0), then padding
    np.testing.assert_array_equal(X[1, :, 0], [0, 1, 2, 0])
    np.testing.assert_array_equal(X[2, :, 1], [-4, -5, -6, -7])
    np.testing.assert_array_equal(Y[2], [8, 9, np.nan])  # the step past the data is NaN: masked
    assert np.isnan(Y[3]).all()
    np.testing.assert_array_equal(D[3, :, 0], [110, 111, 112])
    # every target lies after every input of its window
    for i, o in enumerate([1, 3, 8, 10]):
        assert X[i, : lengths[i], 0].max() < o
    np.testing.assert_allclose(window_level(X[:, :, 0], lengths, 2), [0, 1.5, 6.5, 8.5])
    with pytest.raises(SeqlabError, match="origins"):
        padded_windows(enc, enc[:, 0], np.array([0]), 4, 3)


@pytest.mark.parametrize("cell", CELLS)
def test_a_padded_short_window_forecasts_as_the_same_window_unpadded(cell):
    torch.manual_seed(0)
    net = ForecastNet(NetConfig(cell, 3, 6, 2, 0.0, out_steps=4, n_quantiles=3, dec_size=2)).eval()
    short = torch.randn(1, 5, 3)
    padded = torch.cat([short, torch.randn(1, 7, 3) * 100], 1)  # padding garbage must not matter
    dec = torch.randn(1, 4, 2)
    with torch.no_grad():
        a = net(short, torch.tensor([5]), dec)
        b = net(padded, torch.tensor([5]), dec)
        c = net(short, None, dec)
    torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(a, c, rtol=1e-5, atol=1e-6)


def test_the_hybrid_on_a_padded_window_equals_it_unpadded_and_a_numpy_smoothing_loop():
    torch.manual_seed(1)
    cfg = NetConfig("gru", 2, 5, 1, 0.0, out_steps=3, n_quantiles=3, dec_size=0, kind="hybrid", season=4, n_series=2)
    net = HybridNet(cfg).eval()
    with torch.no_grad():
        net.es.copy_(torch.randn(2, 6))
    z = torch.randn(1, 6, 2)
    padded = torch.cat([z, torch.full((1, 3, 2), 50.0)], 1)
    args = (torch.tensor([1]), torch.tensor([3]))  # series 1, first step in phase 3 of 4
    with torch.no_grad():
        a = net(z, torch.tensor([6]), None, *args)
        b = net(padded, torch.tensor([6]), None, *args)
        level, s_in, seas = net.smooth(z[:, :, 0], torch.tensor([6]), *args)
    torch.testing.assert_close(a, b)
    # the same smoothing written plainly in NumPy
    p = net.es[1].detach().double().numpy()
    alpha, gamma = 1 / (1 + np.exp(-p[0])), 1 / (1 + np.exp(-p[1]))
    s = list(p[2:])
    y = z[0, :, 0].double().numpy()
    lv = None
    for j, v in enumerate(y):
        k = (3 + j) % 4
        lv = v - s[k] if lv is None else alpha * (v - s[k]) + (1 - alpha) * lv
        s[k] = gamma * (v - lv) + (1 - gamma) * s[k]
    assert float(level[0]) == pytest.approx(lv, rel=1e-5)
    np.testing.assert_allclose(seas[0].double().numpy(), s, rtol=1e-5, atol=1e-6)


def test_the_hybrid_level_penalty_is_the_mean_squared_second_difference_of_its_level_and_joins_the_loss():
    from seqlab.forecast.task import ForecastTask, pinball_loss

    torch.manual_seed(2)
    cfg = NetConfig("gru", 1, 4, 1, 0.0, out_steps=2, n_quantiles=3, kind="hybrid", season=3, n_series=2,
                    level_penalty=7.0)
    net = HybridNet(cfg).train()
    with torch.no_grad():
        net.es.copy_(torch.randn(2, 5))
    z, lengths = torch.randn(2, 6, 1), torch.tensor([6, 4])  # the second window padded after 4 steps
    series, phase = torch.tensor([0, 1]), torch.tensor([2, 0])
    out = net(z, lengths, None, series, phase)
    squares = []  # the levels of each window's valid steps, smoothed plainly in NumPy
    for b in range(2):
        p = net.es[int(series[b])].detach().double().numpy()
        alpha, gamma = 1 / (1 + np.exp(-p[0])), 1 / (1 + np.exp(-p[1]))
        s, lv, levels = list(p[2:]), None, []
        for j in range(int(lengths[b])):
            k, v = (int(phase[b]) + j) % 3, float(z[b, j, 0])
            lv = v - s[k] if lv is None else alpha * (v - s[k]) + (1 - alpha) * lv
            s[k] = gamma * (v - lv) + (1 - gamma) * s[k]
            levels.append(lv)
        squares += list(np.diff(levels, 2) ** 2)
    assert float(net.penalty.detach()) == pytest.approx(7.0 * np.mean(squares), rel=1e-4)
    # the training loss is the pinball loss plus the penalty; validation and inference leave it out
    y = torch.randn(2, 2)
    task = ForecastTask(net, (z.numpy(), lengths.numpy(), np.zeros((2, 2, 0)), series.numpy(), phase.numpy()),
                        y.numpy(), np.zeros((0, 6, 1)), np.zeros((0, 2)), [0.1, 0.5, 0.9])
    loss, _ = task.training_step(net, ((z, lengths, torch.zeros(2, 2, 0), series, phase), y, 2))
    q = torch.tensor([0.1, 0.5, 0.9])
    assert float(loss.detach()) == pytest.approx(float(pinball_loss(out, y, q).detach()) + 7.0 * np.mean(squares), rel=1e-4)
    net.eval()
    net(z, lengths, None, series, phase)
    assert net.penalty is None


def test_recursive_rollout_grows_a_short_window_then_slides():
    torch.manual_seed(2)
    net = ForecastNet(NetConfig("gru", 2, 4, 1, 0.0, out_steps=1, n_quantiles=3, dec_size=1)).eval()
    x = torch.zeros(1, 3, 2)
    x[0, :2] = torch.randn(2, 2)
    ahead, dec = torch.randn(1, 3, 2), torch.randn(1, 3, 1)
    with torch.no_grad():
        out = rollout(net, x, 3, 1, torch.tensor([2]), ahead, dec)
        s1 = net(x[:, :2], None, dec[:, :1])
        x2 = torch.cat([x[:, :2], torch.stack([s1[0, 0, 1], ahead[0, 0, 1]]).view(1, 1, 2)], 1)  # grows to 3
        s2 = net(x2, None, dec[:, 1:2])
        x3 = torch.cat([x2[:, 1:], torch.stack([s2[0, 0, 1], ahead[0, 1, 1]]).view(1, 1, 2)], 1)  # slides
        s3 = net(x3, None, dec[:, 2:3])
    torch.testing.assert_close(out, torch.cat([s1, s2, s3], 1), rtol=1e-5, atol=1e-6)


# -- scaling --------------------------------------------------------------------------------------
@pytest.mark.parametrize("log,lag", [(True, 0), (False, 0), (True, 1), (True, 12), (False, 12)])
def test_per_series_scaling_round_trips(log, lag):
    rng = np.random.default_rng(lag)
    y = 50 + np.cumsum(rng.uniform(0, 3, 40))
    tt = TargetTransform(log, lag).fit(y[:30])
    u = tt.transform(y)
    # the known future values, transformed and inverted from the history up to 30, come back
    back = tt.inverse(np.repeat(u[30 - lag:, None], 3, 1), y[:30], mid=1)
    np.testing.assert_allclose(back[:, 1], y[30:], rtol=1e-10)


def test_window_scaling_round_trips_through_the_forecaster():
    df = long_table([30, 9, 50])
    f = Forecaster(horizon=4, model="rnn", **FAST).fit(df, target="y", time="date", series_id="id")
    assert f.config.scaling == "window" and f.config.diff == "none"  # short series: no seasonal difference
    for s in prepare(df, "y", "date", series_id="id"):
        tt = f.transforms[s.name]
        origins = np.arange(1, len(s) - 4 + 1)
        (X, lengths, D), Y, level = f._window_inputs(s, s.name, 12, origins, 4)
        # each window is relative to its own level: the mean of its last min(length, 12) values
        v = tt.transform(s.target)
        for i, o in enumerate(origins):
            lo = max(0, o - 12)
            assert level[i] == pytest.approx(v[lo:o][-12:].mean())
            np.testing.assert_allclose(Y[i] + level[i], v[o:o + 4])
            np.testing.assert_allclose(tt.inverse(np.repeat((Y[i] + level[i])[:, None], 3, 1), s.target[:o], 1)[:, 1],
                                       s.target[o:o + 4], rtol=1e-9)


# -- features ----------------------------------------------------------------------------------
def test_calendar_features_are_cyclic_month_quarter_weekday():
    months = pd.date_range("2021-01-01", periods=13, freq="MS")
    cal = calendar_features(months, "MS")
    assert cal.shape == (13, 2)
    np.testing.assert_allclose(cal[0], [0, 1], atol=1e-12)  # January
    np.testing.assert_allclose(cal[12], cal[0])  # a year later, the same
    np.testing.assert_allclose(cal[3], [1, 0], atol=1e-12)  # April: a quarter of the way round
    assert calendar_features(pd.date_range("2021-01-04", periods=7, freq="D"), "D").shape == (7, 4)
    assert calendar_features(pd.date_range("2021-01-01", periods=3, freq="YS"), "YS").shape == (3, 0)
    assert calendar_features(None, None).shape == (0, 0)


def test_static_encoder_one_hot_categories_standardized_numbers():
    enc = StaticEncoder().fit([{"region": "n", "size": 1.0}, {"region": "s", "size": 3.0}])
    np.testing.assert_allclose(enc.transform({"region": "s", "size": 3.0}), [0, 1, 1])
    np.testing.assert_allclose(enc.transform({"region": "x", "size": 1.0}), [0, 0, -1])
    back = StaticEncoder.from_dict(enc.to_dict())
    np.testing.assert_allclose(back.transform({"region": "n", "size": 2.0}), [1, 0, 0])


# -- covariates and leakage -----------------------------------------------------------------------
def test_no_future_target_reaches_any_input_or_scaler_with_future_covariates():
    df = long_table([40, 14, 60], future=True, static=True, extra=4)
    cut = 30  # per series: the history up to its 30th value (or all of a shorter one)
    kw = dict(target="y", time="date", series_id="id", future_covariates=["price"], static_covariates=["region"])
    heads = [s.head(min(cut, len(s))) for s in prepare(df, **kw)]
    changed = df.copy()
    for sid, g in changed.groupby("id"):
        after = g.index[min(cut, g["y"].notna().sum()):]
        changed.loc[after, "y"] = changed.loc[after, "y"] * 5 + 1000  # every later target value
    heads2 = [s.head(min(cut, len(s))) for s in prepare(changed, **kw)]
    a = Forecaster(horizon=4, **FAST).fit(heads)
    b = Forecaster(horizon=4, **FAST).fit(heads2)
    for n in a.transforms:
        assert a.transforms[n].to_dict() == b.transforms[n].to_dict()
        assert a.fut_scalers[n] == b.fut_scalers[n]
    for p, q in zip(a.nets[0].parameters(), b.nets[0].parameters()):
        assert torch.equal(p, q)
    np.testing.assert_array_equal(a.predict_array(heads), b.predict_array(heads2))
    # the price of the forecast steps is an input: changing it changes the forecast
    later = [s.head(len(s.target)) for s in heads]
    for s in later:
        s.future = s.future.copy()
        s.future[len(s): len(s) + 4] += 3.0
    assert not np.allclose(a.predict_array(later), a.predict_array(heads))
    assert a.nets[0].cfg.input_size == 1 + 1 + 2 + 2 and a.nets[0].cfg.dec_size == 1 + 2  # y, price, month, region


@pytest.mark.parametrize("strategy", ["direct", "recursive"])
def test_both_strategies_forecast_a_panel_with_future_and_static_covariates(strategy, tmp_path):
    df = long_table([36, 5, 24], future=True, static=True, extra=6)
    kw = dict(target="y", time="date", series_id="id", future_covariates=["price"], static_covariates=["region"])
    f = Forecaster(horizon=6, strategy=strategy, **FAST).fit(df, **kw)
    out = f.predict()
    assert len(out) == 18 and np.isfinite(out.filter(like="q").to_numpy()).all()
    assert out["time"].iloc[0] == pd.Timestamp("2021-01-01")
    f.save(tmp_path / "f.safetensors")
    g = Forecaster.load(tmp_path / "f.safetensors")
    pd.testing.assert_frame_equal(f.predict(), g.predict())  # the future prices saved with the tails


def test_the_hybrid_trains_on_a_panel_and_saves():
    df = long_table([40, 3, 20, 60])
    f = Forecaster(horizon=6, model="hybrid", **FAST).fit(df, target="y", time="date", series_id="id")
    p = f.predict()
    assert len(p) == 24 and np.isfinite(p["forecast"]).all()
    assert f.nets[0].es.shape == (4, 2 + 12)
    with pytest.raises(SeqlabError, match="hybrid"):
        Forecaster(model="hybrid", strategy="recursive")


def test_short_series_train_with_notes_and_a_one_value_series_is_forecast():
    df = long_table([40, 2, 1, 7])
    f = Forecaster(horizon=3, **FAST).fit(df, target="y", time="date", series_id="id")
    assert any("s2" in n and "too few to train on" in n for n in f.notes)
    out = f.predict()
    assert sorted(out["series"].unique()) == ["s0", "s1", "s2", "s3"]  # every series forecast
    assert np.isfinite(out["forecast"]).all()


def test_auto_picks_the_mix_or_hybrid_on_seasonal_data_and_the_rnn_on_long_non_seasonal_series_and_big_panels():
    table = long_table([60, 50])
    probe = Forecaster(horizon=6)
    long = probe.resolve(prepare(table, "y", "date", series_id="id"))
    # monthly, every series long enough for the rnn (12 + 12 + 6 + 6 <= 50): the mix of the hybrid,
    # three seasons of lookback where every series holds them (36 + 6 + 6 <= 50), and the rnn
    assert long.model == "mix"
    hybrid, rnn = probe.part_configs(prepare(table, "y", "date", series_id="id"))
    assert (hybrid.model, hybrid.scaling, hybrid.diff, hybrid.lookback) == ("hybrid", "window", "none", 36)
    assert (rnn.model, rnn.scaling, rnn.diff, rnn.lookback) == ("rnn", "series", "seasonal", 12)
    short = Forecaster(horizon=6).resolve(prepare(long_table([60, 20]), "y", "date", series_id="id"))
    assert (short.model, short.scaling, short.diff, short.lookback) == ("hybrid", "window", "none", 12)
    # more than 4,096 windows (100 x 54): the rnn, faster per window, where every series is long
    big = Forecaster(horizon=6).resolve(prepare(long_table([60] * 100), "y", "date", series_id="id"))
    assert (big.model, big.scaling, big.diff, big.lookback) == ("rnn", "series", "seasonal", 12)
    rnn = Forecaster(horizon=6, model="rnn").resolve(prepare(table, "y", "date", series_id="id"))
    assert (rnn.model, rnn.scaling, rnn.diff, rnn.lookback) == ("rnn", "series", "seasonal", 12)
    plain = [np.sin(np.arange(60) / 3.0) + 2, np.cos(np.arange(50) / 3.0) + 2]  # no dates: not seasonal
    flat = Forecaster(horizon=6).resolve(prepare(plain))
    assert (flat.model, flat.scaling, flat.diff, flat.lookback) == ("rnn", "series", "first", 12)
    rec = Forecaster(horizon=6, strategy="recursive").resolve(prepare(long_table([20]), "y", "date", series_id="id"))
    assert rec.model == "rnn"


@pytest.mark.parametrize("strategy", ["direct", "recursive"])
def test_short_non_seasonal_series_take_the_rnn_on_first_differences(strategy):
    """No season, series too short for the per-series scaler's rule: the rnn on first differences,
    each window scaled by its level (bench_forecast_choice fertility: backtest MASE 1.51 against
    the hybrid's 3.14); a series of fewer than 3 values cannot be differenced and still train,
    so such a panel keeps the hybrid."""
    rng = np.random.default_rng(3)
    panel = [np.cumsum(rng.normal(0.5, 1.0, n)) + 50 for n in (30, 12, 3)]
    c = Forecaster(horizon=4, season=1, strategy=strategy).resolve(prepare(panel))
    assert (c.model, c.scaling, c.diff, c.lookback) == ("rnn", "window", "first", 8)
    f = Forecaster(horizon=4, season=1, strategy=strategy, transform="none", **FAST).fit(panel)
    p = f.predict_array(prepare(panel))
    assert p.shape == (3, 4, 3) and np.isfinite(p).all() and f.lag == 1
    # the forecast follows a series' last value: shifting a whole series shifts its forecast (the
    # network reads differences, and the forecast adds them to the last value)
    moved = f.predict_array(prepare([panel[0] + 100.0, panel[1], panel[2]]))
    np.testing.assert_allclose(moved[0], p[0] + 100.0, rtol=0, atol=1e-6)
    assert Forecaster(horizon=4, season=1).resolve(prepare(panel[:2] + [panel[2][:2]])).model == "hybrid"


def test_ensembles_over_lookbacks_and_seeds():
    df = long_table([50, 30])
    f = Forecaster(horizon=3, lookbacks=[6, 12], model="hybrid", **{**FAST, "ensemble": 2})
    f.fit(df, target="y", time="date", series_id="id")
    assert f.member_lookbacks == [6, 6, 12, 12] and len(f.nets) == 4


def test_a_numeric_time_column_continues_with_its_own_step():
    # the forecast's labels go on from the last value by the column's step (years, step 10 ...)
    y = 100 + np.arange(40) + 5 * np.sin(np.arange(40))
    for t, want in ((1990 + np.arange(40), [2030, 2031, 2032]), (np.arange(40) * 10, [400, 410, 420]),
                    (0.5 * np.arange(40), [20.0, 20.5, 21.0])):
        (s,) = prepare(pd.DataFrame({"t": t, "y": y}), target="y", time="t")
        got = s.future_time(3)
        assert list(got) == want and got.dtype.kind == np.asarray(want).dtype.kind
    with pytest.raises(SeqlabError, match=r"numeric time steps are not regular \(0, 10, \.\.\. then 90 to 95\)"):
        prepare(pd.DataFrame({"t": np.r_[np.arange(10) * 10, 95 + np.arange(30) * 10], "y": y}), target="y", time="t")
    # dates with a gap: refused rather than the dates dropped and the forecast numbered
    dates = pd.date_range("2000-01", periods=40, freq="MS").delete([10, 11])
    with pytest.raises(SeqlabError, match="its 38 dates from 2000-01-01 to 2003-04-01 follow no one frequency"):
        prepare(pd.DataFrame({"date": dates, "y": y[:38]}), target="y", time="date")
