"""The speed bars of issue 19, each a ratio measured in one run (interleaved rounds, medians).

A training step is the layer's forward and backward from a fixed upstream gradient
(``benchmarks.common.layer_train_step``; no loss, which would add the same cost to every row).
Each part runs once per thread count of ``--threads`` (torch's intra-op threads, pinned with
``torch.set_num_threads``), ``--repeat`` times, and prints the machine and the load average,
so that the noise of a shared machine shows:

1. seqlab's LSTM and GRU (``backend="auto"``, which says which path it takes) against
   torch.nn.LSTM (oneDNN) and torch.nn.GRU, training step at batch 64, 100 steps, 32 inputs,
   256 units. Bar: at least 1.2x faster. Also the time of the matrix products of an LSTM step
   alone (a floor no implementation goes under) and the largest difference of outputs and gradients
   from torch.nn's in float64 (the tests hold them to 1e-9).
2. Custom cells against torch.nn of the same size: peephole LSTM and reset-before GRU (bar: at
   most 1.05x torch.nn's time), layer-normalized LSTM and GRU (bar: at most 1.3x).
3. minGRU against torch.nn.GRU at batch 32, 64 inputs, 256 units: bar at least 10x faster at
   1,024 steps (with one thread as with two) and 20x at 4,096; minLSTM through the same path.
4. Generation: one step of a 2 x 128 LSTM language model at batch 1 (bar: under 50
   microseconds) and sampling (bar: above 20,000 characters per second), compiled step against
   torch's, measured in-process (no start-up).

    python benchmarks/bench_speed.py                      # all parts, 1 and 2 threads (~10 min)
    python benchmarks/bench_speed.py --part 1 --threads 2 --rounds 9 --repeat 3
    python benchmarks/bench_speed.py --malloc default      # glibc as a fresh process has it

torch.nn.LSTM's step is up to 1.5 times faster once glibc keeps freed memory for reuse instead of
mapping every large buffer afresh (:func:`benchmarks.common.malloc_mode`); which state a process
is in depends on what it freed before, so the bars are measured in one state chosen up front:
``--malloc keep`` (the default: torch at its fastest) or ``--malloc default``.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time

import torch

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
from benchmarks.common import interleaved, layer_train_step, machine_info, malloc_mode  # noqa: E402
from seqlab.nn import GRU, LSTM, from_torch  # noqa: E402
from seqlab.nn.minrnn import MinGRU, MinLSTM  # noqa: E402


def load() -> str:
    return f"load {os.getloadavg()[0]:.1f}"


def equality_float64() -> str:
    """Largest difference of seqlab's auto path from torch.nn in float64: outputs, dL/dx and the
    weight gradients (seqlab's GRU update gate is torch's 1 - z: its z rows change sign)."""
    torch.manual_seed(0)
    worst = {}
    for name, make in (("LSTM", torch.nn.LSTM), ("GRU", torch.nn.GRU)):
        ref = make(32, 256, batch_first=True).double()
        ours = from_torch(ref)
        x = torch.randn(64, 100, 32, dtype=torch.float64)
        g = torch.randn(64, 100, 256, dtype=torch.float64)
        res = []
        for m in (ref, ours):
            xx = x.clone().requires_grad_()
            out, _ = m(xx)
            res.append([out.detach(), *torch.autograd.grad((out * g).sum(), [xx, *m.parameters()])])
        if name == "GRU":  # d/d(seqlab's z rows) = -d/d(torch's)
            sign = ours.cells[0]._z_sign(x)
            res[1] = res[1][:2] + [p * (sign[:, None] if p.dim() == 2 else sign) for p in res[1][2:]]
        path = ours.resolve_backend(x)
        worst[name] = (path, max(float((a - b).abs().max()) for a, b in zip(*res)))
    return "; ".join(f"{k} ({p}) vs torch.nn: max |difference| {d:.1e}" for k, (p, d) in worst.items())


def part1(rounds: int) -> None:
    B, T, I, H = 64, 100, 32, 256
    x = torch.randn(B, T, I)
    lstm, gru = LSTM(I, H), GRU(I, H)
    fns = {
        "torch.nn.LSTM": layer_train_step(torch.nn.LSTM(I, H, batch_first=True), x),
        f"seqlab LSTM ({lstm.resolve_backend(x)})": layer_train_step(lstm, x),
        "torch.nn.GRU": layer_train_step(torch.nn.GRU(I, H, batch_first=True), x),
        f"seqlab GRU ({gru.resolve_backend(x)})": layer_train_step(gru, x),
    }
    fns["LSTM matrix products alone"] = lstm_matmul_floor(B, T, I, H)
    t = interleaved(fns, rounds=rounds, warmup=1)
    print(f"1. training step, batch {B}, {T} steps, {I} inputs, {H} units; {load()}")
    for k, v in t.items():
        base = t["torch.nn.LSTM"] if "LSTM" in k else t["torch.nn.GRU"]
        note = "" if k.startswith("torch") or "alone" in k else f"   {base / v:5.2f}x faster (bar >= 1.2)"
        if "alone" in k:
            flops = lstm_flops(B, T, I, H)
            note = (f"   {flops / v / 1e9:5.0f} GFLOP/s; torch.nn.LSTM reaches {flops / t['torch.nn.LSTM'] / 1e9:.0f}, "
                    f"so no LSTM step can beat it by more than {t['torch.nn.LSTM'] / v:.2f}x")
        print(f"  {k:34s} {v * 1e3:8.1f} ms{note}")


def lstm_flops(B: int, T: int, I: int, H: int) -> float:
    """Multiply-adds x 2 of an LSTM layer's training step without dL/dx (the benchmark's input
    needs no gradient): [x_t | h] W^T and dL/dh per step, dL/dW over all B*T rows."""
    G = 4 * H
    return 2.0 * T * B * G * ((I + H) + H + (I + H))


def lstm_matmul_floor(B: int, T: int, I: int, H: int):
    """The matrix products every LSTM training step has to do, and nothing else, each in the
    fastest product torch reaches here (oneDNN, weights packed once, as seqlab's compiled layers
    use them): a lower bound on the step of any implementation at this thread count."""
    from seqlab.nn._matmul import linear, mm_tn, pack

    G = 4 * H
    w = torch.randn(G, I + H) * 0.1  # [W_ih | W_hh]
    w_step = pack(w, B)  # forward: a = [x_t | h_{t-1}] W^T per step
    w_back = pack(w[:, I:].t().contiguous(), B)  # backward: dL/dh_{t-1} = dA_t W_hh per step
    xh = torch.randn(T, B, I + H)
    da = torch.randn(T, B, G)

    def run() -> None:
        for t in range(T):
            linear(xh[t], w_step)
        for t in range(T):
            linear(da[t], w_back)
        mm_tn(da.view(T * B, G), xh.view(T * B, I + H))  # dL/dW over all steps

    return run


def part2(rounds: int) -> None:
    B, T, I, H = 64, 100, 32, 256
    x = torch.randn(B, T, I)
    fns = {
        "torch.nn.LSTM": layer_train_step(torch.nn.LSTM(I, H, batch_first=True), x),
        "peephole LSTM": layer_train_step(LSTM(I, H, peephole=True), x),
        "layer-norm LSTM": layer_train_step(LSTM(I, H, layer_norm=True), x),
        "torch.nn.GRU": layer_train_step(torch.nn.GRU(I, H, batch_first=True), x),
        "GRU reset=before": layer_train_step(GRU(I, H, reset="before"), x),
        "layer-norm GRU": layer_train_step(GRU(I, H, layer_norm=True), x),
    }
    t = interleaved(fns, rounds=rounds, warmup=1)
    print(f"2. training step, batch {B}, {T} steps, {I} inputs, {H} units; {load()}")
    for k, v in t.items():
        base = t["torch.nn.LSTM"] if "LSTM" in k else t["torch.nn.GRU"]
        bar = "" if k.startswith("torch") else f"   {v / base:5.2f}x torch.nn's time (bar <= {1.3 if 'norm' in k else 1.05})"
        print(f"  {k:34s} {v * 1e3:8.1f} ms{bar}")


def part3(rounds: int, lengths: list[int]) -> None:
    B, I, H = 32, 64, 256
    for T in lengths:
        x = torch.randn(B, T, I)
        fns = {
            "torch.nn.GRU": layer_train_step(torch.nn.GRU(I, H, batch_first=True), x),
            "minGRU": layer_train_step(MinGRU(I, H), x),
            "minLSTM": layer_train_step(MinLSTM(I, H), x),
        }
        t = interleaved(fns, rounds=rounds, warmup=1)
        bar = 10 if T <= 1024 else 20
        print(f"3. training step, batch {B}, {T} steps, {I} inputs, {H} units; {load()}")
        for k, v in t.items():
            note = "" if k.startswith("torch") else f"   {t['torch.nn.GRU'] / v:6.2f}x faster than torch.nn.GRU"
            if k == "minGRU":
                note += f" (bar >= {bar})"
            print(f"  {k:34s} {v * 1e3:8.1f} ms{note}")


def part4(rounds: int) -> None:
    from seqlab.text import LMConfig, RecurrentLM, Vocabulary, sample, sampling
    from seqlab.text.fastpath import fast_stepper
    from seqlab.text.model import split_state

    text = "".join(chr(c) for c in range(32, 97))  # a 65-symbol vocabulary, as tiny Shakespeare's
    vocab = Vocabulary.build(text)
    torch.manual_seed(0)
    model = RecurrentLM(LMConfig(len(vocab), "lstm", 128, 2)).eval()
    fast = fast_stepper(model)
    with torch.no_grad():
        _, state = model(torch.tensor([[1, 2]]))
    states = split_state(state)
    tok = torch.tensor([3])

    def per_step(fn, n=2000):
        def run():
            for _ in range(n):
                fn()
        return run

    def torch_step():
        with torch.no_grad():
            model.step(tok, states)

    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # the sampler steps single-threaded, as this measures
    n = 2000
    t = interleaved({"compiled step": per_step(lambda: fast.step(3), n),
                     "torch step (model.step)": per_step(torch_step, n)}, rounds=rounds, warmup=1)
    speeds = {}
    for flag in (True, False):
        sampling.FAST = flag
        sample(model, vocab, "A", 200, seed=0)
        runs = []
        for _ in range(rounds):
            t0 = time.perf_counter()
            sample(model, vocab, "A", 5000, seed=0)
            runs.append(5000 / (time.perf_counter() - t0))
        speeds[flag] = statistics.median(runs)
    sampling.FAST = True
    torch.set_num_threads(threads)
    print(f"4. generation, 2 x 128 LSTM language model, batch 1, in-process; {load()}")
    for k, v in t.items():
        print(f"  {k:34s} {v / n * 1e6:8.1f} us per step" + ("   (bar < 50)" if "compiled" in k else ""))
    print(f"  {'sampling, compiled step':34s} {speeds[True]:8,.0f} chars/s   (bar > 20,000)")
    print(f"  {'sampling, torch step':34s} {speeds[False]:8,.0f} chars/s")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=5, help="interleaved rounds per part (medians)")
    ap.add_argument("--repeat", type=int, default=1, help="run each part this many times (to see the noise)")
    ap.add_argument("--threads", default="1,2", help="comma-separated torch thread counts (default 1,2)")
    ap.add_argument("--part", default="all", help="1, 2, 3, 4, a comma-separated list, or all")
    ap.add_argument("--lengths", default="1024,4096", help="sequence lengths of part 3")
    ap.add_argument("--malloc", default="keep", help="glibc malloc: keep (freed memory kept, torch.nn.LSTM at "
                    "its fastest; the default) or default (as a fresh process has it)")
    args = ap.parse_args()
    malloc_mode(args.malloc)
    parts = {"1", "2", "3", "4"} if args.part == "all" else set(args.part.split(","))
    torch.manual_seed(0)
    print(machine_info())
    print(f"start: {load()} on {os.cpu_count()} cores")
    if "1" in parts:
        print(equality_float64())
    for threads in [int(t) for t in args.threads.split(",")]:
        torch.set_num_threads(threads)
        print(f"\n== {threads} thread{'s' if threads > 1 else ''} ==")
        for _ in range(args.repeat):
            if "1" in parts:
                part1(args.rounds)
            if "2" in parts:
                part2(args.rounds)
            if "3" in parts:
                part3(max(2, args.rounds // 2), [int(n) for n in args.lengths.split(",")])
            if "4" in parts:
                part4(args.rounds)
    print(f"end: {load()}")


if __name__ == "__main__":
    main()
