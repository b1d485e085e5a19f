"""Elman RNN in float64 NumPy: forward over a sequence and backpropagation through time by hand.

Equations (docs/math.md, section "Elman RNN"), for step t with mask m_t (1 inside the sequence):

    a_t  = x_t W_ih^T + b_ih + h_{t-1} W_hh^T + b_hh
    hn_t = f(a_t)                                  f = tanh or relu
    h_t  = m_t hn_t + (1 - m_t) h_{t-1}            padding keeps the state
    o_t  = m_t hn_t                                padding outputs zeros
    y_t  = o_t V^T + c                             optional output layer (linear_forward)

Parameters use torch's names and shapes: weight_ih (H, I), weight_hh (H, H), bias_ih (H,),
bias_hh (H,) (biases optional).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..errors import SeqlabError
from ._checks import (Params, check_grad, check_lengths, check_params, check_sequence, check_state,
                      step_masks)

NONLINEARITIES = ("tanh", "relu")


def rnn_forward(x: Any, params: Params, state: Any = None, lengths: Any = None,
                nonlinearity: str = "tanh") -> tuple[np.ndarray, np.ndarray, dict]:
    """Run the RNN over ``x`` (B, T, I) from ``state`` h0 (B, H) (zeros if None).

    Returns ``(out (B, T, H), h_T (B, H), cache)``; ``lengths`` (B,) ends each sequence early.
    """
    if nonlinearity not in NONLINEARITIES:
        raise SeqlabError(f"nonlinearity: expected 'tanh' or 'relu', got {nonlinearity!r}")
    p, H, I = check_params(params, "rnn")
    x = check_sequence(x, I)
    B, T, _ = x.shape
    h = check_state("state", state, B, H)
    lengths = check_lengths(lengths, B, T)
    m = step_masks(lengths, T)  # (T, B, 1)
    Wih, Whh = p["weight_ih"], p["weight_hh"]
    b = p.get("bias_ih", 0.0) + p.get("bias_hh", 0.0)
    out = np.zeros((B, T, H))
    hs, hns = [], []  # h_{t-1} and hn_t for the backward pass
    for t in range(T):
        a = x[:, t] @ Wih.T + h @ Whh.T + b
        hn = np.tanh(a) if nonlinearity == "tanh" else np.maximum(a, 0.0)
        hs.append(h)
        hns.append(hn)
        out[:, t] = m[t] * hn
        h = m[t] * hn + (1 - m[t]) * h
    cache = dict(x=x, p=p, m=m, hs=hs, hns=hns, nonlinearity=nonlinearity)
    return out, h, cache


def rnn_backward(dout: Any, dstate: Any, cache: dict) -> tuple[dict, np.ndarray, np.ndarray]:
    """Backpropagation through time for :func:`rnn_forward`.

    ``dout`` (B, T, H) = dL/d out and ``dstate`` (B, H) = dL/d h_T (None for zeros).
    Returns ``(grads {name: dL/d param}, dx (B, T, I), dh0 (B, H))``.
    """
    x, p, m, hs, hns = cache["x"], cache["p"], cache["m"], cache["hs"], cache["hns"]
    B, T, _ = x.shape
    H = p["weight_hh"].shape[0]
    dout = check_grad("dout", dout, (B, T, H))
    dh = check_grad("dstate", dstate, (B, H)).copy()
    Wih, Whh = p["weight_ih"], p["weight_hh"]
    dWih, dWhh, db = np.zeros_like(Wih), np.zeros_like(Whh), np.zeros(H)
    dx = np.zeros_like(x)
    for t in reversed(range(T)):
        dhn = m[t] * (dout[:, t] + dh)
        da = dhn * (1 - hns[t] ** 2) if cache["nonlinearity"] == "tanh" else dhn * (hns[t] > 0)
        dWih += da.T @ x[:, t]
        dWhh += da.T @ hs[t]
        db += da.sum(0)
        dx[:, t] = da @ Wih
        dh = da @ Whh + (1 - m[t]) * dh
    grads = {"weight_ih": dWih, "weight_hh": dWhh}
    if "bias_ih" in p:
        grads["bias_ih"], grads["bias_hh"] = db, db.copy()
    return grads, dx, dh


def linear_forward(h: Any, V: Any, c: Any = None) -> np.ndarray:
    """The output layer ``y_t = h_t V^T + c``: h (B, T, H), V (O, H), c (O,) -> y (B, T, O)."""
    h = np.asarray(h, dtype=np.float64)
    V = np.asarray(V, dtype=np.float64)
    if h.ndim != 3 or V.ndim != 2 or V.shape[1] != h.shape[2]:
        raise SeqlabError(f"V: expected shape (outputs, {h.shape[-1]}) for h of shape {h.shape}, got {V.shape}")
    y = h @ V.T
    if c is not None:
        c = np.asarray(c, dtype=np.float64)
        if c.shape != (V.shape[0],):
            raise SeqlabError(f"c: expected shape ({V.shape[0]},), got {c.shape}")
        y = y + c
    return y


def linear_backward(dy: Any, h: Any, V: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Gradients of :func:`linear_forward`: returns ``(dh (B, T, H), dV (O, H), dc (O,))``."""
    dy, h, V = (np.asarray(a, dtype=np.float64) for a in (dy, h, V))
    dh = dy @ V
    dV = np.einsum("bto,bth->oh", dy, h)
    dc = dy.sum((0, 1))
    return dh, dV, dc
