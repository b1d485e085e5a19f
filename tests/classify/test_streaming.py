"""ClassifierStream: the probabilities after each update equal predict_proba on the sequence so far."""

import os
import sys

import numpy as np
import pytest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "export"))
import model_files as mf  # noqa: E402

from seqlab.classify import ClassifierStream  # noqa: E402
from seqlab.errors import SeqlabError  # noqa: E402


@pytest.mark.parametrize("cell,bidirectional,pooling,layers", [
    ("lstm", False, "last", 2), ("gru-reset-before", False, "mean", 1), ("mingru", False, "max", 1),
    ("lstm-ln", True, "mean", 1)])
def test_numeric_stream(tmp_path, cell, bidirectional, pooling, layers):
    clf = mf.make_classifier(tmp_path / "c.safetensors", cell, bidirectional, pooling, layers=layers)
    seq = np.random.default_rng(0).normal(size=(9, mf.FEATURES)).astype(np.float32)
    stream = ClassifierStream(clf)
    for a, b in ((0, 1), (1, 4), (4, 5), (5, 9)):
        proba = stream.update(seq[a:b])
        np.testing.assert_allclose(proba, clf.predict_proba([seq[:b]])[0], rtol=1e-5, atol=1e-6)
    assert stream.label == clf.predict([seq])[0]
    stream.reset()
    np.testing.assert_allclose(stream.update(seq[:2]), clf.predict_proba([seq[:2]])[0], rtol=1e-5, atol=1e-6)


def test_text_streams_in_a_batch(tmp_path):
    clf = mf.make_classifier(tmp_path / "c.safetensors", "gru", False, "mean", text=True)
    stream = ClassifierStream(clf)
    texts = [["good", "bad fine", "awful zzz"], ["poor", "ok ok", "great good"]]
    so_far = ["", ""]
    for k in range(3):
        proba = stream.update([texts[0][k], texts[1][k]])
        so_far = [(s + " " + t[k]).strip() for s, t in zip(so_far, texts)]
        np.testing.assert_allclose(proba, clf.predict_proba(so_far), rtol=1e-5, atol=1e-6)
    assert stream.label == list(clf.predict(so_far))
    with pytest.raises(SeqlabError, match="same number"):
        stream.update(["good", "bad fine"])


def test_bad_chunks(tmp_path):
    clf = mf.make_classifier(tmp_path / "c.safetensors", "gru")
    stream = ClassifierStream(clf)
    with pytest.raises(SeqlabError, match="label: no steps yet"):
        stream.label
    with pytest.raises(SeqlabError, match=r"expected new steps \(time, 3\)"):
        stream.update(np.zeros((2, 5)))
    with pytest.raises(SeqlabError, match="NaN"):
        stream.update(np.full((1, 3), np.nan))
