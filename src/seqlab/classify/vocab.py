"""Classify's text settings and id padding, on the shared :class:`seqlab.vocab.Vocabulary`.

Ids 0 and 1 are reserved: ``<pad>`` (0) fills the end of short sequences and is never read by the
model (it runs with lengths), ``<unk>`` (1) stands for every token the vocabulary does not hold,
including tokens first seen at prediction time. The 'word' tokenizer reads the words and
punctuation runs of a text without its spaces; 'char' reads every character, spaces included.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

from ..errors import SeqlabError, check_int
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
    """Pad id lists to one array. Returns ``(ids (N, T_max) int64, lengths (N,))``; pads are 0."""
    lengths = np.array([len(s) for s in seqs], dtype=np.int64)
    T = int(lengths.max()) if len(seqs) else 0
    ids = np.zeros((len(seqs), T), dtype=np.int64)  # (N, T_max), 0 = <pad>
    for i, s in enumerate(seqs):
        ids[i, : len(s)] = s
    return ids, lengths


def padding_mask(lengths: np.ndarray, T: int) -> np.ndarray:
    """``mask[i, t]`` is True where step t is a real token of sequence i (a prefix of each row)."""
    return np.arange(T)[None, :] < np.asarray(lengths)[:, None]  # (N, T)
