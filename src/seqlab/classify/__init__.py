"""Sequence classification: one label for a whole numeric sequence or text.

>>> from seqlab.classify import SequenceClassifier
>>> clf = SequenceClassifier(cell="lstm", bidirectional=True, pooling="mean").fit(X, y)
>>> clf.predict(X_new), clf.predict_proba(X_new), clf.evaluate(X_test, y_test)
>>> print(render(clf.explain(X_new[0], method="ig")))
>>> clf.save("model.safetensors"); SequenceClassifier.load("model.safetensors")
>>> SequenceRegressor(cell="gru").fit(X, y_numbers).predict(X_new)   # (N,) or (N, k); score: R^2

See docs/classify.md.
"""

from __future__ import annotations

from .._lazy import lazy_getattr

# Names load on first use, so that `seqlab --help` (which imports seqlab.classify.cli) stays fast.
_LAZY = {
    "as_padded": "data", "load_data": "data", "load_digits_sequences": "data",
    "stratified_split": "data", "SequenceClassifier": "estimator", "SequenceEstimator": "estimator",
    "SequenceRegressor": "regressor", "RegressionTask": "regressor", "ClassifierTask": "task",
    "class_weights": "estimator", "Explanation": "explain", "attribute": "explain",
    "plot": "explain", "render": "explain", "accuracy": "metrics", "confusion_matrix": "metrics",
    "f1_per_class": "metrics", "format_confusion": "metrics", "macro_f1": "metrics",
    "ClassifierConfig": "model", "ClassifierNet": "model", "pad_ids": "seqlab.vocab",
    "padding_mask": "vocab", "text_config": "vocab", "VocabConfig": "seqlab.vocab",
    "Vocabulary": "seqlab.vocab", "tokenize": "seqlab.vocab", "ClassifierStream": "streaming",
}


__getattr__ = lazy_getattr(__name__, _LAZY)


__all__ = sorted(_LAZY)
