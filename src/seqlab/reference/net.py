"""A whole network in float64 NumPy: input layer, stacked recurrent cells, output layer, loss.

Equations (docs/numpy.md, section "The network"), for ids or inputs of shape (B, T):

    x_t = onehot(id_t)  or  E[id_t]  or  the real input x_t       input = onehot | embedding | real
    h_t = the cells of seqlab.reference (stacked_forward), state carried in
    y_t = h_t V^T + c                                               (out.weight V, out.bias c)
    softmax: P_t = softmax(y_t);  L = -mean_{b,t} log P_t[target_t]   (torch's CrossEntropyLoss)
    linear:  L = mean (y - target)²                                   (torch's MSELoss)

and backward ``dy = (P - onehot(target)) / (B T)`` or ``dy = 2 (y - target) / N``, then
linear_backward, stacked_backward (BPTT by hand) and, for an embedding, ``dE[id_t] += dx_t``.
Parameters are one flat dict ``{name: array}``: ``embedding.weight`` (V, E),
``cells.{k}.weight_ih`` ... (torch's names, per layer k), ``out.weight`` (O, H), ``out.bias`` (O,).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from ..errors import SeqlabError, check_float, check_int
from ..nn.registry import CELLS as REGISTRY  # the one cell table (no torch import)
from ..nn.registry import gate_count
from .rnn import linear_backward, linear_forward
from .stack import stacked_backward, stacked_forward

#: the registry's cells that stacked_forward computes: those with a hand-derived backward
#: (layer-normalized and min cells excluded)
NET_CELLS = tuple(n for n, s in REGISTRY.items() if s.reference_backward is not None)
INPUTS = ("onehot", "embedding", "real")
OUTPUTS = ("softmax", "linear")


@dataclass(frozen=True)
class NetConfig:
    """A NumPy network: ``input_size`` is the vocabulary size (onehot, embedding) or the number
    of features (real); ``output_size`` defaults to ``input_size`` (a language model)."""

    input_size: int
    hidden_size: int = 100
    output_size: int | None = None
    cell: str = "rnn"  # a name of seqlab.nn.registry in NET_CELLS
    num_layers: int = 1
    input: str = "onehot"
    embed_size: int = 32  # embedding only
    output: str = "softmax"

    def __post_init__(self) -> None:
        for name in ("input_size", "hidden_size", "num_layers", "embed_size"):
            check_int(name, getattr(self, name))
        check_int("output_size", self.output_size, none="input_size")
        for name, allowed in (("cell", NET_CELLS), ("input", INPUTS), ("output", OUTPUTS)):
            if getattr(self, name) not in allowed:
                raise SeqlabError(f"{name}: expected one of {', '.join(allowed)}, got {getattr(self, name)!r}")

    @property
    def outputs(self) -> int:
        return self.output_size or self.input_size

    @property
    def family(self) -> str:
        return REGISTRY[self.cell].family

    @property
    def options(self) -> dict[str, Any]:
        """Keyword options of the cell's forward (``nonlinearity``, ``reset``)."""
        return dict(REGISTRY[self.cell].reference_options)


def init_params(config: NetConfig, seed: int = 0) -> dict[str, np.ndarray]:
    """torch's initialisation: cells and output layer uniform in ±1/sqrt(H), embedding N(0, 1)."""
    rng = np.random.default_rng(seed)
    H, G = config.hidden_size, gate_count(config.family)
    k = 1 / np.sqrt(H)
    params = {}
    if config.input == "embedding":
        params["embedding.weight"] = rng.normal(size=(config.input_size, config.embed_size))
    first = config.embed_size if config.input == "embedding" else config.input_size
    for layer in range(config.num_layers):
        inp = first if layer == 0 else H
        for name, shape in (("weight_ih", (G * H, inp)), ("weight_hh", (G * H, H)), ("bias_ih", (G * H,)),
                            ("bias_hh", (G * H,))):
            params[f"cells.{layer}.{name}"] = rng.uniform(-k, k, shape)
        if REGISTRY[config.cell].kwargs.get("peephole"):
            params[f"cells.{layer}.weight_ch"] = rng.uniform(-k, k, (3, H))
    params["out.weight"] = rng.uniform(-k, k, (config.outputs, H))
    params["out.bias"] = rng.uniform(-k, k, config.outputs)
    return params


def cell_params(params: dict[str, np.ndarray], config: NetConfig) -> list[dict[str, np.ndarray]]:
    """The per-layer dicts that stacked_forward takes (views of the same arrays)."""
    return [{n.split(".")[2]: a for n, a in params.items() if n.startswith(f"cells.{k}.")}
            for k in range(config.num_layers)]


def _inputs(config: NetConfig, params: dict[str, np.ndarray], inputs: Any) -> tuple[np.ndarray, np.ndarray]:
    """The cells' input x (B, T, I) and the inputs as an array (ids (B, T) or reals (B, T, I))."""
    if config.input == "real":
        x = np.asarray(inputs, dtype=np.float64)
        if x.ndim != 3 or x.shape[2] != config.input_size:
            raise SeqlabError(f"inputs: expected real inputs of shape (batch, time, {config.input_size}), got {x.shape}")
        return x, x
    ids = np.asarray(inputs)
    if ids.ndim != 2 or not np.issubdtype(ids.dtype, np.integer):
        raise SeqlabError(f"inputs: expected integer ids of shape (batch, time), got {ids.dtype} {ids.shape}")
    if ids.size and (ids.min() < 0 or ids.max() >= config.input_size):
        raise SeqlabError(f"inputs: expected ids in [0, {config.input_size}), got min {ids.min()}, max {ids.max()}")
    if config.input == "onehot":
        return np.eye(config.input_size)[ids], ids  # (B, T, V)
    return params["embedding.weight"][ids], ids  # (B, T, E)


