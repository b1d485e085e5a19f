"""Seq2seq vocabularies: the shared :class:`seqlab.vocab.Vocabulary` with three specials first.

``<pad>`` (id 0) fills short sequences, ``<s>`` (1) starts a target, ``</s>`` (2) ends it; decoding
stops at ``</s>``. A word-level source vocabulary has a fourth special, ``<unk>`` (id 3,
:func:`source_specials`): a word the model never saw reads as ``<unk>`` at translate time (its
encoder vector is zero, see :meth:`seqlab.seq2seq.translator.Translator.create`). Character-level
sources (the date task's) and model files saved before word-level sources had ``<unk>`` have
none: there, a source token the model never saw is an error naming it, as before. Build one with
``Vocabulary.build(texts, level="char", specials=source_specials("char"))`` (tokens by falling
count) or ``Vocabulary(tokens, specials=SPECIALS)`` (tokens in the order given).
"""

from __future__ import annotations

from ..errors import SeqlabError
from ..vocab import BOS as BOS_TOKEN
from ..vocab import EOS as EOS_TOKEN
from ..vocab import PAD as PAD_TOKEN
from ..vocab import UNK as UNK_TOKEN
from ..vocab import WORD_RE, Vocabulary

SPECIALS = (PAD_TOKEN, BOS_TOKEN, EOS_TOKEN)
PAD, BOS, EOS = 0, 1, 2  # the ids of SPECIALS, as the model, the search and the training use them

#: the most tokens a source text to translate may have: far above the sentences and dates these
#: models are trained on (the embedded date task's sources are under 40 characters), and small
#: enough that one text takes well under a second and a few MB (a million characters took half a
#: minute and 1.3 GB); a longer text is refused before it is encoded
MAX_SOURCE_LEN = 10_000


def source_specials(level: str) -> tuple[str, ...]:
    """The specials of a new source vocabulary at ``level``: :data:`SPECIALS`, and ``<unk>`` (id 3)
    at word level, where a text to translate often holds a word the training pairs did not (a
    character-level source keeps refusing an unseen character: usually a typo or another script)."""
    return (*SPECIALS, UNK_TOKEN) if level == "word" else SPECIALS


def source_length(vocab: Vocabulary, text: str) -> int:
    """The number of tokens ``text`` has as a source of ``vocab`` (after the stripping of
    :func:`encode_source`), counted without building the token list."""
    if vocab.config.level == "char":
        return len(text.strip())
    text = " ".join(text.split())
    if len(text) <= MAX_SOURCE_LEN or vocab.config.level != "word":  # short (exact), or a legacy split
        return len(vocab.tokenize(text))
    return sum(1 for _ in WORD_RE.finditer(text))  # counted, not listed: a long line costs no token list


def check_vocab(vocab: object, name: str) -> None:
    """SeqlabError unless ``vocab`` is a Vocabulary with :data:`SPECIALS` at ids 0, 1, 2."""
    if not isinstance(vocab, Vocabulary) or vocab.itos[:3] != list(SPECIALS):
        got = vocab.itos[:3] if isinstance(vocab, Vocabulary) else type(vocab).__name__
        raise SeqlabError(f"{name}: expected a Vocabulary with the specials {SPECIALS} at ids 0, 1, 2, got {got}; "
                          "build it with specials=seqlab.seq2seq.vocab.SPECIALS")


def encode_source(vocab: Vocabulary, text: str, name: str = "text") -> list[int]:
    """Ids of a text to translate; SeqlabError naming ``name`` for an empty text, or for unknown
    tokens when ``vocab`` has no ``<unk>`` (with one, they read as ``<unk>``).

    The text is stripped as the training pairs were (a trailing space or newline would otherwise
    be read as tokens the model never saw at that place); at word level, runs of whitespace
    between words are one space, as in ordinary writing."""
    if isinstance(text, str) and not text.strip():
        raise SeqlabError(f"{name}: expected a non-empty text, got {text!r}; pass the text to translate")
    if isinstance(text, str):
        n = source_length(vocab, text)
        if n > MAX_SOURCE_LEN:
            raise SeqlabError(f"{name}: the text is {n:,} tokens long, more than the {MAX_SOURCE_LEN:,} a source text "
                              "may have; split it into shorter texts")
        text = " ".join(text.split()) if vocab.config.level == "word" else text.strip()
    # <unk> where the vocabulary has it, else an error: a translation reads every token (no skipping)
    return vocab.encode(text, name, unknown="replace" if vocab.unk_id is not None else "error", skip_hint=False)
