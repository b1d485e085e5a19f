"""One table: every cell and backend on this machine's CPU (and GPU when present).

For each row: training (forward + backward from a fixed upstream gradient,
``benchmarks.common.layer_train_step``) and inference (forward, no grad) throughput in sequences/s; the training time relative to torch.nn's module of the same cell where
torch has one (1.00 = as fast, 2.00 = twice the time); achieved GFLOP/s in training, counting the
matrix products only (forward 2*B*T*(I*G*H + H*G*H), training 3x that; minRNNs have no H*G*H term),
as a share of this machine's matrix-multiply peak measured in the same run; and the peak memory
of a training step: in a fresh process per row (numba and torch already imported, model and
input built), the rise of the resident set's high-water mark (``VmHWM``) over the resident set
before a first step, across two steps. It counts everything a step brings in: activations,
gradients, workspaces kept between steps, one-time caches of the first call.

All rows are timed interleaved (benchmarks.common.interleaved), so machine load hits them alike.

    python benchmarks/bench_suite.py                 # ~3-5 minutes on 2 cores
    python benchmarks/bench_suite.py --quick         # 25 steps, 2 rounds: under a minute
    python benchmarks/bench_suite.py --rows lstm,mingru --threads 1
    python benchmarks/bench_suite.py --malloc default  # glibc as a fresh process has it

With ``--malloc keep`` (the default) glibc keeps freed memory, so torch.nn's modules run at their
fastest (see ``bench_speed.py``).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from dataclasses import dataclass
from typing import Callable

import torch

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
from benchmarks.common import interleaved, layer_train_step, machine_info, malloc_mode  # noqa: E402
from seqlab.nn import GRU, LSTM, RNN  # noqa: E402
from seqlab.nn.minrnn import MinGRU, MinLSTM  # noqa: E402


@dataclass
class Row:
    name: str
    group: str  # for --rows
    make: Callable[[int, int], torch.nn.Module]
    gates: int
    recurrent: bool = True  # has a recurrent matrix product
    torch_ref: str | None = None  # name of the torch.nn row to compare with


def rows() -> list[Row]:
    tl = lambda I, H: torch.nn.LSTM(I, H, batch_first=True)  # noqa: E731
    tg = lambda I, H: torch.nn.GRU(I, H, batch_first=True)  # noqa: E731
    tr = lambda I, H: torch.nn.RNN(I, H, batch_first=True)  # noqa: E731
    return [
        Row("torch.nn.RNN", "rnn", tr, 1),
        Row("RNN fused", "rnn", lambda I, H: RNN(I, H, backend="fused"), 1, torch_ref="torch.nn.RNN"),
        Row("RNN loop", "rnn", lambda I, H: RNN(I, H, backend="loop"), 1, torch_ref="torch.nn.RNN"),
        Row("torch.nn.LSTM", "lstm", tl, 4),
        Row("LSTM fused", "lstm", lambda I, H: LSTM(I, H, backend="fused"), 4, torch_ref="torch.nn.LSTM"),
        Row("LSTM compiled (sequence)", "lstm", lambda I, H: LSTM(I, H, backend="sequence"), 4,
            torch_ref="torch.nn.LSTM"),
        Row("LSTM loop", "lstm", lambda I, H: LSTM(I, H, backend="loop"), 4, torch_ref="torch.nn.LSTM"),
        Row("peephole LSTM compiled", "peephole", lambda I, H: LSTM(I, H, peephole=True), 4, torch_ref="torch.nn.LSTM"),
        Row("peephole LSTM loop", "peephole", lambda I, H: LSTM(I, H, peephole=True, backend="loop"), 4,
            torch_ref="torch.nn.LSTM"),
        Row("layer-norm LSTM compiled", "layernorm", lambda I, H: LSTM(I, H, layer_norm=True), 4,
            torch_ref="torch.nn.LSTM"),
        Row("layer-norm LSTM loop", "layernorm", lambda I, H: LSTM(I, H, layer_norm=True, backend="loop"), 4,
            torch_ref="torch.nn.LSTM"),
        Row("torch.nn.GRU", "gru", tg, 3),
        Row("GRU fused", "gru", lambda I, H: GRU(I, H, backend="fused"), 3, torch_ref="torch.nn.GRU"),
        Row("GRU compiled (sequence)", "gru", lambda I, H: GRU(I, H, backend="sequence"), 3, torch_ref="torch.nn.GRU"),
        Row("GRU loop", "gru", lambda I, H: GRU(I, H, backend="loop"), 3, torch_ref="torch.nn.GRU"),
        Row("GRU reset=before compiled", "gru_before", lambda I, H: GRU(I, H, reset="before"), 3,
            torch_ref="torch.nn.GRU"),
        Row("GRU reset=before loop", "gru_before", lambda I, H: GRU(I, H, reset="before", backend="loop"), 3,
            torch_ref="torch.nn.GRU"),
        Row("layer-norm GRU compiled", "layernorm", lambda I, H: GRU(I, H, layer_norm=True), 3, torch_ref="torch.nn.GRU"),
        Row("layer-norm GRU loop", "layernorm", lambda I, H: GRU(I, H, layer_norm=True, backend="loop"), 3,
            torch_ref="torch.nn.GRU"),
        Row("minGRU fused (numba)", "mingru", lambda I, H: MinGRU(I, H), 2, False, "torch.nn.GRU"),
        Row("minGRU torch scan", "mingru", lambda I, H: MinGRU(I, H, scan="torch"), 2, False, "torch.nn.GRU"),
        Row("minGRU log-space scan", "mingru", lambda I, H: MinGRU(I, H, scan="log"), 2, False, "torch.nn.GRU"),
        Row("minGRU step mode (loop)", "mingru", lambda I, H: MinGRU(I, H, backend="loop"), 2, False, "torch.nn.GRU"),
        Row("minLSTM fused (numba)", "minlstm", lambda I, H: MinLSTM(I, H), 3, False, "torch.nn.LSTM"),
        Row("minLSTM torch scan", "minlstm", lambda I, H: MinLSTM(I, H, scan="torch"), 3, False, "torch.nn.LSTM"),
    ]


def matmul_peak(device: torch.device, seconds: float = 1.0) -> float:
    """GFLOP/s of a float32 1024x1024 matrix product, best of repeated runs of torch.mm and (on
    CPU) of oneDNN's product (seqlab.nn._matmul.linear), whichever is faster: on AMD CPUs torch.mm
    (MKL) reaches about half of oneDNN's rate."""
    from seqlab.nn._matmul import linear

    n = 1024
    a, b = torch.randn(n, n, device=device), torch.randn(n, n, device=device)
    best = float("inf")
    for fn in (lambda: torch.mm(a, b), lambda: linear(a, b)):
        fn()
        t_end = time.perf_counter() + seconds / 2
        while time.perf_counter() < t_end:
            t0 = time.perf_counter()
            fn()
            if device.type == "cuda":
                torch.cuda.synchronize()
            best = min(best, time.perf_counter() - t0)
    return 2 * n**3 / best / 1e9


