"""Keras-style layers over :mod:`seqlab.nn`: SimpleRNN, LSTM, GRU, MinGRU, MinLSTM, Bidirectional,
Dense, Dropout, Embedding.

Every layer is a plain ``torch.nn.Module`` with ``forward(x, mask=None)``. Layers build their
parameters lazily: ``input_shape`` is optional and the input size is read from the first call
(or from :meth:`Layer.build`). A padding mask travels along a :class:`~seqlab.model.Sequential`:
``Embedding(mask_zero=True)`` marks id 0 as padding, recurrent layers pass it to the runner as a
prefix mask (padding at the end), and layers returning one vector per sequence drop it.

Shapes (batch first): recurrent input (B, T, F); output (B, T, units) with
``return_sequences=True``, else (B, units). ``Dense`` applies to the last axis, so on a sequence
it applies at every time step.

The registry :data:`LAYERS` maps a class name to its class; :func:`serialize` /
:func:`deserialize` round-trip a layer through its JSON config. To add a recurrent layer that
wraps any :class:`seqlab.nn.Recurrent` subclass::

    @register_layer
    class MinGRU(RecurrentLayer):
        module_class = seqlab.nn.MinGRU      # its extra constructor kwargs pass through **cell_kwargs
"""

from __future__ import annotations

from typing import Any, Callable, Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from . import nn as snn
from .errors import SeqlabError, check_positive_int
from .nn.recurrent import reverse_padded

Shape = tuple  # (None, ...) with None for the batch (and unknown) axes

LAYERS: dict[str, type["Layer"]] = {}


def register_layer(cls: type["Layer"]) -> type["Layer"]:
    """Class decorator: make ``cls`` loadable by name from a saved config."""
    LAYERS[cls.__name__] = cls
    return cls


def serialize(layer: "Layer") -> dict[str, Any]:
    """``{"class_name": ..., "config": ...}`` (JSON-serialisable)."""
    if not isinstance(layer, Layer):
        raise SeqlabError(
            f"layer: only seqlab.layers layers can be saved, got {type(layer).__name__}; "
            "save a plain torch module with torch's own tools"
        )
    return {"class_name": type(layer).__name__, "config": layer.get_config()}


def deserialize(spec: dict[str, Any]) -> "Layer":
    """The layer described by ``spec`` (from :func:`serialize`); SeqlabError for unknown names."""
    if not isinstance(spec, dict) or "class_name" not in spec:
        raise SeqlabError(f"layer config: expected {{'class_name': ..., 'config': ...}}, got {spec!r}")
    name = spec["class_name"]
    if name not in LAYERS:
        raise SeqlabError(f"layer config: unknown layer {name!r}; known layers: {', '.join(sorted(LAYERS))}")
    return LAYERS[name].from_config(dict(spec.get("config") or {}))




