"""Decoding: greedy (batched) and beam search with a length penalty and n-best lists.

A hypothesis' ``score`` is its log-probability divided by the GNMT length penalty
``((5 + |y|) / 6) ** alpha`` (Wu et al. 2016), where |y| counts the end token; ``alpha = 0``
ranks by log-probability alone. With beam size 1 beam search is greedy decoding.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

from ..errors import SeqlabError, check_int
from .model import Seq2Seq, start_tokens
from .vocab import BOS, EOS, PAD


@dataclass
class Hypothesis:
    """One output: ``tokens`` (ids, ending with the end token when it was produced), its total
    ``logprob``, its ``score`` and ``attention`` (len(tokens), S): one row of source weights per
    output token."""

    tokens: list[int]
    logprob: float
    score: float
    attention: Tensor

    @property
    def finished(self) -> bool:
        return bool(self.tokens) and self.tokens[-1] == EOS


def length_penalty(n: int, alpha: float) -> float:
    return ((5.0 + n) / 6.0) ** alpha if alpha else 1.0


def log_probs(logits: Tensor) -> Tensor:
    """Log-softmax over the vocabulary with padding and the start token ruled out (never outputs)."""
    lp = torch.log_softmax(logits, -1)
    lp[:, PAD] = float("-inf")
    lp[:, BOS] = float("-inf")
    return lp


def check_beam(beam: int) -> int:
    return check_int("beam", beam, meaning="the beam size; 1 is greedy decoding")


@torch.no_grad()
def greedy(model: Seq2Seq, src: Tensor, lengths: Tensor, max_len: int, alpha: float = 0.0) -> list[Hypothesis]:
    """Argmax decoding of a batch ``src`` (B, S) with ``lengths`` (B,); one hypothesis per source."""
    mem, state, feed = model.encode(src, lengths)
    B = src.shape[0]
    y = start_tokens(B, src.device)
    done = torch.zeros(B, dtype=torch.bool, device=src.device)
    toks, ws, lps = [], [], []
    for _ in range(max_len):
        logits, state, feed, w = model.decoder.step(y, state, feed, mem)
        lp, y = log_probs(logits).max(-1)  # (B,), (B,)
        toks.append(y)
        ws.append(w)
        lps.append(lp)
        done = done | (y == EOS)
        if bool(done.all()):
            break
    toks_t, ws_t, lps_t = torch.stack(toks, 1), torch.stack(ws, 1), torch.stack(lps, 1)  # (B, T), (B, T, S), (B, T)
    out = []
    for b in range(B):
        seq = toks_t[b].tolist()
        n = seq.index(EOS) + 1 if EOS in seq else len(seq)
        logprob = float(lps_t[b, :n].sum())
        out.append(Hypothesis(seq[:n], logprob, logprob / length_penalty(n, alpha),
                              ws_t[b, :n, : int(lengths[b])].cpu()))
    return out


@torch.no_grad()
def beam_search(model: Seq2Seq, src: Tensor, lengths: Tensor, beam: int, max_len: int,
                alpha: float = 0.0, nbest: int = 1) -> list[Hypothesis]:
    """Beam search for ONE source ``src`` (1, S); returns up to ``nbest`` hypotheses, best first.

    Each step extends the live hypotheses by every token, keeps the ``beam`` best that do not end
    and sets aside those among the ``beam`` best candidates that end; the search stops once ``beam`` hypotheses have ended or after
    ``max_len`` steps (then the live ones are returned too, unfinished, after the ended ones).
    """
    check_beam(beam)
    if src.shape[0] != 1:
        raise SeqlabError(f"src: beam search takes one source at a time, got a batch of {src.shape[0]}")
    nbest = max(1, min(int(nbest), beam))
    mem1, state, feed = model.encode(src, lengths)
    S = int(lengths[0])
    live_toks: list[list[int]] = [[]]
    live_lp = feed.new_zeros(1)
    live_attn = feed.new_zeros(1, 0, S)  # (n, t, S)
    y = start_tokens(1, src.device)
    finished: list[Hypothesis] = []
    for t in range(max_len):
        n = len(live_toks)
        mem = mem1.index_select(torch.zeros(n, dtype=torch.long, device=src.device))
        logits, state, feed, w = model.decoder.step(y, state, feed, mem)
        cand = live_lp.unsqueeze(1) + log_probs(logits)  # (n, V)
        V = cand.shape[1]
        top_lp, top_idx = cand.view(-1).topk(min(2 * beam, n * V))  # (n*V,) flattened
        keep_parent, keep_tok, keep_lp = [], [], []
        for rank, (lp, idx) in enumerate(zip(top_lp.tolist(), top_idx.tolist())):
            parent, tok = divmod(idx, V)
            if tok == EOS:
                if rank >= beam:  # an ending only counts among the beam best candidates
                    continue
                toks = live_toks[parent] + [tok]
                attn = torch.cat([live_attn[parent], w[parent, :S].unsqueeze(0)], 0)  # (t+1, S)
                finished.append(Hypothesis(toks, lp, lp / length_penalty(len(toks), alpha), attn.cpu()))
            elif len(keep_tok) < beam:
                keep_parent.append(parent)
                keep_tok.append(tok)
                keep_lp.append(lp)
            if len(keep_tok) == beam and len(finished) >= beam:
                break
        if len(finished) >= beam or not keep_tok:
            break
        par = torch.tensor(keep_parent, dtype=torch.long, device=src.device)
        live_attn = torch.cat([live_attn.index_select(0, par), w.index_select(0, par)[:, :S].unsqueeze(1)], 1)
        live_toks = [live_toks[p] + [tk] for p, tk in zip(keep_parent, keep_tok)]
        live_lp = torch.tensor(keep_lp, dtype=feed.dtype, device=src.device)
        state = tuple(s.index_select(0, par) for s in state)
        feed = feed.index_select(0, par)
        y = torch.tensor(keep_tok, dtype=torch.long, device=src.device)
    else:
        for k, toks in enumerate(live_toks):
            lp = float(live_lp[k])
            finished.append(Hypothesis(toks, lp, lp / length_penalty(len(toks), alpha), live_attn[k].cpu()))
    finished.sort(key=lambda h: (h.finished, h.score), reverse=True)  # ended ones first
    return finished[:nbest]
