"""The one runner behind RNN, LSTM and GRU: layers, directions, lengths, state and backends.

A :class:`Recurrent` layer holds one cell per layer and direction (``cells[layer * D + d]``) and
owns everything around the step: the loop over time, stacking, bidirectionality, dropout between
layers, recurrent dropout, variable lengths and the initial and final states. The backends
(:data:`BACKENDS`), one vocabulary for every layer:

* ``"fused"``: torch's fused kernels (oneDNN on CPU for LSTM, cuDNN on GPU) where the equations
  coincide (standard LSTM, GRU with reset after, tanh/relu RNN).
* ``"sequence"``: the cell's own whole-sequence implementation, ``forward_sequence(x, state,
  lengths) -> (out, state)`` (a parallel scan, a custom autograd function), where the cell has
  one (``cell.sequence_unavailable()`` is None).
* ``"loop"``: the runner steps the cell (:func:`seqlab.nn.loop.run_loop`); the input products of
  all steps are one matrix multiply.
* ``"auto"``: fused where it applies, else sequence, else loop; the loop in training with
  recurrent dropout.

Forcing ``"fused"`` or ``"sequence"`` where it cannot apply (the cell has no such path, or
``recurrent_dropout`` > 0, which only the loop applies) raises SeqlabError saying why, as Keras's
``use_cudnn=True`` does. :meth:`Recurrent.resolve_backend` names the path a forward call takes.
While observed (:meth:`Recurrent.observe`, :func:`seqlab.nn.loop.observe`) a layer runs the loop.

Recurrent dropout (``recurrent_dropout=p``, Gal & Ghahramani 2016): in training each cell gets one
keep mask (B, H) per call, scaled by 1/(1-p), on ``h_{t-1}`` where it enters the recurrent
product, the same for all steps (see :mod:`seqlab.nn.cells`). Masks come from ``layer.generator``
(a ``torch.Generator``) when set, else from torch's global random generator. In evaluation
nothing is dropped.

Shapes (``batch_first=True``, the default): input (B, T, I); output (B, T, D*H); state
``h`` (L*D, B, H) for RNN and GRU, ``(h, c)`` for LSTM, exactly as torch.nn.
"""

from __future__ import annotations

import warnings
from contextlib import contextmanager
from typing import Iterator, Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, _VF, nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

from ..errors import SeqlabError, check_positive_int
from .cells import CellBase, GRUCell, LSTMCell, RNNCell, State, TorchState
from .loop import Observer, Step, run_loop

BACKENDS = ("auto", "fused", "sequence", "loop")

_FUSED = {"LSTM": _VF.lstm, "GRU": _VF.gru, "RNN_TANH": _VF.rnn_tanh, "RNN_RELU": _VF.rnn_relu}


def reverse_padded(x: Tensor, lengths: Tensor | None) -> Tensor:
    """Reverse each sequence of ``x`` (B, T, ...) within its own length; padding stays in place."""
    if lengths is None:
        return x.flip(1)
    T = x.shape[1]
    t = torch.arange(T, device=x.device).unsqueeze(0)  # (1, T)
    L = lengths.to(x.device).unsqueeze(1)  # (B, 1)
    idx = torch.where(t < L, L - 1 - t, t)  # (B, T)
    idx = idx.view(*idx.shape, *([1] * (x.dim() - 2))).expand_as(x)
    return x.gather(1, idx)


