"""minGRU and minLSTM (Feng et al. 2024, "Were RNNs All We Needed?").

Their gates depend on the input only, so the whole sequence is one linear recurrence
``h_t = (1 - z_t) ⊙ h_{t-1} + z_t ⊙ v_t`` computed for all t at once by a scan:

* minGRU:  ``z_t = σ(W_z x_t + b_z)``,  ``v_t = act(W_h x_t + b_h)``
* minLSTM: ``f_t = σ(W_f x_t + b_f)``, ``i_t = σ(W_i x_t + b_i)``, ``v_t = act(W_h x_t + b_h)``,
  ``h_t = f'_t ⊙ h_{t-1} + i'_t ⊙ v_t`` with ``f' = f / (f + i)``, ``i' = i / (f + i)``.
  Since ``i' = σ(softplus(-a_f) - softplus(-a_i))`` and ``f' = 1 - i'``, minLSTM is the same scan
  with ``z = i'``.

``act`` is the paper's ``g`` (``x + 0.5`` for x >= 0, ``σ(x)`` below), which keeps states positive
when the initial state is (as the log-space scan requires), or the identity.

Parameters: ``weight_ih`` (G*H, I), ``bias_ih`` (G*H,) with blocks ``z | h`` (minGRU, G = 2) or
``f | i | h`` (minLSTM, G = 3); with ``norm=True`` a layer norm of the input comes first
(``ln_weight``, ``ln_bias`` (I,)). There is no recurrent weight.

Two modes, tested equal: ``forward_sequence`` (the parallel scan, for training) and ``step``
(one step, for generation and streaming). The state is ``h`` itself, carried unchanged from one
chunk of a sequence to the next. ``scan`` picks the parallel implementation: ``"auto"`` (the fused
numba kernel of :mod:`seqlab.nn.scan` on CPU when installed, else pure torch), ``"numba"``,
``"torch"``, or ``"log"``: the paper's log-space scan with ``torch.logcumsumexp`` (needs
``activation="g"``; kept for comparison, it is slower and less accurate for gates near 0).

:class:`MinGRU` / :class:`MinLSTM` are layers of the common runner (:class:`Recurrent`), with
``norm`` (pre-norm of each layer's input) and ``residual`` (add each layer's input to its output
where the widths agree) for deep stacks as in the paper.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ..errors import SeqlabError, check_positive_int
from .cells import LN_EPS, CellBase, State
from .custom import step_masks
from .recurrent import Recurrent
from .registry import gate_count
from .scan import ACTIVATIONS, SCAN_IMPLS, g_activation, mingru_layer, minrnn_scan, resolve_impl

SCANS = SCAN_IMPLS + ("log",)


class MinCellBase(CellBase):
    """Shared parts of minGRU and minLSTM: an input projection and no recurrent weights.

    Reuses :class:`CellBase`'s one-step ``forward``, checks and ``zero_state``; it does not call
    ``CellBase.__init__`` (which would create a recurrent weight ``weight_hh``).
    """

    state_size = 1
    fused_mode = None

    def __init__(self, input_size: int, hidden_size: int, bias: bool = True, activation: str = "g",
                 scan: str = "auto", norm: bool = False) -> None:
        nn.Module.__init__(self)
        if activation not in ACTIVATIONS:
            raise SeqlabError(f"activation: expected one of {ACTIVATIONS} ('g' keeps states positive), got {activation!r}")
        if scan not in SCANS:
            raise SeqlabError(f"scan: expected one of {SCANS}, got {scan!r}")
        if scan == "log" and activation != "g":
            raise SeqlabError("scan='log' needs positive states: use activation='g' (or another scan)")
        self.input_size = check_positive_int("input_size", input_size)
        self.hidden_size = check_positive_int("hidden_size", hidden_size)
        self.bias = bool(bias)
        self.activation = activation
        self.scan = scan
        self.norm = bool(norm)
        G, H = self.gates, hidden_size
        self.weight_ih = nn.Parameter(torch.empty(G * H, input_size))
        self.bias_ih = nn.Parameter(torch.empty(G * H)) if self.bias else None
        if self.norm:
            self.ln_weight = nn.Parameter(torch.empty(input_size))
            self.ln_bias = nn.Parameter(torch.empty(input_size))
        self.reset_parameters()

    def fused_unavailable(self) -> str | None:
        return f"{type(self).__name__} has no fused kernel in torch (it runs as a parallel scan)"

    def sequence_unavailable(self) -> str | None:
        return None  # forward_sequence: the parallel scan

    def recurrent_dropout_unavailable(self) -> str | None:
        return (f"{type(self).__name__} has no recurrent weight (its gates see only the input), so recurrent "
                "dropout does not apply; use dropout instead")

    def normed(self, x: Tensor) -> Tensor:
        """``LN(x)`` with ``norm=True``, else ``x``."""
        if self.norm:
            x = F.layer_norm(x, (self.input_size,), self.ln_weight, self.ln_bias, eps=LN_EPS)
        return x

    def input_projection(self, x: Tensor) -> Tensor:
        """``W_ih LN(x) + b_ih`` for one step (B, I) or a sequence (B, T, I): (..., G*H)."""
        return F.linear(self.normed(x), self.weight_ih, self.bias_ih)

    def _act(self, u: Tensor) -> Tensor:
        return g_activation(u) if self.activation == "g" else u

    def _gate_logit(self, gi: Tensor) -> Tensor:
        """``k`` with ``z = σ(k)`` from the projection (..., G*H): (..., H)."""
        raise NotImplementedError  # pragma: no cover - abstract

    def recurrence(self, gi: Tensor, state: State, h_mask: Tensor | None = None) -> State:
        """Step mode: one step from the projected input ``gi`` (B, G*H). There is no recurrent
        product for ``h_mask`` to act on: the runner refuses recurrent dropout for these cells."""
        raise NotImplementedError  # pragma: no cover - abstract

    def forward_sequence(self, x: Tensor, state: State, lengths: Tensor | None) -> tuple[Tensor, State]:
        """Parallel mode over ``x`` (B, T, I) from ``state`` (h0,): ``(out (B, T, H), (h_T,))``."""
        H = self.hidden_size
        m = step_masks(lengths, x.shape[1], x)
        if m is None and self.scan != "log" and (self.gates == 2 or resolve_impl(self.scan, x) == "numba"):
            # without padding: projection and scan as one fused node (minLSTM: where numba runs)
            h = mingru_layer(self.normed(x), self.weight_ih, self.bias_ih, state[0], self.activation, self.scan,
                             kind=0 if self.gates == 2 else 1)
            return h, (h[:, -1],)
        gi = self.input_projection(x)  # (B, T, G*H)
        k, u = self._gate_logit(gi), gi[..., -H:]  # (B, T, H) each
        if m is not None:
            # past its end a sequence keeps its state: z = σ(-inf) = 0 there
            k = k.masked_fill(m.transpose(0, 1) == 0, float("-inf"))
        h0 = state[0]
        if self.scan == "log":
            h = _log_space_scan(k, u, h0)
        else:
            h = minrnn_scan(torch.cat([k, u], -1), h0, self.activation, self.scan)  # p (B, T, 2H)
        out = h if m is None else h * m.transpose(0, 1)
        return out, (h[:, -1],)

    def extra_repr(self) -> str:
        s = f"{self.input_size}, {self.hidden_size}" + ("" if self.bias else ", bias=False")
        s += f", activation={self.activation!r}"
        if self.scan != "auto":
            s += f", scan={self.scan!r}"
        return s + (", norm=True" if self.norm else "")


def _log_space_scan(k: Tensor, u: Tensor, h0: Tensor) -> Tensor:
    """The paper's log-space scan: ``h_t = A_t (h_0 + Σ_{s<=t} z_s v_s / A_s)``, A_t = Π (1 - z).

    ``log A = cumsum(-softplus(k))``; the sum runs through ``logcumsumexp``; v = g(u) > 0.
    """
    log_a = torch.cumsum(-F.softplus(k), 1)  # (B, T, H): log A_t
    log_v = torch.where(u >= 0, torch.log(F.relu(u) + 0.5), -F.softplus(-u))  # log g(u)
    log_b = -F.softplus(-k) + log_v  # log z + log v
    h = torch.exp(log_a + torch.logcumsumexp(log_b - log_a, 1))
    return h + torch.exp(log_a) * h0.unsqueeze(1)


class MinGRUCell(MinCellBase):
    """minGRU: ``z = σ(W_z x + b_z)``, ``h = (1 - z) ⊙ h_prev + z ⊙ act(W_h x + b_h)``."""

    gates = gate_count("mingru")

    def _gate_logit(self, gi: Tensor) -> Tensor:
        return gi[..., : self.hidden_size]

    def recurrence(self, gi: Tensor, state: State, h_mask: Tensor | None = None) -> State:
        (h,) = state
        H = self.hidden_size
        z = torch.sigmoid(gi[..., :H])
        return ((1 - z) * h + z * self._act(gi[..., H:]),)


class MinLSTMCell(MinCellBase):
    """minLSTM: ``h = f/(f+i) ⊙ h_prev + i/(f+i) ⊙ act(W_h x + b_h)``, f, i sigmoid gates of x."""

    gates = gate_count("minlstm")

    def _gate_logit(self, gi: Tensor) -> Tensor:
        H = self.hidden_size
        return F.softplus(-gi[..., :H]) - F.softplus(-gi[..., H : 2 * H])  # i' = σ(k)

    def recurrence(self, gi: Tensor, state: State, h_mask: Tensor | None = None) -> State:
        (h,) = state
        H = self.hidden_size
        f, i = torch.sigmoid(gi[..., :H]), torch.sigmoid(gi[..., H : 2 * H])
        return ((f * h + i * self._act(gi[..., 2 * H :])) / (f + i),)


class MinRecurrent(Recurrent):
    """Stacked minGRU / minLSTM layers on the common runner, with optional pre-norm and residuals.

    Layer l computes ``y = cell(LN(x))`` (``norm=True``; the norm lives in the cell) and, with
    ``residual=True``, outputs ``x + y`` where the widths agree (every layer but a first one
    whose input size differs from ``D*H``). Outputs past a sequence's end stay zero.
    """

    cell_class = MinGRUCell

    def __init__(self, input_size: int, hidden_size: int, num_layers: int = 1, bias: bool = True,
                 batch_first: bool = True, dropout: float = 0.0, bidirectional: bool = False,
                 activation: str = "g", scan: str = "auto", norm: bool = False, residual: bool = False,
                 backend: str = "auto", recurrent_dropout: float = 0.0) -> None:
        # backend='fused' and recurrent_dropout > 0 are refused by the runner, saying why
        super().__init__(input_size, hidden_size, num_layers, bias, batch_first, dropout, bidirectional,
                         backend, recurrent_dropout, activation=activation, scan=scan, norm=norm)
        self.activation, self.scan, self.norm, self.residual = activation, scan, bool(norm), bool(residual)

    def _layer_output(self, layer_in: Tensor, y: Tensor, lengths: Tensor | None) -> Tensor:
        """``layer_in + y`` with ``residual=True`` where the widths agree (padding stays zero)."""
        if not (self.residual and y.shape[-1] == layer_in.shape[-1]):
            return y
        res = layer_in
        if lengths is not None:
            T = y.shape[1]
            valid = torch.arange(T, device=y.device) < lengths.to(y.device).unsqueeze(1)  # (B, T)
            res = res * valid.unsqueeze(-1).to(res.dtype)
        return y + res

    def extra_repr(self) -> str:
        s = super().extra_repr() + f", activation={self.activation!r}"
        if self.scan != "auto":
            s += f", scan={self.scan!r}"
        return s + (", norm=True" if self.norm else "") + (", residual=True" if self.residual else "")


class MinGRU(MinRecurrent):
    """minGRU layer(s): parallel scan in training (``backend='auto'``), step mode with 'loop'."""

    cell_class = MinGRUCell


class MinLSTM(MinRecurrent):
    """minLSTM layer(s): parallel scan in training (``backend='auto'``), step mode with 'loop'."""

    cell_class = MinLSTMCell
