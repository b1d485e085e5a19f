"""Metrics against hand-computed values."""

import numpy as np
import pytest

from seqlab.classify import accuracy, confusion_matrix, f1_per_class, format_confusion, macro_f1
from seqlab.errors import SeqlabError

Y_TRUE = ["a", "a", "a", "b", "b", "c"]
Y_PRED = ["a", "b", "a", "b", "c", "c"]


def test_accuracy_by_hand():
    assert accuracy(Y_TRUE, Y_PRED) == pytest.approx(4 / 6)


def test_confusion_matrix_by_hand():
    cm = confusion_matrix(Y_TRUE, Y_PRED, ["a", "b", "c"])
    # rows true a, b, c; columns predicted a, b, c
    np.testing.assert_array_equal(cm, [[2, 1, 0], [0, 1, 1], [0, 0, 1]])
    # a label order given by the caller is respected, unseen labels get a zero row and column
    cm2 = confusion_matrix(Y_TRUE, Y_PRED, ["c", "b", "a", "d"])
    np.testing.assert_array_equal(cm2, [[1, 0, 0, 0], [1, 1, 0, 0], [0, 1, 2, 0], [0, 0, 0, 0]])


def test_macro_f1_by_hand():
    # a: tp 2, fp 0, fn 1 -> 4/5;  b: tp 1, fp 1, fn 1 -> 2/4;  c: tp 1, fp 1, fn 0 -> 2/3
    expected = (4 / 5 + 1 / 2 + 2 / 3) / 3
    assert macro_f1(Y_TRUE, Y_PRED) == pytest.approx(expected)
    np.testing.assert_allclose(f1_per_class(confusion_matrix(Y_TRUE, Y_PRED)), [0.8, 0.5, 2 / 3])
    # a class listed but never true nor predicted scores 0 and lowers the macro mean
    assert macro_f1(Y_TRUE, Y_PRED, ["a", "b", "c", "d"]) == pytest.approx(expected * 3 / 4)


def test_metrics_integer_labels_and_perfect_score():
    assert accuracy([0, 1, 2], [0, 1, 2]) == 1.0
    assert macro_f1([0, 1, 2, 2], [0, 1, 2, 2]) == 1.0
    assert macro_f1([0, 0, 1, 1], [1, 1, 0, 0]) == 0.0


def test_metrics_bad_input():
    with pytest.raises(SeqlabError, match="3 predictions for 2 true labels"):
        accuracy([0, 1], [0, 1, 1])
    with pytest.raises(SeqlabError, match="no labels"):
        macro_f1([], [])
    with pytest.raises(SeqlabError, match="not among the given labels"):
        confusion_matrix([0, 1], [0, 2], [0, 1])


def test_format_confusion_table():
    text = format_confusion(np.array([[12, 0], [3, 101]]), ["cat", "dog"])
    lines = text.splitlines()
    assert len(lines) == 3
    assert lines[0].split() == ["true\\pred", "cat", "dog"]
    assert lines[1].split() == ["cat", "12", "0"] and lines[2].split() == ["dog", "3", "101"]
    assert len({len(line) for line in lines}) == 1  # aligned columns