def net_forward(params: dict[str, np.ndarray], config: NetConfig, inputs: Any,
                state: Any = None) -> tuple[np.ndarray, Any, dict]:
    """``y`` (B, T, O) (logits or predictions), the final state (torch-shaped: (L, B, H), or
    ``(h, c)`` for LSTM) and the cache for :func:`net_backward`. ``state`` None is zeros."""
    x, ids = _inputs(config, params, inputs)
    h, final, cache = stacked_forward(config.family, x, cell_params(params, config), state,
                                      num_layers=config.num_layers, **config.options)
    y = linear_forward(h, params["out.weight"], params["out.bias"])
    return y, final, dict(ids=ids, h=h, stack=cache)


def loss_and_dy(config: NetConfig, y: np.ndarray, targets: Any) -> tuple[float, np.ndarray]:
    """The loss and ``dy`` = dL/dy. softmax: targets are ids (B, T); linear: reals (B, T, O), or
    (B, O) for the last step only (the other steps then have no loss)."""
    B, T, O = y.shape
    if config.output == "softmax":
        t = np.asarray(targets)
        if t.shape != (B, T) or not np.issubdtype(t.dtype, np.integer) or (t.size and (t.min() < 0 or t.max() >= O)):
            raise SeqlabError(f"targets: expected integer ids in [0, {O}) of shape {(B, T)}, got {t.dtype} {t.shape}")
        z = y - y.max(axis=2, keepdims=True)  # (B, T, O), shifted for a stable exp
        logp = z - np.log(np.exp(z).sum(axis=2, keepdims=True))
        picked = np.take_along_axis(logp, t[:, :, None], axis=2)  # (B, T, 1): log P_t[target_t]
        dy = np.exp(logp)
        np.put_along_axis(dy, t[:, :, None], np.take_along_axis(dy, t[:, :, None], axis=2) - 1, axis=2)
        return float(-picked.mean()), dy / (B * T)
    t = np.asarray(targets, dtype=np.float64)
    if t.shape == (B, O):  # many-to-one: only the last step is compared
        dy = np.zeros_like(y)
        dy[:, -1] = 2 * (y[:, -1] - t) / t.size
        return float(((y[:, -1] - t) ** 2).mean()), dy
    if t.shape != (B, T, O):
        raise SeqlabError(f"targets: expected reals of shape {(B, T, O)} (every step) or {(B, O)} (last step), got {t.shape}")
    return float(((y - t) ** 2).mean()), 2 * (y - t) / t.size


def net_backward(params: dict[str, np.ndarray], config: NetConfig, dy: np.ndarray, cache: dict,
                 dstate: Any = None) -> tuple[dict[str, np.ndarray], Any]:
    """Gradients of every parameter (same names) and dL/d(initial state), by hand.

    ``dstate`` = dL/d(final state), None for truncated BPTT (the loss of later chunks is not
    propagated into this one)."""
    dh, dV, dc = linear_backward(dy, cache["h"], params["out.weight"])
    cell_grads, dx, dstate0 = stacked_backward(dh, dstate, cache["stack"])
    grads = {f"cells.{k}.{n}": g for k, gs in enumerate(cell_grads) for n, g in gs.items()}
    grads["out.weight"], grads["out.bias"] = dV, dc
    if config.input == "embedding":
        dE = np.zeros_like(params["embedding.weight"])
        np.add.at(dE, cache["ids"], dx)  # dE[id_t] += dx_t, repeated ids add up
        grads["embedding.weight"] = dE
    return {n: grads[n] for n in params}, dstate0


def loss_and_grads(params: dict[str, np.ndarray], config: NetConfig, inputs: Any, targets: Any,
                   state: Any = None) -> tuple[float, dict[str, np.ndarray], Any]:
    """Forward, loss and backward over one chunk: ``(loss, grads, final state)``; the final state
    is the next chunk's ``state`` (truncated BPTT)."""
    y, final, cache = net_forward(params, config, inputs, state)
    loss, dy = loss_and_dy(config, y, targets)
    grads, _ = net_backward(params, config, dy, cache)
    return loss, grads, final


def sample(params: dict[str, np.ndarray], config: NetConfig, first: int, n: int, rng: np.random.Generator,
           temperature: float = 1.0, state: Any = None) -> list[int]:
    """``n`` ids drawn one at a time from softmax(y / temperature), each fed back as the next input.

    ``temperature``: a finite number > 0; below 1 sharpens the distribution, above 1 flattens it.
    It divides ``y - max(y)``, so any positive value is stable: one so small that every other
    logit's share underflows to 0 picks the arg max."""
    if config.output != "softmax" or config.input == "real":
        raise SeqlabError("config: sampling needs ids in and a softmax out (input onehot or embedding, output softmax)")
    temperature = check_float("temperature", temperature, 0, low_open=True, meaning="the sampling temperature: 1 "
                              "samples the model's own distribution, lower is greedier")
    out, ident = [], first
    for _ in range(n):
        y, state, _ = net_forward(params, config, np.array([[ident]]), state)
        z = y[0, -1]
        with np.errstate(over="ignore"):  # shifted first (y / 1e-310 was inf - inf = NaN); -inf gives exp 0
            p = np.exp((z - z.max()) / temperature)
        ident = int(rng.choice(config.outputs, p=p / p.sum()))
        out.append(ident)
    return out
