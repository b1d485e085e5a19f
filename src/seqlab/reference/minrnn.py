"""minGRU and minLSTM (Feng et al. 2024) in float64 NumPy, step by step, as the paper writes them.

    minGRU:  z = σ(W_z x + b_z),  h̃ = g(W_h x + b_h),  h = (1 - z) ⊙ h_prev + z ⊙ h̃
    minLSTM: f = σ(W_f x + b_f),  i = σ(W_i x + b_i),  h̃ = g(W_h x + b_h),
             h = f / (f + i) ⊙ h_prev + i / (f + i) ⊙ h̃
    g(a) = a + 0.5 for a >= 0, σ(a) otherwise  (or the identity)
"""

from __future__ import annotations

from typing import Mapping

import numpy as np

from ._checks import sigmoid


def g(a: np.ndarray) -> np.ndarray:
    """The paper's positive, continuous activation."""
    return np.where(a >= 0, a + 0.5, sigmoid(a))


def min_forward(cell: str, x: np.ndarray, p: Mapping[str, np.ndarray], h: np.ndarray,
                activation: str = "g") -> tuple[np.ndarray, np.ndarray]:
    """``cell`` 'mingru' or 'minlstm'; ``x`` (B, T, I), ``h`` (B, H). Returns ``(out (B, T, H), h_T)``."""
    act = g if activation == "g" else (lambda a: a)
    out = []
    for t in range(x.shape[1]):
        a = x[:, t] @ p["weight_ih"].T + p.get("bias_ih", 0.0)
        if cell == "mingru":
            az, ah = np.split(a, 2, axis=1)
            z = sigmoid(az)
            h = (1 - z) * h + z * act(ah)
        else:
            af, ai, ah = np.split(a, 3, axis=1)
            f, i = sigmoid(af), sigmoid(ai)
            h = f / (f + i) * h + i / (f + i) * act(ah)
        out.append(h)
    return np.stack(out, 1), h
