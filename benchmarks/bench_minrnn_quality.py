"""Quality of minGRU and minLSTM against LSTM and GRU: text bits per character, the adding problem.

(a) Character-level tiny Shakespeare (first 90 % to train, last 10 % to validate) with seqlab's
    own trainer (``seqlab.text.train_lm``, its default 'decay' schedule) and the same batch,
    sequence length, learning rate, clipping and **number of training steps** (``--epochs`` whole
    passes: the same steps for every row, whatever the machine's load) for each row. Reported:
    validation bits per character, parameters, training wall time, characters per second, and
    batch-1 sampling speed (``seqlab.text.sample``: the compiled stepper of
    ``seqlab.text.fastpath`` for LSTM and GRU, ``RecurrentLM.step`` with the cells' step mode for
    the minimal RNNs).
(b) The adding problem (``seqlab.diagnostics.memory.train_memory``, one layer of 32 units, keep
    bias 1, Adam 1e-2, the same steps and seeds for each cell) at T = 100 (``--adding-lengths
    100,200`` adds T = 200): final MSE on 1,000 fresh sequences against the memoryless baseline
    0.167.

Rows of (a) are ``cell`` (2 x 128, seqlab's LM defaults: pre-norm and residuals for the minimal
RNNs), ``cell:LxH`` for another shape, and ``/plain`` for a minimal RNN without norm and
residuals, e.g. ``--rows lstm,mingru,mingru/plain,mingru:2x256``. The default rows add minGRU
8 x 128 and minLSTM 5 x 128, whose parameter counts are near the 2 x 128 LSTM's (283k and 265k
against 281k: a minimal layer has no recurrent weights, 2 H (I + 1) or 3 H (I + 1) parameters
against the LSTM's 4 H (I + H + 2)); spent on depth rather than width, since a minimal layer is
linear in its state and gets its expressiveness from stacking.

    python benchmarks/bench_minrnn_quality.py                      # everything, 1 thread (~20 min)
    python benchmarks/bench_minrnn_quality.py --adding-lengths 100,200   # and T = 200 (~28 min)
    python benchmarks/bench_minrnn_quality.py --epochs 1 --adding-lengths 100   # a quick look
    python benchmarks/bench_minrnn_quality.py --skip-adding --rows mingru,mingru/plain

Timings depend on the machine's load (printed at start and end); the losses do not: each row is
seeded and trains a fixed number of steps.
"""

from __future__ import annotations

import argparse
import math
import os
import re
import sys
import time

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import machine_info  # noqa: E402

from seqlab.diagnostics.memory import MemoryConfig, train_memory  # noqa: E402
from seqlab.diagnostics.tasks import baseline  # noqa: E402
from seqlab.text import (LMConfig, RecurrentLM, Vocabulary, default_config, evaluate, sample,  # noqa: E402
                         split_train_val, train_lm)
from seqlab.text.data import batchify, num_chunks  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
DEFAULT_DATA = os.path.join(HERE, "..", "..", "shared", "data", "tinyshakespeare.txt")
DEFAULT_ROWS = "lstm,gru,mingru,minlstm,mingru:8x128,minlstm:5x128"
NAMES = {"lstm": "LSTM", "gru": "GRU", "mingru": "minGRU", "minlstm": "minLSTM", "rnn": "RNN"}
ROW = re.compile(r"^(lstm|gru|rnn|mingru|minlstm)(?::(\d+)x(\d+))?(/plain)?$")


def parse_rows(spec: str, layers: int, hidden: int) -> list[tuple[str, str, int, int, dict]]:
    """``"lstm,mingru:2x256,minlstm/plain"`` -> (label, cell, layers, hidden, cell_options) per row."""
    rows = []
    for item in (s.strip().lower() for s in spec.split(",")):
        if not item:
            continue
        m = ROW.match(item)
        if m is None:
            raise SystemExit(f"--rows: cannot read {item!r}; expected CELL[:LxH][/plain], CELL one of {', '.join(NAMES)}")
        cell, L, H, plain = m.group(1), int(m.group(2) or layers), int(m.group(3) or hidden), bool(m.group(4))
        if plain and not cell.startswith("min"):
            raise SystemExit(f"--rows: /plain only applies to mingru and minlstm, got {item!r}")
        options = {"norm": False, "residual": False} if plain else {}
        label = f"{NAMES[cell]} {L}x{H}" + (" plain" if plain else "")
        rows.append((label, cell, L, H, options))
    return rows


