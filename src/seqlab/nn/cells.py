"""One step of each recurrent cell, in the same equations and gate order as ``seqlab.reference``.

Parameter names and layouts follow torch.nn so that torch is a free test oracle:

* ``weight_ih`` (G*H, I), ``weight_hh`` (G*H, H), ``bias_ih`` (G*H,), ``bias_hh`` (G*H,)
* RNN: G = 1.  LSTM: G = 4, blocks ``i | f | g | o``.  GRU: G = 3, blocks ``r | z | n``.
* Peephole LSTM adds ``weight_ch`` (3, H): the diagonal peepholes ``w_ci, w_cf, w_co``.

GRU convention (Chung et al. 2014; differs from torch): ``h_t = (1 - z_t) * h_{t-1} + z_t * n_t``.
torch's update gate, like Cho et al.'s (2014), is ``1 - z_t``; :mod:`seqlab.nn.convert` negates the z
blocks when converting.

Each cell splits a step in two so the runner can do the input product for every time step in
one matrix multiply: ``gi = cell.input_projection(x)`` then ``state = cell.recurrence(gi, state)``.
States are tuples inside the runner: ``(h,)`` for RNN and GRU, ``(h, c)`` for LSTM.

Recurrent dropout (Gal & Ghahramani 2016, Keras's ``DropoutRNNCell``): ``recurrence(gi, state,
h_mask)`` multiplies ``h_{t-1}`` by ``h_mask`` (B, H) where it enters the recurrent matrix product
only; the GRU's carry ``(1 - z) ⊙ h_{t-1}`` keeps the undropped ``h_{t-1}``. The runner draws the
mask (one per sequence for all steps, see :mod:`seqlab.nn.recurrent`). LSTM and GRU cells also
expose ``gate_values(gi, state, h_mask) -> {name: (B, H)}``, the gate values ``recurrence`` is built from.

``forward_sequence(x, state, lengths) -> (out, state)`` runs a whole sequence. The LSTM (standard
or peephole) and the reset-before GRU, without layer norm, run it as one sequence-level autograd
node with a hand-derived backward (:mod:`seqlab.nn.custom`); ``sequence_unavailable()`` says why
other cells have no such path (called directly, their ``forward_sequence`` is the runner's loop).

Layer normalization (Ba et al. 2016), ``layer_norm=True`` on LSTMCell and GRUCell, normalizes each
matrix product over all its gate blocks, with gains ``ln_weight_ih``, ``ln_weight_hh`` (G*H,)
(ones at init) and the cell's biases as the shift::

    a_t = LN(W_ih x_t) ⊙ γ_ih + b_ih + LN(W_hh h_{t-1}) ⊙ γ_hh + b_hh

The LSTM also normalizes the cell before its output, ``h_t = o_t ⊙ tanh(LN(c_t) ⊙ γ_c + β_c)``
(``ln_weight_c``, ``ln_bias_c`` (H,)). The reset-before GRU normalizes its candidate product
``W_hn (r ⊙ h)`` on its own block, and ``W_hr h | W_hz h`` jointly.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ..errors import SeqlabError, check_positive_int
from .registry import gate_count

State = tuple[Tensor, ...]
#: a state as torch.nn's cells and layers take and return it: ``h``, or ``(h, c)`` for the LSTM
TorchState = Tensor | tuple[Tensor, Tensor]

#: epsilon of the layer normalization (torch's default)
LN_EPS = 1e-5




def _compiled_only(what: str, like: Tensor) -> str | None:
    """Why ``what``, whose only whole-sequence implementation is a compiled layer, cannot run one
    on parameters like ``like``, or None when it can."""
    from .custom import compiled_unavailable

    why = compiled_unavailable(like)
    return None if why is None else f"{what} runs as a whole sequence only as a compiled layer: {why}"


class CellBase(nn.Module):
    """Shared parameters and checks. Subclasses set ``gates``, ``state_size`` and ``recurrence``."""

    gates: int = 1
    state_size: int = 1

    def __init__(self, input_size: int, hidden_size: int, bias: bool = True) -> None:
        super().__init__()
        self.input_size = check_positive_int("input_size", input_size)
        self.hidden_size = check_positive_int("hidden_size", hidden_size)
        self.bias = bool(bias)
        G, H = self.gates, hidden_size
        self.weight_ih = nn.Parameter(torch.empty(G * H, input_size))
        self.weight_hh = nn.Parameter(torch.empty(G * H, H))
        if self.bias:
            self.bias_ih = nn.Parameter(torch.empty(G * H))
            self.bias_hh = nn.Parameter(torch.empty(G * H))
        else:
            self.register_parameter("bias_ih", None)
            self.register_parameter("bias_hh", None)

    def reset_parameters(self) -> None:
        """Uniform on (-1/sqrt(H), 1/sqrt(H)), as torch.nn does; layer-norm gains 1 and shifts 0."""
        k = 1.0 / math.sqrt(self.hidden_size)
        for name, p in self.named_parameters():
            if name.startswith("ln_weight"):
                nn.init.ones_(p)
            elif name.startswith("ln_bias"):
                nn.init.zeros_(p)
            else:
                nn.init.uniform_(p, -k, k)

    layer_norm: bool = False

    def _add_layer_norm(self, layer_norm: bool, cell_norm: bool = False) -> None:
        self.layer_norm = bool(layer_norm)
        if self.layer_norm:
            G, H = self.gates, self.hidden_size
            self.ln_weight_ih = nn.Parameter(torch.empty(G * H))
            self.ln_weight_hh = nn.Parameter(torch.empty(G * H))
            if cell_norm:
                self.ln_weight_c = nn.Parameter(torch.empty(H))
                self.ln_bias_c = nn.Parameter(torch.empty(H)) if self.bias else None

    def _ln(self, a: Tensor, gain: Tensor, shift: Tensor | None) -> Tensor:
        return F.layer_norm(a, (a.shape[-1],), gain, shift, eps=LN_EPS)

    # -- the two halves of a step -------------------------------------------------------------
    def input_projection(self, x: Tensor) -> Tensor:
        """``W_ih x + b_ih`` (``LN(W_ih x) γ_ih + b_ih`` with layer norm) for one step (B, I) or a
        whole sequence (B, T, I)."""
        if self.layer_norm:
            return self._ln(F.linear(x, self.weight_ih), self.ln_weight_ih, self.bias_ih)
        return F.linear(x, self.weight_ih, self.bias_ih)

    def sequence_unavailable(self) -> str | None:
        """Why this cell has no whole-sequence implementation of its own (None when it has one)."""
        return f"{type(self).__name__} has no whole-sequence implementation (it runs as the runner's loop)"

    def recurrent_dropout_unavailable(self) -> str | None:
        """Why recurrent dropout cannot apply to this cell (None when it can)."""
        return None

    def sequence_preferred(self, batch: int | None, time: int | None) -> bool:
        """Whether ``backend='auto'`` takes this cell's whole-sequence function over torch's fused
        kernel for an input of ``batch`` sequences of ``time`` steps (None: not known), where
        both apply. Cells where the compiled layer is faster say so (measured, docs/speed.md)."""
        return False

    def forward_sequence(self, x: Tensor, state: State, lengths: Tensor | None) -> tuple[Tensor, State]:
        """Run the whole sequence ``x`` (B, T, I) from ``state``: ``(out (B, T, H), final state)``.

        This base version is the runner's loop; cells with a faster path override it (and report
        it through :meth:`sequence_unavailable`).
        """
        from .loop import run_loop

        return run_loop(self, x, state, lengths)

    def recurrence(self, gi: Tensor, state: State, h_mask: Tensor | None = None) -> State:  # pragma: no cover
        """One step from the projected input ``gi`` (B, G*H); ``h_mask`` (B, H) drops ``h_{t-1}``
        in the recurrent product (see the module docstring)."""
        raise NotImplementedError

    def step(self, x: Tensor, state: State) -> State:
        return self.recurrence(self.input_projection(x), state)

    def _hh(self, h: Tensor) -> Tensor:
        if self.layer_norm:
            return self._ln(F.linear(h, self.weight_hh), self.ln_weight_hh, self.bias_hh)
        return F.linear(h, self.weight_hh, self.bias_hh)

    # -- used by the runner --------------------------------------------------------------------
    def zero_state(self, batch: int, like: Tensor) -> State:
        z = like.new_zeros(batch, self.hidden_size)
        return tuple(z for _ in range(self.state_size))

    #: name of torch's fused kernel with the same equations, or None
    fused_mode: str | None = None

    def fused_unavailable(self) -> str | None:
        """Why this cell cannot run on torch's fused kernels (None when it can)."""
        return None if self.fused_mode else f"{type(self).__name__} has no fused kernel"

    def fused_weights(self) -> list[Tensor]:
        """``[w_ih, w_hh, b_ih, b_hh]`` in torch's convention for the fused kernel."""
        ws = [self.weight_ih, self.weight_hh]
        if self.bias:
            ws += [self.bias_ih, self.bias_hh]
        return ws

    def _check_step(self, x: Tensor, state) -> tuple[Tensor, State, bool]:
        if not isinstance(x, Tensor):
            raise SeqlabError(f"input: expected a torch.Tensor, got {type(x).__name__}")
        if x.dim() not in (1, 2) or x.shape[-1] != self.input_size:
            raise SeqlabError(
                f"input: expected shape (batch, {self.input_size}) or ({self.input_size},), got {tuple(x.shape)}"
            )
        unbatched = x.dim() == 1
        if unbatched:
            x = x.unsqueeze(0)
        B = x.shape[0]
        if state is None:
            return x, self.zero_state(B, x), unbatched
        st = (state,) if isinstance(state, Tensor) else tuple(state)
        if len(st) != self.state_size:
            raise SeqlabError(f"state: expected {self.state_size} tensor(s), got {len(st)}")
        want = (self.hidden_size,) if unbatched else (B, self.hidden_size)
        for s in st:
            if tuple(s.shape) != want:
                raise SeqlabError(f"state: expected hidden size {want}, got {tuple(s.shape)}")
        if unbatched:
            st = tuple(s.unsqueeze(0) for s in st)
        return x, st, unbatched

    def forward(self, x: Tensor, state: TorchState | None = None) -> TorchState:
        """One step. Returns ``h`` (RNN, GRU) or ``(h, c)`` (LSTM), like torch.nn cells."""
        x, st, unbatched = self._check_step(x, state)
        new = self.step(x, st)
        if unbatched:
            new = tuple(s.squeeze(0) for s in new)
        return new[0] if self.state_size == 1 else new

    def extra_repr(self) -> str:
        return f"{self.input_size}, {self.hidden_size}" + ("" if self.bias else ", bias=False")


