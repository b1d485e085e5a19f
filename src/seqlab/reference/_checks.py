"""Input checks and small helpers shared by the reference cells (float64 NumPy).

Every bad input raises :class:`seqlab.errors.SeqlabError` naming the argument, what was expected
and what was received.
"""

from __future__ import annotations

from typing import Any, Callable, Mapping

import numpy as np

from ..errors import SeqlabError
from ..nn.registry import gate_count

Params = Mapping[str, np.ndarray]


def sigmoid(a: np.ndarray) -> np.ndarray:
    """The logistic function, written so that large negative ``a`` does not overflow."""
    e = np.exp(-np.abs(a))
    return np.where(a >= 0, 1.0 / (1.0 + e), e / (1.0 + e))


#: the candidate/output nonlinearities of the LSTM and GRU: ``(act, dact)`` with ``dact(y)`` the
#: derivative at the input whose image is ``y`` (tanh: 1 - y², relu: 1 where y > 0, as torch's
#: relu, whose derivative at 0 is 0)
ACTIVATIONS = {"tanh": (np.tanh, lambda y: 1 - y**2),
               "relu": (lambda a: np.maximum(a, 0.0), lambda y: (y > 0).astype(y.dtype))}


def activation_pair(activation: str) -> tuple[Callable[[np.ndarray], np.ndarray], Callable[[np.ndarray], np.ndarray]]:
    """``(act, dact)`` of :data:`ACTIVATIONS`; SeqlabError naming ``activation`` otherwise."""
    if activation not in ACTIVATIONS:
        raise SeqlabError(f"activation: expected 'tanh' or 'relu', got {activation!r}")
    return ACTIVATIONS[activation]


def as_float64(name: str, value: Any, ndim: int) -> np.ndarray:
    """``value`` as a float64 array with ``ndim`` dimensions, else SeqlabError naming ``name``."""
    if hasattr(value, "detach"):  # a torch tensor: the reference works on plain NumPy arrays
        value = value.detach().cpu().numpy()
    try:
        arr = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise SeqlabError(f"{name}: expected a real-valued array, got {type(value).__name__}") from exc
    if arr.ndim != ndim:
        raise SeqlabError(f"{name}: expected {ndim} dimensions, got shape {arr.shape}")
    return arr


def check_sequence(x: Any, input_size: int) -> np.ndarray:
    """The input sequence, batch first: (B, T, I)."""
    x = as_float64("x", x, 3)
    if x.shape[2] != input_size or x.shape[1] < 1:
        raise SeqlabError(f"x: expected shape (batch, time >= 1, {input_size}), got {x.shape}")
    return x


def check_params(params: Params, family: str, extra: tuple[str, ...] = ()) -> tuple[dict, int, int]:
    """Validate ``weight_ih`` (G*H, I), ``weight_hh`` (G*H, H), optional biases (G*H,), and the
    named ``extra`` parameters; G is the gate count of the cell ``family`` ('rnn', 'lstm', 'gru').
    Returns ``(params as float64, H, I)``."""
    gates = gate_count(family)
    if not isinstance(params, Mapping):
        raise SeqlabError(f"params: expected a dict of arrays (weight_ih, weight_hh, ...), got {type(params).__name__}")
    for name in ("weight_ih", "weight_hh") + extra:
        if name not in params:
            raise SeqlabError(f"params: expected key {name!r}, got keys {sorted(params)}")
    has_ih, has_hh = params.get("bias_ih") is not None, params.get("bias_hh") is not None
    if has_ih != has_hh:
        raise SeqlabError("params: expected both bias_ih and bias_hh or neither, got only one of them")
    p = {"weight_ih": as_float64("params['weight_ih']", params["weight_ih"], 2)}
    GH, I = p["weight_ih"].shape
    if GH % gates:
        raise SeqlabError(f"params['weight_ih']: expected {gates}*hidden_size rows, got {GH}")
    H = GH // gates
    want = {"weight_hh": (GH, H), "bias_ih": (GH,), "bias_hh": (GH,)}
    for name in extra:
        want[name] = (3, H) if name == "weight_ch" else want.get(name)
    for name, shape in want.items():
        if params.get(name) is None:
            continue
        arr = as_float64(f"params[{name!r}]", params[name], len(shape))
        if arr.shape != shape:
            raise SeqlabError(f"params[{name!r}]: expected shape {shape}, got {arr.shape}")
        p[name] = arr
    return p, H, I


def check_state(name: str, state: Any, B: int, H: int) -> np.ndarray:
    """An initial state (B, H); None means zeros."""
    if state is None:
        return np.zeros((B, H))
    s = as_float64(name, state, 2)
    if s.shape != (B, H):
        raise SeqlabError(f"{name}: expected shape (batch, hidden) = {(B, H)}, got {s.shape}")
    return s


def check_lengths(lengths: Any, B: int, T: int) -> np.ndarray:
    """Valid steps per sequence (B,) of integers in [1, T]; None means all T steps."""
    if lengths is None:
        return np.full(B, T, dtype=np.int64)
    if hasattr(lengths, "detach"):
        lengths = lengths.detach().cpu().numpy()
    arr = np.asarray(lengths)
    if arr.shape != (B,):
        raise SeqlabError(f"lengths: expected {B} lengths (one per sequence), got shape {arr.shape}")
    if not np.issubdtype(arr.dtype, np.integer):
        raise SeqlabError(f"lengths: expected integers, got dtype {arr.dtype}")
    if B and (arr.min() < 1 or arr.max() > T):
        raise SeqlabError(f"lengths: expected values in [1, {T}] (the time dimension), got min {arr.min()}, max {arr.max()}")
    return arr.astype(np.int64)


def step_masks(lengths: np.ndarray, T: int) -> np.ndarray:
    """``m[t]`` (T, B, 1): 1.0 where step t is inside sequence b, 0.0 on padding."""
    return (np.arange(T)[:, None] < lengths[None, :]).astype(np.float64)[:, :, None]  # (T, B, 1)


def check_grad(name: str, g: Any, shape: tuple[int, ...]) -> np.ndarray:
    """An incoming gradient of the given shape; None means zeros."""
    if g is None:
        return np.zeros(shape)
    arr = as_float64(name, g, len(shape))
    if arr.shape != shape:
        raise SeqlabError(f"{name}: expected shape {shape}, got {arr.shape}")
    return arr