class Recurrent(nn.Module):
    """A stack of recurrent layers driven by one runner (see the module docstring).

    ``backend`` is one of :data:`BACKENDS`; ``recurrent_dropout`` the rate of the mask on
    ``h_{t-1}`` (training only); set ``layer.generator`` to draw those masks from a
    ``torch.Generator``; ``layer.observe(callback)`` reports every step.
    """

    cell_class: type[CellBase] = RNNCell

    def __init__(self, input_size: int, hidden_size: int, num_layers: int = 1, bias: bool = True,
                 batch_first: bool = True, dropout: float = 0.0, bidirectional: bool = False,
                 backend: str = "auto", recurrent_dropout: float = 0.0, **cell_kwargs) -> None:
        super().__init__()
        check_positive_int("num_layers", num_layers)
        for name, rate in (("dropout", dropout), ("recurrent_dropout", recurrent_dropout)):
            if isinstance(rate, bool) or not isinstance(rate, (int, float)) or not 0 <= rate < 1:
                raise SeqlabError(f"{name}: expected a number in [0, 1), got {rate!r}")
        if backend not in BACKENDS:
            raise SeqlabError(f"backend: expected one of {BACKENDS}, got {backend!r}")
        self.input_size = input_size
        self.hidden_size = hidden_size
        self.num_layers = num_layers
        self.bias = bool(bias)
        self.batch_first = bool(batch_first)
        self.dropout = float(dropout)
        self.bidirectional = bool(bidirectional)
        self.num_directions = 2 if bidirectional else 1
        self.cell_kwargs = dict(cell_kwargs)
        D = self.num_directions
        self.cells = nn.ModuleList(
            self.cell_class(input_size if layer == 0 else hidden_size * D, hidden_size, bias=bias, **cell_kwargs)
            for layer in range(num_layers)
            for _ in range(D)
        )
        self.state_size = self.cells[0].state_size
        self.recurrent_dropout = float(recurrent_dropout)
        if self.recurrent_dropout:
            why = self.cells[0].recurrent_dropout_unavailable()
            if why:
                raise SeqlabError(f"recurrent_dropout: {why}; got {recurrent_dropout!r}")
        #: where recurrent dropout masks come from (None: torch's global random generator)
        self.generator: torch.Generator | None = None
        self._observers: list[Observer] = []
        self.backend = backend
        self._check_backend()

    # -- backend choice ------------------------------------------------------------------------
    def fused_unavailable(self) -> str | None:
        """Why the fused kernels cannot run this layer, or None when they can."""
        return self.cells[0].fused_unavailable()

    def sequence_unavailable(self) -> str | None:
        """Why the cells have no whole-sequence implementation, or None when they have one."""
        return self.cells[0].sequence_unavailable()

    def _check_backend(self) -> None:
        """SeqlabError saying why when a forced 'fused' or 'sequence' backend cannot run this layer."""
        b = self.backend
        if b not in ("fused", "sequence"):
            return
        why = self.fused_unavailable() if b == "fused" else self.sequence_unavailable()
        if why is None and self.recurrent_dropout:
            why = f"recurrent_dropout={self.recurrent_dropout} is applied by the loop only (backend {b!r} has no mask on h_(t-1))"
        if why:
            raise SeqlabError(f"backend={b!r} is not available: {why}; use backend='auto' or 'loop'")

    def _dropping(self) -> bool:
        return self.training and self.recurrent_dropout > 0

    def resolve_backend(self, input: Tensor | None = None) -> str:
        """The path a forward call on ``input`` takes now: 'fused', 'sequence' (the cell's own) or
        'loop'.

        Depends on the mode (under 'auto' with recurrent dropout, training runs the loop) and,
        where both a fused kernel and a compiled sequence function apply (the standard LSTM and
        GRU on CPU), on which is faster for this input (:meth:`CellBase.sequence_preferred`).
        Without ``input`` the answer is for a sequence of more than one step of a batch small
        enough for torch's fused LSTM to keep its buffers (see ``sequence_preferred``).
        """
        self._check_backend()
        if getattr(self, "_observers", None):
            return "loop"
        if self.backend != "auto":
            return self.backend
        if self._dropping():
            return "loop"
        fused = self.fused_unavailable() is None
        sequence = self.sequence_unavailable() is None
        if fused and sequence and self.cells[0].sequence_preferred(*self._batch_time(input)):
            return "sequence"
        if fused:
            return "fused"
        if sequence:
            return "sequence"
        return "loop"

    def _batch_time(self, input: Tensor | None) -> tuple[int | None, int | None]:
        """(batch, time) of an input, or (None, None)."""
        if not isinstance(input, Tensor) or input.dim() not in (2, 3):
            return None, None
        if input.dim() == 2:
            return 1, input.shape[0]
        return (input.shape[0], input.shape[1]) if self.batch_first else (input.shape[1], input.shape[0])

    # -- recurrent dropout and observers -------------------------------------------------------
    def recurrent_mask(self, batch: int, like: Tensor) -> Tensor:
        """One keep mask on ``h_{t-1}`` for a whole batch of sequences, scaled by 1/(1-p): (B, H).

        Drawn from :attr:`generator` when set (on its device, then moved to ``like``'s), else
        from torch's global random generator. Called once per cell and forward call in training.
        """
        p, g = self.recurrent_dropout, self.generator
        device = like.device if g is None else g.device
        keep = torch.empty(batch, self.hidden_size, dtype=like.dtype, device=device).bernoulli_(1 - p, generator=g)
        return (keep / (1 - p)).to(like.device)

    @contextmanager
    def observe(self, callback: Observer) -> Iterator["Recurrent"]:
        """Within the block, run the loop and call ``callback(step)`` after every step of every cell
        (a :class:`seqlab.nn.loop.Step`); see :func:`seqlab.nn.loop.observe` for whole models."""
        if not callable(callback):
            raise SeqlabError(f"callback: expected a function of one Step, got {type(callback).__name__}")
        if not hasattr(self, "_observers"):
            self._observers = []
        self._observers.append(callback)
        try:
            yield self
        finally:
            self._observers.remove(callback)

    def _step_hook(self, layer: int, direction: int, lengths: Tensor | None):
        """``run_loop``'s ``on_step`` reporting to the observers, or None when there are none."""
        observers = tuple(getattr(self, "_observers", ()))
        if not observers:
            return None

        def on_step(t: int, gi: Tensor, prev: State, new: State) -> None:
            step = Step(self, layer, direction, t, gi, prev, new, lengths)
            for callback in observers:
                callback(step)

        return on_step

    # -- input checks --------------------------------------------------------------------------
    def _check_lengths(self, lengths, mask, B: int, T: int, device) -> Tensor | None:
        if mask is not None:
            if lengths is not None:
                raise SeqlabError("lengths and mask: pass one of them, not both")
            mask = torch.as_tensor(mask)
            if mask.shape != (B, T):
                raise SeqlabError(f"mask: expected shape (batch, time) = ({B}, {T}), got {tuple(mask.shape)}")
            mask = mask.bool()
            lengths = mask.sum(1)
            prefix = torch.arange(T, device=mask.device).unsqueeze(0) < lengths.unsqueeze(1)
            if not torch.equal(prefix, mask):
                raise SeqlabError("mask: expected True on a prefix of each sequence (padding at the end only)")
        if lengths is None:
            return None
        lengths = torch.as_tensor(lengths)
        if lengths.dim() != 1 or lengths.shape[0] != B:
            raise SeqlabError(f"lengths: expected {B} lengths (one per sequence), got shape {tuple(lengths.shape)}")
        if lengths.dtype.is_floating_point or lengths.dtype == torch.bool:
            raise SeqlabError(f"lengths: expected integers, got dtype {lengths.dtype}")
        lengths = lengths.to(torch.long)
        if B and (int(lengths.min()) < 1 or int(lengths.max()) > T):
            raise SeqlabError(
                f"lengths: expected values in [1, {T}] (the time dimension), got min {int(lengths.min())}, max {int(lengths.max())}"
            )
        return lengths

    def _state_parts(self, state) -> tuple:
        parts = (state,) if isinstance(state, Tensor) else state
        what = "(h, c)" if self.state_size == 2 else "h"
        if not isinstance(parts, (tuple, list)) or len(parts) != self.state_size:
            got = f"{len(parts)} item(s)" if isinstance(parts, (tuple, list)) else type(parts).__name__
            raise SeqlabError(f"state: expected {what} ({self.state_size} tensor(s)), got {got}")
        for p in parts:
            if not isinstance(p, Tensor):
                raise SeqlabError(f"state: expected torch.Tensor(s) for {what}, got {type(p).__name__}")
        return tuple(parts)

    def _unsqueeze_state(self, state):
        """An unbatched state (L*D, H) checked and given a batch axis of 1: (L*D, 1, H)."""
        LD, H = self.num_layers * self.num_directions, self.hidden_size
        parts = self._state_parts(state)
        for p in parts:
            if tuple(p.shape) != (LD, H):
                raise SeqlabError(
                    f"state: expected hidden size {(LD, H)} (layers*directions, hidden) for unbatched input, "
                    f"got {tuple(p.shape)}"
                )
        parts = tuple(p.unsqueeze(1) for p in parts)  # (L*D, 1, H)
        return parts[0] if self.state_size == 1 else parts

    def _check_state(self, state, B: int, x: Tensor) -> list[State]:
        """Split a torch-style state into one tuple per layer and direction."""
        LD, H = self.num_layers * self.num_directions, self.hidden_size
        if state is None:
            z = x.new_zeros(B, H)
            return [tuple(z for _ in range(self.state_size))] * LD
        parts = self._state_parts(state)
        for p in parts:
            if tuple(p.shape) != (LD, B, H):
                raise SeqlabError(
                    f"state: expected hidden size {(LD, B, H)} (layers*directions, batch, hidden), got {tuple(p.shape)}"
                )
            if p.dtype != x.dtype:
                raise SeqlabError(f"state: expected dtype {x.dtype} (the input's), got {p.dtype}")
        return [tuple(p[k] for p in parts) for k in range(LD)]

    # -- forward -------------------------------------------------------------------------------
    def forward(self, input: Tensor, state: TorchState | None = None, lengths: Sequence[int] | Tensor | None = None,
                mask: Tensor | None = None, dropout_masks: Sequence[Tensor] | None = None) -> tuple[Tensor, TorchState]:
        """Run the layers. Returns ``(output, state)`` in torch.nn's format.

        ``dropout_masks`` (training only): the masks of the dropout between layers, one per
        boundary ((batch, time, directions * hidden), already scaled by 1 / (1 - p)), instead of
        masks drawn here; for callers that must draw them elsewhere (seqlab.nn.sharded's worker
        threads would draw in a varying order). Torch's fused kernel draws its own, so with
        these masks a fused layer runs one fused call per layer.

        ``lengths`` (B,) or a prefix ``mask`` (B, T) mark variable-length sequences: outputs past a
        sequence's end are zero, its final state is the one at its last valid step, and the
        backward direction starts at its own last step.
        """
        if not isinstance(input, Tensor):
            raise SeqlabError(f"input: expected a torch.Tensor, got {type(input).__name__}")
        unbatched = input.dim() == 2
        if input.dim() not in (2, 3) or input.shape[-1] != self.input_size:
            want = "(batch, time, {0})" if self.batch_first else "(time, batch, {0})"
            raise SeqlabError(
                f"input: expected shape {want.format(self.input_size)} or (time, {self.input_size}), got {tuple(input.shape)}"
            )
        x = input.unsqueeze(0) if unbatched else (input if self.batch_first else input.transpose(0, 1))
        B, T = x.shape[0], x.shape[1]
        if T == 0:
            raise SeqlabError("input: the time dimension is empty (0 steps)")
        w = self.cells[0].weight_ih
        if input.dtype != w.dtype and not torch.is_autocast_enabled(input.device.type):
            raise SeqlabError(
                f"input: expected dtype {w.dtype} (the layer's parameters), got {input.dtype}; "
                f"use x.to({w.dtype}) or layer.to({input.dtype})"
            )
        if unbatched and state is not None:
            state = self._unsqueeze_state(state)
        lengths = self._check_lengths(lengths, mask, B, T, x.device)
        states = self._check_state(state, B, x)

        masks = self._check_dropout_masks(dropout_masks, B, T, x)
        mode = self.resolve_backend(input)
        if mode == "fused" and masks is not None:
            out, finals = self._forward_fused_by_layer(x, states, lengths, masks)
        elif mode == "fused":
            out, finals = self._forward_fused(x, states, lengths)
        else:
            out, finals = self._forward_steps(x, states, lengths, mode, masks)

        if unbatched:
            out = out.squeeze(0)
            finals = tuple(f.squeeze(1) for f in finals)
        elif not self.batch_first:
            out = out.transpose(0, 1)
        return out, (finals[0] if self.state_size == 1 else finals)

    def _check_dropout_masks(self, masks, B: int, T: int, x: Tensor) -> list[Tensor] | None:
        """The between-layer dropout masks to apply (training only), checked, or None."""
        if masks is None or not self.training:
            return None
        want = (B, T, self.num_directions * self.hidden_size)
        masks = list(masks)
        if len(masks) != self.num_layers - 1 or any(tuple(m.shape) != want for m in masks):
            got = [tuple(m.shape) for m in masks]
            raise SeqlabError(f"dropout_masks: expected {self.num_layers - 1} mask(s) of shape {want} (one per "
                              f"boundary between layers), got {got}")
        return [m.to(x.dtype) for m in masks]

    def _forward_fused_by_layer(self, x: Tensor, states: list[State], lengths: Tensor | None, masks: list[Tensor]):
        """The fused kernel one layer at a time, the given masks between layers."""
        D, L = self.num_directions, self.num_layers
        finals: list[tuple[Tensor, ...]] = []
        layer_in = x
        for layer in range(L):
            if layer > 0:
                layer_in = layer_in * masks[layer - 1]
            out, fin = self._forward_fused(layer_in, states[layer * D : (layer + 1) * D], lengths,
                                           self.cells[layer * D : (layer + 1) * D], 1)
            finals.append(fin)
            layer_in = out
        return layer_in, tuple(torch.cat([f[j] for f in finals], 0) for j in range(self.state_size))

    def _forward_steps(self, x: Tensor, states: list[State], lengths: Tensor | None, mode: str,
                       masks: list[Tensor] | None = None):
        D = self.num_directions
        finals: list[State] = []
        layer_in = x
        dropping = self._dropping()
        for layer in range(self.num_layers):
            if layer > 0 and masks is not None:
                layer_in = layer_in * masks[layer - 1]
            elif layer > 0 and self.dropout and self.training:
                layer_in = F.dropout(layer_in, self.dropout, True)
            outs = []
            for d in range(D):
                k = layer * D + d
                cell = self.cells[k]
                xin = reverse_padded(layer_in, lengths) if d == 1 else layer_in
                if mode == "sequence":
                    o, s = cell.forward_sequence(xin, states[k], lengths)
                else:
                    h_mask = self.recurrent_mask(x.shape[0], x) if dropping else None
                    o, s = run_loop(cell, xin, states[k], lengths, h_mask, self._step_hook(layer, d, lengths))
                outs.append(reverse_padded(o, lengths) if d == 1 else o)
                finals.append(s)
            y = outs[0] if D == 1 else torch.cat(outs, -1)  # (B, T, D*H)
            layer_in = self._layer_output(layer_in, y, lengths)
        stacked = tuple(torch.stack([f[j] for f in finals], 0) for j in range(self.state_size))
        return layer_in, stacked

    def _layer_output(self, layer_in: Tensor, y: Tensor, lengths: Tensor | None) -> Tensor:
        """What a layer passes on, given its input and its cells' output (a hook for residuals)."""
        return y

    def _forward_fused(self, x: Tensor, states: list[State], lengths: Tensor | None, cells=None,
                       num_layers: int | None = None):
        cells = self.cells if cells is None else cells
        num_layers = self.num_layers if num_layers is None else num_layers
        dropout = self.dropout if num_layers > 1 else 0.0
        cell0 = cells[0]
        mode = cell0.fused_mode
        weights = [w for c in cells for w in c.fused_weights()]
        hx = tuple(torch.stack([s[j] for s in states], 0) for j in range(self.state_size))
        hx_arg = hx if mode == "LSTM" else hx[0]
        fn = _FUSED[mode]
        with warnings.catch_warnings():
            # cuDNN warns that weights built at call time are not one contiguous chunk
            warnings.filterwarnings("ignore", message=".*contiguous chunk of memory.*")
            if lengths is None:
                res = fn(x, hx_arg, weights, self.bias, num_layers, dropout, self.training,
                         self.bidirectional, True)
                out, finals = res[0], tuple(res[1:])
            else:
                packed = pack_padded_sequence(x, lengths.cpu(), batch_first=True, enforce_sorted=False)
                perm, unperm = packed.sorted_indices, packed.unsorted_indices
                hx_sorted = tuple(h.index_select(1, perm) for h in hx)
                hx_arg = hx_sorted if mode == "LSTM" else hx_sorted[0]
                res = fn(packed.data, packed.batch_sizes, hx_arg, weights, self.bias, num_layers,
                         dropout, self.training, self.bidirectional)
                out_packed = packed._replace(data=res[0])
                out, _ = pad_packed_sequence(out_packed, batch_first=True, total_length=x.shape[1])
                finals = tuple(h.index_select(1, unperm) for h in res[1:])
        return out, finals

    def extra_repr(self) -> str:
        s = f"{self.input_size}, {self.hidden_size}"
        if self.num_layers != 1:
            s += f", num_layers={self.num_layers}"
        if self.bidirectional:
            s += ", bidirectional=True"
        if self.dropout:
            s += f", dropout={self.dropout}"
        if self.recurrent_dropout:
            s += f", recurrent_dropout={self.recurrent_dropout}"
        if self.backend != "auto":
            s += f", backend={self.backend!r}"
        return s

    # -- conversion ----------------------------------------------------------------------------
    def to_torch(self) -> nn.Module:
        """An equivalent torch.nn.RNN / LSTM / GRU (SeqlabError, a ValueError, where none exists)."""
        from .convert import to_torch

        return to_torch(self)


