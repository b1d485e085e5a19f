"""Character language model on tiny Shakespeare: `seqlab generate train` with its defaults vs a
plain PyTorch loop, for the same training time each, in one run.

seqlab trains through ``seqlab.text.run.train`` (what ``seqlab generate train --minutes M`` runs)
with every model and training setting at its default (``seqlab.text.defaults``: cell, width,
depth, dropout, batch, sequence length, learning rate, schedule), on the first 90 % of the text;
the plain loop is a 2 x 128 torch.nn.LSTM with Adam at a constant 4e-3, batch 32 x 64, clipping
at 5, written the way one would by hand. Both are then evaluated the same way on the last 10 %
(nats per character). Then sampling speed at batch 1, seqlab vs the plain loop.

    python benchmarks/bench_text.py                 # the full run: 2 x 4 minutes
    python benchmarks/bench_text.py --minutes 0.5   # a quick look while developing
    python benchmarks/bench_text.py --clock cpu --threads 1   # CPU minutes: not stretched by load

Bars (issue 19): seqlab validation loss <= 1.45 nats/char in 4 minutes and better than the plain
loop (sampling above 20,000 chars/s is measured for a 2 x 128 model by bench_speed.py, part 4).
Printed with the machine and the load average: on a shared machine compare the two numbers of one
run, not numbers of different runs.
"""

from __future__ import annotations

import argparse
import math
import os
import sys
import time

import torch
import torch.nn.functional as F
from torch import nn

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import machine_info  # noqa: E402

from seqlab.text import Vocabulary, evaluate, sample, split_train_val  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
DEFAULT_DATA = os.path.join(HERE, "..", "..", "shared", "data", "tinyshakespeare.txt")


# -- the plain loop: torch.nn only, written the way one would by hand -------------------------
class PlainLM(nn.Module):
    def __init__(self, vocab_size: int, hidden: int, layers: int) -> None:
        super().__init__()
        self.emb = nn.Embedding(vocab_size, hidden)
        self.lstm = nn.LSTM(hidden, hidden, layers, batch_first=True)
        self.out = nn.Linear(hidden, vocab_size)

    def forward(self, x, state=None):
        h, state = self.lstm(self.emb(x), state)  # (B, T, H)
        return self.out(h), state  # (B, T, V)


def plain_train(model: PlainLM, ids: torch.Tensor, args) -> int:
    B, L = args.batch_size, args.seq_len
    n = len(ids) // B
    data = ids[: n * B].view(B, n)  # (B, n): B contiguous streams
    opt = torch.optim.Adam(model.parameters(), lr=args.lr)
    clock = time.process_time if args.clock == "cpu" else time.perf_counter
    spent, tokens = 0.0, 0
    while True:
        state = None
        for i in range(0, n - 1, L):
            t0 = clock()
            x, y = data[:, i : i + L], data[:, i + 1 : i + 1 + L]
            x = x[:, : y.shape[1]]
            if state is not None:
                state = (state[0].detach(), state[1].detach())
            logits, state = model(x, state)
            loss = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), y.reshape(-1))  # (B*L, V)
            opt.zero_grad()
            loss.backward()
            nn.utils.clip_grad_norm_(model.parameters(), args.clipnorm)
            opt.step()
            spent += clock() - t0
            tokens += y.numel()
            if spent >= args.minutes * 60:
                return tokens


@torch.no_grad()
def plain_eval(model: PlainLM, ids: torch.Tensor, B: int = 16, L: int = 256) -> float:
    model.eval()
    n = len(ids) // B
    data = ids[: n * B].view(B, n)  # (B, n)
    state, total, count = None, 0.0, 0
    for i in range(0, n - 1, L):
        x, y = data[:, i : i + L], data[:, i + 1 : i + 1 + L]
        logits, state = model(x[:, : y.shape[1]], state)
        total += F.cross_entropy(logits.reshape(-1, logits.shape[-1]), y.reshape(-1), reduction="sum").item()
        count += y.numel()
    return total / count


