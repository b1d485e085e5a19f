"""The statistical baselines: statsforecast's AutoETS, AutoARIMA and AutoTheta (the default when
statsforecast is installed) against statsforecast's own API on the same data, the fallbacks on
short histories, and the names that pick them."""

import warnings

import numpy as np
import pandas as pd
import pytest

from seqlab.errors import SeqlabError
from seqlab.forecast import baselines
from seqlab.forecast.baselines import run_baselines, select

AUTO = ["AutoETS", "AutoARIMA", "AutoTheta"]


def _panel(n: int, seed: int) -> list[np.ndarray]:
    """Monthly series of random length 14-40: level, trend, a season of random phase, noise."""
    rng = np.random.default_rng(seed)
    out = []
    for T in rng.integers(14, 41, n):
        t = np.arange(T)
        y = rng.uniform(50, 500) * (1 + rng.normal(0.01, 0.01) * t) * (
            1 + rng.uniform(0.05, 0.3) * np.sin(2 * np.pi * t / 12 + rng.uniform(0, 2 * np.pi)))
        out.append(y * (1 + 0.03 * rng.standard_normal(T)))
    return out


def _statsforecast_directly(hist: list[np.ndarray], horizon: int, season: int) -> pd.DataFrame:
    """statsforecast's documented use: a long frame of monthly dates, string ids, one forecast call."""
    from statsforecast import StatsForecast
    from statsforecast.models import AutoARIMA, AutoETS, AutoTheta

    df = pd.concat([pd.DataFrame({"unique_id": f"s{i}", "ds": pd.date_range("2000-01-01", periods=len(h), freq="MS"),
                                  "y": h}) for i, h in enumerate(hist)], ignore_index=True)
    sf = StatsForecast(models=[AutoETS(season_length=season), AutoARIMA(season_length=season),
                               AutoTheta(season_length=season)], freq="MS", n_jobs=1)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the fits' own numerical warnings (pytest makes warnings errors)
        return sf.forecast(df=df, h=horizon).set_index("unique_id")


def test_statsforecast_baselines_equal_statsforecast_called_directly():
    pytest.importorskip("statsforecast", reason="statsforecast is an extra: pip install seqlab[statsforecast]")
    hist = _panel(4, seed=0)
    got = run_baselines(hist, 6, 12, AUTO)
    ref = _statsforecast_directly(hist, 6, 12)
    for i, (h, g) in enumerate(zip(hist, got, strict=True)):
        for name in AUTO:
            want = ref.loc[f"s{i}", name].to_numpy()
            np.testing.assert_allclose(g[name], want, rtol=1e-9, err_msg=f"{name}, series {i} ({len(h)} values)")
            if i < 2:  # the per-series functions too
                np.testing.assert_allclose(baselines.baselines()[name](h, 6, 12), want, rtol=1e-9)
    assert all(np.abs(g["AutoETS"] - g["AutoARIMA"]).max() > 0 for g in got)  # three models, not one fallback


def test_statsforecast_in_processes_equals_one_process_and_notes_the_short_histories():
    pytest.importorskip("statsforecast", reason="statsforecast is an extra: pip install seqlab[statsforecast]")
    rng = np.random.default_rng(1)
    hist = [100 + np.arange(n) + rng.normal(0, 1, n) for n in rng.integers(8, 20, 40)]
    hist[3], hist[7] = hist[3][:1], hist[7][:3]  # too short for AutoETS (7 values) and AutoTheta (4)
    names = ["naive", "AutoETS", "AutoTheta"]
    notes: list[str] = []
    one = run_baselines(hist, 4, 4, names, workers=1, notes=notes)
    two = run_baselines(hist, 4, 4, names, workers=2)  # statsforecast's process pool
    for a, b in zip(one, two, strict=True):
        for n in names:
            np.testing.assert_allclose(a[n], b[n], rtol=1e-12)
    for i in (3, 7):  # the fallbacks: naive for AutoETS, drift for AutoTheta (and AutoARIMA)
        np.testing.assert_array_equal(one[i]["AutoETS"], np.full(4, hist[i][-1]))
        np.testing.assert_allclose(one[i]["AutoTheta"], baselines.drift(hist[i], 4))
    assert all(np.isfinite(r[n]).all() for r in one for n in names)
    assert "AutoETS: 2 of 40 histories have fewer than 7 values; naive forecasts them" in notes, notes
    assert "AutoTheta: 2 of 40 histories have fewer than 4 values; drift forecasts them" in notes, notes


def test_names_pick_the_library_in_use(monkeypatch):
    monkeypatch.setattr(baselines, "statsforecast_available", lambda: False)
    assert list(select(["ets", "ARIMA", "theta"])) == ["ETS", "ARIMA", "Theta"]
    assert set(baselines.baselines()) == {"naive", "seasonal naive", "drift", "ETS", "ARIMA", "Theta"}
    with pytest.raises(SeqlabError, match=r"--baselines: AutoETS needs statsforecast \(pip install "
                                          r"seqlab\[statsforecast\]\); 'ets' picks statsmodels' ETS"):
        select(["autoets"])
    with pytest.raises(SeqlabError, match="--baselines: unknown method 'ses'; expected some of naive"):
        select(["ses"])
    with pytest.raises(SeqlabError, match="left out by --no-stats"):
        select(["ets"], include_stats=False)
    monkeypatch.setattr(baselines, "statsforecast_available", lambda: True)
    assert list(select(["ets", "snaive", "autotheta"])) == ["AutoETS", "seasonal naive", "AutoTheta"]
    both = select(["ets", "ets-statsmodels"])  # statsmodels' beside statsforecast's, by name
    assert list(both) == ["AutoETS", "ETS"] and both["ETS"] is baselines.ets
    assert set(baselines.baselines(include_stats=False)) == {"naive", "seasonal naive", "drift"}