def text_table(args, rows) -> None:
    text = open(args.data, encoding="utf-8").read()
    vocab = Vocabulary.build(text)
    ids = torch.tensor(vocab.encode(text), dtype=torch.long)
    train_ids, val_ids = split_train_val(ids, 0.1)
    steps = args.epochs * num_chunks(batchify(train_ids, args.batch_size), args.seq_len)
    print(f"\n(a) tiny Shakespeare: {len(text):,} chars, vocab {len(vocab)}, train {len(train_ids):,}, "
          f"validation {len(val_ids):,}; batch {args.batch_size} x {args.seq_len} chars, Adam lr {args.lr} "
          f"('decay' schedule), clip {args.clipnorm}, {args.epochs} epochs = {steps:,} steps for every row")
    head = f"{'model':<20} {'params':>9} {'val bits/char':>13} {'train s':>8} {'chars/s':>8} {'sample chars/s':>14}"
    print(head)
    print("-" * len(head))
    for label, cell, L, H, options in rows:
        torch.manual_seed(args.seed)
        model = RecurrentLM(LMConfig(len(vocab), cell, H, L, cell_options=options))
        n_params = sum(p.numel() for p in model.parameters())
        cfg = default_config(epochs=args.epochs, lr=args.lr, clipnorm=args.clipnorm, verbose=0, device="cpu", threads=None,
                             seed=args.seed)
        hist = train_lm(model, train_ids, None, cfg, batch_size=args.batch_size, seq_len=args.seq_len)
        seconds, tokens = hist["train_seconds"][-1], hist["tokens"][-1]
        val = evaluate(model, val_ids, 16, 256)
        sample(model, vocab, "ROMEO:", 20, temperature=0.8, seed=0)  # warm up
        t0 = time.perf_counter()
        sample(model, vocab, "ROMEO:", args.sample_chars, temperature=0.8, seed=0)
        speed = args.sample_chars / (time.perf_counter() - t0)
        print(f"{label:<20} {n_params:>9,} {val / math.log(2):>13.3f} {seconds:>8.0f} {tokens / seconds:>8,.0f} "
              f"{speed:>14,.0f}   (load {os.getloadavg()[0]:.1f})", flush=True)


def adding_table(args, cells: list[str]) -> None:
    lengths = [int(t) for t in args.adding_lengths.split(",") if t.strip()]
    seeds = [int(s) for s in args.adding_seeds.split(",") if s.strip()]
    print(f"\n(b) adding problem: 1 layer x {args.adding_hidden} units, batch 64, Adam 1e-2, clip 1, keep bias 1, "
          f"{args.adding_steps} steps per run; MSE on 1,000 fresh sequences (baseline {baseline('adding', 100):.3f}: "
          f"always predict 1); seeds {', '.join(map(str, seeds))}")
    head = f"{'cell':<8} {'T':>4} " + " ".join(f"{'MSE s' + str(s):>9}" for s in seeds) + f" {'solved':>7} {'s/run':>6}"
    print(head)
    print("-" * len(head))
    for T in lengths:
        for cell in cells:
            losses, secs = [], []
            for seed in seeds:
                cfg = MemoryConfig(task="adding", length=T, cell=cell, hidden_size=args.adding_hidden,
                                   max_steps=args.adding_steps, seed=seed)
                res = train_memory(cfg)
                losses.append(res.final_loss)
                secs.append(res.seconds)
            solved = sum(v < 0.1 * baseline("adding", T) for v in losses)
            print(f"{NAMES[cell]:<8} {T:>4} " + " ".join(f"{v:>9.4f}" for v in losses)
                  + f" {solved:>4}/{len(seeds)} {sum(secs) / len(secs):>6.0f}   (load {os.getloadavg()[0]:.1f})", flush=True)
    print("solved: MSE below a tenth of the baseline")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", default=DEFAULT_DATA, help="tiny Shakespeare (default ../shared/data/tinyshakespeare.txt)")
    ap.add_argument("--rows", default=DEFAULT_ROWS, help=f"text models, CELL[:LxH][/plain] (default {DEFAULT_ROWS})")
    ap.add_argument("--epochs", type=int, default=4, help="training passes for every text model: a fixed number of "
                                                          "steps, the same for all (default 4 = 1,964 steps)")
    ap.add_argument("--hidden", type=int, default=128)
    ap.add_argument("--layers", type=int, default=2)
    ap.add_argument("--batch-size", type=int, default=32)
    ap.add_argument("--seq-len", type=int, default=64)
    ap.add_argument("--lr", type=float, default=4e-3, help="Adam learning rate (default 4e-3, seqlab's)")
    ap.add_argument("--clipnorm", type=float, default=5.0)
    ap.add_argument("--sample-chars", type=int, default=1000, help="characters sampled to time generation")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--adding-cells", default="lstm,gru,mingru,minlstm")
    ap.add_argument("--adding-lengths", default="100", help="sequence lengths T (default 100; e.g. 100,200)")
    ap.add_argument("--adding-steps", type=int, default=1200, help="training steps per run (default 1200)")
    ap.add_argument("--adding-seeds", default="0,1,2", help="one run per seed (default 0,1,2)")
    ap.add_argument("--adding-hidden", type=int, default=32)
    ap.add_argument("--skip-text", action="store_true")
    ap.add_argument("--skip-adding", action="store_true")
    ap.add_argument("--threads", type=int, default=1, help="torch intra-op threads (default 1)")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    rows = parse_rows(args.rows, args.layers, args.hidden)

    print(machine_info())
    print(f"load average at start: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    t0 = time.perf_counter()
    if not args.skip_text:
        text_table(args, rows)
    if not args.skip_adding:
        adding_table(args, [c.strip().lower() for c in args.adding_cells.split(",") if c.strip()])
    print(f"\nload average at end: {os.getloadavg()[0]:.1f}; {(time.perf_counter() - t0) / 60:.1f} minutes in all")


if __name__ == "__main__":
    main()
