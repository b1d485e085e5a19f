"""Sequence to sequence with attention: ``seqlab translate`` and its library.

``Translator`` (model + vocabularies: translate, n-best, save, load, plot), ``Seq2Seq`` and its
``Seq2SeqConfig``, vocabularies (:mod:`.vocab`), decoding in :mod:`.search`, training on the one
loop in :mod:`.task` and :mod:`.train`, the command's workflows in :mod:`.run`, and the embedded
date-normalisation task in :mod:`.dates`. Names load on first use, so that importing
``seqlab.seq2seq.cli`` (for ``seqlab --help``) does not import torch.
"""

from __future__ import annotations

from .._lazy import lazy_getattr

_LAZY = {
    "Seq2Seq": "model", "Seq2SeqConfig": "model", "Hypothesis": "search", "beam_search": "search",
    "greedy": "search", "TranslationTask": "task", "accuracy": "task", "default_config": "train", "fit": "train",
    "read_pairs": "train",
    "train_dates": "train", "train_pairs": "train", "Translation": "translator", "Translator": "translator",
    "SPECIALS": "vocab", "Vocabulary": "seqlab.vocab",
}


__getattr__ = lazy_getattr(__name__, _LAZY)


__all__ = sorted(_LAZY)
