"""Token vocabularies for characters or words, with the three specials every model needs.

Index 0 is padding, 1 starts a target, 2 ends it; tokens follow in sorted order. There is no
unknown token: a source token the model never saw raises :class:`SeqlabError` naming it.
"""

from __future__ import annotations

from typing import Any, Iterable

from ..errors import SeqlabError

PAD, BOS, EOS = 0, 1, 2
SPECIALS = ["<pad>", "<s>", "</s>"]
LEVELS = ("char", "word")


class Vocab:
    """``level`` 'char' (every character a token) or 'word' (split on white space)."""

    def __init__(self, tokens: Iterable[str], level: str = "char", lowercase: bool = False) -> None:
        if level not in LEVELS:
            raise SeqlabError(f"level: expected one of {LEVELS}, got {level!r}")
        self.level = level
        self.lowercase = bool(lowercase)
        self.itos = SPECIALS + sorted(set(tokens) - set(SPECIALS))
        self.stoi = {t: i for i, t in enumerate(self.itos)}

    @classmethod
    def build(cls, texts: Iterable[str], level: str = "char", lowercase: bool = False) -> "Vocab":
        """The vocabulary of every token in ``texts``."""
        probe = cls([], level, lowercase)
        tokens: set[str] = set()
        for t in texts:
            tokens.update(probe.tokenize(t))
        return cls(tokens, level, lowercase)

    def __len__(self) -> int:
        return len(self.itos)

    def tokenize(self, text: str) -> list[str]:
        if self.lowercase:
            text = text.lower()
        return list(text) if self.level == "char" else text.split()

    def encode(self, text: str, name: str = "text") -> list[int]:
        """Token ids of ``text`` (no specials); raises for an empty text or unknown tokens."""
        if not isinstance(text, str):
            raise SeqlabError(f"{name}: expected a string, got {type(text).__name__}")
        toks = self.tokenize(text)
        if not toks or not text.strip():
            raise SeqlabError(f"{name}: expected a non-empty text, got {text!r}; pass the text to translate")
        unknown = sorted({t for t in toks if t not in self.stoi})
        if unknown:
            what = "characters" if self.level == "char" else "words"
            shown = ", ".join(repr(u) for u in unknown[:10])
            raise SeqlabError(
                f"{name}: {what} {shown} in {text!r} are not in the model's source vocabulary "
                f"({len(self.itos) - len(SPECIALS)} {what} seen in training); remove or replace them"
            )
        return [self.stoi[t] for t in toks]

    def decode(self, ids: Iterable[int]) -> str:
        """Text of ``ids``: stops at the end token and skips the other specials."""
        out = []
        for i in ids:
            i = int(i)
            if i == EOS:
                break
            if i >= len(SPECIALS):
                out.append(self.itos[i])
        return ("" if self.level == "char" else " ").join(out)

    def tokens(self, ids: Iterable[int]) -> list[str]:
        """Token strings of ``ids`` (specials shown by name), e.g. for plot labels."""
        return [self.itos[int(i)] for i in ids]

    def to_config(self) -> dict[str, Any]:
        return {"itos": self.itos[len(SPECIALS):], "level": self.level, "lowercase": self.lowercase}

    @classmethod
    def from_config(cls, cfg: dict[str, Any]) -> "Vocab":
        return cls(cfg["itos"], cfg["level"], cfg["lowercase"])

    def __repr__(self) -> str:
        return f"Vocab({len(self)} tokens, level={self.level!r}, lowercase={self.lowercase})"