def _status_kb(key: str) -> int:
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith(key + ":"):
                return int(line.split()[1])
    raise KeyError(key)


def step_peak_mb(name: str, args) -> float | None:
    """Peak memory of a training step of row ``name``, measured in a fresh process (Linux only)."""
    if not os.path.exists("/proc/self/clear_refs"):
        return None
    cmd = [sys.executable, os.path.abspath(__file__), "--peak-of", name, "--batch", str(args.batch),
           "--steps", str(args.steps), "--inputs", str(args.inputs), "--hidden", str(args.hidden),
           "--threads", str(torch.get_num_threads()), "--device", args.device, "--malloc", args.malloc]
    done = subprocess.run(cmd, capture_output=True, text=True)
    if done.returncode != 0:
        print(f"(peak memory of {name!r} not measured: {done.stderr.strip().splitlines()[-1:]})")
        return None
    return float(done.stdout.split()[-1])


def _peak_child(args) -> None:
    """The child of :func:`step_peak_mb`: print the MB the step's high-water mark rose by."""
    from seqlab.nn import _cell_kernels, _scan_kernels  # noqa: F401  (numba loaded before measuring)

    row = next(r for r in rows() if r.name == args.peak_of)
    x = torch.randn(args.batch, args.steps, args.inputs, device=args.device)
    step = layer_train_step(row.make(args.inputs, args.hidden).to(args.device), x)
    before = _status_kb("VmRSS")
    with open("/proc/self/clear_refs", "w") as fh:
        fh.write("5")  # reset VmHWM to the current resident set
    step()
    step()
    print((_status_kb("VmHWM") - before) / 1024)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--steps", type=int, default=100)
    ap.add_argument("--inputs", type=int, default=32)
    ap.add_argument("--hidden", type=int, default=256)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--threads", type=int, default=0, help="torch threads (0: torch's default)")
    ap.add_argument("--rows", default="", help="comma-separated groups: rnn,lstm,peephole,layernorm,gru,"
                    "gru_before,mingru,minlstm (default: all)")
    ap.add_argument("--quick", action="store_true", help="25 steps and 2 rounds")
    ap.add_argument("--device", default="cpu", help="cpu or cuda")
    ap.add_argument("--no-memory", action="store_true", help="skip the peak-memory column (one process per row)")
    ap.add_argument("--malloc", default="keep", help="glibc malloc: keep (freed memory kept; the default) or "
                    "default (as a fresh process has it): see benchmarks.common.malloc_mode")
    ap.add_argument("--peak-of", default=None, help=argparse.SUPPRESS)  # internal: the child of step_peak_mb
    args = ap.parse_args()
    malloc_mode(args.malloc)
    if args.peak_of:
        if args.threads:
            torch.set_num_threads(args.threads)
        _peak_child(args)
        return
    if args.quick:
        args.steps, args.rounds = 25, 2
    if args.threads:
        torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    device = torch.device(args.device)
    B, T, I, H = args.batch, args.steps, args.inputs, args.hidden
    groups = set(filter(None, args.rows.split(",")))
    chosen = [r for r in rows() if not groups or r.group in groups]
    names = {r.name for r in chosen}
    for r in list(chosen):  # keep the torch.nn rows the chosen ones compare with
        if r.torch_ref and r.torch_ref not in names:
            chosen.insert(0, next(q for q in rows() if q.name == r.torch_ref))
            names.add(r.torch_ref)

    print(machine_info())
    peak = matmul_peak(device)
    print(f"float32 matmul peak (1024x1024, this run): {peak:.1f} GFLOP/s; device {device}")
    print(f"batch {B}, {T} steps, {I} inputs, {H} units, float32; median of {args.rounds} interleaved rounds\n")

    x = torch.randn(B, T, I, device=device)
    mods = {r.name: r.make(I, H).to(device) for r in chosen}

    def infer(m):
        def run():
            with torch.no_grad():
                m(x)
        return run

    t_train = interleaved({k: layer_train_step(m, x) for k, m in mods.items()}, rounds=args.rounds, warmup=1)
    t_infer = interleaved({k: infer(m) for k, m in mods.items()}, rounds=args.rounds, warmup=1)

    head = (f"{'cell / backend':30s} {'train seq/s':>11s} {'infer seq/s':>11s} {'train vs torch':>14s} "
            f"{'GFLOP/s':>8s} {'% peak':>7s} {'peak MB':>8s}")
    print(head)
    print("-" * len(head))
    mem = {r.name: (None if args.no_memory or args.device != "cpu" else step_peak_mb(r.name, args)) for r in chosen}
    for r in chosen:
        tt, ti = t_train[r.name], t_infer[r.name]
        peak_mb = "-" if mem[r.name] is None else f"{mem[r.name]:.1f}"
        flops = 2 * B * T * (I * r.gates * H + (H * r.gates * H if r.recurrent else 0)) * 3
        ratio = f"{tt / t_train[r.torch_ref]:.2f}x" if r.torch_ref else "(torch)"
        print(f"{r.name:30s} {B / tt:11.1f} {B / ti:11.1f} {ratio:>14s} {flops / tt / 1e9:8.1f} "
              f"{100 * flops / tt / 1e9 / peak:6.1f}% {peak_mb:>8s}")


if __name__ == "__main__":
    main()
