"""Sequence classification: one label for a whole numeric sequence or text.

>>> from seqlab.classify import SequenceClassifier
>>> clf = SequenceClassifier(cell="lstm", bidirectional=True, pooling="mean").fit(X, y)
>>> clf.predict(X_new), clf.predict_proba(X_new), clf.evaluate(X_test, y_test)
>>> print(render(clf.explain(X_new[0], method="ig")))
>>> clf.save("model.safetensors"); SequenceClassifier.load("model.safetensors")

See docs/classify.md.
"""

from .data import as_padded, load_data, load_digits_sequences, stratified_split
from .estimator import SequenceClassifier, TrainConfig, class_weights
from .explain import Explanation, attribute, plot, render
from .metrics import accuracy, confusion_matrix, f1_per_class, format_confusion, macro_f1
from .model import ClassifierConfig, ClassifierNet
from .vocab import TextConfig, Vocabulary, pad_ids, padding_mask, tokenize

__all__ = [
    "ClassifierConfig", "ClassifierNet", "Explanation", "SequenceClassifier", "TextConfig", "TrainConfig",
    "Vocabulary", "accuracy", "as_padded", "attribute", "class_weights", "confusion_matrix", "f1_per_class",
    "format_confusion", "load_data", "load_digits_sequences", "macro_f1", "pad_ids", "padding_mask", "plot",
    "render", "stratified_split", "tokenize",
]
