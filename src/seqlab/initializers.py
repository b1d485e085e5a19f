"""Keras's weight initializers, by name or object, for the layers of :mod:`seqlab.layers`.

An initializer is called with a shape in **Keras's layout** and returns a tensor:
``init((input_dim, G * units))`` for a kernel, ``init((units, G * units))`` for a recurrent
kernel. The layers transpose the result into torch's layout (``weight_ih`` is (G*H, I)), so the
numbers mean what they mean in Keras: Glorot's bound ``sqrt(6 / (fan_in + fan_out))`` uses
``fan_in = input_dim`` and ``fan_out = G * units``, and ``Orthogonal`` on (units, G*units) gives a
matrix with orthonormal rows (``U Uᵀ = I``); for a SimpleRNN (G = 1) the recurrent matrix is
square and fully orthogonal, for LSTM and GRU the G blocks together are.

Names (Keras's identifiers): ``zeros``, ``ones``, ``constant``, ``random_uniform`` (``uniform``),
``random_normal`` (``normal``), ``truncated_normal``, ``glorot_uniform``, ``glorot_normal``,
``he_uniform``, ``he_normal``, ``lecun_uniform``, ``lecun_normal``, ``orthogonal``, ``identity``.
A config ``{"class_name": "Orthogonal", "config": {"gain": 2.0}}`` or an instance works too.
Draws come from ``torch.Generator().manual_seed(seed)`` when a seed is given, else from torch's
global generator (which ``fit(seed=...)`` and :func:`seqlab.utils.seed_everything` seed).
"""

from __future__ import annotations

import math
from typing import Any

import torch
from torch import Tensor

from .errors import SeqlabError, check_float

Shape = tuple[int, ...]


def _fans(shape: Shape) -> tuple[float, float]:
    """Keras's fan-in and fan-out: (shape[0], shape[1]) for a matrix, the receptive field otherwise."""
    if len(shape) < 1:
        return 1.0, 1.0
    if len(shape) == 1:
        return float(shape[0]), float(shape[0])
    if len(shape) == 2:
        return float(shape[0]), float(shape[1])
    field = math.prod(shape[:-2])
    return float(shape[-2] * field), float(shape[-1] * field)


class Initializer:
    """Base class: ``init(shape, dtype) -> Tensor``; ``get_config()`` and ``from_config`` round-trip it."""

    def __init__(self, seed: int | None = None) -> None:
        if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int)):
            raise SeqlabError(f"seed: expected an integer or None, got {seed!r}")
        self.seed = seed

    def _gen(self) -> torch.Generator | None:
        return None if self.seed is None else torch.Generator().manual_seed(self.seed)

    def __call__(self, shape: Shape, dtype: torch.dtype = torch.float32) -> Tensor:  # pragma: no cover
        raise NotImplementedError

    def get_config(self) -> dict[str, Any]:
        return {"seed": self.seed} if self.seed is not None else {}

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> "Initializer":
        return cls(**config)

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_config().items())
        return f"{type(self).__name__}({args})"

    def __eq__(self, other: object) -> bool:
        return type(self) is type(other) and self.get_config() == other.get_config()  # type: ignore[union-attr]


class Constant(Initializer):
    def __init__(self, value: float = 0.0) -> None:
        super().__init__()
        self.value = check_float("value", value)

    def __call__(self, shape, dtype=torch.float32):
        return torch.full(tuple(shape), self.value, dtype=dtype)

    def get_config(self):
        return {"value": self.value}


class Zeros(Constant):
    def __init__(self) -> None:
        super().__init__(0.0)

    def get_config(self):
        return {}


class Ones(Constant):
    def __init__(self) -> None:
        super().__init__(1.0)

    def get_config(self):
        return {}


class RandomUniform(Initializer):
    """Uniform on [minval, maxval) (Keras's defaults: ±0.05)."""

    def __init__(self, minval: float = -0.05, maxval: float = 0.05, seed: int | None = None) -> None:
        super().__init__(seed)
        self.minval, self.maxval = check_float("minval", minval), check_float("maxval", maxval)

    def __call__(self, shape, dtype=torch.float32):
        return torch.empty(tuple(shape), dtype=torch.float64).uniform_(self.minval, self.maxval, generator=self._gen()).to(dtype)

    def get_config(self):
        return {"minval": self.minval, "maxval": self.maxval, **super().get_config()}


