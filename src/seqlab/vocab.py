"""Text -> tokens -> ids and back: the tokenizers and the one vocabulary of classify, text and seq2seq.

Tokenizers (:func:`tokenize`), by ``level``:

* ``"char"``: every Unicode code point is a token (an emoji is one token, ``"e\\u0301"`` two).
* ``"word"``: the one word regex, :data:`WORD_RE` (GPT-2's pre-tokenization). A token is a word
  (a run of ``\\w``: letters of any script, digits, ``_``) or a run of other visible characters
  (punctuation, symbols, emoji), each with at most one leading space; whitespace not taken that
  way is a token of its own. ``"".join(tokenize(text, "word")) == text`` for every text::

      "The cat's  hat, ok.\\n" -> ["The", " cat", "'", "s", " ", " hat", ",", " ok", ".", "\\n"]

  ``drop_spaces=True`` keeps only the words and punctuation runs, without their spaces (what a
  classifier reads: ``["The", "cat", "'", "s", "hat", ",", "ok", "."]``); decoding then joins
  tokens with one space, so it is lossy.

``lowercase=True`` lower-cases the text first, at both levels.

:class:`Vocabulary` maps tokens to ids. Its ``specials`` (e.g. ``(PAD, UNK)`` or
``(PAD, BOS, EOS)``) take ids 0, 1, ... in that order, then the tokens follow; :meth:`Vocabulary.build`
orders them by falling count, ties in order of first appearance, so the same texts always give
the same ids. Tokens outside the vocabulary follow an ``unknown`` policy:

* ``"error"``: raise :class:`SeqlabError` naming them;
* ``"replace"``: read them as ``<unk>`` (an error if the vocabulary has no ``<unk>``);
* ``"skip"``: drop them;
* ``None`` (the default): ``"replace"`` when the vocabulary has ``<unk>``, else ``"error"``.

Model files store :meth:`Vocabulary.to_config`. :meth:`Vocabulary.from_config` also reads the
layouts that classify, text and seq2seq wrote before this module, with the word splits those
files were built with (levels ``"legacy-classify-word"``: ``\\w+|[^\\w\\s]``, and
``"legacy-seq2seq-word"``: split on whitespace), so old model files read text exactly as before.
New vocabularies use ``"char"`` or ``"word"`` only.

:func:`pad_ids` right-pads lists of ids into one array with their lengths: classify's batches,
and seq2seq's (``seqlab.seq2seq.model.pad_batch`` makes tensors of it).
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import asdict, dataclass, replace
from typing import Any, Callable, Iterable, Mapping, Sequence

import numpy as np

from .errors import SeqlabError, check_int

PAD, UNK, BOS, EOS = "<pad>", "<unk>", "<s>", "</s>"
LEVELS = ("char", "word")
UNKNOWN_POLICIES = ("error", "replace", "skip")
VERSION = 2  # of the to_config layout; version 1 is the three per-job layouts

# One alternative per kind of token, tried in order at each position:
#   " ?\w+"        a word, with its leading space if it has one
#   " ?[^\w\s]+"   a run of punctuation, symbols or emoji, with its leading space
#   "\s+(?!\S)"    whitespace up to the end, or up to the last space before a word (which the
#                  word takes): "a  b" -> ["a", " ", " b"]
#   "\s+"          any other whitespace (a tab or newline before a word)
WORD_RE = re.compile(r" ?\w+| ?[^\w\s]+|\s+(?!\S)|\s+")

# word splits of model files written before this module: read, never built
_LEGACY_SPLITS: dict[str, Callable[[str], list[str]]] = {
    "legacy-classify-word": re.compile(r"\w+|[^\w\s]").findall,  # words and single marks, no spaces
    "legacy-seq2seq-word": str.split,  # runs of non-whitespace
}


def _check_level(level: object) -> None:
    if level not in LEVELS and level not in _LEGACY_SPLITS:
        raise SeqlabError(f"level: expected one of {LEVELS}, got {level!r}")


def _check_text(text: object, name: str) -> None:
    if not isinstance(text, str):
        raise SeqlabError(f"{name}: expected a string, got {type(text).__name__}")


def tokenize(text: str, level: str = "char", lowercase: bool = False, drop_spaces: bool = False) -> list[str]:
    """The tokens of ``text`` at ``level`` 'char' or 'word' (see the module docstring)."""
    _check_text(text, "text")
    _check_level(level)
    if lowercase:
        text = text.lower()
    if level == "char":
        tokens = list(text)
    elif level == "word":
        tokens = WORD_RE.findall(text)
    else:
        return _LEGACY_SPLITS[level](text)  # never had spaces to drop
    if drop_spaces:
        tokens = [t.lstrip() for t in tokens if not t.isspace()]
    return tokens


def detokenize(tokens: Iterable[str], level: str = "char", drop_spaces: bool = False) -> str:
    """Text of ``tokens``: the inverse of :func:`tokenize` unless spaces were dropped (then joined by one)."""
    _check_level(level)
    lossless = not drop_spaces and level in LEVELS
    return ("" if lossless else " ").join(tokens)


@dataclass(frozen=True)
class VocabConfig:
    """How text becomes tokens and which tokens :meth:`Vocabulary.build` keeps; saved with the vocabulary."""

    level: str = "char"  # 'char' or 'word'
    lowercase: bool = False
    drop_spaces: bool = False  # leave out whitespace (lossy; see the module docstring)
    specials: tuple[str, ...] = ()  # ids 0, 1, ... in this order, e.g. (PAD, UNK) or (PAD, BOS, EOS)
    min_freq: int = 1  # build: tokens seen fewer times are left out (read as <unk>)
    max_size: int | None = None  # build: the most frequent tokens kept, specials not counted

    def __post_init__(self) -> None:
        _check_level(self.level)
        for name in ("lowercase", "drop_spaces"):
            if not isinstance(getattr(self, name), bool):
                raise SeqlabError(f"{name}: expected True or False, got {getattr(self, name)!r}")
        specials = self.specials
        if not isinstance(specials, (list, tuple)) or not all(isinstance(s, str) and s for s in specials):
            raise SeqlabError(f"specials: expected a sequence of non-empty strings such as ({PAD!r}, {UNK!r}), "
                              f"got {self.specials!r}")
        object.__setattr__(self, "specials", tuple(self.specials))  # a list from a JSON file, too
        if len(set(self.specials)) != len(self.specials):
            raise SeqlabError(f"specials: expected distinct tokens, got {self.specials!r}")
        check_int("min_freq", self.min_freq)
        check_int("max_size", self.max_size, none="no limit")

    def tokenize(self, text: str) -> list[str]:
        return tokenize(text, self.level, self.lowercase, self.drop_spaces)

    def detokenize(self, tokens: Iterable[str]) -> str:
        return detokenize(tokens, self.level, self.drop_spaces)


def _options(config: VocabConfig | None, options: Mapping[str, Any]) -> VocabConfig:
    """``config`` with ``options`` (VocabConfig fields) replaced, or a VocabConfig of ``options``."""
    if config is not None and not isinstance(config, VocabConfig):
        raise SeqlabError(f"config: expected a VocabConfig (or keyword options), got {type(config).__name__}")
    try:
        return replace(config, **options) if config is not None else VocabConfig(**options)
    except TypeError as exc:  # an unknown keyword
        raise SeqlabError(f"vocabulary options: {exc}; the options are the fields of VocabConfig") from None


def _show(tokens: Sequence[str], n: int = 8) -> str:
    shown = ", ".join(repr(t) for t in tokens[:n])
    return shown + (f" and {len(tokens) - n} more" if len(tokens) > n else "")


class Vocabulary:
    """Tokens <-> ids (``itos`` list, ``stoi`` dict) with the settings that made them (``config``).

    ``Vocabulary(tokens, specials=(PAD, UNK))`` takes ``tokens`` in the order given (repeats and
    specials among them are dropped); :meth:`build` counts them in texts. Options are the fields
    of :class:`VocabConfig`, given as one ``config`` and/or as keywords.
    """

    def __init__(self, tokens: Iterable[str] = (), config: VocabConfig | None = None, **options: Any) -> None:
        config = _options(config, options)
        if isinstance(tokens, str):
            raise SeqlabError("tokens: expected a list of tokens, got one string; pass list(text) for characters")
        tokens = list(tokens)
        bad = [t for t in tokens if not (isinstance(t, str) and t)]
        if bad:
            raise SeqlabError(f"tokens: expected non-empty strings, got {bad[0]!r}")
        self._set(list(dict.fromkeys([*config.specials, *tokens])), config)

    def _set(self, itos: list[str], config: VocabConfig) -> None:
        if not itos:
            raise SeqlabError("vocabulary: expected at least one token, got none; build it from a non-empty text")
        self.config = config
        self.itos = itos
        self.stoi = {t: i for i, t in enumerate(itos)}
        if len(self.stoi) != len(itos):
            repeated = [t for t, n in Counter(itos).items() if n > 1]
            raise SeqlabError(f"vocabulary: expected distinct tokens, got {_show(repeated)} more than once")
        missing = [s for s in config.specials if s not in self.stoi]
        if missing:
            raise SeqlabError(f"vocabulary: the specials {_show(missing)} are not among its tokens")
        # what text can map to: never a special, whatever the text says
        self._ids = {t: i for t, i in self.stoi.items() if t not in config.specials}

    @classmethod
    def build(cls, texts: str | Iterable[str], config: VocabConfig | None = None, **options: Any) -> "Vocabulary":
        """The vocabulary of ``texts`` (one string or many): specials, then tokens by falling count.

        Ties keep the order of first appearance. Tokens seen fewer than ``min_freq`` times, or
        past the ``max_size`` most frequent, are left out; then ``<unk>`` is added to the
        specials (last) if they lack it, so that the left-out tokens still have an id.
        """
        config = _options(config, options)
        counts: Counter[str] = Counter()
        for i, text in enumerate([texts] if isinstance(texts, str) else texts):
            _check_text(text, f"texts[{i}]")
            counts.update(config.tokenize(text))
        ranked = [t for t, _ in counts.most_common() if t not in config.specials]  # stable: ties by first sight
        if not ranked:
            raise SeqlabError("texts: expected text with at least one token to build a vocabulary from, got none")
        kept = [t for t in ranked if counts[t] >= config.min_freq][: config.max_size]
        if not kept:  # every text would read as unknown tokens only
            raise SeqlabError(f"min_freq: no token appears {config.min_freq} times (the most frequent, "
                              f"{ranked[0]!r}, {counts[ranked[0]]} times), so the vocabulary would be empty; "
                              "use a smaller min_freq (--min-freq)")
        if len(kept) < len(ranked) and UNK not in config.specials:
            config = replace(config, specials=(*config.specials, UNK))
        return cls(kept, config)

    # -- lookups -------------------------------------------------------------------------------
    def __len__(self) -> int:
        return len(self.itos)

    def __contains__(self, token: object) -> bool:
        return token in self.stoi

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Vocabulary) and self.itos == other.itos and self.config == other.config

    __hash__ = None  # type: ignore[assignment]  # mutable lists inside

    def __repr__(self) -> str:
        c = self.config
        return f"Vocabulary({len(self)} tokens, level={c.level!r}, lowercase={c.lowercase}, specials={c.specials})"

    @property
    def tokens(self) -> list[str]:
        """The tokens that are not specials, in id order."""
        return list(self._ids)

    def _special_id(self, token: str) -> int | None:
        return self.stoi[token] if token in self.config.specials else None

    @property
    def pad_id(self) -> int | None:
        return self._special_id(PAD)

    @property
    def unk_id(self) -> int | None:
        return self._special_id(UNK)

    @property
    def bos_id(self) -> int | None:
        return self._special_id(BOS)

    @property
    def eos_id(self) -> int | None:
        return self._special_id(EOS)

    # -- text <-> ids --------------------------------------------------------------------------
    def tokenize(self, text: str) -> list[str]:
        """The tokens of ``text`` under this vocabulary's settings (known or not)."""
        _check_text(text, "text")
        return self.config.tokenize(text)

    def to_ids(self, tokens: Sequence[str], name: str = "tokens", *, unknown: str | None = None,
               skip_hint: bool = True) -> list[int]:
        """Ids of ``tokens`` under the ``unknown`` policy (module docstring); errors call them ``name``
        and (``skip_hint``) suggest the policy that skips them: False where the caller has none."""
        if unknown is None:
            unknown = "error" if self.unk_id is None else "replace"
        if unknown not in UNKNOWN_POLICIES:
            raise SeqlabError(f"unknown: expected one of {UNKNOWN_POLICIES} or None, got {unknown!r}")
        get = self._ids.get
        ids = [get(t) for t in tokens]
        if None not in ids:
            return ids  # type: ignore[return-value]
        missing = [t for t in dict.fromkeys(tokens) if t not in self._ids]
        if unknown == "skip":
            return [i for i in ids if i is not None]
        if unknown == "replace" and self.unk_id is not None:
            unk = self.unk_id
            return [unk if i is None else i for i in ids]
        if unknown == "replace":
            raise SeqlabError(f"unknown='replace': this vocabulary has no unknown token ({UNK!r}), so "
                              f"{_show(missing)} cannot be replaced; pass unknown='skip' or remove them")
        what = "character" if self.config.level == "char" else "word"
        hint = ("" if not skip_hint else
                ", or pass unknown='skip'" + (" or 'replace'" if self.unk_id is not None else ""))
        raise SeqlabError(
            f"{name}: {len(missing)} {what}{'s' if len(missing) > 1 else ''} not in the model's vocabulary: "
            f"{_show(missing)}; remove them{hint}"
        )

    def encode(self, text: str, name: str = "text", *, unknown: str | None = None, skip_hint: bool = True) -> list[int]:
        """Ids of the tokens of ``text`` (no specials added) under the ``unknown`` policy.

        ``name`` is the argument the text came in, for error messages (``"--prime"``, ``"texts[3]"``).
        """
        _check_text(text, name)
        return self.to_ids(self.config.tokenize(text), name, unknown=unknown, skip_hint=skip_hint)

    def to_tokens(self, ids: Iterable[int]) -> list[str]:
        """The tokens of ``ids``, specials by name (e.g. for plot labels)."""
        n = len(self.itos)
        out = []
        for i in ids:
            i = int(i)
            if not 0 <= i < n:
                raise SeqlabError(f"ids: expected ids in [0, {n}) for this vocabulary of {n} tokens, got {i}")
            out.append(self.itos[i])
        return out

    def decode(self, ids: Iterable[int]) -> str:
        """Text of ``ids``: stops at ``</s>``, leaves out ``<pad>`` and ``<s>``, writes other specials by name."""
        stop, skip = self.eos_id, {self.pad_id, self.bos_id} - {None}
        kept = []
        for i in ids:
            i = int(i)
            if i == stop:
                break
            if i not in skip:
                kept.append(i)
        return self.config.detokenize(self.to_tokens(kept))

    # -- files ---------------------------------------------------------------------------------
    def to_config(self) -> dict[str, Any]:
        """A JSON-ready dict for a model file's header; :meth:`from_config` reads it back."""
        return {"version": VERSION, "itos": list(self.itos),
                "config": {**asdict(self.config), "specials": list(self.config.specials)}}

    @classmethod
    def from_config(cls, cfg: Mapping[str, Any]) -> "Vocabulary":
        """The vocabulary of ``cfg``: this layout, or one of the three per-job layouts written before it."""
        if not isinstance(cfg, Mapping):
            raise SeqlabError(f"vocab config: expected a mapping, got {type(cfg).__name__}")
        try:
            itos, config = _read_config(cfg)
        except (KeyError, TypeError, AttributeError) as exc:
            raise SeqlabError(f"vocab config: missing or malformed entry ({exc!r}) in {sorted(cfg)}") from None
        vocab = cls.__new__(cls)
        vocab._set(itos, config)
        return vocab