class RNNCell(CellBase):
    """Elman cell: ``h_t = f(W_ih x_t + b_ih + W_hh h_{t-1} + b_hh)``, f = tanh or relu."""

    gates = gate_count("rnn")
    state_size = 1

    def __init__(self, input_size: int, hidden_size: int, bias: bool = True,
                 nonlinearity: str = "tanh") -> None:
        if nonlinearity not in ("tanh", "relu"):
            raise SeqlabError(f"nonlinearity: expected 'tanh' or 'relu', got {nonlinearity!r}")
        super().__init__(input_size, hidden_size, bias)
        self.nonlinearity = nonlinearity
        self.fused_mode = "RNN_TANH" if nonlinearity == "tanh" else "RNN_RELU"
        self.reset_parameters()

    def recurrence(self, gi: Tensor, state: State, h_mask: Tensor | None = None) -> State:
        h = state[0] if h_mask is None else state[0] * h_mask
        a = gi + self._hh(h)
        return (torch.tanh(a) if self.nonlinearity == "tanh" else torch.relu(a),)

    def extra_repr(self) -> str:
        return super().extra_repr() + f", nonlinearity={self.nonlinearity!r}"


def _activation(activation: str, layer_norm: bool, what: str) -> str:
    """``activation`` of an LSTM or GRU cell checked: 'tanh', or 'relu' (Keras's
    ``activation='relu'``) for the cells without layer norm."""
    if activation not in ("tanh", "relu"):
        raise SeqlabError(f"activation: expected 'tanh' or 'relu', got {activation!r}")
    if activation != "tanh" and layer_norm:
        raise SeqlabError(f"activation: the layer-normalized {what} computes 'tanh', got {activation!r}")
    return activation


