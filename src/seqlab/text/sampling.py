"""Sampling from a trained language model: temperature, top-k, top-p (nucleus), greedy, streaming.

The prime text runs through the model once; after that each new symbol is fed alone (a T=1
chunk) with the carried hidden state, so the prefix is never run again and the cost per symbol
is constant. :func:`stream` yields each symbol's text as soon as it is drawn.

Draws are inverse-CDF draws from a private ``torch.Generator`` seeded by ``seed``: the same seed
gives the same text, whatever else uses torch's global random state.
"""

from __future__ import annotations

from contextlib import contextmanager
from dataclasses import dataclass
from typing import Iterator

import numpy as np
import torch
from torch import Tensor

from ..errors import SeqlabError, check_int
from ..vocab import Vocabulary
from .fastpath import fast_stepper
from .model import RecurrentLM, split_state

#: generate with the compiled one-call step (:mod:`seqlab.text.fastpath`) where it covers the
#: model; False steps the model in torch (the tests compare both)
FAST = True


@dataclass
class SampleConfig:
    """How to pick each next symbol. ``greedy`` takes the most likely one (ignores the rest)."""

    length: int = 200
    temperature: float = 1.0
    top_k: int | None = None
    top_p: float | None = None
    greedy: bool = False
    seed: int | None = None
    unknown: str = "error"

    def __post_init__(self) -> None:
        check_sampling(self.length, self.temperature, self.top_k, self.top_p)


#: the temperatures accepted: logits divided by less than this overflow float32 (greedy is the limit of 0)
MIN_TEMPERATURE, MAX_TEMPERATURE = 1e-6, 1e6


def check_sampling(length: int, temperature: float, top_k: int | None, top_p: float | None) -> None:
    """Raise :class:`SeqlabError` for a bad length, temperature, top-k or top-p."""
    check_int("length", length, 0)
    if isinstance(temperature, bool) or not isinstance(temperature, (int, float)) \
            or not MIN_TEMPERATURE <= temperature <= MAX_TEMPERATURE:
        raise SeqlabError(
            f"temperature: expected a number in [{MIN_TEMPERATURE:g}, {MAX_TEMPERATURE:g}] (1 samples the model as "
            f"is, lower is more conservative), got {temperature!r}; use greedy decoding for the limit of 0"
        )
    check_int("top_k", top_k, none="no limit")
    if top_p is not None and (isinstance(top_p, bool) or not isinstance(top_p, (int, float)) or not 0 < top_p <= 1):
        raise SeqlabError(f"top_p: expected a number in (0, 1] (or None for no limit), got {top_p!r}")


def filter_probs(logits: Tensor, temperature: float = 1.0, top_k: int | None = None,
                 top_p: float | None = None) -> Tensor:
    """Next-symbol probabilities (..., V) from ``logits`` (..., V) after temperature, top-k and top-p.

    top-k keeps the k most likely symbols; top-p keeps the smallest set of most likely symbols
    whose probability reaches ``top_p`` (always at least one). The kept ones are renormalised.
    """
    check_sampling(0, temperature, top_k, top_p)
    logits = logits.float() / temperature
    if top_k is not None and top_k < logits.shape[-1]:
        kth = torch.topk(logits, top_k, dim=-1).values[..., -1:]  # (..., 1)
        logits = logits.masked_fill(logits < kth, float("-inf"))
    probs = torch.softmax(logits, dim=-1)
    if top_p is not None and top_p < 1:
        sorted_p, order = torch.sort(probs, dim=-1, descending=True)
        before = torch.cumsum(sorted_p, dim=-1) - sorted_p  # mass of the more likely ones
        drop_sorted = before >= top_p  # the first is never dropped (before = 0 < top_p)
        drop = torch.zeros_like(drop_sorted).scatter(-1, order, drop_sorted)
        probs = probs.masked_fill(drop, 0.0)
        probs = probs / probs.sum(-1, keepdim=True)
    return probs


def draw(probs: Tensor, generator: torch.Generator | None) -> Tensor:
    """One symbol per row of ``probs`` (B, V) by inverse CDF with a uniform from ``generator``: (B,)."""
    u = torch.rand(probs.shape[0], 1, generator=generator, device=probs.device)  # (B, 1)
    cdf = torch.cumsum(probs, dim=-1)  # (B, V)
    idx = torch.searchsorted(cdf, u * cdf[:, -1:], right=True)  # (B, 1)
    return idx.clamp_(max=probs.shape[-1] - 1).squeeze(1)


