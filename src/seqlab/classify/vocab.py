"""Text to token ids: word and character tokenizers, a vocabulary, padding.

Ids 0 and 1 are reserved: ``<pad>`` (0) fills the end of short sequences and is never read by the
model (it runs with lengths), ``<unk>`` (1) stands for every token the vocabulary does not hold,
including tokens first seen at prediction time.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import asdict, dataclass
from typing import Iterable, Sequence

import numpy as np

from ..errors import SeqlabError, check_int

PAD, UNK = "<pad>", "<unk>"
PAD_ID, UNK_ID = 0, 1
TOKENIZERS = ("word", "char")

_WORD = re.compile(r"\w+|[^\w\s]", re.UNICODE)


@dataclass
class TextConfig:
    """How text becomes tokens: ``tokenizer`` 'word' (words and punctuation) or 'char'."""

    tokenizer: str = "word"
    lowercase: bool = True
    min_freq: int = 1  # tokens seen fewer times in training map to <unk>
    max_size: int | None = None  # most frequent tokens kept, not counting <pad> and <unk>

    def __post_init__(self) -> None:
        if self.tokenizer not in TOKENIZERS:
            raise SeqlabError(f"tokenizer: expected one of {TOKENIZERS}, got {self.tokenizer!r}")
        check_int("min_freq", self.min_freq)
        check_int("max_size", self.max_size, none="no limit")


def tokenize(text: str, tokenizer: str = "word", lowercase: bool = True) -> list[str]:
    """Split ``text`` into words and punctuation marks ('word') or characters ('char')."""
    if not isinstance(text, str):
        raise SeqlabError(f"text: expected a string, got {type(text).__name__}")
    if lowercase:
        text = text.lower()
    if tokenizer == "word":
        return _WORD.findall(text)
    if tokenizer == "char":
        return list(text)
    raise SeqlabError(f"tokenizer: expected one of {TOKENIZERS}, got {tokenizer!r}")


class Vocabulary:
    """Token <-> id map with ``<pad>`` = 0 and ``<unk>`` = 1; unknown tokens map to ``<unk>``."""

    def __init__(self, tokens: Sequence[str], config: TextConfig | None = None) -> None:
        self.config = config or TextConfig()
        self.itos = [PAD, UNK] + [t for t in tokens if t not in (PAD, UNK)]
        self.stoi = {t: i for i, t in enumerate(self.itos)}

    @classmethod
    def build(cls, texts: Iterable[str], config: TextConfig | None = None) -> "Vocabulary":
        """Count tokens over ``texts``; keep those seen ``min_freq`` times, the ``max_size`` most frequent.

        Ties are broken by first appearance, so the same texts always give the same vocabulary.
        """
        config = config or TextConfig()
        counts: Counter[str] = Counter()
        for text in texts:
            counts.update(tokenize(text, config.tokenizer, config.lowercase))
        # Counter.most_common keeps insertion order among equal counts
        kept = [t for t, n in counts.most_common() if n >= config.min_freq]
        if config.max_size is not None:
            kept = kept[: config.max_size]
        return cls(kept, config)

    def __len__(self) -> int:
        return len(self.itos)

    def tokens(self, text: str) -> list[str]:
        return tokenize(text, self.config.tokenizer, self.config.lowercase)

    def encode(self, text: str) -> list[int]:
        """Token ids of ``text``; tokens outside the vocabulary become ``<unk>`` (id 1)."""
        return [self.stoi.get(t, UNK_ID) for t in self.tokens(text)]

    def decode(self, ids: Iterable[int]) -> list[str]:
        return [self.itos[i] if 0 <= i < len(self.itos) else UNK for i in ids]

    def to_config(self) -> dict:
        return {"text": asdict(self.config), "tokens": self.itos[2:]}

    @classmethod
    def from_config(cls, cfg: dict) -> "Vocabulary":
        return cls(list(cfg["tokens"]), TextConfig(**cfg["text"]))


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