class RNN(Recurrent):
    """Elman RNN layer(s). ``nonlinearity`` is 'tanh' or 'relu'."""

    cell_class = RNNCell

    def __init__(self, input_size: int, hidden_size: int, num_layers: int = 1, nonlinearity: str = "tanh",
                 bias: bool = True, batch_first: bool = True, dropout: float = 0.0,
                 bidirectional: bool = False, backend: str = "auto", recurrent_dropout: float = 0.0) -> None:
        super().__init__(input_size, hidden_size, num_layers, bias, batch_first, dropout, bidirectional,
                         backend, recurrent_dropout, nonlinearity=nonlinearity)
        self.nonlinearity = nonlinearity


class LSTM(Recurrent):
    """LSTM layer(s); ``peephole=True`` for Graves (2013) diagonal peepholes (runs without fused
    kernels); ``activation='relu'`` for relu in place of tanh (Keras's ``activation``; the loop)."""

    cell_class = LSTMCell

    def __init__(self, input_size: int, hidden_size: int, num_layers: int = 1, bias: bool = True,
                 batch_first: bool = True, dropout: float = 0.0, bidirectional: bool = False,
                 peephole: bool = False, backend: str = "auto", layer_norm: bool = False,
                 recurrent_dropout: float = 0.0, activation: str = "tanh") -> None:
        extra = {} if activation == "tanh" else {"activation": activation}
        super().__init__(input_size, hidden_size, num_layers, bias, batch_first, dropout, bidirectional,
                         backend, recurrent_dropout, peephole=peephole, layer_norm=layer_norm, **extra)
        self.peephole = bool(peephole)
        self.layer_norm = bool(layer_norm)
        self.activation = activation


class GRU(Recurrent):
    """GRU layer(s), ``h = (1 - z) h_prev + z n`` (Chung et al. 2014; torch's z is 1 - z); ``reset`` is
    'after' (cuDNN) or 'before' (Cho 2014)."""

    cell_class = GRUCell

    def __init__(self, input_size: int, hidden_size: int, num_layers: int = 1, bias: bool = True,
                 batch_first: bool = True, dropout: float = 0.0, bidirectional: bool = False,
                 reset: str = "after", backend: str = "auto", layer_norm: bool = False,
                 recurrent_dropout: float = 0.0, activation: str = "tanh") -> None:
        extra = {} if activation == "tanh" else {"activation": activation}
        super().__init__(input_size, hidden_size, num_layers, bias, batch_first, dropout, bidirectional,
                         backend, recurrent_dropout, reset=reset, layer_norm=layer_norm, **extra)
        self.reset = reset
        self.layer_norm = bool(layer_norm)
        self.activation = activation
