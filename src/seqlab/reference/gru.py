"""GRU in float64 NumPy, reset applied after (cuDNN) or before (Cho et al. 2014) the recurrent
product, and its backward pass by hand.

Equations (docs/math.md, section "GRU"), gate blocks r | z | n, the update written as Chung et al.
(2014) do, h = (1 - z) h + z n:

    gi_t = x_t W_ih^T + b_ih = [xr | xz | xn]
    r_t = σ(xr + h_{t-1} W_hr^T + b_hr)
    z_t = σ(xz + h_{t-1} W_hz^T + b_hz)
    after:  hn = h_{t-1} W_hn^T + b_hn,          n_t = act(xn + r_t ⊙ hn)
    before: hn = (r_t ⊙ h_{t-1}) W_hn^T + b_hn,  n_t = act(xn + hn)
    act = tanh, or relu (Keras's activation='relu')
    hc_t = (1 - z_t) ⊙ h_{t-1} + z_t ⊙ n_t
    h_t = m_t hc_t + (1 - m_t) h_{t-1},  out_t = m_t hc_t

Cho et al. (2014) and torch.nn.GRU write h = z' h + (1 - z') n with z' = 1 - z: torch's z rows are
ours negated.
Parameters: weight_ih (3H, I), weight_hh (3H, H) = [W_hr; W_hz; W_hn], bias_ih, bias_hh (3H,).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..errors import SeqlabError
from ._checks import (Params, activation_pair, check_grad, check_lengths, check_params, check_sequence,
                      check_state, sigmoid, step_masks)

RESETS = ("after", "before")


def gru_forward(x: Any, params: Params, state: Any = None, lengths: Any = None,
                reset: str = "after", activation: str = "tanh") -> tuple[np.ndarray, np.ndarray, dict]:
    """Run the GRU over ``x`` (B, T, I) from ``state`` h0 (B, H) (zeros if None).

    Returns ``(out (B, T, H), h_T (B, H), cache)``; ``lengths`` (B,) ends each sequence early;
    ``activation`` ('tanh' or 'relu') is that of the candidate n.
    """
    act, dact = activation_pair(activation)
    if reset not in RESETS:
        raise SeqlabError(f"reset: expected 'after' (cuDNN form) or 'before' (Cho et al. 2014), got {reset!r}")
    p, H, I = check_params(params, "gru")
    x = check_sequence(x, I)
    B, T, _ = x.shape
    h = check_state("state", state, B, H)
    lengths = check_lengths(lengths, B, T)
    m = step_masks(lengths, T)  # (T, B, 1)
    Wih, Whh = p["weight_ih"], p["weight_hh"]
    bih, bhh = p.get("bias_ih", np.zeros(3 * H)), p.get("bias_hh", np.zeros(3 * H))
    Whr, Whz, Whn = np.split(Whh, 3, axis=0)  # 3 x (H, H)
    bhr, bhz, bhn = np.split(bhh, 3)  # 3 x (H,)
    out = np.zeros((B, T, H))
    steps = []
    for t in range(T):
        xr, xz, xn = np.split(x[:, t] @ Wih.T + bih, 3, axis=1)  # 3 x (B, H)
        r = sigmoid(xr + h @ Whr.T + bhr)
        z = sigmoid(xz + h @ Whz.T + bhz)
        if reset == "after":
            hn = h @ Whn.T + bhn
            n = act(xn + r * hn)
        else:
            hn = (r * h) @ Whn.T + bhn
            n = act(xn + hn)
        hc = (1 - z) * h + z * n
        steps.append(dict(h=h, r=r, z=z, n=n, hn=hn))
        out[:, t] = m[t] * hc
        h = m[t] * hc + (1 - m[t]) * h
    cache = dict(x=x, p=p, m=m, steps=steps, reset=reset, dact=dact)
    return out, h, cache


def gru_backward(dout: Any, dstate: Any, cache: dict) -> tuple[dict, np.ndarray, np.ndarray]:
    """Backpropagation through time for :func:`gru_forward`.

    ``dout`` (B, T, H) = dL/d out and ``dstate`` (B, H) = dL/d h_T (None for zeros).
    Returns ``(grads {name: dL/d param}, dx (B, T, I), dh0 (B, H))``.
    """
    x, p, m, steps, reset = cache["x"], cache["p"], cache["m"], cache["steps"], cache["reset"]
    B, T, _ = x.shape
    H = p["weight_hh"].shape[1]
    dout = check_grad("dout", dout, (B, T, H))
    dh = check_grad("dstate", dstate, (B, H)).copy()
    Wih, Whh = p["weight_ih"], p["weight_hh"]
    Whr, Whz, Whn = np.split(Whh, 3, axis=0)  # 3 x (H, H)
    dWih, dWhh = np.zeros_like(Wih), np.zeros_like(Whh)
    dbih, dbhh = np.zeros(3 * H), np.zeros(3 * H)
    dx = np.zeros_like(x)
    for t in reversed(range(T)):
        s = steps[t]
        h, r, z, n = s["h"], s["r"], s["z"], s["n"]
        dhc = m[t] * (dout[:, t] + dh)
        dn = dhc * z
        daz = dhc * (n - h) * z * (1 - z)
        dh = dhc * (1 - z) + (1 - m[t]) * dh
        dan = dn * cache["dact"](n)
        if reset == "after":
            dhn = dan * r
            dar = dan * s["hn"] * r * (1 - r)
            dWhh[2 * H :] += dhn.T @ h
            dh += dhn @ Whn
        else:
            dhn = dan
            drh = dhn @ Whn
            dar = drh * h * r * (1 - r)
            dWhh[2 * H :] += dhn.T @ (r * h)
            dh += drh * r
        dgi = np.concatenate([dar, daz, dan], axis=1)  # (B, 3H)
        dWih += dgi.T @ x[:, t]
        dbih += dgi.sum(0)
        dWhh[: 2 * H] += np.concatenate([dar, daz], axis=1).T @ h
        dbhh += np.concatenate([dar, daz, dhn], axis=1).sum(0)
        dx[:, t] = dgi @ Wih
        dh += dar @ Whr + daz @ Whz
    grads = {"weight_ih": dWih, "weight_hh": dWhh}
    if "bias_ih" in p:
        grads["bias_ih"], grads["bias_hh"] = dbih, dbhh
    return grads, dx, dh
