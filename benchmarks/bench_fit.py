"""fit's time per training step against a hand-written PyTorch loop on the same model and data.

    python benchmarks/bench_fit.py [--rounds 5] [--threads N]

Cases (issue 3): (a) batch 32, 20 steps, 1 feature, LSTM(32), Dense(1);
(b) batch 64, 100 steps, 32 features, LSTM(256), Dense(1). Both sides train the same Sequential
with Adam on the same tensors, shuffling each epoch; the hand loop is the textbook
``zero_grad / forward / loss / backward / step`` with ``x[idx]`` batches. Timings alternate between
the two so machine load hits both alike; the bar is an overhead within 5 %.
"""

from __future__ import annotations

import argparse
import os
import sys

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import interleaved, machine_info  # noqa: E402

from seqlab import Sequential  # noqa: E402
from seqlab.layers import LSTM, Dense  # noqa: E402

CASES = {"a": dict(batch=32, T=20, F=1, units=32, steps=60), "b": dict(batch=64, T=100, F=32, units=256, steps=8)}


def run_case(name: str, batch: int, T: int, F_: int, units: int, steps: int, rounds: int) -> tuple[float, float]:
    torch.manual_seed(0)
    n = batch * steps
    x = torch.randn(n, T, F_)
    y = x[:, :, 0].mean(1, keepdim=True)
    model = Sequential([LSTM(units, input_shape=(T, F_)), Dense(1)])
    model.compile(loss="mse", optimizer="adam")
    model.ensure_optimizer()
    opt_hand = torch.optim.Adam(model.parameters(), lr=1e-3, eps=1e-7)

    def with_fit():
        model.fit(x, y, epochs=1, batch_size=batch, shuffle=True, verbose=0, device="cpu")

    def by_hand():
        model.train()
        order = torch.randperm(n)
        for i in range(0, n, batch):
            idx = order[i:i + batch]
            xb, yb = x[idx], y[idx]
            opt_hand.zero_grad(set_to_none=True)
            loss = F.mse_loss(model(xb), yb)
            loss.backward()
            opt_hand.step()

    t = interleaved({"fit": with_fit, "hand": by_hand}, rounds=rounds, warmup=1)
    return t["fit"] / steps, t["hand"] / steps


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's choice)")
    ap.add_argument("--cases", default="ab")
    args = ap.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    print(machine_info())
    print(f"{'case':<48}{'fit ms/step':>12}{'hand ms/step':>14}{'overhead':>10}")
    worst = -1.0
    for key in args.cases:
        c = CASES[key]
        fit_s, hand_s = run_case(key, c["batch"], c["T"], c["F"], c["units"], c["steps"], args.rounds)
        over = fit_s / hand_s - 1
        worst = max(worst, over)
        label = f"({key}) batch {c['batch']}, {c['T']} steps, {c['F']} feat, LSTM({c['units']})"
        print(f"{label:<48}{fit_s * 1e3:>12.3f}{hand_s * 1e3:>14.3f}{over:>+10.1%}")
    print(f"worst overhead {worst:+.1%} (bar: within +5%) -> {'PASS' if worst <= 0.05 else 'FAIL'}")


if __name__ == "__main__":
    main()
