"""The user-facing object: a model with its two vocabularies; translate, save, load, plot.

>>> tr = Translator.load("dates.safetensors")
>>> out = tr.translate("3rd of March 2015")
>>> out.text, out.attention.shape      # '2015-03-03', (11, 17): one row per output token
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import torch
from torch import Tensor

from ..errors import ModelFileError, SeqlabError, check_float, check_int
from ..io import build_checked, load_file, save_file
from ..vocab import Vocabulary
from .model import Seq2Seq, Seq2SeqConfig, pad_batch
from .search import Hypothesis, beam_search, check_beam, greedy
from .vocab import check_vocab, encode_source

KIND = "seq2seq"
#: the largest GNMT length-penalty exponent accepted ((5 + n) / 6 raised to it stays finite)
MAX_LENGTH_PENALTY = 10.0


@dataclass
class Translation:
    """One output for one source: ``text``, its ``score`` and ``logprob``, the token strings of
    both sides (the target's ending with ``</s>`` when produced) and ``attention``
    (len(target_tokens), len(source_tokens)), each row summing to 1."""

    source: str
    text: str
    score: float
    logprob: float
    source_tokens: list[str]
    target_tokens: list[str]
    attention: Tensor


class Translator:
    """A :class:`Seq2Seq` model with its source and target vocabularies."""

    def __init__(self, model: Seq2Seq, src_vocab: Vocabulary, tgt_vocab: Vocabulary) -> None:
        check_vocab(src_vocab, "src_vocab")
        check_vocab(tgt_vocab, "tgt_vocab")
        if len(src_vocab) != model.cfg.src_vocab_size or len(tgt_vocab) != model.cfg.tgt_vocab_size:
            raise SeqlabError(
                f"vocabularies: the model expects {model.cfg.src_vocab_size} source and {model.cfg.tgt_vocab_size} "
                f"target tokens, got {len(src_vocab)} and {len(tgt_vocab)}; build the model from these vocabularies"
            )
        self.model = model
        self.src_vocab = src_vocab
        self.tgt_vocab = tgt_vocab

    @classmethod
    def create(cls, src_vocab: Vocabulary, tgt_vocab: Vocabulary, **config) -> "Translator":
        """A fresh model sized for the vocabularies; ``config`` are :class:`Seq2SeqConfig` fields.

        A source ``<unk>`` (word level) starts with a zero vector, as ``<pad>`` does: no training
        pair holds it, so it gets no gradient and stays zero, and an unseen word reads as a step
        that carries no word rather than as a random one."""
        cfg = Seq2SeqConfig(src_vocab_size=len(src_vocab), tgt_vocab_size=len(tgt_vocab), **config)
        model = Seq2Seq(cfg)
        if src_vocab.unk_id is not None:
            with torch.no_grad():
                model.encoder.embed.weight[src_vocab.unk_id].zero_()
        return cls(model, src_vocab, tgt_vocab)

    @property
    def device(self) -> torch.device:
        return next(self.model.parameters()).device

    # -- translation ---------------------------------------------------------------------------
    def _hyp(self, source: str, ids: list[int], h: Hypothesis) -> Translation:
        return Translation(source, self.tgt_vocab.decode(h.tokens), h.score, h.logprob,
                           self.src_vocab.to_tokens(ids), self.tgt_vocab.to_tokens(h.tokens), h.attention)

    def _check(self, beam: int, max_len: int | None, length_penalty: float = 0.0) -> int:
        check_beam(beam)
        check_float("length_penalty", length_penalty, 0, MAX_LENGTH_PENALTY,
                    meaning="the GNMT exponent; 0 scores by log-probability, 0.6-1 is usual")
        if max_len is None:
            return self.model.cfg.max_target_len
        return check_int("max_len", max_len, meaning="the most output tokens")

    def nbest(self, text: str, beam: int = 5, n: int | None = None, max_len: int | None = None,
              length_penalty: float = 0.0) -> list[Translation]:
        """The ``n`` (default ``beam``) best translations of ``text`` by beam search, best first."""
        max_len = self._check(beam, max_len, length_penalty)
        ids = encode_source(self.src_vocab, text)
        src, lengths = pad_batch([ids], self.device)
        self.model.eval()
        hyps = beam_search(self.model, src, lengths, beam, max_len, length_penalty, n or beam)
        return [self._hyp(text, ids, h) for h in hyps]

    def translate(self, text: str, beam: int = 1, max_len: int | None = None,
                  length_penalty: float = 0.0) -> Translation:
        """The best translation of ``text``: greedy with ``beam=1``, else beam search."""
        encode_source(self.src_vocab, text)  # errors name the argument the caller passed
        if beam == 1:
            return self.translate_batch([text], 1, max_len, length_penalty)[0]
        return self.nbest(text, beam, 1, max_len, length_penalty)[0]

    def translate_batch(self, texts: list[str], beam: int = 1, max_len: int | None = None,
                        length_penalty: float = 0.0, batch_size: int = 256) -> list[Translation]:
        """Translate many texts; greedy decoding runs them in padded batches."""
        max_len = self._check(beam, max_len, length_penalty)
        if isinstance(texts, str):
            raise SeqlabError("texts: expected a list of strings, got one string; use translate(text)")
        if beam > 1:
            return [self.nbest(t, beam, 1, max_len, length_penalty)[0] for t in texts]
        all_ids = [encode_source(self.src_vocab, t, f"texts[{i}]") for i, t in enumerate(texts)]
        self.model.eval()
        out: list[Translation] = []
        for i in range(0, len(texts), batch_size):
            chunk = all_ids[i : i + batch_size]
            src, lengths = pad_batch(chunk, self.device)
            hyps = greedy(self.model, src, lengths, max_len, length_penalty)
            out += [self._hyp(texts[i + j], ids, h) for j, (ids, h) in enumerate(zip(chunk, hyps))]
        return out

    # -- files ---------------------------------------------------------------------------------
    def save(self, path: str | os.PathLike) -> None:
        """One .safetensors file (kind 'seq2seq'): config and both vocabularies in its metadata."""
        config = {"model": self.model.cfg.to_dict(), "src_vocab": self.src_vocab.to_config(),
                  "tgt_vocab": self.tgt_vocab.to_config()}
        save_file(path, KIND, config, self.model.state_dict())

    @classmethod
    def load(cls, path: str | os.PathLike, device: str | torch.device = "cpu") -> "Translator":
        config, tensors = load_file(path, KIND)
        try:
            cfg = Seq2SeqConfig(**config["model"])
            tr = cls(build_checked(lambda: Seq2Seq(cfg), tensors, path), Vocabulary.from_config(config["src_vocab"]),
                     Vocabulary.from_config(config["tgt_vocab"]))
            tr.model.load_state_dict(tensors)
        except (KeyError, TypeError, RuntimeError, SeqlabError) as exc:
            raise ModelFileError(f"model file {str(path)!r} holds a damaged seq2seq model: {exc}") from exc
        tr.model.to(device).eval()
        return tr

    def plot_attention(self, translation: Translation, path: str | os.PathLike) -> None:
        from .plot import plot_attention

        plot_attention(translation, path)
