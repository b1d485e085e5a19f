"""Scalers and the target transform against NumPy; fitted on the training part only."""

import numpy as np
import pytest

from seqlab.errors import SeqlabError
from seqlab.forecast.scalers import Scaler, TargetTransform


def test_standard_and_minmax_match_numpy():
    x = np.random.default_rng(0).normal(3, 2, size=(50, 2))
    s = Scaler("standard").fit(x)
    np.testing.assert_allclose(s.transform(x), (x - x.mean(0)) / x.std(0))
    m = Scaler("minmax").fit(x)
    np.testing.assert_allclose(m.transform(x), (x - x.min(0)) / (x.max(0) - x.min(0)))
    np.testing.assert_allclose(m.inverse(m.transform(x)), x)


def test_transform_then_inverse_recovers_the_future():
    rng = np.random.default_rng(2)
    y = np.exp(np.cumsum(rng.normal(0.01, 0.05, 80))) * 100
    for log, lag in [(True, 12), (False, 1), (True, 0), (False, 12)]:
        tt = TargetTransform(log, lag).fit(y[:62])
        u = tt.transform(y)[-18:, None]  # (18, 1): the transformed future, horizon longer than the lag
        np.testing.assert_allclose(tt.inverse(u, y[:62])[:, 0], y[62:], rtol=1e-10)


def test_scaler_ignores_values_after_the_cutoff():
    y = np.linspace(1, 5, 60) + np.sin(np.arange(60))
    z = y.copy()
    z[40:] *= 7  # the future changes wildly
    a = TargetTransform(True, 12).fit(y[:40])
    b = TargetTransform(True, 12).fit(z[:40])
    assert a.to_dict() == b.to_dict()
    np.testing.assert_array_equal(a.transform(y[:40]), b.transform(z[:40]))


def test_log_needs_positive_values():
    with pytest.raises(SeqlabError, match="positive"):
        TargetTransform(True, 0).fit(np.array([1.0, 0.0, 2.0]))
