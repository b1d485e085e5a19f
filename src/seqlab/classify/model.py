"""The classifier network: optional embedding, a (bi)directional recurrent branch with pooling,
optionally a fully convolutional branch beside it, a linear head.

    ids (B, T) --Embedding--> x (B, T, E)         (text)      or   x (B, T, F) (numeric)
    recurrent branch:  x --patches of P steps--> (B, T/P, P*I) --Recurrent(lengths)--> out (B, T/P, D*H)
        pool: 'last' = final h of the top layer (both directions), 'mean' / 'max' over valid steps,
        'attention' = softmax(v . tanh(W out_t)) weighted sum over valid steps  --dropout--> (B, D*H)
    convolutional branch (fcn = W > 0):  x --[conv k8, W] [conv k5, 2W] [conv k3, W], each
        followed by batch norm over the valid steps and ReLU--> (B, T, W) --mean over valid steps--> (B, W)
    [recurrent ; convolutional] --Linear--> logits (B, C)      softmax -> probabilities

With ``fcn`` this is the LSTM-FCN / GRU-FCN design (Karim et al. 2018, 2019): a recurrent branch
beside the fully convolutional network of Wang et al. (2017), concatenated before the softmax.
Patches (``patch`` = P > 1, numeric input) let the recurrent branch read a long series in
T/P steps of P consecutive values each; P = 1 reads every step.

Padding is never read: the recurrent layer runs with the true lengths, padded steps are zeroed
before every convolution and left out of every pooling and of the batch statistics. In
evaluation a sequence gets the same logits alone and inside a padded batch.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ..errors import SeqlabError, check_positive_int
from ..nn.registry import cell_names, get_cell, make_layer

#: every cell of seqlab.nn.registry: all run both directions with per-sequence lengths
CELLS = cell_names()
POOLINGS = ("last", "mean", "max", "attention")
#: the convolutional branch's kernel sizes and channel multiples (Wang et al. 2017, LSTM-FCN)
FCN_KERNELS = (8, 5, 3)
FCN_WIDTHS = (1, 2, 1)


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
    fcn: int = 0  # > 0: a fully convolutional branch of fcn, 2*fcn, fcn channels beside the recurrent one
    patch: int = 1  # > 1: the recurrent branch reads `patch` consecutive steps as one (numeric input)

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
        for name, low in (("fcn", 0), ("patch", 1)):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, int) or v < low:
                raise SeqlabError(f"{name}: expected an integer >= {low}, got {v!r}")
        if self.patch > 1 and self.vocab_size > 0:
            raise SeqlabError(f"patch: only for numeric input; text reads one token per step, got patch={self.patch}")


def _distributed() -> bool:
    import torch.distributed as dist

    return dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1


class _AllReduceSum(torch.autograd.Function):
    """The sum of a tensor over the processes, with the sum of the gradients as its backward (every
    process's loss depends on every process's tensor)."""

    @staticmethod
    def forward(ctx, x: Tensor) -> Tensor:
        import torch.distributed as dist

        y = x.clone()
        dist.all_reduce(y)
        return y

    @staticmethod
    def backward(ctx, g: Tensor) -> Tensor:
        import torch.distributed as dist

        g = g.clone()
        dist.all_reduce(g)
        return g


class MaskedBatchNorm(nn.Module):
    """Batch normalisation over the real steps of a padded batch: in training each channel is
    normalised with the mean and (biased) variance over every valid step of every sequence of the
    batch, summed over all processes under ``torchrun`` (a differentiable all-reduce, so N
    processes normalise like one at N times the batch); the running mean and (unbiased) variance
    (momentum 0.1, as torch.nn.BatchNorm1d) normalise in evaluation. ``forward(h (B, T, C),
    m (B, T, 1) 1.0 on valid steps)``. Padding never enters the statistics."""

    def __init__(self, channels: int, momentum: float = 0.1, eps: float = 1e-5) -> None:
        super().__init__()
        self.momentum, self.eps = momentum, eps
        self.weight = nn.Parameter(torch.ones(channels))
        self.bias = nn.Parameter(torch.zeros(channels))
        self.register_buffer("running_mean", torch.zeros(channels))
        self.register_buffer("running_var", torch.ones(channels))

    def forward(self, h: Tensor, m: Tensor) -> Tensor:
        if self.training:
            C = h.shape[-1]
            hm = h * m
            stats = torch.cat([hm.sum((0, 1)), (hm * h).sum((0, 1)), m.sum().reshape(1)])  # (2C + 1,)
            if _distributed():
                stats = _AllReduceSum.apply(stats)  # the global batch's sums; gradients flow back to every process
            n = stats[-1]
            mean = stats[:C] / n
            var = (stats[C : 2 * C] / n - mean * mean).clamp_min(0.0)  # (C,)
            with torch.no_grad():
                self.running_mean.lerp_(mean.detach(), self.momentum)
                self.running_var.lerp_(var.detach() * n / (n - 1).clamp_min(1.0), self.momentum)
        else:
            mean, var = self.running_mean, self.running_var
        return (h - mean) * torch.rsqrt(var + self.eps) * self.weight + self.bias


class ConvBranch(nn.Module):
    """The fully convolutional network of Wang et al. (2017) as LSTM-FCN uses it: three blocks of a
    'same' convolution, batch normalisation, ReLU; then the mean over the valid steps.
    ``forward(x (B, T, I), valid (B, T)) -> (B, W)``.

    The batch normalisation (:class:`MaskedBatchNorm`) counts only real steps, so in evaluation a
    sequence gets the same output alone and padded. (A layer norm per step, which would keep the
    sequences of a batch independent in training too, scored 0.77 on ArrowHead against 0.84 for
    batch norm, an FCN alone, seeds 0-1.)"""

    def __init__(self, in_size: int, width: int) -> None:
        super().__init__()
        chans = [in_size] + [m * width for m in FCN_WIDTHS]
        # no bias: the batch norm after each convolution removes it (its gradient is 0 up to rounding,
        # which Adam would turn into steps of a random sign)
        self.convs = nn.ModuleList(nn.Conv1d(a, b, k, bias=False) for a, b, k in zip(chans, chans[1:], FCN_KERNELS))
        self.norms = nn.ModuleList(MaskedBatchNorm(b) for b in chans[1:])
        self.out_size = chans[-1]

    def forward(self, x: Tensor, valid: Tensor) -> Tensor:
        m = valid[:, :, None].to(x.dtype)  # (B, T, 1)
        h = x
        for conv, norm in zip(self.convs, self.norms):
            k = conv.kernel_size[0]  # 'same' output length: (k-1)//2 zeros before, k//2 after
            h = F.pad((h * m).transpose(1, 2), ((k - 1) // 2, k // 2))  # (B, C_in, T+k-1): padding read as zeros
            h = conv(h).transpose(1, 2)  # (B, T, C)
            h = torch.relu(norm(h, m))  # (B, T, C)
        return (h * m).sum(1) / m.sum(1)  # (B, W)


class ClassifierNet(nn.Module):
    """Sequence -> class logits. ``forward(x, lengths)`` with x (B, T) ids or (B, T, F) floats."""

    def __init__(self, config: ClassifierConfig) -> None:
        super().__init__()
        self.config = c = config
        self.embedding = nn.Embedding(c.vocab_size, c.embedding_dim, padding_idx=0) if c.vocab_size > 0 else None
        in_size = c.embedding_dim if self.embedding is not None else c.input_size
        self.rnn = make_layer(c.cell, in_size * c.patch, c.hidden_size, num_layers=c.num_layers,
                              bidirectional=c.bidirectional, dropout=c.dropout if c.num_layers > 1 else 0.0)
        self._init_gates()
        D = 2 if c.bidirectional else 1
        # additive attention over the recurrent outputs (Bahdanau et al. 2015; Yang et al. 2016's pooling)
        self.attention = (nn.Sequential(nn.Linear(D * c.hidden_size, D * c.hidden_size), nn.Tanh(),
                                        nn.Linear(D * c.hidden_size, 1, bias=False))
                          if c.pooling == "attention" else None)
        self.drop = nn.Dropout(c.dropout)
        self.conv = ConvBranch(in_size, c.fcn) if c.fcn > 0 else None
        self.head = nn.Linear(D * c.hidden_size + (self.conv.out_size if self.conv is not None else 0), c.num_classes)

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

    def patches(self, x: Tensor, lengths: Tensor) -> tuple[Tensor, Tensor]:
        """Steps (B, T, I) -> the recurrent branch's input (B, ceil(T/P), P*I) and lengths
        ceil(lengths/P): P consecutive steps side by side, the last patch zero-filled."""
        P = self.config.patch
        if P == 1:
            return x, lengths
        B, T, I = x.shape
        n = -(-T // P)
        x = F.pad(x, (0, 0, 0, n * P - T)).reshape(B, n, P * I)  # (B, T/P, P*I)
        return x, (lengths + P - 1) // P

    def features(self, x: Tensor, lengths: Tensor) -> Tensor:
        """Embedded or numeric steps (B, T, I) and lengths (B,) -> pooled recurrent features
        (B, D*H), then the convolutional branch's (B, W) when there is one."""
        valid = torch.arange(x.shape[1], device=x.device)[None, :] < lengths.to(x.device)[:, None]  # (B, T)
        if self.config.patch > 1 or self.conv is not None:
            x = torch.where(valid[..., None], x, torch.zeros((), dtype=x.dtype, device=x.device))  # padding -> 0
        rx, rl = self.patches(x, lengths)
        feats = self.drop(self.pool(rx, rl))
        if self.conv is None:
            return feats
        return torch.cat([feats, self.conv(x, valid)], 1)  # (B, D*H + W)

    def pool(self, x: Tensor, lengths: Tensor) -> Tensor:
        """The recurrent branch: steps (B, T, I) -> (B, D*H) pooled over the valid steps."""
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
        if c.pooling == "attention":
            score = self.attention(out).squeeze(-1).masked_fill(~valid, float("-inf"))  # (B, T)
            w = torch.softmax(score, 1)  # (B, T): 0 on padding
            return (w[..., None] * out.masked_fill(~valid[..., None], 0.0)).sum(1)  # (B, D*H)
        return out.masked_fill(~valid[..., None], float("-inf")).max(1).values  # (B, D*H)

    def forward_embedded(self, x: Tensor, lengths: Tensor) -> Tensor:
        """Logits (B, C) from already embedded steps (B, T, I) (used for attributions)."""
        return self.head(self.features(x, lengths))

    def forward(self, x: Tensor, lengths: Tensor) -> Tensor:
        """Logits (B, C) from ids (B, T) or numeric steps (B, T, F) with true lengths (B,)."""
        return self.forward_embedded(self.embed(x), lengths)
