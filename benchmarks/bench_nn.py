"""One training step (forward + backward) of seqlab.nn.LSTM / GRU / RNN against torch.nn.

Batch 64, 100 steps, 32 inputs, 256 hidden units, float32, timed in alternation in the same run
(benchmarks.common.interleaved) so that machine load hits every contender alike. The bar: on the
fused path, ratio = torch time / seqlab time >= 0.95. The loop backend and the cells that have no
fused kernel (peephole LSTM, GRU with reset before) are shown for information.

    python benchmarks/bench_nn.py [--rounds 10] [--device cpu|cuda] [--threads N] [--no-loop]
"""

from __future__ import annotations

import argparse
import os
import sys

import torch
from torch import nn

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from benchmarks.common import interleaved, machine_info  # noqa: E402

import seqlab.nn as snn  # noqa: E402

B, T, I, H = 64, 100, 32, 256


def train_step(module: nn.Module, x: torch.Tensor):
    """A closure doing zero_grad, forward, a scalar loss, backward: one training step."""
    params = list(module.parameters())

    def step() -> None:
        for p in params:
            p.grad = None
        out, _ = module(x)
        out.square().mean().backward()

    return step


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=10, help="timed rounds per contender (median reported)")
    ap.add_argument("--loop-rounds", type=int, default=3, help="rounds for the slow loop-backend rows")
    ap.add_argument("--device", default="cpu", help="cpu or cuda")
    ap.add_argument("--no-loop", action="store_true", help="skip the loop-backend rows")
    ap.add_argument("--threads", type=int, default=0, help="torch intra-op threads (0: torch's default)")
    args = ap.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    torch.manual_seed(0)
    print(machine_info())
    print(f"one training step (forward + backward), batch {B}, {T} steps, {I} inputs, {H} hidden, float32, {device}")
    x = torch.randn(B, T, I, device=device)

    rows = []
    for name, tcls, scls, kw in [("LSTM", nn.LSTM, snn.LSTM, {}), ("GRU", nn.GRU, snn.GRU, {}),
                                 ("RNN", nn.RNN, snn.RNN, {"nonlinearity": "tanh"})]:
        ref = tcls(I, H, batch_first=True, **kw).to(device)
        fused = snn.from_torch(ref, backend="fused").to(device)
        times = interleaved({"torch": train_step(ref, x), "fused": train_step(fused, x)}, rounds=args.rounds)
        rows.append((f"{name}", "fused", times["torch"], times["fused"]))
    if not args.no_loop:
        ref = nn.LSTM(I, H, batch_first=True).to(device)
        contenders = {
            "torch": train_step(ref, x),
            "LSTM loop": train_step(snn.from_torch(ref, backend="loop").to(device), x),
            "LSTM peephole": train_step(snn.LSTM(I, H, peephole=True).to(device), x),
            "GRU loop": train_step(snn.GRU(I, H, backend="loop").to(device), x),
            "GRU reset=before": train_step(snn.GRU(I, H, reset="before").to(device), x),
            "RNN loop": train_step(snn.RNN(I, H, backend="loop").to(device), x),
        }
        # each contender against torch.nn of its own kind, timed in the same alternation
        contenders["torch GRU"] = train_step(nn.GRU(I, H, batch_first=True).to(device), x)
        contenders["torch RNN"] = train_step(nn.RNN(I, H, batch_first=True).to(device), x)
        times = interleaved(contenders, rounds=args.loop_rounds, warmup=1)
        for label, base in [("LSTM loop", "torch"), ("LSTM peephole", "torch"), ("GRU loop", "torch GRU"),
                            ("GRU reset=before", "torch GRU"), ("RNN loop", "torch RNN")]:
            kind, how = label.split(" ", 1)
            rows.append((kind, f"{how} (info)", times[base], times[label]))

    print(f"{'layer':<6} {'seqlab path':<24} {'torch ms':>9} {'seqlab ms':>10} {'ratio':>7}  bar")
    ok = True
    for kind, how, t_torch, t_ours in rows:
        ratio = t_torch / t_ours
        bar = ""
        if how == "fused":
            bar = "ok (>= 0.95)" if ratio >= 0.95 else "BELOW 0.95"
            ok &= ratio >= 0.95
        print(f"{kind:<6} {how:<24} {t_torch * 1e3:9.1f} {t_ours * 1e3:10.1f} {ratio:7.2f}  {bar}")
    print("ratio = torch time / seqlab time (higher is faster for seqlab)")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