class RandomNormal(Initializer):
    """Normal with ``mean`` and ``stddev`` (Keras's default stddev 0.05)."""

    def __init__(self, mean: float = 0.0, stddev: float = 0.05, seed: int | None = None) -> None:
        super().__init__(seed)
        self.mean, self.stddev = check_float("mean", mean), check_float("stddev", stddev, 0)

    def _draw(self, shape) -> Tensor:
        return torch.empty(tuple(shape), dtype=torch.float64).normal_(0.0, 1.0, generator=self._gen())

    def __call__(self, shape, dtype=torch.float32):
        return (self.mean + self.stddev * self._draw(shape)).to(dtype)

    def get_config(self):
        return {"mean": self.mean, "stddev": self.stddev, **super().get_config()}


def _truncated(shape, gen) -> Tensor:
    """Standard normal cut at ±2 (redrawn beyond it), as Keras's truncated normal."""
    out = torch.empty(tuple(shape), dtype=torch.float64)
    torch.nn.init.trunc_normal_(out, 0.0, 1.0, -2.0, 2.0, generator=gen)
    return out


class TruncatedNormal(RandomNormal):
    """Normal with ``mean`` and ``stddev``, values beyond two standard deviations redrawn."""

    def _draw(self, shape) -> Tensor:
        return _truncated(shape, self._gen())


class VarianceScaling(Initializer):
    """Keras's ``VarianceScaling``: variance ``scale / n`` with n the fan-in, fan-out or their mean;
    ``distribution`` 'uniform' (bound ``sqrt(3 scale / n)``), 'truncated_normal' (stddev
    ``sqrt(scale / n) / 0.8796...``, the stddev of a unit normal cut at ±2) or 'untruncated_normal'."""

    MODES = ("fan_in", "fan_out", "fan_avg")
    DISTRIBUTIONS = ("uniform", "truncated_normal", "untruncated_normal")

    def __init__(self, scale: float = 1.0, mode: str = "fan_in", distribution: str = "truncated_normal",
                 seed: int | None = None) -> None:
        super().__init__(seed)
        self.scale = check_float("scale", scale, 0, low_open=True)
        if mode not in self.MODES:
            raise SeqlabError(f"mode: expected one of {self.MODES}, got {mode!r}")
        if distribution not in self.DISTRIBUTIONS:
            raise SeqlabError(f"distribution: expected one of {self.DISTRIBUTIONS}, got {distribution!r}")
        self.mode, self.distribution = mode, distribution

    def __call__(self, shape, dtype=torch.float32):
        fan_in, fan_out = _fans(tuple(shape))
        n = {"fan_in": fan_in, "fan_out": fan_out, "fan_avg": (fan_in + fan_out) / 2}[self.mode]
        var = self.scale / max(1.0, n)
        gen = self._gen()
        if self.distribution == "uniform":
            limit = math.sqrt(3.0 * var)
            out = torch.empty(tuple(shape), dtype=torch.float64).uniform_(-limit, limit, generator=gen)
        elif self.distribution == "truncated_normal":
            out = _truncated(shape, gen) * (math.sqrt(var) / 0.87962566103423978)
        else:
            out = torch.empty(tuple(shape), dtype=torch.float64).normal_(0.0, math.sqrt(var), generator=gen)
        return out.to(dtype)

    def get_config(self):
        return {"scale": self.scale, "mode": self.mode, "distribution": self.distribution, **super().get_config()}


class _Fixed(VarianceScaling):
    """A VarianceScaling whose scale, mode and distribution are fixed by its name."""

    fixed: tuple[float, str, str] = (1.0, "fan_avg", "uniform")

    def __init__(self, seed: int | None = None) -> None:
        super().__init__(*self.fixed, seed=seed)

    def get_config(self):
        return Initializer.get_config(self)


class GlorotUniform(_Fixed):
    """Uniform on ±sqrt(6 / (fan_in + fan_out)) (Glorot and Bengio 2010); Keras's default kernel."""
    fixed = (1.0, "fan_avg", "uniform")


class GlorotNormal(_Fixed):
    fixed = (1.0, "fan_avg", "truncated_normal")


class HeUniform(_Fixed):
    fixed = (2.0, "fan_in", "uniform")


class HeNormal(_Fixed):
    fixed = (2.0, "fan_in", "truncated_normal")


class LecunUniform(_Fixed):
    fixed = (1.0, "fan_in", "uniform")


class LecunNormal(_Fixed):
    fixed = (1.0, "fan_in", "truncated_normal")