_ACTS = {"tanh": torch.tanh, "relu": torch.relu}


class LSTMCell(CellBase):
    """LSTM, gates ``i | f | g | o``; with ``peephole=True`` the Graves (2013) diagonal peepholes:

    ``i = σ(.. + w_ci ⊙ c_{t-1})``, ``f = σ(.. + w_cf ⊙ c_{t-1})``, ``o = σ(.. + w_co ⊙ c_t)``.
    ``activation`` is the candidate's and the output's (``g = act(..)``, ``h = o ⊙ act(c)``):
    'tanh', or 'relu' as Keras's ``LSTM(activation='relu')`` (which runs the runner's loop: the
    fused and compiled kernels compute tanh).
    """

    gates = gate_count("lstm")
    state_size = 2

    def __init__(self, input_size: int, hidden_size: int, bias: bool = True,
                 peephole: bool = False, layer_norm: bool = False, activation: str = "tanh") -> None:
        super().__init__(input_size, hidden_size, bias)
        self.activation = _activation(activation, layer_norm, "LSTM")
        self.peephole = bool(peephole)
        if self.peephole:
            self.weight_ch = nn.Parameter(torch.empty(3, hidden_size))
        self._add_layer_norm(layer_norm, cell_norm=True)
        self.reset_parameters()

    fused_mode = "LSTM"

    def fused_unavailable(self) -> str | None:
        if self.activation != "tanh":
            return f"LSTM with activation={self.activation!r} has no fused kernel (oneDNN/cuDNN compute tanh)"
        if self.peephole:
            return "peephole LSTM has no fused kernel in torch (oneDNN/cuDNN compute the standard LSTM only)"
        if self.layer_norm:
            return "layer-normalized LSTM has no fused kernel in torch"
        return None

    def sequence_unavailable(self) -> str | None:
        if self.activation != "tanh":
            return (f"LSTM with activation={self.activation!r} runs as the runner's loop (the compiled "
                    "kernels compute tanh)")
        if self.layer_norm:
            return _compiled_only("layer-normalized LSTM", self.weight_ih)
        return None

    #: bytes of torch's fused training buffers per (step x sequence x unit) of an LSTM layer, and
    #: the size above which glibc maps them afresh at every call (its largest mmap threshold):
    #: then each training step faults its pages in again, and the compiled layer is faster
    FUSED_BYTES_PER_UNIT = 24
    FUSED_FRESH_BYTES = 32 * 2**20

    def sequence_preferred(self, batch: int | None, time: int | None) -> bool:
        """The compiled layer (CPU) on one intra-op thread where torch's fused LSTM would allocate
        its training buffers afresh at every call: in training, when B * T * H * 24 bytes exceed
        32 MiB. Why: those buffers' pages are faulted in again at every call, the compiled layer's
        are recycled; below that size, and on more threads (oneDNN splits each step over the
        cores better than worker shares of the batch), the fused kernel is the faster. The
        measurements: docs/speed.md, the backends table and "Why two malloc states"."""
        from .custom import use_compiled

        if self.peephole or self.layer_norm or self.activation != "tanh" or batch is None or time is None:
            return False
        if torch.get_num_threads() > 1 or not (torch.is_grad_enabled() and use_compiled(self.weight_ih)):
            return False
        return batch * time * self.hidden_size * self.FUSED_BYTES_PER_UNIT > self.FUSED_FRESH_BYTES

    def forward_sequence(self, x: Tensor, state: State, lengths: Tensor | None) -> tuple[Tensor, State]:
        """Whole sequence as one autograd node with a hand-derived BPTT: compiled (numba kernels
        between oneDNN products) on CPU, else torch code; with layer norm compiled only (else the
        runner's loop)."""
        from .custom import lstm_sequence, step_masks, use_compiled

        if self.activation != "tanh":
            return super().forward_sequence(x, state, lengths)
        if self.layer_norm:
            if not use_compiled(x):
                return super().forward_sequence(x, state, lengths)
            from .compiled import ln_lstm_layer

            return ln_lstm_layer(self, x, state, lengths, step_masks(lengths, x.shape[1], x))
        return lstm_sequence(self, x, state, lengths)

    def gate_values(self, gi: Tensor, state: State, h_mask: Tensor | None = None) -> dict[str, Tensor]:
        """``i, f, o`` (sigmoid) and ``g`` (the activation, tanh by default) of one step, each
        (B, H); ``o`` sees the new cell state through its peephole."""
        h, c = state
        a = gi + self._hh(h if h_mask is None else h * h_mask)  # (B, 4H)
        ai, af, ag, ao = a.chunk(4, dim=-1)
        if self.peephole:
            wci, wcf, wco = self.weight_ch
            ai = ai + wci * c
            af = af + wcf * c
        i, f, g = torch.sigmoid(ai), torch.sigmoid(af), _ACTS[self.activation](ag)
        if self.peephole:
            ao = ao + wco * (f * c + i * g)
        return {"i": i, "f": f, "g": g, "o": torch.sigmoid(ao)}

    def recurrence(self, gi: Tensor, state: State, h_mask: Tensor | None = None) -> State:
        gate = self.gate_values(gi, state, h_mask)
        c_new = gate["f"] * state[1] + gate["i"] * gate["g"]
        c_out = self._ln(c_new, self.ln_weight_c, self.ln_bias_c) if self.layer_norm else c_new
        h_new = gate["o"] * _ACTS[self.activation](c_out)
        return h_new, c_new

    def extra_repr(self) -> str:
        return (super().extra_repr() + (", peephole=True" if self.peephole else "")
                + (", layer_norm=True" if self.layer_norm else "")
                + (f", activation={self.activation!r}" if self.activation != "tanh" else ""))


