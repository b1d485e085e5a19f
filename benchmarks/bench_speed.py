"""The two speed bars of the custom cells and the minRNNs, measured in one run (interleaved).

A training step is the layer's forward and backward from a fixed upstream gradient
(``benchmarks.common.layer_train_step``; no loss, which would add the same cost to every row).

1. A training step of the peephole LSTM and the reset-before GRU, which
   run as sequence-level autograd functions (seqlab.nn.custom), against torch.nn.LSTM / GRU of
   the same size (oneDNN): batch 64, 100 steps, 32 inputs, 256 units. Bar: <= 1.3x.
2. A minGRU training step (fused numba scan) against torch.nn.GRU at batch 32, 1024 steps,
   64 inputs, 256 units. Bar: >= 10x faster. The pure-torch and log-space scans for comparison.

    python benchmarks/bench_speed.py [--rounds 5] [--threads N] [--part 1|2|all]
"""

from __future__ import annotations

import argparse
import os
import sys

import torch

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
from benchmarks.common import interleaved, layer_train_step, machine_info  # noqa: E402
from seqlab.nn import GRU, LSTM  # noqa: E402
from seqlab.nn.minrnn import MinGRU  # noqa: E402


def part1(rounds: int, loop: bool) -> None:
    B, T, I, H = 64, 100, 32, 256
    x = torch.randn(B, T, I)
    fns = {
        "torch.nn.LSTM": layer_train_step(torch.nn.LSTM(I, H, batch_first=True), x),
        "peephole LSTM (sequence fn)": layer_train_step(LSTM(I, H, peephole=True), x),
        "torch.nn.GRU": layer_train_step(torch.nn.GRU(I, H, batch_first=True), x),
        "GRU reset=before (sequence fn)": layer_train_step(GRU(I, H, reset="before"), x),
    }
    if loop:
        fns["peephole LSTM (loop)"] = layer_train_step(LSTM(I, H, peephole=True, backend="loop"), x)
        fns["GRU reset=before (loop)"] = layer_train_step(GRU(I, H, reset="before", backend="loop"), x)
    t = interleaved(fns, rounds=rounds, warmup=1)
    print(f"\n1. training step, batch {B}, {T} steps, {I} inputs, {H} units (median of {rounds}, interleaved)")
    for k, v in t.items():
        base = t["torch.nn.LSTM"] if "LSTM" in k else t["torch.nn.GRU"]
        print(f"  {k:32s} {v * 1e3:9.1f} ms   {v / base:5.2f}x torch.nn")


def part2(rounds: int) -> None:
    B, T, I, H = 32, 1024, 64, 256
    x = torch.randn(B, T, I)
    fns = {
        "torch.nn.GRU": layer_train_step(torch.nn.GRU(I, H, batch_first=True), x),
        "minGRU (numba scan)": layer_train_step(MinGRU(I, H), x),
        "minGRU (torch scan)": layer_train_step(MinGRU(I, H, scan="torch"), x),
        "minGRU (log-space scan)": layer_train_step(MinGRU(I, H, scan="log"), x),
    }
    t = interleaved(fns, rounds=rounds, warmup=1)
    print(f"\n2. training step, batch {B}, {T} steps, {I} inputs, {H} units (median of {rounds}, interleaved)")
    for k, v in t.items():
        print(f"  {k:32s} {v * 1e3:9.1f} ms   {t['torch.nn.GRU'] / v:6.2f}x faster than torch.nn.GRU")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--threads", type=int, default=0, help="torch threads (0: torch's default)")
    ap.add_argument("--part", choices=["1", "2", "all"], default="all")
    ap.add_argument("--no-loop", action="store_true", help="skip the (slow) loop backend rows")
    args = ap.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    print(machine_info())
    if args.part in ("1", "all"):
        part1(args.rounds, not args.no_loop)
    if args.part in ("2", "all"):
        part2(args.rounds)


if __name__ == "__main__":
    main()
