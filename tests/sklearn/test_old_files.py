"""Model files written by the SequenceClassifier of before the scikit-learn contract (the files in
data/ were saved by that code) load and predict as they did."""

import json
from pathlib import Path

import numpy as np

from seqlab.classify import SequenceClassifier

DATA = Path(__file__).parent / "data"


def test_old_numeric_and_text_files_load_and_predict_the_same():
    want = json.loads((DATA / "old_expected.json").read_text())
    with np.load(DATA / "old_inputs.npz") as z:
        X = [z[f"x{i}"] for i in range(len(z.files))]
    clf = SequenceClassifier.load(DATA / "old_numeric.safetensors")
    np.testing.assert_allclose(clf.predict_proba(X), want["numeric"], atol=1e-6)
    assert clf.classes_.tolist() == want["numeric_classes"] and clf.n_features_in_ == 2
    assert (clf.fcn, clf.cell, clf.pooling, clf.bidirectional) == (2, "gru", "mean", True)
    text = SequenceClassifier.load(DATA / "old_text.safetensors")
    np.testing.assert_allclose(text.predict_proba(want["texts"]), want["text"], atol=1e-6)
    assert text.classes_.tolist() == want["text_classes"]
    assert (text.tokenizer, text.min_freq) == ("char", 2)  # the text arguments come back from the vocabulary
    assert text.text_config == text.vocab_.config
