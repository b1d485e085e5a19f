"""Sequence to sequence with attention: ``seqlab translate`` and its library.

``Translator`` (model + vocabularies: translate, n-best, save, load, plot), ``Seq2Seq`` and its
``Seq2SeqConfig``, ``Vocab``, decoding in :mod:`.search`, training in :mod:`.train` and the
embedded date-normalisation task in :mod:`.dates`. Names load on first use, so that importing
``seqlab.seq2seq.cli`` (for ``seqlab --help``) does not import torch.
"""

from __future__ import annotations

import importlib

_LAZY = {
    "Seq2Seq": "model", "Seq2SeqConfig": "model", "Hypothesis": "search", "beam_search": "search",
    "greedy": "search", "TrainConfig": "train", "accuracy": "train", "read_pairs": "train",
    "train_dates": "train", "train_pairs": "train", "Translation": "translator", "Translator": "translator",
    "Vocab": "vocab",
}


def __getattr__(name: str):
    if name in _LAZY:
        return getattr(importlib.import_module(f"{__name__}.{_LAZY[name]}"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = sorted(_LAZY)
