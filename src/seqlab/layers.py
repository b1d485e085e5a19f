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

Keras's arguments mean what they mean in Keras: SimpleRNN, LSTM, GRU and Dense start from
Keras's initializers (Glorot-uniform kernels, orthogonal recurrent kernels, zero biases, LSTM
forget-gate bias 1 by ``unit_forget_bias=True``; Embedding uniform on ±0.05), drawn in Keras's
layout and gate order (:mod:`seqlab.initializers`), and take ``kernel_regularizer`` /
``recurrent_regularizer`` / ``bias_regularizer`` (:mod:`seqlab.regularizers`), whose penalty
``Sequential.fit`` adds to the training loss. ``seqlab.nn`` itself keeps torch.nn's
initialisation, so that torch.nn stays its test oracle. A keyword a layer does not know raises
SeqlabError naming it and the accepted ones; a Keras argument seqlab does not implement says so
and what to do instead (:data:`KERAS_NOT_IMPLEMENTED`).

The registry :data:`LAYERS` maps a class name to its class; :func:`serialize` /
:func:`deserialize` round-trip a layer through its JSON config. To add a recurrent layer that
wraps any :class:`seqlab.nn.Recurrent` subclass::

    @register_layer
    class PeepholeLSTM(RecurrentLayer):
        module_class = seqlab.nn.LSTM        # built as module_class(input_size, units, bias=..., backend=...,
        cell_args = ("peephole",)            #   **cell_kwargs): the extra arguments it accepts by name
"""

from __future__ import annotations

import inspect
from typing import Any, Callable, Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from . import initializers, regularizers
from . import nn as snn
from .errors import SeqlabError, check_float, check_positive_int
from .nn.recurrent import reverse_padded
from .nn.scan import ACTIVATIONS as MIN_ACTIVATIONS

Shape = tuple  # (None, ...) with None for the batch (and unknown) axes

LAYERS: dict[str, type["Layer"]] = {}


def register_layer(cls: type["Layer"]) -> type["Layer"]:
    """Class decorator: make ``cls`` loadable by name from a saved config.

    A name of seqlab's own layers is refused (a saved model naming it must load as seqlab's
    layer); a class of your own registered again under its name (a notebook cell run twice)
    replaces the earlier one."""
    if not (isinstance(cls, type) and issubclass(cls, Layer)):
        raise SeqlabError(f"register_layer: expected a subclass of seqlab.layers.Layer, got {cls!r}")
    old = LAYERS.get(cls.__name__)
    if old is not None and old is not cls and old.__module__ == __name__:
        raise SeqlabError(
            f"register_layer: {cls.__name__!r} is the name of seqlab's own layer seqlab.layers.{cls.__name__}, "
            f"which a saved model naming it loads; give {cls.__module__}.{cls.__qualname__} another name")
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
    return check_float(name, value, 0, 1, high_open=True)


def _shape_arg(name: str, value: Any) -> tuple | None:
    if value is None:
        return None
    if isinstance(value, int) and not isinstance(value, bool):
        value = (value,)
    if not isinstance(value, (tuple, list)) or not all(v is None or (isinstance(v, int) and v > 0) for v in value):
        raise SeqlabError(f"{name}: expected a tuple of positive sizes without the batch axis, e.g. (timesteps, features), got {value!r}")
    return tuple(value)


def weights_digest(module: nn.Module) -> str:
    """A digest of every parameter's bytes (tells whether weights changed)."""
    import hashlib

    h = hashlib.blake2b(digest_size=16)
    for p in module.parameters():
        if p.device.type != "meta":  # built without memory (a size check): nothing to digest
            h.update(p.detach().reshape(-1).contiguous().cpu().view(torch.uint8).numpy().tobytes())
    return h.hexdigest()


def keep_mask(shape: tuple[int, ...], rate: float, like: Tensor, generator: torch.Generator | None = None) -> Tensor:
    """An inverted-dropout keep mask of ``shape`` (1/(1-rate) where kept, 0 where dropped), drawn
    from ``generator`` (on its device) or torch's global generator, on ``like``'s device."""
    device = like.device if generator is None else generator.device
    keep = torch.empty(shape, dtype=like.dtype, device=device).bernoulli_(1 - rate, generator=generator)
    return (keep / (1 - rate)).to(like.device)


class Layer(nn.Module):
    """Base of seqlab layers: lazy build, shape inference, mask passing, JSON config."""

    #: where dropout masks come from (None: torch's global generator); the training loop sets
    #: its seeded mask generator here for the run (seqlab.train.loop.attach_generator)
    generator: torch.Generator | None = None

    @property
    def built(self) -> bool:
        return self.__dict__.get("_built", False)

    @built.setter
    def built(self, value: bool) -> None:
        # a digest of the weights as built: fit(seed=...) draws again only weights nobody changed
        self.__dict__["_built"] = bool(value)
        self.__dict__["_built_digest"] = weights_digest(self) if value else None

    def untouched_since_build(self) -> bool:
        """True when the layer is built and its weights are those it was built with (never
        trained, loaded or set)."""
        return self.built and self.__dict__.get("_built_digest") == weights_digest(self)

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

    def call_masked(self, x: Tensor, mask: Tensor | None, **kwargs: Any) -> tuple[Tensor, Tensor | None]:
        """``(output, its padding mask)``: how ``Sequential`` calls a layer, ``self(x, mask=mask)``
        and :meth:`compute_mask`. A layer whose forward computes its output mask anyway (``Masking``)
        overrides this to compute it once."""
        new_mask = self.compute_mask(x, mask)
        return self(x, mask=mask, **kwargs), new_mask

    def regularization_loss(self) -> Tensor | None:
        """The penalty of this layer's own regularizers (not its sub-layers'), or None."""
        return None

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


