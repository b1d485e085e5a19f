"""Forecaster.update: new observations appended without refitting give the forecast of the whole
data so far; the networks are unchanged."""

import numpy as np
import pandas as pd
import pytest

from seqlab.data import load_airline
from seqlab.errors import SeqlabError
from seqlab.forecast import Forecaster


@pytest.fixture(scope="module")
def fitted():
    data = load_airline()
    f = Forecaster(horizon=6, hidden=5, ensemble=1, epochs=2, seed=0, threads=None, verbose=0).fit(data.iloc[:130])
    return f, data


def test_update_equals_predict_on_all_data(fitted):
    f, data = fitted
    weights = [p.detach().clone() for p in f.nets[0].parameters()]
    before = f.predict()
    f.update(data.iloc[130:131].to_numpy())  # one value
    f.update(data.iloc[131:138].to_numpy())  # then a chunk
    after = f.predict()
    want = f.predict(data.iloc[:138])
    pd.testing.assert_frame_equal(after, want)
    assert after["time"].iloc[0] == data.index[138]
    assert not np.allclose(after["forecast"], before["forecast"])
    assert all((p == w).all() for p, w in zip(f.nets[0].parameters(), weights))  # no refit


def test_update_errors(fitted):
    f, _ = fitted
    with pytest.raises(SeqlabError, match="NaN or infinite"):
        f.update([np.nan])
    with pytest.raises(SeqlabError, match="is not one this forecaster knows"):
        f.update({"other": [1.0]})
    with pytest.raises(SeqlabError, match="fitted without past covariates"):
        f.update([1.0], covariates=[[2.0]])