def test_arima_leaves_the_default_set_on_large_panels_with_a_note():
    if not baselines.stat_names():
        pytest.skip("neither statsforecast nor statsmodels is installed")
    arima = baselines.stat_names()["arima"]
    notes: list[str] = []
    assert arima in select(None, n_series=baselines.ARIMA_DEFAULT_MAX_SERIES, notes=notes) and not notes
    big = select(None, n_series=baselines.ARIMA_DEFAULT_MAX_SERIES + 1, notes=notes)
    assert arima not in big and baselines.stat_names()["ets"] in big
    assert notes == [f"{arima} is left out of the default baselines on a panel of more than 200 series (the slowest "
                     "baseline to fit); --baselines naive,snaive,drift,ets,arima,theta adds it"]
    assert arima in select(["ets", "arima"], n_series=10_000)  # asked for by name: kept


def test_progress_bar_on_a_terminal_only(monkeypatch, capsys):
    pytest.importorskip("statsforecast", reason="statsforecast is an extra: pip install seqlab[statsforecast]")
    from seqlab import utils

    monkeypatch.delenv("SEQLAB_NO_PROGRESS", raising=False)
    hist = _panel(3, seed=2)
    quiet = run_baselines(hist, 3, 12, ["AutoTheta"], progress=True)  # pytest's stderr is no terminal
    assert capsys.readouterr().err == ""
    monkeypatch.setattr(utils, "is_interactive", lambda stream=None: True)
    shown = run_baselines(hist, 3, 12, ["AutoTheta"], progress=True)
    assert "Forecast: 100%" in capsys.readouterr().err  # statsforecast's bar over the histories
    for a, b in zip(quiet, shown, strict=True):
        np.testing.assert_array_equal(a["AutoTheta"], b["AutoTheta"])


# -- the per-series statsforecast functions: which failures fall back, and the count of them -----
class _Raises:
    """A stand-in statsforecast model whose fit raises ``exc``."""

    def __init__(self, exc: Exception):
        self.exc = exc

    def forecast(self, y, h):
        raise self.exc


@pytest.mark.parametrize("exc", [Exception("no model able to be fitted"), ValueError("No suitable ARIMA model found"),
                                 RuntimeError("No ARIMA model able to be estimated"),
                                 np.linalg.LinAlgError("Singular matrix")])
def test_a_failed_statsforecast_fit_falls_back_and_is_counted(monkeypatch, exc):
    """What statsforecast raises on a degenerate history (ValueError, RuntimeError, Exception
    itself) falls back to the simpler method, and the fallback is counted as run_baselines counts it."""
    monkeypatch.setattr(baselines, "_sf_model", lambda name, season: _Raises(exc))
    y = 100 + np.arange(20.0)
    notes: list[str] = []
    np.testing.assert_array_equal(baselines.auto_ets(y, 3, 1, notes=notes), baselines.naive(y, 3))
    np.testing.assert_allclose(baselines.auto_arima(y, 3, 1, notes=notes), baselines.drift(y, 3))
    assert notes == [
        "AutoETS: the fit failed on 1 of 1 histories; naive forecasts them",
        "AutoARIMA: the fit failed on 1 of 1 histories; drift forecasts them"]
    short: list[str] = []
    baselines.auto_ets(y[:5], 3, 1, notes=short)  # too short to fit: the other note
    assert short == ["AutoETS: 1 of 1 histories have fewer than 7 values; naive forecasts them"]


@pytest.mark.parametrize("exc", [TypeError("forecast() got an unexpected keyword argument 'h'"),
                                 AttributeError("'NoneType' object has no attribute 'shape'"), KeyError("mean"),
                                 NotImplementedError("prediction intervals")])
def test_a_programming_error_in_a_statsforecast_fit_is_not_a_fallback(monkeypatch, exc):
    """A TypeError, AttributeError or KeyError is a bug (an API change, a wrong argument), not a
    degenerate history: it propagates instead of turning every forecast into the fallback."""
    monkeypatch.setattr(baselines, "_sf_model", lambda name, season: _Raises(exc))
    with pytest.raises(type(exc)):
        baselines.auto_theta(100 + np.arange(20.0), 3, 1)


def test_a_degenerate_history_falls_back_the_same_one_series_at_a_time_and_in_a_batch():
    """Values near the float limit: statsforecast's AutoETS and AutoTheta raise Exception itself, its
    AutoARIMA a ValueError; the per-series functions fall back as the batch path does, with its notes."""
    pytest.importorskip("statsforecast", reason="statsforecast is an extra: pip install seqlab[statsforecast]")
    y = np.random.default_rng(0).normal(size=40) * 1e300
    batch_notes: list[str] = []
    (batch,) = run_baselines([y], 4, 1, AUTO, notes=batch_notes)
    notes: list[str] = []
    for name in AUTO:
        np.testing.assert_array_equal(baselines._STATS[name](y, 4, 1, notes=notes), batch[name])
    assert notes == batch_notes == [f"{n}: the fit failed on 1 of 1 histories; {baselines.SF_FALLBACK_NAME[n]} "
                                    "forecasts them" for n in AUTO]