def _rate(name: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value < 1:
        raise SeqlabError(f"{name}: expected a number in [0, 1), got {value!r}")
    return float(value)


def _shape_arg(name: str, value: Any) -> tuple | None:
    if value is None:
        return None
    if isinstance(value, int) and not isinstance(value, bool):
        value = (value,)
    if not isinstance(value, (tuple, list)) or not all(v is None or (isinstance(v, int) and v > 0) for v in value):
        raise SeqlabError(f"{name}: expected a tuple of positive sizes without the batch axis, e.g. (timesteps, features), got {value!r}")
    return tuple(value)


class Layer(nn.Module):
    """Base of seqlab layers: lazy build, shape inference, mask passing, JSON config."""

    def __init__(self, input_shape: Sequence[int | None] | None = None, name: str | None = None) -> None:
        super().__init__()
        self.input_shape = _shape_arg("input_shape", input_shape)
        self.name = name
        self.built = False

    # -- building ------------------------------------------------------------------------------
    def build(self, input_shape: Shape) -> None:
        """Create the parameters for inputs of ``input_shape`` (batch axis included, may be None)."""
        self.built = True

    def _maybe_build(self, x: Tensor) -> None:
        if not self.built:
            self.build((None,) + tuple(x.shape[1:]))
            if x.device.type != "cpu":
                self.to(x.device)

    def compute_output_shape(self, input_shape: Shape) -> Shape:
        return tuple(input_shape)

    def compute_mask(self, x: Tensor, mask: Tensor | None) -> Tensor | None:
        """The padding mask of this layer's output (default: passed through)."""
        return mask

    # -- config --------------------------------------------------------------------------------
    def get_config(self) -> dict[str, Any]:
        cfg: dict[str, Any] = {}
        if self.input_shape is not None:
            cfg["input_shape"] = list(self.input_shape)
        if self.name is not None:
            cfg["name"] = self.name
        return cfg

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> "Layer":
        return cls(**config)


# -- recurrent layers --------------------------------------------------------------------------
class RecurrentLayer(Layer):
    """A recurrent layer wrapping one :class:`seqlab.nn.Recurrent` (set ``module_class``).

    Args:
        units: hidden size H.
        return_sequences: output every step (B, T, H) instead of the last one (B, H).
        return_state: also return the final state: ``(output, h)`` or ``(output, h, c)``, each (B, H).
        dropout: rate of a dropout mask on the inputs, one mask per sequence for all steps.
        recurrent_dropout: rate of a dropout mask on ``h_{t-1}`` where it enters the recurrent
            matrix product, one mask per sequence for all steps (Gal and Ghahramani 2016), applied
            by the seqlab.nn runner (see :mod:`seqlab.nn.recurrent`). In training it runs the step
            loop (no fused kernel); in evaluation nothing changes.
        use_bias, backend: passed to the seqlab.nn module (one of ``seqlab.nn.BACKENDS``:
            'auto', 'fused', 'sequence' or 'loop').
        input_shape: (timesteps, features), optional; timesteps may be None.
        **cell_kwargs: extra constructor arguments of ``module_class`` (e.g. ``peephole``).
    """

    module_class: type[snn.Recurrent] = snn.RNN

    def __init__(self, units: int, return_sequences: bool = False, return_state: bool = False,
                 dropout: float = 0.0, recurrent_dropout: float = 0.0, use_bias: bool = True,
                 backend: str = "auto", input_shape: Sequence[int | None] | None = None,
                 name: str | None = None, **cell_kwargs: Any) -> None:
        super().__init__(input_shape, name)
        self.units = check_positive_int("units", units)
        self.return_sequences = bool(return_sequences)
        self.return_state = bool(return_state)
        self.dropout = _rate("dropout", dropout)
        self.recurrent_dropout = _rate("recurrent_dropout", recurrent_dropout)
        self.use_bias = bool(use_bias)
        if backend not in snn.BACKENDS:
            raise SeqlabError(f"backend: expected one of {snn.BACKENDS}, got {backend!r}")
        self.backend = backend
        self.cell_kwargs = dict(cell_kwargs)
        self.rnn: snn.Recurrent | None = None
        if self.input_shape is not None:
            if len(self.input_shape) != 2 or self.input_shape[-1] is None:
                raise SeqlabError(
                    f"input_shape: a recurrent layer takes (timesteps, features), got {self.input_shape!r}"
                )
            self.build((None,) + self.input_shape)

    def build(self, input_shape: Shape) -> None:
        if len(input_shape) != 3 or input_shape[-1] is None:
            raise SeqlabError(
                f"input: {type(self).__name__} expects inputs of shape (batch, timesteps, features), "
                f"got {tuple(input_shape)}"
            )
        dropping = {"recurrent_dropout": self.recurrent_dropout} if self.recurrent_dropout else {}
        self.rnn = self.module_class(int(input_shape[-1]), self.units, bias=self.use_bias,
                                     backend=self.backend, **dropping, **self.cell_kwargs)
        self.rnn.train(self.training)  # built lazily, maybe after .eval(): the runner drops only in training
        self.built = True

    def compute_output_shape(self, input_shape: Shape) -> Shape:
        B, T = input_shape[0], input_shape[1]
        return (B, T, self.units) if self.return_sequences else (B, self.units)

    def compute_mask(self, x: Tensor, mask: Tensor | None) -> Tensor | None:
        return mask if self.return_sequences else None

    def get_config(self) -> dict[str, Any]:
        cfg = {"units": self.units, "return_sequences": self.return_sequences,
               "return_state": self.return_state, "dropout": self.dropout,
               "recurrent_dropout": self.recurrent_dropout, "use_bias": self.use_bias,
               "backend": self.backend, **self.cell_kwargs}
        return {**cfg, **super().get_config()}

    # -- input dropout mask (one per sequence, fixed over time) ---------------------------------
    @staticmethod
    def _keep_mask(shape: tuple[int, ...], rate: float, like: Tensor) -> Tensor:
        return torch.empty(shape, dtype=like.dtype, device=like.device).bernoulli_(1 - rate) / (1 - rate)

    # -- forward -------------------------------------------------------------------------------
    def forward(self, x: Tensor, mask: Tensor | None = None, initial_state=None):
        """``x`` (B, T, F), ``mask`` (B, T) True on real steps (a prefix of each sequence).

        Returns (B, T, H) or (B, H); with ``return_state`` a tuple ``(output, h[, c])``.
        """
        if not isinstance(x, Tensor) or x.dim() != 3:
            got = tuple(x.shape) if isinstance(x, Tensor) else type(x).__name__
            raise SeqlabError(
                f"input: {type(self).__name__} expects a tensor of shape (batch, timesteps, features), got {got}"
            )
        self._maybe_build(x)
        if self.training and self.dropout:
            x = x * self._keep_mask((x.shape[0], 1, x.shape[2]), self.dropout, x)  # one mask per sequence
        if mask is not None and not bool(mask.any(1).all()):
            raise SeqlabError("mask: a sequence has no real step (all padding); drop empty sequences from the data")
        out, state = self.rnn(x, initial_state, mask=mask)  # the runner applies recurrent dropout
        states = (state,) if isinstance(state, Tensor) else tuple(state)
        states = tuple(s[0] for s in states)  # (B, H) each
        y = out if self.return_sequences else states[0]
        return (y, *states) if self.return_state else y


@register_layer
class SimpleRNN(RecurrentLayer):
    """Elman RNN layer, ``h_t = tanh(W x_t + U h_{t-1} + b)`` (``nonlinearity='relu'`` possible)."""

    module_class = snn.RNN

    def __init__(self, units: int, nonlinearity: str = "tanh", **kwargs: Any) -> None:
        super().__init__(units, nonlinearity=nonlinearity, **kwargs)


@register_layer
class LSTM(RecurrentLayer):
    """LSTM layer; ``peephole=True`` adds Graves (2013) peepholes (no fused kernel)."""

    module_class = snn.LSTM

    def __init__(self, units: int, peephole: bool = False, **kwargs: Any) -> None:
        super().__init__(units, peephole=bool(peephole), **kwargs)


@register_layer
class GRU(RecurrentLayer):
    """GRU layer, ``h = (1 - z) h_prev + z n``; ``reset`` is 'after' (cuDNN) or 'before' (Cho 2014)."""

    module_class = snn.GRU

    def __init__(self, units: int, reset: str = "after", **kwargs: Any) -> None:
        super().__init__(units, reset=reset, **kwargs)


class _MinRecurrentLayer(RecurrentLayer):
    """Shared checks of the minimal RNN layers: they have no recurrent weight to drop out."""

    def __init__(self, units: int, activation: str = "g", scan: str = "auto", **kwargs: Any) -> None:
        if kwargs.get("recurrent_dropout"):
            raise SeqlabError(
                f"recurrent_dropout: {type(self).__name__} has no recurrent weight (its gates see only the "
                f"input), so recurrent dropout does not apply; got {kwargs['recurrent_dropout']!r}, use dropout instead"
            )
        super().__init__(units, activation=activation, scan=scan, **kwargs)


@register_layer
class MinGRU(_MinRecurrentLayer):
    """minGRU (Feng et al. 2024): parallel scan over time in training, step mode for generation."""

    module_class = snn.MinGRU


@register_layer
class MinLSTM(_MinRecurrentLayer):
    """minLSTM (Feng et al. 2024): parallel scan over time in training, step mode for generation."""

    module_class = snn.MinLSTM


@register_layer
class Bidirectional(Layer):
    """Runs ``layer`` forwards and a copy of it backwards (within each sequence's length).

    ``merge_mode``: 'concat' (B, ..., 2H), 'sum', 'mul' or 'ave' (B, ..., H).
    """

    MERGE_MODES = ("concat", "sum", "mul", "ave")

    def __init__(self, layer: RecurrentLayer | dict, merge_mode: str = "concat",
                 input_shape: Sequence[int | None] | None = None, name: str | None = None) -> None:
        if isinstance(layer, dict):
            layer = deserialize(layer)
        if not isinstance(layer, RecurrentLayer):
            raise SeqlabError(f"layer: Bidirectional wraps a recurrent layer (SimpleRNN, LSTM, GRU), got {type(layer).__name__}")
        if layer.return_state:
            raise SeqlabError("layer: Bidirectional does not support return_state=True; use the layers directly")
        if merge_mode not in self.MERGE_MODES:
            raise SeqlabError(f"merge_mode: expected one of {self.MERGE_MODES}, got {merge_mode!r}")
        super().__init__(input_shape if input_shape is not None else layer.input_shape, name)
        self.merge_mode = merge_mode
        cfg = layer.get_config()
        cfg.pop("input_shape", None)
        self.forward_layer = layer
        self.backward_layer = type(layer).from_config(cfg)
        if self.input_shape is not None:
            self.build((None,) + self.input_shape)

    def build(self, input_shape: Shape) -> None:
        for lay in (self.forward_layer, self.backward_layer):
            if not lay.built:
                lay.build(tuple(input_shape))
        self.built = True

    def compute_output_shape(self, input_shape: Shape) -> Shape:
        out = self.forward_layer.compute_output_shape(input_shape)
        return out[:-1] + (2 * out[-1],) if self.merge_mode == "concat" else out

    def compute_mask(self, x: Tensor, mask: Tensor | None) -> Tensor | None:
        return self.forward_layer.compute_mask(x, mask)

    def get_config(self) -> dict[str, Any]:
        cfg = {"layer": serialize(self.forward_layer), "merge_mode": self.merge_mode}
        return {**cfg, **super().get_config()}

    def forward(self, x: Tensor, mask: Tensor | None = None) -> Tensor:
        self._maybe_build(x)
        lengths = None if mask is None else mask.sum(1)
        fw = self.forward_layer(x, mask=mask)
        bw = self.backward_layer(reverse_padded(x, lengths), mask=mask)
        if self.forward_layer.return_sequences:
            bw = reverse_padded(bw, lengths)
        if self.merge_mode == "concat":
            return torch.cat([fw, bw], -1)
        if self.merge_mode == "sum":
            return fw + bw
        if self.merge_mode == "mul":
            return fw * bw
        return (fw + bw) / 2


# -- feed-forward layers -----------------------------------------------------------------------
ACTIVATIONS: dict[str, Callable[[Tensor], Tensor] | None] = {
    "linear": None,
    "relu": torch.relu,
    "tanh": torch.tanh,
    "sigmoid": torch.sigmoid,
    "softmax": lambda t: torch.softmax(t, -1),
    "log_softmax": lambda t: torch.log_softmax(t, -1),
    "elu": F.elu,
    "selu": F.selu,
    "gelu": F.gelu,
    "softplus": F.softplus,
    "swish": F.silu,
}


@register_layer
class Dense(Layer):
    """``activation(x W^T + b)`` on the last axis: (..., F) -> (..., units); per time step on sequences.

    ``activation``: None/'linear', 'relu', 'tanh', 'sigmoid', 'softmax', 'log_softmax', 'elu',
    'selu', 'gelu', 'softplus', 'swish'. With 'softmax' or 'sigmoid' as the last layer, the
    cross-entropy losses work from the pre-activation (logits) for a numerically stable log.
    """

    def __init__(self, units: int, activation: str | None = None, use_bias: bool = True,
                 input_shape: Sequence[int | None] | None = None, name: str | None = None) -> None:
        super().__init__(input_shape, name)
        self.units = check_positive_int("units", units)
        activation = activation or "linear"
        if activation not in ACTIVATIONS:
            raise SeqlabError(f"activation: unknown {activation!r}; expected one of {', '.join(ACTIVATIONS)}")
        self.activation = activation
        self.use_bias = bool(use_bias)
        self.linear: nn.Linear | None = None
        if self.input_shape is not None:
            self.build((None,) + self.input_shape)

    def build(self, input_shape: Shape) -> None:
        if len(input_shape) < 2 or input_shape[-1] is None:
            raise SeqlabError(f"input: Dense expects (batch, ..., features), got {tuple(input_shape)}")
        self.linear = nn.Linear(int(input_shape[-1]), self.units, bias=self.use_bias)
        self.built = True

    def compute_output_shape(self, input_shape: Shape) -> Shape:
        return tuple(input_shape[:-1]) + (self.units,)

    def get_config(self) -> dict[str, Any]:
        cfg = {"units": self.units, "activation": self.activation, "use_bias": self.use_bias}
        return {**cfg, **super().get_config()}

    def forward(self, x: Tensor, mask: Tensor | None = None, return_logits: bool = False) -> Tensor:
        if not isinstance(x, Tensor) or x.dim() < 2:
            got = tuple(x.shape) if isinstance(x, Tensor) else type(x).__name__
            raise SeqlabError(f"input: Dense expects a tensor of shape (batch, ..., features), got {got}")
        self._maybe_build(x)
        if x.shape[-1] != self.linear.in_features:
            raise SeqlabError(
                f"input: Dense was built for {self.linear.in_features} features, got shape {tuple(x.shape)}"
            )
        z = self.linear(x)
        fn = ACTIVATIONS[self.activation]
        return z if (return_logits or fn is None) else fn(z)


@register_layer
class Dropout(Layer):
    """Inverted dropout with ``rate`` in training; the identity in evaluation."""

    def __init__(self, rate: float, input_shape: Sequence[int | None] | None = None,
                 name: str | None = None) -> None:
        super().__init__(input_shape, name)
        self.rate = _rate("rate", rate)
        self.built = True

    def get_config(self) -> dict[str, Any]:
        return {"rate": self.rate, **super().get_config()}

    def forward(self, x: Tensor, mask: Tensor | None = None) -> Tensor:
        return F.dropout(x, self.rate, self.training) if self.rate else x


@register_layer
class Embedding(Layer):
    """Integer ids (B, T) -> vectors (B, T, output_dim).

    ``mask_zero=True`` treats id 0 as padding: the mask ``ids != 0`` goes to the recurrent layers
    that follow (padding must be at the end of each sequence).
    """

    def __init__(self, input_dim: int, output_dim: int, mask_zero: bool = False,
                 input_shape: Sequence[int | None] | None = None, name: str | None = None) -> None:
        super().__init__(input_shape, name)
        self.input_dim = check_positive_int("input_dim", input_dim)
        self.output_dim = check_positive_int("output_dim", output_dim)
        self.mask_zero = bool(mask_zero)
        self.embedding = nn.Embedding(self.input_dim, self.output_dim)
        self.built = True

    def compute_output_shape(self, input_shape: Shape) -> Shape:
        return tuple(input_shape) + (self.output_dim,)

    def compute_mask(self, x: Tensor, mask: Tensor | None) -> Tensor | None:
        return (x != 0) if self.mask_zero else mask

    def get_config(self) -> dict[str, Any]:
        cfg = {"input_dim": self.input_dim, "output_dim": self.output_dim, "mask_zero": self.mask_zero}
        return {**cfg, **super().get_config()}

    def forward(self, x: Tensor, mask: Tensor | None = None) -> Tensor:
        if not isinstance(x, Tensor) or x.dtype.is_floating_point or x.dtype == torch.bool:
            got = x.dtype if isinstance(x, Tensor) else type(x).__name__
            raise SeqlabError(f"input: Embedding expects integer ids (batch, timesteps), got {got}")
        return self.embedding(x)


__all__ = [
    "ACTIVATIONS", "Bidirectional", "Dense", "Dropout", "Embedding", "GRU", "LAYERS", "LSTM", "Layer",
    "RecurrentLayer", "SimpleRNN", "deserialize", "register_layer", "serialize",
]
