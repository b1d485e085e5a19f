"""Tokenizers and the vocabulary: text <-> lists of symbols <-> integer ids.

Two levels:

* ``"char"`` (default): every Unicode code point is a symbol.
* ``"word"``: GPT-2-style pre-tokenization, a word or a run of punctuation carries its leading
  space (``" the"``, ``" don"``, ``"'t"``), and runs of other whitespace are symbols of their own.
  ``"".join(tokenize(text)) == text`` for any text, so decoding is lossless.

Symbols outside the vocabulary are handled by an explicit policy, ``unknown``:

* ``"error"``: raise :class:`SeqlabError` naming the unknown symbols (the default);
* ``"replace"``: map them to the vocabulary's unknown symbol (``"<unk>"``); raises if it has none;
* ``"skip"``: drop them.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field
from typing import Iterable, Sequence

from ..errors import SeqlabError, check_int

LEVELS = ("char", "word")
UNKNOWN_POLICIES = ("error", "replace", "skip")
UNK = "<unk>"

# a word or punctuation run with its optional leading space; whitespace before another space
# stays with the whitespace run, so that "a  b" -> ["a", " ", " b"]
_WORD_RE = re.compile(r" ?\w+| ?[^\w\s]+|\s+(?!\S)|\s+")


def tokenize(text: str, level: str = "char") -> list[str]:
    """Split ``text`` into symbols at ``level`` 'char' or 'word' (lossless: join gives ``text``)."""
    if level == "char":
        return list(text)
    if level == "word":
        return _WORD_RE.findall(text)
    raise SeqlabError(f"level: expected one of {LEVELS}, got {level!r}")


def detokenize(symbols: Iterable[str]) -> str:
    """Inverse of :func:`tokenize` at both levels."""
    return "".join(symbols)


def _show(symbols: Sequence[str], n: int = 8) -> str:
    shown = ", ".join(repr(s) for s in symbols[:n])
    return shown + (f" and {len(symbols) - n} more" if len(symbols) > n else "")


@dataclass
class Vocabulary:
    """Symbols and their ids; ``unk`` names the unknown symbol when there is one (it is in ``symbols``).

    Built with :meth:`build`, saved inside the model file as ``to_config()``.
    """

    symbols: list[str]
    level: str = "char"
    unk: str | None = None
    index: dict[str, int] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        if self.level not in LEVELS:
            raise SeqlabError(f"level: expected one of {LEVELS}, got {self.level!r}")
        if not self.symbols:
            raise SeqlabError("vocabulary: expected at least one symbol, got none (is the text empty?)")
        self.index = {s: i for i, s in enumerate(self.symbols)}
        if len(self.index) != len(self.symbols):
            raise SeqlabError("vocabulary: symbols must be distinct")
        if self.unk is not None and self.unk not in self.index:
            raise SeqlabError(f"vocabulary: the unknown symbol {self.unk!r} is not among the symbols")

    @classmethod
    def build(cls, text: str, level: str = "char", max_size: int | None = None, min_count: int = 1,
              unk: str | None = None) -> "Vocabulary":
        """The vocabulary of ``text``: symbols sorted by falling frequency (ties by first sight).

        ``max_size`` / ``min_count`` drop rare symbols; then an unknown symbol is needed, and
        ``unk`` defaults to ``"<unk>"`` (it takes one of the ``max_size`` places).
        """
        symbols = tokenize(text, level)
        if not symbols:
            raise SeqlabError("text: expected a non-empty text to build a vocabulary from, got an empty one")
        check_int("max_size", max_size, 2, none="no limit")
        check_int("min_count", min_count)
        counts = Counter(symbols)
        ranked = sorted(counts, key=lambda s: -counts[s])  # stable: ties keep first-seen order
        kept = [s for s in ranked if counts[s] >= min_count]
        if max_size is not None and len(kept) > max_size:
            kept = kept[: max_size - 1]
        if len(kept) < len(ranked) and unk is None:
            unk = UNK
        if unk is not None and unk not in kept:
            kept.append(unk)
        return cls(kept, level, unk)

    def __len__(self) -> int:
        return len(self.symbols)

    def __contains__(self, symbol: str) -> bool:
        return symbol in self.index

    def encode(self, text: str, unknown: str = "error") -> list[int]:
        """Ids of the symbols of ``text`` under the ``unknown`` policy (see the module docstring)."""
        if unknown not in UNKNOWN_POLICIES:
            raise SeqlabError(f"unknown: expected one of {UNKNOWN_POLICIES}, got {unknown!r}")
        symbols = tokenize(text, self.level)
        index = self.index
        missing = [s for s in dict.fromkeys(symbols) if s not in index]
        if not missing:
            return [index[s] for s in symbols]
        if unknown == "error":
            what = "characters" if self.level == "char" else "words"
            raise SeqlabError(
                f"text: {len(missing)} {what} not in the model's vocabulary: {_show(missing)}; remove them, "
                f"or pass unknown='skip'" + (" or 'replace'" if self.unk else "")
            )
        if unknown == "replace":
            if self.unk is None:
                raise SeqlabError(
                    f"unknown='replace': this vocabulary has no unknown symbol, so {_show(missing)} cannot be "
                    "replaced; use unknown='skip' or remove them"
                )
            u = index[self.unk]
            return [index.get(s, u) for s in symbols]
        return [index[s] for s in symbols if s in index]

    def decode(self, ids: Iterable[int]) -> str:
        """Text of a sequence of ids."""
        symbols = self.symbols
        return "".join(symbols[int(i)] for i in ids)

    def to_config(self) -> dict:
        return {"symbols": list(self.symbols), "level": self.level, "unk": self.unk}

    @classmethod
    def from_config(cls, config: dict) -> "Vocabulary":
        return cls(list(config["symbols"]), config.get("level", "char"), config.get("unk"))