# -- Keras arguments -----------------------------------------------------------------------------
#: Keras arguments that seqlab's layers do not implement, and what to do instead
KERAS_NOT_IMPLEMENTED = {
    "kernel_constraint": "weight constraints are not implemented; drop it (or clamp the weights in a callback)",
    "recurrent_constraint": "weight constraints are not implemented; drop it (or clamp the weights in a callback)",
    "bias_constraint": "weight constraints are not implemented; drop it (or clamp the weights in a callback)",
    "embeddings_constraint": "weight constraints are not implemented; drop it (or clamp the weights in a callback)",
    "activity_regularizer": "activity regularization is not implemented; use kernel_regularizer / "
                            "recurrent_regularizer, or add the penalty in a callable loss",
    "time_major": "seqlab layers take batch-first input (batch, timesteps, features); pass x.transpose(0, 1)",
    "unroll": "it changes speed, not results, in Keras; seqlab chooses the computation with backend= "
              "('auto', 'fused', 'sequence', 'loop'); drop it",
    "implementation": "it changes speed, not results, in Keras; seqlab chooses the computation with backend=; drop it",
    "use_cudnn": "use backend='fused' (torch's fused kernels, cuDNN on a GPU; an error says why when they cannot "
                 "run), 'loop' or 'auto'",
    "dtype": "build the model, then call model.double() (or model.to(torch.float64))",
    "seed": "seed the whole run instead: model.fit(..., seed=N) or seqlab.utils.seed_everything(N)",
    "trainable": "freeze a layer with layer.requires_grad_(False) after it is built",
}


def accepted_arguments(cls: type) -> list[str]:
    """The keyword arguments ``cls(...)`` accepts: its constructors' parameters and ``cell_args``."""
    names: set[str] = set(getattr(cls, "cell_args", ()))
    for klass in cls.__mro__:
        init = klass.__dict__.get("__init__")
        if init is None or klass is nn.Module or klass is object:
            continue
        for p in inspect.signature(init).parameters.values():
            if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY) and p.name != "self":
                names.add(p.name)
    return sorted(names)


def reject_unknown(cls: type, kwargs: dict[str, Any]) -> None:
    """SeqlabError for the first keyword of ``kwargs``, naming it and the accepted arguments."""
    for key in kwargs:
        if key in KERAS_NOT_IMPLEMENTED:
            raise SeqlabError(f"{key}: a Keras argument that {cls.__name__} does not implement: "
                              f"{KERAS_NOT_IMPLEMENTED[key]}")
        raise SeqlabError(f"{key}: {cls.__name__} got an unknown keyword argument {key!r}; accepted: "
                          f"{', '.join(accepted_arguments(cls))}")


