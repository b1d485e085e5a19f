"""Classification metrics in plain NumPy: accuracy, macro-F1, the confusion matrix."""

from __future__ import annotations

from typing import Sequence

import numpy as np

from ..errors import SeqlabError


def _pair(y_true: Sequence, y_pred: Sequence) -> tuple[list, list]:
    t, p = list(y_true), list(y_pred)
    if len(t) != len(p):
        raise SeqlabError(f"y_pred: got {len(p)} predictions for {len(t)} true labels; they must match")
    if not t:
        raise SeqlabError("y_true: no labels to score")
    return t, p


def accuracy(y_true: Sequence, y_pred: Sequence) -> float:
    """Fraction of predictions equal to the true label."""
    t, p = _pair(y_true, y_pred)
    return float(np.mean([a == b for a, b in zip(t, p)]))


def confusion_matrix(y_true: Sequence, y_pred: Sequence, labels: Sequence | None = None) -> np.ndarray:
    """``cm[i, j]`` = number of examples of class ``labels[i]`` predicted as ``labels[j]``.

    ``labels`` defaults to the sorted union of true and predicted labels.
    """
    t, p = _pair(y_true, y_pred)
    if labels is None:
        labels = sorted(set(t) | set(p), key=lambda v: (str(type(v)), v))
    index = {v: i for i, v in enumerate(labels)}
    cm = np.zeros((len(labels), len(labels)), dtype=np.int64)  # (C, C): rows true, columns predicted
    for a, b in zip(t, p):
        if a not in index or b not in index:
            raise SeqlabError(f"labels: {a if a not in index else b!r} is not among the given labels {list(labels)}")
        cm[index[a], index[b]] += 1
    return cm


def f1_per_class(cm: np.ndarray) -> np.ndarray:
    """F1 = 2 TP / (2 TP + FP + FN) per class (0 for a class never true nor predicted)."""
    tp = np.diag(cm).astype(float)
    fp = cm.sum(0) - tp
    fn = cm.sum(1) - tp
    denom = 2 * tp + fp + fn
    return np.divide(2 * tp, denom, out=np.zeros_like(tp), where=denom > 0)


def macro_f1(y_true: Sequence, y_pred: Sequence, labels: Sequence | None = None) -> float:
    """Unweighted mean of the per-class F1 over ``labels`` (default: the classes seen in either)."""
    return float(f1_per_class(confusion_matrix(y_true, y_pred, labels)).mean())


def format_confusion(cm: np.ndarray, labels: Sequence) -> str:
    """The confusion matrix as a text table: rows are true classes, columns predicted ones."""
    names = [str(v) for v in labels]
    w = max(max(len(n) for n in names), len(str(int(cm.max()) if cm.size else 0)), 3)
    first = max(len("true\\pred"), max(len(n) for n in names)) + 1
    head = "true\\pred".ljust(first) + " ".join(n.rjust(w) for n in names)
    rows = [names[i].ljust(first) + " ".join(str(int(v)).rjust(w) for v in cm[i]) for i in range(len(names))]
    return "\n".join([head, *rows])
