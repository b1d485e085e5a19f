"""Classify's text settings, on the shared :class:`seqlab.vocab.Vocabulary` (its batches are padded
by the shared :func:`seqlab.vocab.pad_ids`).

Ids 0 and 1 are reserved: ``<pad>`` (0) fills the end of short sequences and is never read by the
model (it runs with lengths), ``<unk>`` (1) stands for every token the vocabulary does not hold,
including tokens first seen at prediction time. The 'word' tokenizer reads the words and
punctuation runs of a text without its spaces; 'char' reads every character, spaces included.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from .. import vocab as _vocab
from ..errors import SeqlabError, check_int, warn_deprecated
from ..vocab import PAD, UNK, VocabConfig

SPECIALS = (PAD, UNK)
TOKENIZERS = ("word", "char")


def text_config(tokenizer: str = "word", lowercase: bool = True, min_freq: int = 1,
                max_vocab: int | None = None) -> VocabConfig:
    """The :class:`VocabConfig` of a classifier's text options (``max_vocab`` does not count the specials)."""
    if tokenizer not in TOKENIZERS:
        raise SeqlabError(f"tokenizer: expected one of {TOKENIZERS}, got {tokenizer!r}")
    check_int("max_vocab", max_vocab, none="no limit")
    return VocabConfig(tokenizer, lowercase, drop_spaces=tokenizer == "word", specials=SPECIALS,
                       min_freq=min_freq, max_size=max_vocab)


def pad_ids(seqs: Sequence[Sequence[int]]) -> tuple[np.ndarray, np.ndarray]:
    """Deprecated: :func:`seqlab.vocab.pad_ids`, which it calls."""
    warn_deprecated("seqlab.classify.vocab.pad_ids", "seqlab.vocab.pad_ids")
    return _vocab.pad_ids(seqs)


def padding_mask(lengths: np.ndarray, T: int) -> np.ndarray:
    """Deprecated: ``mask[i, t]`` is True where step t is a real token of sequence i (a prefix of each row)."""
    warn_deprecated("seqlab.classify.padding_mask", "np.arange(T)[None, :] < lengths[:, None]")
    return np.arange(T)[None, :] < np.asarray(lengths)[:, None]  # (N, T)