# -- recurrent layers --------------------------------------------------------------------------
class RecurrentLayer(Layer):
    """A recurrent layer wrapping one :class:`seqlab.nn.Recurrent` (set ``module_class``), with
    Keras's arguments and defaults.

    Args:
        units: hidden size H.
        activation: the cell's output nonlinearity (SimpleRNN: 'tanh' or 'relu'; LSTM and GRU:
            'tanh', the one their cells and fused kernels compute).
        recurrent_activation: the gates' nonlinearity (LSTM and GRU: 'sigmoid').
        use_bias: add biases.
        kernel_initializer, recurrent_initializer, bias_initializer: Keras's initializers
            (:mod:`seqlab.initializers`; defaults 'glorot_uniform', 'orthogonal', 'zeros'), drawn
            in Keras's layout and gate order and mapped onto seqlab's (see :meth:`initialize`).
        kernel_regularizer, recurrent_regularizer, bias_regularizer: L1/L2 penalties
            (:mod:`seqlab.regularizers`, e.g. ``l2(1e-4)`` or 'l2') on the input weights, the
            recurrent weights and the biases, added to the training loss by ``fit``.
        dropout: rate of a dropout mask on the inputs, one mask per sequence for all steps.
        recurrent_dropout: rate of a dropout mask on ``h_{t-1}`` where it enters the recurrent
            matrix product, one mask per sequence for all steps (Gal and Ghahramani 2016), applied
            by the seqlab.nn runner (see :mod:`seqlab.nn.recurrent`). In training it runs the step
            loop (no fused kernel); in evaluation nothing changes.
        return_sequences: output every step (B, T, H) instead of the last one (B, H).
        return_state: also return the final state: ``(output, h)`` or ``(output, h, c)``, each (B, H).
        go_backwards: read each sequence from its last real step to its first; the output
            sequence comes in that (reversed) order, as in Keras; padding stays at the end.
        stateful: each call starts from the final state of the previous call (batch i continues
            sequence i); ``reset_states()`` starts afresh. Batches must keep their size.
        backend: one of ``seqlab.nn.BACKENDS``: 'auto', 'fused', 'sequence' or 'loop'.
        input_shape: (timesteps, features), optional; timesteps may be None.
            ``batch_input_shape`` (batch, timesteps, features) is read as its last two axes.
        **cell_kwargs: extra constructor arguments of ``module_class`` named in ``cell_args``.

    An argument that none of these name raises SeqlabError naming it and the accepted ones.
    """

    module_class: type[snn.Recurrent] = snn.RNN
    #: extra constructor arguments of ``module_class`` accepted through ``**cell_kwargs``
    cell_args: tuple[str, ...] = ()
    #: activation values the cell computes; recurrent activations (None: the layer has no gates)
    activations: tuple[str, ...] = ("tanh",)
    recurrent_activations: tuple[str, ...] | None = ("sigmoid",)
    #: Keras's initializers (False: seqlab.nn's own initialisation, for layers Keras lacks)
    keras_init = True

    def __init__(self, units: int, activation: str | None = "tanh", *, recurrent_activation: str | None = None,
                 use_bias: bool = True, kernel_initializer: Any = "glorot_uniform",
                 recurrent_initializer: Any = "orthogonal", bias_initializer: Any = "zeros",
                 kernel_regularizer: Any = None, recurrent_regularizer: Any = None, bias_regularizer: Any = None,
                 dropout: float = 0.0, recurrent_dropout: float = 0.0, return_sequences: bool = False,
                 return_state: bool = False, go_backwards: bool = False, stateful: bool = False,
                 backend: str = "auto", input_shape: Sequence[int | None] | None = None,
                 batch_input_shape: Sequence[int | None] | None = None, name: str | None = None,
                 **cell_kwargs: Any) -> None:
        reject_unknown(type(self), {k: v for k, v in cell_kwargs.items() if k not in self.cell_args})
        if batch_input_shape is not None:
            if input_shape is not None:
                raise SeqlabError("input_shape and batch_input_shape: pass one of them")
            shape = _shape_arg("batch_input_shape", batch_input_shape)
            input_shape = shape[1:] if shape is not None else None
        super().__init__(input_shape, name)
        cls = type(self).__name__
        self.units = check_positive_int("units", units)
        if activation not in self.activations:
            raise SeqlabError(
                f"activation: {cls} computes {' or '.join(map(repr, self.activations))} (its cell and the fused "
                f"kernels), got {activation!r}; use activation={self.activations[0]!r} (Keras's default), or write a "
                "cell of your own (a seqlab.nn.cells.CellBase subclass, run by the seqlab.nn.Recurrent loop)")
        self.activation = activation
        if self.recurrent_activations is None:
            if recurrent_activation is not None:
                raise SeqlabError(f"recurrent_activation: {cls} has no gates, so no recurrent activation; drop it")
        else:
            recurrent_activation = self.recurrent_activations[0] if recurrent_activation is None else recurrent_activation
            if recurrent_activation not in self.recurrent_activations:
                raise SeqlabError(
                    f"recurrent_activation: {cls}'s gates compute {' or '.join(map(repr, self.recurrent_activations))}"
                    f" (as torch.nn and cuDNN do), got {recurrent_activation!r}; use recurrent_activation="
                    f"{self.recurrent_activations[0]!r} (Keras's default since 2.3; 'hard_sigmoid' was older Keras'), "
                    "or write a cell of your own (a seqlab.nn.cells.CellBase subclass, run by the seqlab.nn.Recurrent loop)")
        self.recurrent_activation = recurrent_activation
        self.use_bias = bool(use_bias)
        self.kernel_initializer = initializers.get(kernel_initializer, "kernel_initializer")
        self.recurrent_initializer = initializers.get(recurrent_initializer, "recurrent_initializer")
        self.bias_initializer = initializers.get(bias_initializer, "bias_initializer")
        self.kernel_regularizer = regularizers.get(kernel_regularizer, "kernel_regularizer")
        self.recurrent_regularizer = regularizers.get(recurrent_regularizer, "recurrent_regularizer")
        self.bias_regularizer = regularizers.get(bias_regularizer, "bias_regularizer")
        self.return_sequences = bool(return_sequences)
        self.return_state = bool(return_state)
        self.go_backwards = bool(go_backwards)
        self.stateful = bool(stateful)
        self.dropout = _rate("dropout", dropout)
        self.recurrent_dropout = _rate("recurrent_dropout", recurrent_dropout)
        if backend not in snn.BACKENDS:
            raise SeqlabError(f"backend: expected one of {snn.BACKENDS}, got {backend!r}")
        self.backend = backend
        self.cell_kwargs = dict(cell_kwargs)
        self.rnn: snn.Recurrent | None = None
        self._states: tuple[Tensor, ...] | None = None  # carried between calls when stateful
        if self.input_shape is not None:
            if len(self.input_shape) != 2 or self.input_shape[-1] is None:
                raise SeqlabError(
                    f"input_shape: a recurrent layer takes (timesteps, features), got {self.input_shape!r}"
                )
            self.build((None,) + self.input_shape)

    def module_kwargs(self) -> dict[str, Any]:
        """Constructor arguments of ``module_class`` besides sizes, bias, backend and dropout."""
        return dict(self.cell_kwargs)

    def build(self, input_shape: Shape) -> None:
        if len(input_shape) != 3 or input_shape[-1] is None:
            raise SeqlabError(
                f"input: {type(self).__name__} expects inputs of shape (batch, timesteps, features), "
                f"got {tuple(input_shape)}" + _ONE_VECTOR_HINT * (len(input_shape) == 2)
            )
        dropping = {"recurrent_dropout": self.recurrent_dropout} if self.recurrent_dropout else {}
        self.rnn = self.module_class(int(input_shape[-1]), self.units, bias=self.use_bias,
                                     backend=self.backend, **dropping, **self.module_kwargs())
        if self.keras_init:
            self.initialize()
        self.rnn.train(self.training)  # built lazily, maybe after .eval(): the runner drops only in training
        self.built = True

    # -- Keras's initialisation, in seqlab's layout ----------------------------------------------
    def from_keras_gates(self, m: Tensor) -> Tensor:
        """Gate blocks along the last axis, from Keras's gate order into seqlab's (the same for
        SimpleRNN and LSTM: i | f | c | o is torch's i | f | g | o)."""
        return m

    def keras_biases(self, H: int, dtype: torch.dtype) -> tuple[Tensor, Tensor]:
        """``(bias_ih, bias_hh)`` from Keras's one bias vector (G*H,): all of it in ``bias_ih``."""
        G = self.rnn.cells[0].gates
        b = self.bias_initializer((G * H,), dtype)
        return self.from_keras_gates(b), torch.zeros(G * H, dtype=dtype)

    @torch.no_grad()
    def initialize(self) -> None:
        """Draw the weights as Keras does: the kernel (I, G*H) and recurrent kernel (H, G*H) in
        Keras's layout and gate order, mapped onto ``weight_ih`` (G*H, I) and ``weight_hh``
        (G*H, H); Keras's bias onto ``bias_ih`` with ``bias_hh`` zero (their sum is what the
        cell adds). Peephole weights (H,) each are drawn by the kernel initializer."""
        for cell in self.rnn.cells:
            G, H, I = cell.gates, cell.hidden_size, cell.input_size
            dtype = cell.weight_ih.dtype
            kernel = self.kernel_initializer((I, G * H), dtype)  # Keras's (input_dim, G*units)
            recurrent = self.recurrent_initializer((H, G * H), dtype)  # Keras's (units, G*units)
            cell.weight_ih.copy_(self.from_keras_gates(kernel).T)  # (G*H, I)
            cell.weight_hh.copy_(self.from_keras_gates(recurrent).T)  # (G*H, H)
            if cell.bias:
                b_ih, b_hh = self.keras_biases(H, dtype)
                cell.bias_ih.copy_(b_ih)
                cell.bias_hh.copy_(b_hh)
            if getattr(cell, "peephole", False):
                for k in range(3):
                    cell.weight_ch[k].copy_(self.kernel_initializer((H,), dtype))

    # -- regularization --------------------------------------------------------------------------
    def bias_penalty(self, cell: nn.Module) -> Tensor:
        """The bias regularizer on Keras's one bias vector, ``bias_ih + bias_hh``."""
        b_hh = getattr(cell, "bias_hh", None)
        return self.bias_regularizer(cell.bias_ih if b_hh is None else cell.bias_ih + b_hh)

    def regularization_loss(self) -> Tensor | None:
        terms = []
        for cell in (self.rnn.cells if self.rnn is not None else ()):
            if self.kernel_regularizer is not None:
                terms.append(self.kernel_regularizer(cell.weight_ih))
            if self.recurrent_regularizer is not None:
                terms.append(self.recurrent_regularizer(cell.weight_hh))
            if self.bias_regularizer is not None and cell.bias:
                terms.append(self.bias_penalty(cell))
        return torch.stack(terms).sum() if terms else None

    # -- stateful --------------------------------------------------------------------------------
    def reset_states(self, states: Sequence[Tensor] | None = None) -> None:
        """Forget the carried state of a stateful layer (or set it: ``h`` or ``(h, c)``, each (B, H))."""
        if states is None:
            self._states = None
            return
        parts = (states,) if isinstance(states, Tensor) else tuple(states)
        n = 2 if self.module_class.cell_class.state_size == 2 else 1
        if len(parts) != n or any(not isinstance(p, Tensor) or p.dim() != 2 or p.shape[1] != self.units for p in parts):
            raise SeqlabError(f"states: expected {n} tensor(s) of shape (batch, {self.units}), got {states!r:.80}")
        self._states = tuple(p.detach() for p in parts)

    reset_state = reset_states  # Keras 3's name

    def _initial_state(self, given: Any, batch: int) -> Tensor | tuple[Tensor, ...]:
        """``initial_state`` as the runner takes it, (1, B, H) each: given as Keras gives it, ``h``
        or ``[h, c]`` each (B, H) (what ``return_state`` returns), or as torch.nn does, (1, B, H)."""
        parts = (given,) if isinstance(given, Tensor) else tuple(given) if isinstance(given, (list, tuple)) else None
        n = 2 if self.module_class.cell_class.state_size == 2 else 1
        names = "[h, c]" if n == 2 else "h"
        if (parts is None or len(parts) != n or any(
                not isinstance(p, Tensor) or p.dim() not in (2, 3) or (p.dim() == 3 and p.shape[0] != 1)
                or tuple(p.shape[-2:]) != (batch, self.units) for p in parts)):
            got = [tuple(p.shape) if isinstance(p, Tensor) else type(p).__name__ for p in parts or [given]]
            raise SeqlabError(f"initial_state: this {type(self).__name__} takes {names}, each of shape "
                              f"(batch, units) = ({batch}, {self.units}), got {got}")
        parts = tuple(p if p.dim() == 3 else p.unsqueeze(0) for p in parts)  # (1, B, H) each
        return parts[0] if n == 1 else parts

    def compute_output_shape(self, input_shape: Shape) -> Shape:
        B, T = input_shape[0], input_shape[1]
        return (B, T, self.units) if self.return_sequences else (B, self.units)

    def compute_mask(self, x: Tensor, mask: Tensor | None) -> Tensor | None:
        return mask if self.return_sequences else None

    def get_config(self) -> dict[str, Any]:
        cfg: dict[str, Any] = {"units": self.units, "activation": self.activation}
        if self.recurrent_activation is not None:
            cfg["recurrent_activation"] = self.recurrent_activation
        cfg["use_bias"] = self.use_bias
        if self.keras_init:
            cfg.update(kernel_initializer=initializers.serialize(self.kernel_initializer),
                       recurrent_initializer=initializers.serialize(self.recurrent_initializer),
                       bias_initializer=initializers.serialize(self.bias_initializer),
                       recurrent_regularizer=regularizers.serialize(self.recurrent_regularizer))
        cfg.update(kernel_regularizer=regularizers.serialize(self.kernel_regularizer),
                   bias_regularizer=regularizers.serialize(self.bias_regularizer),
                   return_sequences=self.return_sequences, return_state=self.return_state,
                   go_backwards=self.go_backwards, stateful=self.stateful, dropout=self.dropout,
                   recurrent_dropout=self.recurrent_dropout, backend=self.backend, **self.cell_kwargs)
        return {**cfg, **super().get_config()}

    # -- input dropout mask (one per sequence, fixed over time) ---------------------------------
    def _keep_mask(self, shape: tuple[int, ...], rate: float, like: Tensor) -> Tensor:
        return keep_mask(shape, rate, like, self.generator)

    # -- forward -------------------------------------------------------------------------------
    def forward(self, x: Tensor, mask: Tensor | None = None, initial_state=None):
        """``x`` (B, T, F), ``mask`` (B, T) True on real steps (a prefix of each sequence).

        Returns (B, T, H) or (B, H); with ``return_state`` a tuple ``(output, h[, c])``.
        """
        if not isinstance(x, Tensor) or x.dim() != 3:
            got = tuple(x.shape) if isinstance(x, Tensor) else type(x).__name__
            hint = _ONE_VECTOR_HINT if isinstance(x, Tensor) and x.dim() == 2 else ""
            raise SeqlabError(
                f"input: {type(self).__name__} expects a tensor of shape (batch, timesteps, features), got {got}{hint}"
            )
        self._maybe_build(x)
        if mask is not None and not bool(mask.any(1).all()):
            raise SeqlabError("mask: a sequence has no real step (all padding); drop empty sequences from the data")
        if self.go_backwards:
            x = reverse_padded(x, None if mask is None else mask.sum(1))  # each sequence within its length
        if self.training and self.dropout:
            x = x * self._keep_mask((x.shape[0], 1, x.shape[2]), self.dropout, x)  # one mask per sequence
        if initial_state is not None:
            initial_state = self._initial_state(initial_state, x.shape[0])
        elif self.stateful and self._states is not None:
            if self._states[0].shape[0] != x.shape[0]:
                raise SeqlabError(
                    f"input: this stateful {type(self).__name__} carries the state of a batch of "
                    f"{self._states[0].shape[0]} sequences, got a batch of {x.shape[0]}; keep the batch size "
                    "(fit(..., batch_size=B, shuffle=False) with a sample count divisible by B) or call reset_states()")
            carried = tuple(s.unsqueeze(0) for s in self._states)  # (1, B, H) each
            initial_state = carried[0] if len(carried) == 1 else carried
        out, state = self.rnn(x, initial_state, mask=mask)  # the runner applies recurrent dropout
        states = (state,) if isinstance(state, Tensor) else tuple(state)
        states = tuple(s[0] for s in states)  # (B, H) each
        if self.stateful:
            self._states = tuple(s.detach() for s in states)
        y = out if self.return_sequences else states[0]
        return (y, *states) if self.return_state else y


