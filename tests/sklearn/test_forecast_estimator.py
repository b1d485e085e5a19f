"""ForecastEstimator: the Forecaster under scikit-learn's estimator contract, scored by -MASE,
cross-validated along time (issue #16)."""

import numpy as np
import pandas as pd
import pytest

from seqlab.errors import SeqlabError
from seqlab.forecast import ForecastConfig, ForecastEstimator, Forecaster
from seqlab.utils import limit_threads

TINY = dict(horizon=4, lookback=8, hidden=6, epochs=3, ensemble=1, patience=5, seed=0, threads=1)


@pytest.fixture(autouse=True)
def _one_thread():
    with limit_threads(1):
        yield


def seasonal(n=80, seed=0):
    t = np.arange(n)
    return 50.0 + 0.5 * t + 8 * np.sin(2 * np.pi * t / 12) + np.random.default_rng(seed).normal(0, 1, n)


def _mase(actual, forecast, insample, m):
    """By hand: the MAE over the in-sample MAE of the seasonal naive forecast."""
    return np.mean(np.abs(actual - forecast)) / np.mean(np.abs(insample[m:] - insample[:-m]))


def test_arguments_kept_as_given_and_none_means_the_forecasters_default():
    est = ForecastEstimator(hidden="big", horizon=0)  # nothing is checked before fit
    assert est.get_params()["hidden"] == "big"
    with pytest.raises(SeqlabError, match="horizon"):
        est.fit(seasonal())
    f = ForecastEstimator(horizon=4, epochs=2, ensemble=1, threads=1).fit(seasonal(40))
    assert f.forecaster_.config.hidden == ForecastConfig().hidden and f.forecaster_.config.horizon == 4
    assert f.forecaster_.train_config.epochs == 2 and f.forecaster_.train_config.verbose == 0


def test_fit_predict_score_agree_with_the_forecaster_and_mase_by_hand():
    y = seasonal(80)
    est = ForecastEstimator(**TINY, season=12)
    assert est.fit(y[:72]) is est and est.n_series_ == 1
    pred = est.predict()
    want = Forecaster(**TINY, season=12).fit(y[:72]).predict()["forecast"].to_numpy()
    np.testing.assert_allclose(pred, want, rtol=1e-6)
    assert pred.shape == (4,)
    assert est.score(y[72:]) == pytest.approx(-_mase(y[72:76], pred, y[:72], 12))
    assert est.score(y[72:74]) == pytest.approx(-_mase(y[72:74], pred[:2], y[:72], 12))  # a shorter future


def test_panel_predicts_each_series_and_scores_the_mean_mase():
    rows = []
    for k, name in enumerate(["a", "b"]):
        v = seasonal(60, seed=k) * (k + 1)
        rows.append(pd.DataFrame({"id": name, "t": np.arange(60), "v": v}))
    panel = pd.concat(rows, ignore_index=True)
    train = panel[panel.t < 52]
    future = panel[panel.t >= 52]
    est = ForecastEstimator(**TINY, season=12, target="v", time="t", series_id="id").fit(train)
    pred = est.predict()
    assert pred.shape == (2, 4) and est.n_series_ == 2
    want = np.mean([_mase(future[future.id == n].v.to_numpy()[:4], pred[i], train[train.id == n].v.to_numpy(), 12)
                    for i, n in enumerate(["a", "b"])])
    assert est.score(future) == pytest.approx(-want)
    with pytest.raises(SeqlabError, match="were not seen in fit"):
        est.score(future[future.id == "a"].assign(id="c"))


def test_score_refuses_values_that_do_not_follow_the_training_data():
    y = pd.Series(seasonal(60), index=pd.date_range("2000-01", periods=60, freq="MS"), name="sales")
    est = ForecastEstimator(**TINY).fit(y[:48])
    est.score(y[48:])  # the months right after the training data
    with pytest.raises(SeqlabError, match="score the values that come right after"):
        est.score(y[50:])


def test_cross_val_score_along_time_equals_fitting_each_fold_by_hand():
    sk = pytest.importorskip("sklearn.model_selection")
    from sklearn.base import clone

    y = seasonal(72)
    est = ForecastEstimator(**TINY, season=12)
    cv = sk.TimeSeriesSplit(n_splits=2, test_size=4)
    scores = sk.cross_val_score(est, y, cv=cv)
    for (train, test), s in zip(cv.split(y), scores):
        assert test[0] == train[-1] + 1
        by_hand = clone(est).fit(y[train])
        assert s == pytest.approx(-_mase(y[test], by_hand.predict(), y[train], 12))


def test_grid_search_over_hidden_along_time_scores_each_candidate_like_a_hand_written_loop():
    sk = pytest.importorskip("sklearn.model_selection")

    y = pd.Series(seasonal(72), index=pd.date_range("2000-01", periods=72, freq="MS"), name="sales")
    cv = sk.TimeSeriesSplit(n_splits=2, test_size=4)
    search = sk.GridSearchCV(ForecastEstimator(**TINY), {"hidden": [4, 8]}, cv=cv).fit(y)
    assert search.best_params_["hidden"] in (4, 8)
    assert search.best_estimator_.forecaster_.config.hidden == search.best_params_["hidden"]
    for k, h in enumerate((4, 8)):
        scores = [ForecastEstimator(**{**TINY, "hidden": h}).fit(y.iloc[tr]).score(y.iloc[te]) for tr, te in cv.split(y)]
        assert search.cv_results_["mean_test_score"][k] == pytest.approx(np.mean(scores))
        assert np.all(np.array(scores) < 0)  # minus a MASE


def test_numpy_scalar_parameters_fit_like_python_numbers():
    y = seasonal()
    a = ForecastEstimator(**{**TINY, "hidden": np.int64(6), "horizon": np.int64(4), "epochs": np.int64(3)}).fit(y)
    b = ForecastEstimator(**TINY).fit(y)
    np.testing.assert_array_equal(a.predict(), b.predict())
    assert type(a.hidden) is np.int64