class Orthogonal(Initializer):
    """A (semi-)orthogonal matrix times ``gain`` (Saxe et al. 2014), as Keras draws it: the Q of
    the QR decomposition of a normal matrix of shape (max(r, c), min(r, c)), signs fixed by R's
    diagonal, transposed when the rows r (all axes but the last) are fewer than the columns c."""

    def __init__(self, gain: float = 1.0, seed: int | None = None) -> None:
        super().__init__(seed)
        self.gain = check_float("gain", gain)

    def __call__(self, shape, dtype=torch.float32):
        shape = tuple(shape)
        if len(shape) < 2:
            raise SeqlabError(f"orthogonal: needs a shape of at least 2 axes, got {shape}")
        rows, cols = math.prod(shape[:-1]), shape[-1]
        a = torch.empty(max(rows, cols), min(rows, cols), dtype=torch.float64).normal_(generator=self._gen())
        q, r = torch.linalg.qr(a)  # q (max, min) with orthonormal columns
        q = q * torch.sign(torch.diagonal(r))  # a uniform (Haar) draw
        if rows < cols:
            q = q.T  # (rows, cols): orthonormal rows
        return (self.gain * q).reshape(shape).to(dtype)

    def get_config(self):
        return {"gain": self.gain, **super().get_config()}


class Identity(Initializer):
    """``gain`` times the identity matrix (2-D shapes only)."""

    def __init__(self, gain: float = 1.0) -> None:
        super().__init__()
        self.gain = check_float("gain", gain)

    def __call__(self, shape, dtype=torch.float32):
        if len(shape) != 2:
            raise SeqlabError(f"identity: needs a 2-D shape, got {tuple(shape)}")
        return self.gain * torch.eye(*shape, dtype=dtype)

    def get_config(self):
        return {"gain": self.gain}


INITIALIZERS: dict[str, type[Initializer]] = {
    c.__name__: c for c in (Constant, Zeros, Ones, RandomUniform, RandomNormal, TruncatedNormal, VarianceScaling,
                            GlorotUniform, GlorotNormal, HeUniform, HeNormal, LecunUniform, LecunNormal,
                            Orthogonal, Identity)
}
NAMES = {
    "zeros": Zeros, "ones": Ones, "constant": Constant, "random_uniform": RandomUniform, "uniform": RandomUniform,
    "random_normal": RandomNormal, "normal": RandomNormal, "truncated_normal": TruncatedNormal,
    "variance_scaling": VarianceScaling, "glorot_uniform": GlorotUniform, "glorot_normal": GlorotNormal,
    "he_uniform": HeUniform, "he_normal": HeNormal, "lecun_uniform": LecunUniform, "lecun_normal": LecunNormal,
    "orthogonal": Orthogonal, "identity": Identity,
}


def get(spec: Any, name: str = "initializer") -> Initializer:
    """An :class:`Initializer` from a name, a ``{"class_name", "config"}`` dict or an instance."""
    if isinstance(spec, Initializer):
        return spec
    if isinstance(spec, str):
        key = spec if spec in INITIALIZERS else spec.lower()
        cls = INITIALIZERS.get(key) or NAMES.get(key)
        if cls is None:
            raise SeqlabError(f"{name}: unknown initializer {spec!r}; expected one of {', '.join(NAMES)}, "
                              "a seqlab.initializers.Initializer or its config dict")
        return cls()
    if isinstance(spec, dict) and "class_name" in spec:
        cls = INITIALIZERS.get(spec["class_name"]) or NAMES.get(str(spec["class_name"]).lower())
        if cls is None:
            raise SeqlabError(f"{name}: unknown initializer class {spec['class_name']!r}; "
                              f"expected one of {', '.join(INITIALIZERS)}")
        try:
            return cls.from_config(dict(spec.get("config") or {}))
        except TypeError as exc:
            raise SeqlabError(f"{name}: bad config for {spec['class_name']}: {exc}") from None
    raise SeqlabError(f"{name}: expected an initializer name such as 'glorot_uniform', a "
                      f"seqlab.initializers.Initializer or its config dict, got {spec!r}")


def serialize(init: Initializer) -> dict[str, Any]:
    """``{"class_name": ..., "config": ...}`` (JSON-serialisable; :func:`get` reads it back)."""
    return {"class_name": type(init).__name__, "config": init.get_config()}


# Keras's function-style aliases
zeros, ones = Zeros, Ones
glorot_uniform, glorot_normal, orthogonal = GlorotUniform, GlorotNormal, Orthogonal
he_uniform, he_normal, lecun_uniform, lecun_normal = HeUniform, HeNormal, LecunUniform, LecunNormal

__all__ = [*INITIALIZERS, "Initializer", "get", "serialize"]