#: the fix for a recurrent layer fed one vector per sequence, the usual cause of (batch, features)
_ONE_VECTOR_HINT = ("; a recurrent layer before it returns one vector per sequence: give that layer "
                    "return_sequences=True to pass on the whole sequence")


@register_layer
class SimpleRNN(RecurrentLayer):
    """Elman RNN layer, ``h_t = tanh(W x_t + U h_{t-1} + b)`` (``activation='relu'`` possible).

    ``nonlinearity`` is the older spelling of ``activation`` (files saved before read it)."""

    module_class = snn.RNN
    activations = ("tanh", "relu")
    recurrent_activations = None

    def __init__(self, units: int, activation: str | None = "tanh", *, nonlinearity: str | None = None,
                 **kwargs: Any) -> None:
        if nonlinearity is not None:
            if activation not in ("tanh", nonlinearity):
                raise SeqlabError(f"nonlinearity and activation: pass one of them (got {nonlinearity!r} and {activation!r})")
            activation = nonlinearity
        super().__init__(units, activation, **kwargs)

    def module_kwargs(self) -> dict[str, Any]:
        return {"nonlinearity": self.activation, **self.cell_kwargs}


@register_layer
class LSTM(RecurrentLayer):
    """LSTM layer; ``unit_forget_bias=True`` (Keras's default) starts the forget gate's bias at 1
    (Gers et al. 2000; Jozefowicz et al. 2015); ``peephole=True`` adds Graves (2013) peepholes
    (no fused kernel); ``layer_norm=True`` normalizes the gate pre-activations (Ba et al. 2016)."""

    module_class = snn.LSTM
    cell_args = ("peephole", "layer_norm")
    activations = ("tanh", "relu")  # relu (as Keras tutorials use it) runs the step loop

    def module_kwargs(self) -> dict[str, Any]:
        return {**self.cell_kwargs, **({} if self.activation == "tanh" else {"activation": self.activation})}

    def __init__(self, units: int, activation: str | None = "tanh", *, unit_forget_bias: bool = True,
                 peephole: bool = False, **kwargs: Any) -> None:
        self.unit_forget_bias = bool(unit_forget_bias)
        super().__init__(units, activation, peephole=bool(peephole), **kwargs)

    def keras_biases(self, H: int, dtype: torch.dtype) -> tuple[Tensor, Tensor]:
        if not self.unit_forget_bias:
            return super().keras_biases(H, dtype)
        init = self.bias_initializer
        b = torch.cat([init((H,), dtype), torch.ones(H, dtype=dtype), init((2 * H,), dtype)])  # i | f | c | o
        return b, torch.zeros(4 * H, dtype=dtype)

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "unit_forget_bias": self.unit_forget_bias}


