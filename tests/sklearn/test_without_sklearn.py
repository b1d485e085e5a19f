"""Without scikit-learn (an extra), the estimators keep get_params / set_params from a small
stand-in base; checked against scikit-learn's own BaseEstimator where it is installed."""

import importlib.util
import sys
from pathlib import Path

import pytest

import seqlab
from seqlab.classify import SequenceClassifier, SequenceRegressor
from seqlab.errors import SeqlabError
from seqlab.forecast import ForecastEstimator


@pytest.fixture
def standin(monkeypatch):
    """seqlab/_sklearn.py executed afresh while `import sklearn` fails."""
    monkeypatch.setitem(sys.modules, "sklearn", None)
    for name in [m for m in sys.modules if m.startswith("sklearn.")]:
        monkeypatch.setitem(sys.modules, name, None)
    path = Path(seqlab.__file__).parent / "_sklearn.py"
    spec = importlib.util.spec_from_file_location("seqlab._sklearn_standin", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert module.HAVE_SKLEARN is False
    return module


@pytest.mark.parametrize("est", [SequenceClassifier(hidden_size=4, class_weight={1: 2.0}),
                                 SequenceRegressor(cell="gru", max_steps=5), ForecastEstimator(horizon=3)])
def test_standin_get_params_equals_scikit_learns(standin, est):
    want = {k: v for k, v in est.get_params(deep=False).items()}  # scikit-learn's, or the stand-in's without it
    got = standin.BaseEstimator.get_params(est, deep=False)
    assert got == want and list(got) == sorted(want)


def test_standin_set_params_repr_and_errors(standin):
    class Small(standin.ClassifierMixin, standin.BaseEstimator):
        def __init__(self, size=3, name="a", inner=None):
            self.size, self.name, self.inner = size, name, inner

    s = Small(inner=Small(size=7))
    assert s.get_params()["inner__size"] == 7 and s.get_params(deep=False)["inner"] is s.inner
    assert s.set_params(size=5, inner__name="b") is s and s.size == 5 and s.inner.name == "b"
    assert repr(Small(size=4)) == "Small(size=4)" and repr(Small()) == "Small()"
    with pytest.raises(SeqlabError, match="nope: not a parameter of Small"):
        s.set_params(nope=1)
    assert s._estimator_type == "classifier" and standin.RegressorMixin._estimator_type == "regressor"
    copy = type(s)(**s.get_params(deep=False))  # what clone does
    assert copy.get_params(deep=False) == s.get_params(deep=False)
    err = standin.NotFittedError("x")
    assert isinstance(err, SeqlabError) and isinstance(err, AttributeError)
    with pytest.warns(standin.DataConversionWarning, match="A column-vector y"):
        standin.column_warning((3, 1))
