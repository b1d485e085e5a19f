"""Encoder-decoder with attention (Cho et al. 2014; Bahdanau et al. 2015; Luong et al. 2015).

* Encoder: embeddings, then a bidirectional ``seqlab.nn`` GRU or LSTM (any of :data:`CELLS`) run with the source
  lengths, so each direction starts and ends at its own sequence's ends. Memory (B, S, 2H).
* Bridge: the decoder's first state is ``tanh(W [h_fwd; h_bwd])`` of the encoder's last layer.
* Attention over the memory, with padded source positions masked to weight exactly 0:
  ``"bahdanau"`` (additive) ``score(q, m_j) = v^T tanh(W_q q + W_k m_j)``;
  ``"luong"`` (multiplicative, "general") ``score(q, m_j) = q^T W m_j``.
  Bahdanau attention is queried with the previous decoder state and its context enters the
  cell; Luong attention is queried with the new state, as in the two papers.
* Decoder step: ``h_t = cell([emb(y_{t-1}); (ctx_t); (~h_{t-1})], h_{t-1})``,
  ``~h_t = tanh(W_c [h_t; ctx_t])``, ``logits = W_o ~h_t``. Input feeding passes ``~h_{t-1}``.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import torch
from torch import Tensor, nn

from ..errors import SeqlabError, check_int, check_positive_int
from ..nn.registry import MAX_LAYERS, cell_names, check_cell, get_cell, make_layer
from ..vocab import pad_ids
from .vocab import BOS, PAD

#: the GRU and LSTM families of seqlab.nn.registry. The decoder must
#: carry the bridge's summary of the source through every target step and steer attention with
#: its state (Bahdanau queries with h_{t-1}); cells whose gates read their state can. Left out:
#: the Elman RNN (its gradient through the state vanishes within a sentence, the reason the
#: original choice was GRU/LSTM) and minGRU/minLSTM (gates of the input only: the decoder's state
#: is a running average of its inputs and cannot decide to keep or overwrite the source summary).
CELLS = cell_names(("gru", "lstm"))
ATTENTIONS = ("bahdanau", "luong")
#: the most output tokens a translation may have (the config's ``max_target_len``, ``--max-len``)
MAX_TARGET_LEN = 100_000


@dataclass
class Seq2SeqConfig:
    src_vocab_size: int
    tgt_vocab_size: int
    embed_size: int = 32
    hidden_size: int = 128
    num_layers: int = 1
    cell: str = "gru"
    attention: str = "bahdanau"
    input_feeding: bool = True
    dropout: float = 0.0
    max_target_len: int = 64

    def __post_init__(self) -> None:
        for name in ("src_vocab_size", "tgt_vocab_size", "embed_size", "hidden_size"):
            check_positive_int(name, getattr(self, name))
        check_int("num_layers", self.num_layers, maximum=MAX_LAYERS)
        check_int("max_target_len", self.max_target_len, maximum=MAX_TARGET_LEN)
        check_cell(self.cell, CELLS, "the encoder-decoder")
        if self.attention not in ATTENTIONS:
            raise SeqlabError(f"attention: expected one of {ATTENTIONS}, got {self.attention!r}")
        if not 0 <= self.dropout < 1:
            raise SeqlabError(f"dropout: expected a number in [0, 1), got {self.dropout!r}")

    def to_dict(self) -> dict:
        return asdict(self)


class Encoder(nn.Module):
    def __init__(self, cfg: Seq2SeqConfig) -> None:
        super().__init__()
        self.cfg = cfg
        self.embed = nn.Embedding(cfg.src_vocab_size, cfg.embed_size, padding_idx=PAD)
        self.rnn = make_layer(cfg.cell, cfg.embed_size, cfg.hidden_size, num_layers=cfg.num_layers, bidirectional=True,
                              dropout=cfg.dropout if cfg.num_layers > 1 else 0.0)
        n_states = get_cell(cfg.cell).state_size  # h, or (h, c): one bridge each
        self.bridge = nn.ModuleList(nn.Linear(2 * cfg.hidden_size, cfg.hidden_size) for _ in range(n_states))

    def forward(self, src: Tensor, lengths: Tensor) -> tuple[Tensor, tuple[Tensor, ...]]:
        """``src`` (B, S) ids, ``lengths`` (B,) -> memory (B, S, 2H), decoder state tuple of (B, H)."""
        x = self.embed(src)  # (B, S, E)
        memory, state = self.rnn(x, lengths=lengths)  # (B, S, 2H)
        parts = (state,) if isinstance(state, Tensor) else tuple(state)  # each (L*2, B, H)
        dec = tuple(torch.tanh(w(torch.cat([p[-2], p[-1]], -1))) for w, p in zip(self.bridge, parts))  # (B, H)
        return memory, dec


class Attention(nn.Module):
    """Additive (Bahdanau) or multiplicative (Luong 'general') attention with a padding mask."""

    def __init__(self, kind: str, query_size: int, key_size: int) -> None:
        super().__init__()
        self.kind = kind
        if kind == "bahdanau":
            self.w_k = nn.Linear(key_size, query_size, bias=False)
            self.w_q = nn.Linear(query_size, query_size)
            self.v = nn.Linear(query_size, 1, bias=False)
        else:
            self.w_k = nn.Linear(key_size, query_size, bias=False)

    def keys(self, memory: Tensor) -> Tensor:
        """Projected memory, computed once per source: (B, S, K) -> (B, S, Q)."""
        return self.w_k(memory)

    def forward(self, query: Tensor, keys: Tensor, memory: Tensor, mask: Tensor) -> tuple[Tensor, Tensor]:
        """``query`` (B, Q), ``keys`` (B, S, Q), ``memory`` (B, S, K), ``mask`` (B, S) True on tokens.

        Returns context (B, K) and weights (B, S); weights on padding are exactly 0.
        """
        if self.kind == "bahdanau":
            e = self.v(torch.tanh(keys + self.w_q(query).unsqueeze(1))).squeeze(-1)  # (B, S)
        else:
            e = torch.bmm(keys, query.unsqueeze(-1)).squeeze(-1)  # (B, S)
        e = e.masked_fill(~mask, float("-inf"))
        w = torch.softmax(e, dim=-1)  # (B, S)
        ctx = torch.bmm(w.unsqueeze(1), memory).squeeze(1)  # (B, K)
        return ctx, w


@dataclass
class Memory:
    """What the decoder attends to, for a batch of sources (rows may be repeated for beams)."""

    memory: Tensor  # (B, S, 2H)
    keys: Tensor  # (B, S, H)
    mask: Tensor  # (B, S) bool

    def index_select(self, idx: Tensor) -> "Memory":
        return Memory(self.memory.index_select(0, idx), self.keys.index_select(0, idx), self.mask.index_select(0, idx))


class Decoder(nn.Module):
    def __init__(self, cfg: Seq2SeqConfig) -> None:
        super().__init__()
        self.cfg = cfg
        H, K = cfg.hidden_size, 2 * cfg.hidden_size
        self.embed = nn.Embedding(cfg.tgt_vocab_size, cfg.embed_size, padding_idx=PAD)
        in_size = cfg.embed_size + (K if cfg.attention == "bahdanau" else 0) + (H if cfg.input_feeding else 0)
        # a one-layer seqlab.nn layer: its cell steps in decoding, the whole layer runs the
        # teacher-forced sequence at once when no step depends on the previous one's attention
        self.rnn = make_layer(cfg.cell, in_size, H)
        self.attn = Attention(cfg.attention, H, K)
        self.combine = nn.Linear(H + K, H)
        self.drop = nn.Dropout(cfg.dropout)
        self.out = nn.Linear(H, cfg.tgt_vocab_size)

    @property
    def cell(self):
        return self.rnn.cells[0]

    @property
    def parallel(self) -> bool:
        """True when teacher-forced steps are independent of attention (Luong, no input feeding)."""
        return self.cfg.attention == "luong" and not self.cfg.input_feeding

    def step(self, y_prev: Tensor, state: tuple[Tensor, ...], feed: Tensor, mem: Memory):
        """One output step. ``y_prev`` (B,) ids, state tuple of (B, H), ``feed`` (B, H) = ~h_{t-1}.

        Returns logits (B, V), new state, new feed (B, H) and attention weights (B, S).
        """
        parts = [self.embed(y_prev)]  # (B, E)
        if self.cfg.attention == "bahdanau":
            ctx, w = self.attn(state[0], mem.keys, mem.memory, mem.mask)
            parts.append(ctx)
        if self.cfg.input_feeding:
            parts.append(feed)
        state = self.cell.step(torch.cat(parts, -1), state)
        if self.cfg.attention == "luong":
            ctx, w = self.attn(state[0], mem.keys, mem.memory, mem.mask)
        feed = torch.tanh(self.combine(torch.cat([state[0], ctx], -1)))  # (B, H)
        return self.out(self.drop(feed)), state, feed, w

    def forward_parallel(self, tgt_in: Tensor, state: tuple[Tensor, ...], mem: Memory) -> tuple[Tensor, Tensor]:
        """All teacher-forced steps at once (only when :attr:`parallel`): ``tgt_in`` (B, T) ->
        logits (B, T, V), attention weights (B, T, S). Equal to stepping :meth:`step`."""
        x = self.embed(tgt_in)  # (B, T, E)
        h0 = tuple(s.unsqueeze(0) for s in state)  # each (1, B, H)
        hs, _ = self.rnn(x, h0[0] if len(h0) == 1 else h0)  # (B, T, H)
        e = torch.bmm(hs, mem.keys.transpose(1, 2))  # (B, T, S)
        e = e.masked_fill(~mem.mask.unsqueeze(1), float("-inf"))
        w = torch.softmax(e, dim=-1)  # (B, T, S)
        ctx = torch.bmm(w, mem.memory)  # (B, T, K)
        feed = torch.tanh(self.combine(torch.cat([hs, ctx], -1)))  # (B, T, H)
        return self.out(self.drop(feed)), w


class Seq2Seq(nn.Module):
    """Encoder, attention and decoder (see the module docstring). Knows nothing of the trainer."""

    def __init__(self, cfg: Seq2SeqConfig) -> None:
        super().__init__()
        self.cfg = cfg
        self.encoder = Encoder(cfg)
        self.decoder = Decoder(cfg)

    def encode(self, src: Tensor, lengths: Tensor) -> tuple[Memory, tuple[Tensor, ...], Tensor]:
        """Returns the memory to attend to, the decoder's first state and its first feed (B, H)."""
        memory, state = self.encoder(src, lengths)
        mask = torch.arange(src.shape[1], device=src.device).unsqueeze(0) < lengths.to(src.device).unsqueeze(1)  # (B, S)
        mem = Memory(memory, self.decoder.attn.keys(memory), mask)
        return mem, state, memory.new_zeros(src.shape[0], self.cfg.hidden_size)

    def forward(self, src: Tensor, lengths: Tensor, tgt_in: Tensor,
                teacher_forcing: float = 1.0) -> tuple[Tensor, Tensor]:
        """Scores of every target step.

        ``src`` (B, S) ids padded with 0, ``lengths`` (B,), ``tgt_in`` (B, T) the target shifted
        right (starting with the start token). With ``teacher_forcing`` < 1 each step feeds, per
        sequence, the true previous token with that probability and the model's own argmax
        otherwise. Returns logits (B, T, V) and attention weights (B, T, S). Luong attention
        without input feeding runs all teacher-forced steps at once (see ``Decoder.parallel``).
        """
        mem, state, feed = self.encode(src, lengths)
        if self.decoder.parallel and teacher_forcing >= 1.0:
            return self.decoder.forward_parallel(tgt_in, state, mem)
        logits, weights = [], []
        y = tgt_in[:, 0]
        for t in range(tgt_in.shape[1]):
            if t > 0:
                y = tgt_in[:, t]
                if teacher_forcing < 1.0:
                    own = logits[-1].detach().clone()
                    own[:, PAD] = own[:, BOS] = float("-inf")  # never outputs, as in decoding
                    own = own.argmax(-1)
                    use_true = torch.rand(y.shape, device=y.device) < teacher_forcing
                    y = torch.where(use_true, y, own)
            lg, state, feed, w = self.decoder.step(y, state, feed, mem)
            logits.append(lg)
            weights.append(w)
        return torch.stack(logits, 1), torch.stack(weights, 1)


def pad_batch(seqs: list[list[int]], device: torch.device | str = "cpu") -> tuple[Tensor, Tensor]:
    """Right-pad id lists with <pad> (0): ids (B, S) and lengths (B,), the shared
    :func:`seqlab.vocab.pad_ids` as tensors on ``device``."""
    ids, lengths = pad_ids(seqs, PAD)  # (B, S), (B,)
    return torch.from_numpy(ids).to(device), torch.from_numpy(lengths).to(device)


def start_tokens(batch: int, device: torch.device | str) -> Tensor:
    return torch.full((batch,), BOS, dtype=torch.long, device=device)


__all__ = ["ATTENTIONS", "CELLS", "Attention", "Decoder", "Encoder", "Memory", "Seq2Seq", "Seq2SeqConfig",
           "pad_batch", "start_tokens"]