@register_layer
class GRU(RecurrentLayer):
    """GRU layer, ``h = (1 - z) h_prev + z n``; ``reset`` is 'after' (cuDNN, Keras's default
    ``reset_after=True``) or 'before' (Cho 2014, Keras's ``reset_after=False``).

    Keras writes ``h = z h_prev + (1 - z) h~`` with gates ``z | r | h``: Keras's initializers are
    drawn in that order and mapped onto seqlab's ``r | z | n`` with the z block negated
    (seqlab's z is Keras's 1 - z), so a Keras-initialised GRU computes the same function."""

    module_class = snn.GRU
    cell_args = ("reset", "layer_norm")
    activations = ("tanh", "relu")  # relu (as Keras tutorials use it) runs the step loop

    def module_kwargs(self) -> dict[str, Any]:
        return {**self.cell_kwargs, **({} if self.activation == "tanh" else {"activation": self.activation})}

    def __init__(self, units: int, activation: str | None = "tanh", *, reset: str | None = None,
                 reset_after: bool | None = None, **kwargs: Any) -> None:
        if reset_after is not None:
            keras = "after" if reset_after else "before"
            if reset is not None and reset != keras:
                raise SeqlabError(f"reset and reset_after: they disagree (reset={reset!r}, reset_after={reset_after!r}); pass one")
            reset = keras
        super().__init__(units, activation, reset="after" if reset is None else reset, **kwargs)

    def from_keras_gates(self, m: Tensor) -> Tensor:
        z, r, h = m.chunk(3, dim=-1)  # Keras's z | r | h
        return torch.cat([r, -z, h], dim=-1)  # seqlab's r | z | n, z = 1 - Keras's z

    def keras_biases(self, H: int, dtype: torch.dtype) -> tuple[Tensor, Tensor]:
        if self.cell_kwargs["reset"] == "before":
            return super().keras_biases(H, dtype)
        b = self.bias_initializer((2, 3 * H), dtype)  # Keras's reset_after bias: input row, recurrent row
        return self.from_keras_gates(b[0]), self.from_keras_gates(b[1])

    def bias_penalty(self, cell: nn.Module) -> Tensor:
        if self.cell_kwargs["reset"] == "before":
            return super().bias_penalty(cell)
        return self.bias_regularizer(torch.stack([cell.bias_ih, cell.bias_hh]))  # Keras's (2, 3H) bias