class GRUCell(CellBase):
    """GRU, gates ``r | z | n``, ``h_t = (1 - z) ⊙ h_{t-1} + z ⊙ n`` (Chung et al. 2014; torch's z is 1 - z).

    ``reset="after"`` (cuDNN's form): ``n = tanh(W_in x + b_in + r ⊙ (W_hn h + b_hn))``.
    ``reset="before"`` (Cho et al. 2014): ``n = tanh(W_in x + b_in + W_hn (r ⊙ h) + b_hn)``.
    """

    gates = gate_count("gru")
    state_size = 1

    def __init__(self, input_size: int, hidden_size: int, bias: bool = True,
                 reset: str = "after", layer_norm: bool = False, activation: str = "tanh") -> None:
        if reset not in ("after", "before"):
            raise SeqlabError(f"reset: expected 'after' (cuDNN form) or 'before' (Cho et al. 2014), got {reset!r}")
        super().__init__(input_size, hidden_size, bias)
        self.activation = _activation(activation, layer_norm, "GRU")
        self.reset = reset
        self._add_layer_norm(layer_norm)
        self.reset_parameters()

    fused_mode = "GRU"

    def fused_unavailable(self) -> str | None:
        if self.activation != "tanh":
            return f"GRU with activation={self.activation!r} has no fused kernel (oneDNN/cuDNN compute tanh)"
        if self.reset == "before":
            return "GRU with reset='before' has no fused kernel (cuDNN and oneDNN apply the reset after the matrix product)"
        if self.layer_norm:
            return "layer-normalized GRU has no fused kernel in torch"
        return None

    def sequence_unavailable(self) -> str | None:
        if self.activation != "tanh":
            return (f"GRU with activation={self.activation!r} runs as the runner's loop (the compiled "
                    "kernels compute tanh)")
        if self.reset == "before" and not self.layer_norm:
            return None  # compiled, or the torch code of seqlab.nn.custom
        what = "layer-normalized GRU" if self.layer_norm else "GRU with reset='after'"
        return _compiled_only(what, self.weight_ih)

    def sequence_preferred(self, batch: int | None, time: int | None) -> bool:
        """The compiled layer (CPU) for sequences of more than one step, in training or for
        batch x units >= 1024: torch's GRU has no oneDNN kernel on CPU, so the compiled one is the
        faster there (measured: docs/speed.md, the backends table); for one step, or tiny
        inference steps, its set-up and per-step calls cost more than the arithmetic."""
        from .custom import use_compiled

        if self.activation != "tanh" or not use_compiled(self.weight_ih) or (time is not None and time < 2):
            return False
        return torch.is_grad_enabled() or batch is None or batch * self.hidden_size >= 1024

    def forward_sequence(self, x: Tensor, state: State, lengths: Tensor | None) -> tuple[Tensor, State]:
        """Whole sequence as one autograd node with a hand-derived BPTT: compiled (numba kernels
        between oneDNN products) on CPU; the reset-before GRU without layer norm also as torch
        code elsewhere; otherwise the runner's loop."""
        from .custom import gru_before_sequence, step_masks, use_compiled

        if self.activation != "tanh":
            return super().forward_sequence(x, state, lengths)
        if use_compiled(x):
            from .compiled import gru_layer

            return gru_layer(self, x, state, lengths, step_masks(lengths, x.shape[1], x))
        if self.reset == "before" and not self.layer_norm:
            return gru_before_sequence(self, x, state, lengths)
        return super().forward_sequence(x, state, lengths)

    def _z_sign(self, t: Tensor) -> Tensor:
        H = self.hidden_size
        s = torch.ones(3 * H, dtype=t.dtype, device=t.device)
        s[H : 2 * H] = -1
        return s

    def fused_weights(self) -> list[Tensor]:
        # torch's update gate is 1 - z = σ(-a_z): negate the z rows
        s = self._z_sign(self.weight_ih)
        ws = [self.weight_ih * s[:, None], self.weight_hh * s[:, None]]
        if self.bias:
            ws += [self.bias_ih * s, self.bias_hh * s]
        return ws

    def gate_values(self, gi: Tensor, state: State, h_mask: Tensor | None = None) -> dict[str, Tensor]:
        """``r, z`` (sigmoid) and ``n`` (the activation, tanh by default) of one step, each (B, H)."""
        H = self.hidden_size
        h = state[0] if h_mask is None else state[0] * h_mask  # h_{t-1} as the recurrent products see it
        xr, xz, xn = gi.chunk(3, dim=-1)
        if self.reset == "after":
            hr, hz, hn = self._hh(h).chunk(3, dim=-1)
            r, z = torch.sigmoid(xr + hr), torch.sigmoid(xz + hz)
            n = _ACTS[self.activation](xn + r * hn)
        else:
            b = self.bias_hh
            b_rz, b_n = (None, None) if b is None else (b[: 2 * H], b[2 * H :])
            if self.layer_norm:
                g = self.ln_weight_hh
                a_rz = self._ln(F.linear(h, self.weight_hh[: 2 * H]), g[: 2 * H], b_rz)
            else:
                a_rz = F.linear(h, self.weight_hh[: 2 * H], b_rz)
            hr, hz = a_rz.chunk(2, dim=-1)
            r, z = torch.sigmoid(xr + hr), torch.sigmoid(xz + hz)
            if self.layer_norm:
                a_n = self._ln(F.linear(r * h, self.weight_hh[2 * H :]), self.ln_weight_hh[2 * H :], b_n)
            else:
                a_n = F.linear(r * h, self.weight_hh[2 * H :], b_n)
            n = _ACTS[self.activation](xn + a_n)
        return {"r": r, "z": z, "n": n}

    def recurrence(self, gi: Tensor, state: State, h_mask: Tensor | None = None) -> State:
        gate = self.gate_values(gi, state, h_mask)
        z = gate["z"]
        return ((1 - z) * state[0] + z * gate["n"],)  # the carry keeps the undropped h_{t-1}

    def extra_repr(self) -> str:
        return (super().extra_repr() + f", reset={self.reset!r}"
                + (", layer_norm=True" if self.layer_norm else "")
                + (f", activation={self.activation!r}" if self.activation != "tanh" else ""))
