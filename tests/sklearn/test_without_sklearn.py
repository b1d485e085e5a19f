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


def test_the_estimators_work_in_a_process_where_sklearn_cannot_be_imported():
    import subprocess
    import textwrap

    code = textwrap.dedent("""
        import sys
        sys.modules["sklearn"] = None  # import sklearn raises ImportError
        import numpy as np, torch
        torch.set_num_threads(1)
        from seqlab._sklearn import HAVE_SKLEARN
        from seqlab.classify import SequenceClassifier, SequenceRegressor
        from seqlab.errors import SeqlabError
        assert not HAVE_SKLEARN
        rng = np.random.default_rng(0)
        X = rng.normal(size=(24, 6)).cumsum(1)
        y = (X[:, -1] > X[:, 0]).astype(int)
        clf = SequenceClassifier(cell="gru", hidden_size=4, epochs=None, max_steps=10, verbose=0, threads=1)
        twin = type(clf)(**clf.get_params())
        assert twin.get_params() == clf.get_params() and clf.set_params(hidden_size=6) is clf
        try:
            clf.predict(X)
            raise SystemExit("predict before fit did not raise")
        except SeqlabError as e:
            assert isinstance(e, AttributeError) and "not trained yet" in str(e)
        assert clf.fit(X, y) is clf and clf.net_.config.hidden_size == 6
        p = clf.predict_proba(X)
        assert np.allclose(p.sum(1), 1) and clf.score(X, y) == np.mean(clf.predict(X) == y)
        reg = SequenceRegressor(cell="gru", hidden_size=4, epochs=None, max_steps=10, verbose=0, threads=1)
        assert reg.fit(X, X.sum(1)).predict(X).shape == (24,)
        print("ok", repr(SequenceClassifier(hidden_size=3)))
    """)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.split() == ["ok", "SequenceClassifier(hidden_size=3)"]