class _MinRecurrentLayer(RecurrentLayer):
    """Shared checks of the minimal RNN layers: no recurrent weight to drop out or initialise,
    and seqlab.nn's initialisation (Keras has no such layer). ``activation`` is the minimal cells'
    own: 'g' (Feng et al. 2024, keeps states positive) or another of ``seqlab.nn.scan.ACTIVATIONS``."""

    cell_args = ("scan", "norm", "residual")
    activations = MIN_ACTIVATIONS
    keras_init = False
    recurrent_activations = None

    def __init__(self, units: int, activation: str = "g", *, scan: str = "auto", **kwargs: Any) -> None:
        for key in ("kernel_initializer", "recurrent_initializer", "bias_initializer", "recurrent_regularizer"):
            if key in kwargs:
                raise SeqlabError(f"{key}: {type(self).__name__} keeps seqlab.nn's initialisation and has no recurrent "
                                  "weight (Keras has no such layer); drop it")
        if kwargs.get("recurrent_dropout"):
            raise SeqlabError(
                f"recurrent_dropout: {type(self).__name__} has no recurrent weight (its gates see only the "
                f"input), so recurrent dropout does not apply; got {kwargs['recurrent_dropout']!r}, use dropout instead"
            )
        super().__init__(units, activation, scan=scan, **kwargs)

    def module_kwargs(self) -> dict[str, Any]:
        return {"activation": self.activation, **self.cell_kwargs}


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
                 input_shape: Sequence[int | None] | None = None, name: str | None = None, **kwargs: Any) -> None:
        reject_unknown(type(self), kwargs)
        if isinstance(layer, dict):
            layer = deserialize(layer)
        if not isinstance(layer, RecurrentLayer):
            raise SeqlabError(f"layer: Bidirectional wraps a recurrent layer (SimpleRNN, LSTM, GRU), got {type(layer).__name__}")
        if layer.return_state:
            raise SeqlabError("layer: Bidirectional does not support return_state=True; use the layers directly")
        if layer.go_backwards:
            raise SeqlabError("layer: Bidirectional runs a reversed copy of the layer itself; pass a layer with "
                              "go_backwards=False")
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
                 kernel_initializer: Any = "glorot_uniform", bias_initializer: Any = "zeros",
                 kernel_regularizer: Any = None, bias_regularizer: Any = None,
                 input_shape: Sequence[int | None] | None = None, name: str | None = None, **kwargs: Any) -> None:
        reject_unknown(type(self), kwargs)
        super().__init__(input_shape, name)
        self.units = check_positive_int("units", units)
        activation = activation or "linear"
        if activation not in ACTIVATIONS:
            raise SeqlabError(f"activation: unknown {activation!r}; expected one of {', '.join(ACTIVATIONS)}")
        self.activation = activation
        self.use_bias = bool(use_bias)
        self.kernel_initializer = initializers.get(kernel_initializer, "kernel_initializer")
        self.bias_initializer = initializers.get(bias_initializer, "bias_initializer")
        self.kernel_regularizer = regularizers.get(kernel_regularizer, "kernel_regularizer")
        self.bias_regularizer = regularizers.get(bias_regularizer, "bias_regularizer")
        self.linear: nn.Linear | None = None
        if self.input_shape is not None:
            self.build((None,) + self.input_shape)

    def build(self, input_shape: Shape) -> None:
        if len(input_shape) < 2 or input_shape[-1] is None:
            raise SeqlabError(f"input: Dense expects (batch, ..., features), got {tuple(input_shape)}")
        self.linear = nn.Linear(int(input_shape[-1]), self.units, bias=self.use_bias)
        with torch.no_grad():  # Keras's kernel is (in, units): draw it so, store its transpose
            w = self.linear.weight
            w.copy_(self.kernel_initializer((w.shape[1], w.shape[0]), w.dtype).T)
            if self.use_bias:
                self.linear.bias.copy_(self.bias_initializer((self.units,), w.dtype))
        self.built = True

    def regularization_loss(self) -> Tensor | None:
        if self.linear is None:
            return None
        terms = []
        if self.kernel_regularizer is not None:
            terms.append(self.kernel_regularizer(self.linear.weight))
        if self.bias_regularizer is not None and self.use_bias:
            terms.append(self.bias_regularizer(self.linear.bias))
        return torch.stack(terms).sum() if terms else None

    def compute_output_shape(self, input_shape: Shape) -> Shape:
        return tuple(input_shape[:-1]) + (self.units,)

    def get_config(self) -> dict[str, Any]:
        cfg = {"units": self.units, "activation": self.activation, "use_bias": self.use_bias,
               "kernel_initializer": initializers.serialize(self.kernel_initializer),
               "bias_initializer": initializers.serialize(self.bias_initializer),
               "kernel_regularizer": regularizers.serialize(self.kernel_regularizer),
               "bias_regularizer": regularizers.serialize(self.bias_regularizer)}
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
                 name: str | None = None, **kwargs: Any) -> None:
        reject_unknown(type(self), kwargs)
        super().__init__(input_shape, name)
        self.rate = _rate("rate", rate)
        self.built = True

    def get_config(self) -> dict[str, Any]:
        return {"rate": self.rate, **super().get_config()}

    def forward(self, x: Tensor, mask: Tensor | None = None) -> Tensor:
        if not (self.rate and self.training):
            return x
        if self.generator is None:
            return F.dropout(x, self.rate, True)
        return x * keep_mask(tuple(x.shape), self.rate, x, self.generator)