@torch.no_grad()
def plain_sample_speed(model: PlainLM, start: int, n: int) -> float:
    model.eval()
    x = torch.tensor([[start]])
    state = None
    t0 = time.perf_counter()
    for _ in range(n):
        logits, state = model(x, state)  # (1, 1, V)
        x = torch.multinomial(torch.softmax(logits[0, -1] / 0.8, -1), 1).view(1, 1)
    return n / (time.perf_counter() - t0)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", default=DEFAULT_DATA, help="tiny Shakespeare (default ../shared/data/tinyshakespeare.txt)")
    ap.add_argument("--minutes", type=float, default=4.0, help="training time for each of the two (default 4)")
    ap.add_argument("--hidden", type=int, default=128, help="the plain loop's LSTM width (default 128)")
    ap.add_argument("--layers", type=int, default=2, help="the plain loop's LSTM depth (default 2)")
    ap.add_argument("--batch-size", type=int, default=32, help="the plain loop's batch (default 32)")
    ap.add_argument("--seq-len", type=int, default=64, help="the plain loop's sequence length (default 64)")
    ap.add_argument("--lr", type=float, default=4e-3, help="the plain loop's Adam learning rate (default 4e-3)")
    ap.add_argument("--clipnorm", type=float, default=5.0, help="the plain loop's clipping norm (default 5)")
    ap.add_argument("--clock", choices=("wall", "cpu"), default="wall",
                    help="what --minutes measures: wall time (default) or this process's CPU time, which "
                         "other people's load on a shared machine does not stretch (use with --threads 1)")
    ap.add_argument("--threads", type=int, default=None, help="torch intra-op threads (default: torch's choice)")
    ap.add_argument("--sample-chars", type=int, default=2000)
    ap.add_argument("--only", choices=("seqlab", "plain"), default=None, help="run one side only")
    args = ap.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)

    print(machine_info())
    print(f"load average at start: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    text = open(args.data, encoding="utf-8").read()
    vocab = Vocabulary.build(text)
    ids = torch.tensor(vocab.encode(text), dtype=torch.long)
    train_ids, val_ids = split_train_val(ids, 0.1)
    print(f"data: {len(text):,} chars, vocab {len(vocab)}, train {len(train_ids):,}, validation {len(val_ids):,}")
    print(f"plain loop: {args.layers}x{args.hidden} LSTM, batch {args.batch_size}, seq {args.seq_len}, Adam lr {args.lr} "
          f"constant, "
          f"clip {args.clipnorm}, {args.minutes} min of {args.clock} time each, {torch.get_num_threads()} threads")
    results = {}
    threads = torch.get_num_threads()

    if args.only in (None, "seqlab"):
        from seqlab.text import run
        from seqlab.text.defaults import DEFAULTS

        torch.manual_seed(0)
        print(f"seqlab defaults: {DEFAULTS}")
        model, _, hist = run.train(text=args.data, minutes=args.minutes, clock=args.clock, quiet=True, save=None,
                                   sample_length=0, threads=args.threads or 0, seed=0)
        val = evaluate(model, val_ids, 16, 256)
        toks = int(hist["tokens"][-1])
        secs = hist["train_seconds"][-1]
        results["seqlab"] = val
        print(f"seqlab: validation {val:.4f} nats/char ({val / math.log(2):.3f} bits), {toks:,} chars trained "
              f"({toks / len(train_ids):.2f} epochs, {toks / secs:,.0f} chars/s of {args.clock} time); "
              f"{hist.stopped or 'all epochs done'}; load {os.getloadavg()[0]:.1f}")
        sample(model, vocab, "ROMEO:", 50, temperature=0.8, seed=0)  # warm up
        t0, c0 = time.perf_counter(), time.process_time()
        txt = sample(model, vocab, "ROMEO:", args.sample_chars, temperature=0.8, seed=0)
        speed = args.sample_chars / (time.perf_counter() - t0)
        cpu_speed = args.sample_chars / (time.process_time() - c0)
        results["seqlab_speed"] = speed
        print(f"seqlab sampling: {speed:,.0f} chars/s at batch 1 with the default {DEFAULTS.layers} x {DEFAULTS.hidden} "
              f"model; {cpu_speed:,.0f} chars per CPU-second")
        print("sample: ROMEO:" + txt[:300])

    if args.only in (None, "plain"):
        torch.set_num_threads(threads)  # as at the start, whatever seqlab's thread policy chose
        torch.manual_seed(0)
        plain = PlainLM(len(vocab), args.hidden, args.layers)
        toks = plain_train(plain, train_ids, args)
        val = plain_eval(plain, val_ids)
        results["plain"] = val
        print(f"plain torch loop: validation {val:.4f} nats/char ({val / math.log(2):.3f} bits), {toks:,} chars trained "
              f"({toks / len(train_ids):.2f} epochs, {toks / (args.minutes * 60):,.0f} chars/s of {args.clock} time); "
              f"load {os.getloadavg()[0]:.1f}")
        threads = torch.get_num_threads()
        torch.set_num_threads(1)  # as seqlab's sampler does: batch-1 steps gain nothing from threads
        plain_sample_speed(plain, vocab.stoi["\n"], 50)
        results["plain_speed"] = plain_sample_speed(plain, vocab.stoi["\n"], args.sample_chars)
        torch.set_num_threads(threads)
        print(f"plain torch sampling loop (1 thread): {results['plain_speed']:,.0f} chars/s at batch 1")

    if "seqlab" in results and "plain" in results:
        ok = results["seqlab"] <= 1.45 and results["seqlab"] < results["plain"]
        print(f"validation seqlab / plain: {results['seqlab']:.4f} / {results['plain']:.4f} nats/char "
              f"(ratio {results['seqlab'] / results['plain']:.3f}); bar <= 1.45 and better: {'PASS' if ok else 'FAIL'}")
        print(f"sampling speed seqlab / plain: {results['seqlab_speed']:,.0f} / {results['plain_speed']:,.0f} chars/s "
              f"(ratio {results['seqlab_speed'] / results['plain_speed']:.2f}; the models differ in size when the "
              "default is not 2 x 128; the bar of 20,000 chars/s for a 2 x 128 model is bench_speed.py's part 4)")
    print(f"load average at end: {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
