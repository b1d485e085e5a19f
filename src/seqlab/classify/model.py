"""The classifier network: optional embedding, a (bi)directional recurrent layer, pooling, a linear head.

    ids (B, T) --Embedding--> x (B, T, E)         (text)      or   x (B, T, F) (numeric)
    x --Recurrent(lengths)--> out (B, T, D*H), final state h (L*D, B, H)
    pool: 'last' = final h of the top layer (both directions), 'mean' / 'max' over valid steps
    --Linear--> logits (B, C)      softmax -> probabilities

The recurrent layer always runs with the true lengths, so padding steps are never read: a
sequence gets the same logits alone and inside a padded batch.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor, nn

from ..errors import SeqlabError, check_positive_int
from ..nn.registry import cell_names, get_cell, make_layer

#: every cell of seqlab.nn.registry: all run both directions with per-sequence lengths
CELLS = cell_names()
POOLINGS = ("last", "mean", "max")


@dataclass
class ClassifierConfig:
    """Everything needed to rebuild the network (saved in the model file)."""

    num_classes: int
    input_size: int = 0  # features per step (numeric); ignored when vocab_size > 0
    vocab_size: int = 0  # > 0: inputs are token ids and go through an Embedding
    embedding_dim: int = 32
    cell: str = "lstm"
    hidden_size: int = 64
    num_layers: int = 1
    bidirectional: bool = False
    dropout: float = 0.0
    pooling: str = "last"
    chrono: int = 0  # > 1: chrono gate initialisation for dependencies about this many steps long

    def __post_init__(self) -> None:
        if self.cell not in CELLS:
            raise SeqlabError(f"cell: expected one of {', '.join(CELLS)}, got {self.cell!r}")
        if self.pooling not in POOLINGS:
            raise SeqlabError(f"pooling: expected one of {POOLINGS}, got {self.pooling!r}")
        for name in ("num_classes", "hidden_size", "num_layers"):
            check_positive_int(name, getattr(self, name))
        if self.vocab_size <= 0 and self.input_size < 1:
            raise SeqlabError(f"input_size: expected a positive number of features, got {self.input_size!r}")
        if self.vocab_size > 0 and self.embedding_dim < 1:
            raise SeqlabError(f"embedding_dim: expected a positive integer, got {self.embedding_dim!r}")
        if isinstance(self.chrono, bool) or not isinstance(self.chrono, int) or self.chrono < 0:
            raise SeqlabError(f"chrono: expected 0 (off) or the longest dependency in steps (> 1), got {self.chrono!r}")
        if not 0 <= self.dropout < 1:
            raise SeqlabError(f"dropout: expected a number in [0, 1), got {self.dropout!r}")


class ClassifierNet(nn.Module):
    """Sequence -> class logits. ``forward(x, lengths)`` with x (B, T) ids or (B, T, F) floats."""

    def __init__(self, config: ClassifierConfig) -> None:
        super().__init__()
        self.config = c = config
        self.embedding = nn.Embedding(c.vocab_size, c.embedding_dim, padding_idx=0) if c.vocab_size > 0 else None
        in_size = c.embedding_dim if self.embedding is not None else c.input_size
        self.rnn = make_layer(c.cell, in_size, c.hidden_size, num_layers=c.num_layers, bidirectional=c.bidirectional,
                              dropout=c.dropout if c.num_layers > 1 else 0.0)
        self._init_gates()
        D = 2 if c.bidirectional else 1
        self.drop = nn.Dropout(c.dropout)
        self.head = nn.Linear(D * c.hidden_size, c.num_classes)

    def _init_gates(self) -> None:
        """LSTM: forget-gate bias 1 (Jozefowicz et al. 2015, Keras' unit_forget_bias). With ``chrono``
        = T > 1, chrono initialisation (Tallec & Ollivier 2018) for dependencies up to T steps:
        LSTM forget bias ``b_f = log U(1, T-1)`` and input bias ``-b_f``; GRU update-rate bias
        ``-log U(1, T-1)`` (here ``h = (1-z) h + z n``, so a small z keeps the state). Applies to
        the LSTM and GRU families (gate blocks ``i|f|g|o`` and ``r|z|n``); other cells keep theirs."""
        c = self.config
        H = c.hidden_size
        family = get_cell(c.cell).family
        with torch.no_grad():
            for cell in self.rnn.cells:
                if cell.bias_ih is None or family not in ("lstm", "gru"):
                    continue
                if c.chrono > 1:
                    b = torch.log(torch.empty(H).uniform_(1.0, c.chrono - 1.0))  # (H,)
                    if family == "lstm":
                        cell.bias_ih[H : 2 * H] = b  # forget
                        cell.bias_ih[:H] = -b  # input
                        cell.bias_hh[: 2 * H] = 0.0
                    else:
                        cell.bias_ih[H : 2 * H] = -b  # update rate z
                        cell.bias_hh[H : 2 * H] = 0.0
                elif family == "lstm":
                    cell.bias_ih[H : 2 * H] = 1.0
                    cell.bias_hh[H : 2 * H] = 0.0

    def embed(self, x: Tensor) -> Tensor:
        """Token ids (B, T) -> vectors (B, T, E); numeric input (B, T, F) passes through."""
        return self.embedding(x) if self.embedding is not None else x

    def features(self, x: Tensor, lengths: Tensor) -> Tensor:
        """Embedded or numeric steps (B, T, I) and lengths (B,) -> pooled features (B, D*H)."""
        out, state = self.rnn(x, lengths=lengths)  # out (B, T, D*H)
        c = self.config
        D = 2 if c.bidirectional else 1
        if c.pooling == "last":
            h = state[0] if isinstance(state, tuple) else state  # (L*D, B, H)
            top = h[-D:]  # (D, B, H): forward's last step, backward's first step
            return top.transpose(0, 1).reshape(x.shape[0], D * c.hidden_size)  # (B, D*H)
        T = out.shape[1]
        valid = torch.arange(T, device=out.device)[None, :] < lengths.to(out.device)[:, None]  # (B, T)
        if c.pooling == "mean":
            s = (out * valid[..., None]).sum(1)  # (B, D*H)
            return s / lengths.to(out.device, out.dtype)[:, None]
        return out.masked_fill(~valid[..., None], float("-inf")).max(1).values  # (B, D*H)

    def forward_embedded(self, x: Tensor, lengths: Tensor) -> Tensor:
        """Logits (B, C) from already embedded steps (B, T, I) (used for attributions)."""
        return self.head(self.drop(self.features(x, lengths)))

    def forward(self, x: Tensor, lengths: Tensor) -> Tensor:
        """Logits (B, C) from ids (B, T) or numeric steps (B, T, F) with true lengths (B,)."""
        return self.forward_embedded(self.embed(x), lengths)