def _sequences(x: Any) -> Tensor:
    """``x`` if it is float sequences (batch, timesteps, features), as Masking takes, else SeqlabError."""
    if not isinstance(x, Tensor) or x.dim() != 3 or not x.dtype.is_floating_point:
        got = f"{tuple(x.shape)} {x.dtype}" if isinstance(x, Tensor) else type(x).__name__
        raise SeqlabError(f"input: Masking expects float sequences (batch, timesteps, features), got {got}")
    return x


@register_layer
class Masking(Layer):
    """Keras's ``Masking``: steps whose features all equal ``mask_value`` are padding. The mask
    ``(x != mask_value).any(-1)`` (B, T) goes to the layers that follow, as ``Embedding``'s does
    (recurrent layers skip padded steps, the loss and metrics leave them out), and padded steps
    are set to 0. Padding must be at the end of each sequence (post-padding)."""

    def __init__(self, mask_value: float = 0.0, input_shape: Sequence[int | None] | None = None,
                 name: str | None = None, **kwargs: Any) -> None:
        reject_unknown(type(self), kwargs)
        super().__init__(input_shape, name)
        self.mask_value = check_float("mask_value", mask_value)
        self.built = True

    def get_config(self) -> dict[str, Any]:
        return {"mask_value": self.mask_value, **super().get_config()}

    def compute_mask(self, x: Tensor, mask: Tensor | None) -> Tensor | None:
        return (x != self.mask_value).any(-1)  # (B, T)

    def call_masked(self, x: Tensor, mask: Tensor | None, **kwargs: Any) -> tuple[Tensor, Tensor | None]:
        """``(output, mask)`` from one computation of the mask: computed here and given to the
        forward (through ``self(...)``, so hooks run as on any call and see the output tensor)."""
        keep = self.compute_mask(_sequences(x), mask)  # (B, T), replacing the incoming mask as Keras's does
        return self(x, mask=mask, keep=keep, **kwargs), keep

    def forward(self, x: Tensor, mask: Tensor | None = None, keep: Tensor | None = None) -> Tensor:
        """Padded steps set to 0. ``keep``: the mask of ``x`` when :meth:`call_masked` has computed
        it already (None: computed here)."""
        x = _sequences(x)
        if keep is None:
            keep = self.compute_mask(x, mask)
        return x * keep.unsqueeze(-1).to(x.dtype)