def _read_config(cfg: Mapping[str, Any]) -> tuple[list[str], VocabConfig]:
    """``(itos, config)`` of a config in any layout seqlab has written (ids kept as they were)."""
    if "version" in cfg:
        if cfg["version"] != VERSION:
            raise SeqlabError(f"vocab config: version {cfg['version']!r}, this seqlab reads version {VERSION}; "
                              "upgrade seqlab to read this model file")
        return list(cfg["itos"]), VocabConfig(**cfg["config"])
    if "symbols" in cfg:  # text: {"symbols", "level", "unk"}; <unk> (if any) is among the symbols, last
        unk = cfg.get("unk")
        if unk not in (None, UNK):
            raise SeqlabError(f"vocab config: unknown symbol {unk!r} is not supported; expected {UNK!r} or None")
        return list(cfg["symbols"]), VocabConfig(cfg.get("level", "char"), specials=(UNK,) if unk else ())
    if "text" in cfg and "tokens" in cfg:  # classify: <pad> = 0, <unk> = 1, then "tokens"
        t = cfg["text"]
        level = "legacy-classify-word" if t["tokenizer"] == "word" else t["tokenizer"]
        config = VocabConfig(level, t["lowercase"], specials=(PAD, UNK), min_freq=t["min_freq"], max_size=t["max_size"])
        return [PAD, UNK] + [s for s in cfg["tokens"] if s not in (PAD, UNK)], config
    if "itos" in cfg and "level" in cfg:  # seq2seq: <pad>, <s>, </s> = 0, 1, 2, then the tokens sorted
        specials = (PAD, BOS, EOS)
        level = "legacy-seq2seq-word" if cfg["level"] == "word" else cfg["level"]
        itos = [*specials, *sorted(set(cfg["itos"]) - set(specials))]
        return itos, VocabConfig(level, cfg["lowercase"], specials=specials)
    raise SeqlabError(f"vocab config: unrecognised layout with keys {sorted(cfg)}; expected one written by "
                      "Vocabulary.to_config")


def pad_ids(seqs: Sequence[Sequence[int]], pad: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Id lists right-padded to one array: ``(ids (N, T_max) int64, lengths (N,) int64)``, the
    end of each shorter row filled with ``pad`` (the ``<pad>`` id, 0 in every job's vocabulary;
    a model reads the lengths and never the pads). No lists give an array of shape (0, 0)."""
    lengths = np.array([len(s) for s in seqs], dtype=np.int64)  # (N,)
    ids = np.full((len(seqs), int(lengths.max()) if len(seqs) else 0), pad, dtype=np.int64)  # (N, T_max)
    for i, s in enumerate(seqs):
        ids[i, : len(s)] = s
    return ids, lengths
