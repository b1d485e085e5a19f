"""LSTM in float64 NumPy, standard or with Graves (2013) peepholes, and its backward pass by hand.

Equations (docs/math.md, section "LSTM"), gate blocks in torch's order i | f | g | o:

    a_t = x_t W_ih^T + b_ih + h_{t-1} W_hh^T + b_hh = [ai | af | ag | ao]
    i_t = σ(ai + w_ci ⊙ c_{t-1})                  peephole term only with weight_ch
    f_t = σ(af + w_cf ⊙ c_{t-1})
    g_t = act(ag)                                 act = tanh, or relu (Keras's activation='relu')
    cn_t = f_t ⊙ c_{t-1} + i_t ⊙ g_t
    o_t = σ(ao + w_co ⊙ cn_t)
    hn_t = o_t ⊙ act(cn_t)
    h_t = m_t hn_t + (1 - m_t) h_{t-1},  c_t = m_t cn_t + (1 - m_t) c_{t-1},  out_t = m_t hn_t

Parameters: weight_ih (4H, I), weight_hh (4H, H), bias_ih (4H,), bias_hh (4H,) (optional), and
for the peephole LSTM weight_ch (3, H) holding the rows w_ci, w_cf, w_co: Graves's diagonal
peepholes (one weight per unit, not the full (H, H) matrices some texts print). The LSTM is a peephole
LSTM exactly when ``params`` has ``weight_ch``.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..errors import SeqlabError
from ._checks import (Params, activation_pair, check_grad, check_lengths, check_params, check_sequence,
                      check_state, sigmoid, step_masks)


def _split_state(state: Any) -> tuple[Any, Any]:
    if state is None:
        return None, None
    if not isinstance(state, (tuple, list)) or len(state) != 2:
        raise SeqlabError(f"state: expected a pair (h0, c0) of arrays (batch, hidden), got {type(state).__name__}")
    return state[0], state[1]


def lstm_forward(x: Any, params: Params, state: Any = None, lengths: Any = None,
                 activation: str = "tanh") -> tuple[np.ndarray, tuple[np.ndarray, np.ndarray], dict]:
    """Run the LSTM over ``x`` (B, T, I) from ``state`` = (h0, c0), each (B, H) (zeros if None).

    Returns ``(out (B, T, H), (h_T, c_T), cache)``; ``lengths`` (B,) ends each sequence early;
    ``activation`` ('tanh' or 'relu') is that of the candidate and the output.
    """
    act, dact = activation_pair(activation)
    peephole = params.get("weight_ch") is not None if hasattr(params, "get") else False
    p, H, I = check_params(params, "lstm", extra=("weight_ch",) if peephole else ())
    x = check_sequence(x, I)
    B, T, _ = x.shape
    h0, c0 = _split_state(state)
    h, c = check_state("state[0] (h0)", h0, B, H), check_state("state[1] (c0)", c0, B, H)
    lengths = check_lengths(lengths, B, T)
    m = step_masks(lengths, T)  # (T, B, 1)
    Wih, Whh = p["weight_ih"], p["weight_hh"]
    b = p.get("bias_ih", 0.0) + p.get("bias_hh", 0.0)
    wci, wcf, wco = p["weight_ch"] if peephole else np.zeros((3, H))
    out = np.zeros((B, T, H))
    steps = []
    for t in range(T):
        a = x[:, t] @ Wih.T + h @ Whh.T + b
        ai, af, ag, ao = np.split(a, 4, axis=1)  # 4 x (B, H)
        i = sigmoid(ai + wci * c)
        f = sigmoid(af + wcf * c)
        g = act(ag)
        cn = f * c + i * g
        o = sigmoid(ao + wco * cn)
        hn = o * act(cn)
        steps.append(dict(h=h, c=c, i=i, f=f, g=g, o=o, cn=cn))
        out[:, t] = m[t] * hn
        h = m[t] * hn + (1 - m[t]) * h
        c = m[t] * cn + (1 - m[t]) * c
    cache = dict(x=x, p=p, m=m, steps=steps, peephole=peephole, dact=dact, act=act)
    return out, (h, c), cache


def lstm_backward(dout: Any, dstate: Any, cache: dict) -> tuple[dict, np.ndarray, tuple[np.ndarray, np.ndarray]]:
    """Backpropagation through time for :func:`lstm_forward`.

    ``dout`` (B, T, H) = dL/d out; ``dstate`` = (dL/d h_T, dL/d c_T), each (B, H), or None.
    Returns ``(grads {name: dL/d param}, dx (B, T, I), (dh0, dc0))``.
    """
    x, p, m, steps, peephole = cache["x"], cache["p"], cache["m"], cache["steps"], cache["peephole"]
    act, dact = cache["act"], cache["dact"]  # dact(y) is act' at the input whose act is y
    B, T, _ = x.shape
    H = p["weight_hh"].shape[1]
    dout = check_grad("dout", dout, (B, T, H))
    dhT, dcT = _split_state(dstate)
    dh = check_grad("dstate[0] (dh_T)", dhT, (B, H)).copy()
    dc = check_grad("dstate[1] (dc_T)", dcT, (B, H)).copy()
    Wih, Whh = p["weight_ih"], p["weight_hh"]
    wci, wcf, wco = p["weight_ch"] if peephole else np.zeros((3, H))
    dWih, dWhh, db, dWch = np.zeros_like(Wih), np.zeros_like(Whh), np.zeros(4 * H), np.zeros((3, H))
    dx = np.zeros_like(x)
    for t in reversed(range(T)):
        s = steps[t]
        dhn = m[t] * (dout[:, t] + dh)
        tc = act(s["cn"])
        dao = dhn * tc * s["o"] * (1 - s["o"])
        dcn = m[t] * dc + dhn * s["o"] * dact(tc) + dao * wco
        dai = dcn * s["g"] * s["i"] * (1 - s["i"])
        daf = dcn * s["c"] * s["f"] * (1 - s["f"])
        dag = dcn * s["i"] * dact(s["g"])
        da = np.concatenate([dai, daf, dag, dao], axis=1)  # (B, 4H)
        dWch += np.stack([(dai * s["c"]).sum(0), (daf * s["c"]).sum(0), (dao * s["cn"]).sum(0)])
        dWih += da.T @ x[:, t]
        dWhh += da.T @ s["h"]
        db += da.sum(0)
        dx[:, t] = da @ Wih
        dh = da @ Whh + (1 - m[t]) * dh
        dc = dcn * s["f"] + dai * wci + daf * wcf + (1 - m[t]) * dc
    grads = {"weight_ih": dWih, "weight_hh": dWhh}
    if "bias_ih" in p:
        grads["bias_ih"], grads["bias_hh"] = db, db.copy()
    if peephole:
        grads["weight_ch"] = dWch
    return grads, dx, (dh, dc)
