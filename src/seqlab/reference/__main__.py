"""``python -m seqlab.reference``: check every hand-derived backward pass against finite differences
and print the worst relative error per cell option (lengths and initial state included)."""

from __future__ import annotations

import functools

import numpy as np

from .gradcheck import gradient_check
from .gru import gru_backward, gru_forward
from .lstm import lstm_backward, lstm_forward
from .rnn import rnn_backward, rnn_forward
from .stack import stacked_backward, stacked_forward


def _params(rng: np.random.Generator, G: int, I: int, H: int, peephole: bool = False) -> dict:
    p = {"weight_ih": rng.normal(0, 0.6, (G * H, I)), "weight_hh": rng.normal(0, 0.6, (G * H, H)),
         "bias_ih": rng.normal(0, 0.6, G * H), "bias_hh": rng.normal(0, 0.6, G * H)}
    if peephole:
        p["weight_ch"] = rng.normal(0, 0.6, (3, H))
    return p


def main() -> int:
    rng = np.random.default_rng(0)
    B, T, I, H = 3, 4, 3, 2
    x, lengths = rng.normal(size=(B, T, I)), [4, 1, 3]
    h0, c0 = rng.normal(size=(B, H)), rng.normal(size=(B, H))
    cases = [
        ("RNN tanh", rnn_forward, rnn_backward, _params(rng, 1, I, H), h0, {"nonlinearity": "tanh"}),
        ("RNN relu", rnn_forward, rnn_backward, _params(rng, 1, I, H), h0, {"nonlinearity": "relu"}),
        ("LSTM", lstm_forward, lstm_backward, _params(rng, 4, I, H), (h0, c0), {}),
        ("LSTM peephole", lstm_forward, lstm_backward, _params(rng, 4, I, H, True), (h0, c0), {}),
        ("GRU reset=after", gru_forward, gru_backward, _params(rng, 3, I, H), h0, {"reset": "after"}),
        ("GRU reset=before", gru_forward, gru_backward, _params(rng, 3, I, H), h0, {"reset": "before"}),
    ]
    stack = [_params(rng, 3, I if k < 2 else 2 * H, H) for k in range(4)]
    print(f"finite differences (central, eps=1e-6) vs hand-derived backward; B={B} T={T} I={I} H={H}, lengths {lengths}")
    print(f"{'cell':<36} {'checked':>7} {'max relative error':>19}")
    worst = 0.0
    for name, fwd, bwd, p, st, opts in cases:
        rep = gradient_check(fwd, bwd, x, p, st, lengths, **opts)
        worst = max(worst, max(rep.values()))
        print(f"{name:<36} {len(rep):>7} {max(rep.values()):>19.2e}")
    rep = gradient_check(functools.partial(stacked_forward, "gru"), stacked_backward, x[:2, :3], stack,
                         rng.normal(size=(4, 2, H)), [3, 1], num_layers=2, bidirectional=True)
    worst = max(worst, max(rep.values()))
    print(f"{'GRU 2 layers bidirectional (B=2 T=3)':<36} {len(rep):>7} {max(rep.values()):>19.2e}")
    print("checked = arrays compared: every parameter, the input x and the initial state")
    return 0 if worst < 1e-6 else 1


if __name__ == "__main__":
    raise SystemExit(main())
