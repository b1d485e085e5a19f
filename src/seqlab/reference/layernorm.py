"""Layer-normalized LSTM and GRU (Ba et al. 2016) in float64 NumPy, forward only.

An independent check of ``seqlab.nn.LSTMCell(layer_norm=True)`` and ``GRUCell(layer_norm=True)``;
gradients of those cells come from torch autograd and are checked by finite differences.

    LN(a; γ, β) = γ ⊙ (a - mean(a)) / sqrt(var(a) + ε) + β      (over the last axis, ε = 1e-5)
    LSTM:  [ai|af|ag|ao] = LN(W_ih x; γ_ih, b_ih) + LN(W_hh h; γ_hh, b_hh)  (+ peepholes)
           c = f ⊙ c_prev + i ⊙ g,   h = o ⊙ tanh(LN(c; γ_c, β_c))
    GRU, reset after:  [xr|xz|xn] = LN(W_ih x), [hr|hz|hn] = LN(W_hh h), n = tanh(xn + r ⊙ hn)
    GRU, reset before: [hr|hz] = LN(W_hr|hz h), n = tanh(xn + LN(W_hn (r ⊙ h)))
           h = (1 - z) ⊙ h_prev + z ⊙ n
"""

from __future__ import annotations

from typing import Mapping

import numpy as np

from ._checks import sigmoid

EPS = 1e-5


def layer_norm(a: np.ndarray, gain: np.ndarray, shift: np.ndarray | None) -> np.ndarray:
    """LN over the last axis of ``a``."""
    mu = a.mean(-1, keepdims=True)
    var = ((a - mu) ** 2).mean(-1, keepdims=True)
    return gain * (a - mu) / np.sqrt(var + EPS) + (0.0 if shift is None else shift)


def ln_lstm_forward(x: np.ndarray, p: Mapping[str, np.ndarray], h: np.ndarray,
                    c: np.ndarray) -> tuple[np.ndarray, tuple[np.ndarray, np.ndarray]]:
    """``x`` (B, T, I), ``h``, ``c`` (B, H). Returns ``(out (B, T, H), (h_T, c_T))``."""
    H = h.shape[1]
    peep = p.get("weight_ch")
    wci, wcf, wco = peep if peep is not None else np.zeros((3, H))
    out = []
    for t in range(x.shape[1]):
        a = (layer_norm(x[:, t] @ p["weight_ih"].T, p["ln_weight_ih"], p.get("bias_ih"))
             + layer_norm(h @ p["weight_hh"].T, p["ln_weight_hh"], p.get("bias_hh")))
        ai, af, ag, ao = np.split(a, 4, axis=1)
        i, f, g = sigmoid(ai + wci * c), sigmoid(af + wcf * c), np.tanh(ag)
        c = f * c + i * g
        h = sigmoid(ao + wco * c) * np.tanh(layer_norm(c, p["ln_weight_c"], p.get("ln_bias_c")))
        out.append(h)
    return np.stack(out, 1), (h, c)


def ln_gru_forward(x: np.ndarray, p: Mapping[str, np.ndarray], h: np.ndarray,
                   reset: str = "after") -> tuple[np.ndarray, np.ndarray]:
    """``x`` (B, T, I), ``h`` (B, H). Returns ``(out (B, T, H), h_T)``."""
    H = h.shape[1]
    Whh, bhh, ghh = p["weight_hh"], p.get("bias_hh"), p["ln_weight_hh"]
    out = []
    for t in range(x.shape[1]):
        xr, xz, xn = np.split(layer_norm(x[:, t] @ p["weight_ih"].T, p["ln_weight_ih"], p.get("bias_ih")), 3, axis=1)
        if reset == "after":
            hr, hz, hn = np.split(layer_norm(h @ Whh.T, ghh, bhh), 3, axis=1)
            r, z = sigmoid(xr + hr), sigmoid(xz + hz)
            n = np.tanh(xn + r * hn)
        else:
            hr, hz = np.split(layer_norm(h @ Whh[: 2 * H].T, ghh[: 2 * H], None if bhh is None else bhh[: 2 * H]), 2, axis=1)
            r, z = sigmoid(xr + hr), sigmoid(xz + hz)
            n = np.tanh(xn + layer_norm((r * h) @ Whh[2 * H :].T, ghh[2 * H :], None if bhh is None else bhh[2 * H :]))
        h = (1 - z) * h + z * n
        out.append(h)
    return np.stack(out, 1), h