@contextmanager
def _threads(n: int | None) -> Iterator[None]:
    """Run the block with ``n`` intra-op threads (None: unchanged). Batch-1 steps are far too small
    to gain from threads, and on a busy machine every thread barrier costs a scheduler slice."""
    if n is None or torch.get_num_threads() == n:
        yield
        return
    before = torch.get_num_threads()
    torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def _default_prime(vocab: Vocabulary) -> str:
    for s in ("\n", " ", "."):
        if s in vocab:
            return s
    return vocab.tokens[0]


def stream(model: RecurrentLM, vocab: Vocabulary, prime: str | None = None, length: int = 200,
           temperature: float = 1.0, top_k: int | None = None, top_p: float | None = None,
           greedy: bool = False, seed: int | None = None, unknown: str = "error") -> Iterator[str]:
    """Yield the text of ``length`` new symbols one by one, continuing ``prime`` (not yielded).

    With ``prime`` None the model starts from a newline (or another common symbol). The
    arguments are checked before anything runs, so a bad one raises before the first symbol.
    """
    check_sampling(length, temperature, top_k, top_p)
    if prime is None or prime == "":
        prime = _default_prime(vocab)
    ids = vocab.encode(prime, unknown=unknown)
    if not ids:
        raise SeqlabError(f"prime: no symbol of {prime!r} is in the vocabulary; pass another prime text")
    return _stream(model, vocab, ids, length, temperature, top_k, top_p, greedy, seed)


@torch.no_grad()  # on the generator function: grad mode is restored between yields
def _stream(model, vocab, ids, length, temperature, top_k, top_p, greedy, seed) -> Iterator[str]:
    was_training = model.training
    model.eval()
    try:
        device = next(model.parameters()).device
        gen = torch.Generator(device=device)
        gen.manual_seed(seed if seed is not None else int(torch.randint(0, 2**62, (1,)).item()))
        x = torch.tensor([ids], dtype=torch.long, device=device)  # (1, T_prime)
        with _threads(1 if device.type == "cpu" else None):
            logits, state = model(x)  # the prime, once (fused over its whole length)
        states = split_state(state)  # one (h,) or (h, c) per layer, each (1, H)
        symbols = vocab.itos
        # the specials (a word model's <unk>, <pad>) are not text: never drawn
        banned = [i for i, t in enumerate(symbols) if t in vocab.config.specials]
        last = logits[:, -1]  # (1, V)
        if banned:
            last = last.clone()
            last[:, banned] = float("-inf")
        fast = fast_stepper(model) if FAST else None
        if fast is not None:  # each symbol one compiled call: the step and the draw
            fast.set_state(states)
            logits_np = last[0].numpy()
            k, p = min(top_k or 0, len(symbols)), 1.0 if top_p is None else top_p  # k >= V: no limit
            for i in range(length):
                u = 0.0 if greedy else float(torch.rand(1, 1, generator=gen))  # as draw() takes it
                if banned:
                    logits_np[banned] = -np.inf
                nxt = fast.draw(logits_np, u, temperature, k, p, greedy)
                yield symbols[nxt]
                if i + 1 < length:
                    logits_np = fast.step(nxt)
            return
        one = 1 if device.type == "cpu" else None
        for i in range(length):
            with _threads(one):
                if greedy:
                    nxt = last.argmax(-1)  # (1,)
                else:
                    nxt = draw(filter_probs(last, temperature, top_k, top_p), gen)  # (1,)
            yield symbols[int(nxt)]  # as soon as it is drawn
            if i + 1 < length:
                with _threads(one):
                    last, states = model.step(nxt, states)  # (1, V): one step from the carried state
                if banned:
                    last[:, banned] = float("-inf")
    finally:
        model.train(was_training)


def sample(model: RecurrentLM, vocab: Vocabulary, prime: str | None = None, length: int = 200,
           temperature: float = 1.0, top_k: int | None = None, top_p: float | None = None,
           greedy: bool = False, seed: int | None = None, unknown: str = "error") -> str:
    """The ``length`` new symbols after ``prime`` as one string (see :func:`stream`)."""
    return "".join(stream(model, vocab, prime, length, temperature, top_k, top_p, greedy, seed, unknown))