@register_layer
class Embedding(Layer):
    """Integer ids (B, T) -> vectors (B, T, output_dim).

    ``mask_zero=True`` treats id 0 as padding: the mask ``ids != 0`` goes to the recurrent layers
    that follow (padding must be at the end of each sequence).
    """

    def __init__(self, input_dim: int, output_dim: int, mask_zero: bool = False,
                 embeddings_initializer: Any = "uniform", embeddings_regularizer: Any = None,
                 input_length: int | None = None, input_shape: Sequence[int | None] | None = None,
                 name: str | None = None, **kwargs: Any) -> None:
        reject_unknown(type(self), kwargs)
        if input_length is not None and input_shape is None:
            input_shape = (check_positive_int("input_length", input_length),)
        super().__init__(input_shape, name)
        self.input_dim = check_positive_int("input_dim", input_dim)
        self.output_dim = check_positive_int("output_dim", output_dim)
        self.mask_zero = bool(mask_zero)
        self.embeddings_initializer = initializers.get(embeddings_initializer, "embeddings_initializer")
        self.embeddings_regularizer = regularizers.get(embeddings_regularizer, "embeddings_regularizer")
        self.embedding = nn.Embedding(self.input_dim, self.output_dim)
        with torch.no_grad():
            w = self.embedding.weight
            w.copy_(self.embeddings_initializer(tuple(w.shape), w.dtype))  # Keras: uniform on ±0.05
        self.built = True

    def regularization_loss(self) -> Tensor | None:
        reg = self.embeddings_regularizer
        return None if reg is None else reg(self.embedding.weight)

    def compute_output_shape(self, input_shape: Shape) -> Shape:
        return tuple(input_shape) + (self.output_dim,)

    def compute_mask(self, x: Tensor, mask: Tensor | None) -> Tensor | None:
        return (x != 0) if self.mask_zero else mask

    def get_config(self) -> dict[str, Any]:
        cfg = {"input_dim": self.input_dim, "output_dim": self.output_dim, "mask_zero": self.mask_zero,
               "embeddings_initializer": initializers.serialize(self.embeddings_initializer),
               "embeddings_regularizer": regularizers.serialize(self.embeddings_regularizer)}
        return {**cfg, **super().get_config()}

    def forward(self, x: Tensor, mask: Tensor | None = None) -> Tensor:
        if not isinstance(x, Tensor) or x.dtype.is_floating_point or x.dtype == torch.bool:
            got = x.dtype if isinstance(x, Tensor) else type(x).__name__
            raise SeqlabError(f"input: Embedding expects integer ids (batch, timesteps), got {got}")
        return self.embedding(x)


@register_layer
class InputLayer(Layer):
    """Keras's ``Input(shape=(timesteps, features))`` as the first layer of a Sequential: it only
    fixes the input shape (the batch axis excluded) and passes its input on."""

    def __init__(self, shape: Sequence[int | None] | None = None, input_shape: Sequence[int | None] | None = None,
                 batch_size: int | None = None, name: str | None = None, **kwargs: Any) -> None:
        reject_unknown(type(self), kwargs)
        if shape is not None and input_shape is not None:
            raise SeqlabError("shape and input_shape: pass one of them")
        super().__init__(shape if shape is not None else input_shape, name)
        if self.input_shape is None:
            raise SeqlabError("shape: Input needs the shape of one sample, e.g. shape=(timesteps, features)")
        self.batch_size = None if batch_size is None else check_positive_int("batch_size", batch_size)
        self.built = True

    def get_config(self) -> dict[str, Any]:
        cfg = super().get_config()
        if self.batch_size is not None:
            cfg["batch_size"] = self.batch_size
        return cfg

    def forward(self, x: Tensor, mask: Tensor | None = None) -> Tensor:
        return x


__all__ = [
    "ACTIVATIONS", "Bidirectional", "Dense", "Dropout", "Embedding", "GRU", "InputLayer", "KERAS_NOT_IMPLEMENTED",
    "LAYERS", "LSTM", "Layer", "Masking", "MinGRU", "MinLSTM", "RecurrentLayer", "SimpleRNN", "accepted_arguments",
    "deserialize", "register_layer", "reject_unknown", "serialize",
]
