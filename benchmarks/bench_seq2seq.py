"""Quality bar of ``seqlab translate``: exact match on 2,000 held-out generated dates.

Trains the date task as ``seqlab translate train`` does (within ``--minutes``, default 5), then
decodes the 2,000 held-out days (never seen in training; see ``seqlab.seq2seq.dates``) greedily
and with beam search, and prints both accuracies, the examples where they differ and the time
of each decoder measured in the same run.

    python benchmarks/bench_seq2seq.py [--minutes 5] [--threads 1] [--attention luong] [--beam 5]
"""

from __future__ import annotations

import argparse
import os
import sys
import time

import torch

sys.path.insert(0, os.path.dirname(__file__))
from common import machine_info  # noqa: E402

from seqlab.seq2seq import dates  # noqa: E402
from seqlab.seq2seq.train import default_config, train_dates  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--minutes", type=float, default=5.0)
    ap.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's choice)")
    ap.add_argument("--attention", default="luong", choices=("bahdanau", "luong"))
    ap.add_argument("--input-feeding", action="store_true")
    ap.add_argument("--cell", default="gru", choices=("gru", "lstm"))
    ap.add_argument("--hidden", type=int, default=64)
    ap.add_argument("--batch-size", type=int, default=64)
    ap.add_argument("--beam", type=int, default=5)
    ap.add_argument("--target-accuracy", type=float, default=1.0, help="early stop on validation (as the CLI)")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    print(machine_info())
    print(f"load average before: {os.getloadavg()} (other processes share the cores)")
    print(f"model: {args.cell} {args.hidden} units, {args.attention} attention, input feeding {args.input_feeding}, "
          f"batch {args.batch_size}, budget {args.minutes} min, seed {args.seed}")

    cfg = default_config(minutes=args.minutes, seed=args.seed, epochs=200, threads=None)
    t0 = time.perf_counter()
    tr, hist = train_dates(cfg, batch_size=args.batch_size, target_accuracy=args.target_accuracy, cell=args.cell,
                           hidden_size=args.hidden, attention=args.attention, input_feeding=args.input_feeding)
    print(f"trained {hist.params['steps_done']} steps in {time.perf_counter() - t0:.1f}s "
          f"({hist.stopped or 'all epochs'})")

    split = dates.split_dates()
    test = dates.make_pairs(split.test, len(split.test), seed=7)
    train_days = {d.isoformat() for d in split.train}
    overlap = sum(t in train_days for _, t in test)
    print(f"held-out set: {len(test)} pairs, {len({t for _, t in test})} distinct dates, {overlap} seen in training")

    t0 = time.perf_counter()
    greedy = tr.translate_batch([s for s, _ in test])
    t_greedy = time.perf_counter() - t0
    t0 = time.perf_counter()
    beam = tr.translate_batch([s for s, _ in test], beam=args.beam)
    t_beam = time.perf_counter() - t0
    g_ok = [o.text == t for o, (_, t) in zip(greedy, test)]
    b_ok = [o.text == t for o, (_, t) in zip(beam, test)]
    print(f"greedy exact match: {100 * sum(g_ok) / len(test):.2f}% ({sum(g_ok)}/{len(test)}), {t_greedy:.1f}s")
    print(f"beam {args.beam} exact match: {100 * sum(b_ok) / len(test):.2f}% ({sum(b_ok)}/{len(test)}), "
          f"{t_beam:.1f}s ({t_beam / t_greedy:.1f}x greedy's time)")
    worse = [(s, t, b.text) for (s, t), g, b, gk, bk in zip(test, greedy, beam, g_ok, b_ok) if gk and not bk]
    better = [(s, t, g.text) for (s, t), g, b, gk, bk in zip(test, greedy, beam, g_ok, b_ok) if bk and not gk]
    print(f"beam right where greedy is wrong: {len(better)}; beam wrong where greedy is right: {len(worse)}")
    errors = [(s, t, g.text) for (s, t), g, ok in zip(test, greedy, g_ok) if not ok]
    for s, t, o in errors[:10]:
        print(f"  greedy error: {s!r} -> {o!r} (want {t!r})")
    print(f"load average after: {os.getloadavg()}")


if __name__ == "__main__":
    main()
