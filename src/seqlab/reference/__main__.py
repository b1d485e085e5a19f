"""``python -m seqlab.reference [check | train --data FILE]``.

* ``check`` (the default): every hand-derived backward pass against finite differences, the worst
  relative error per cell option (lengths and initial state included).
* ``train --data FILE``: a char-RNN in pure NumPy in the spirit of min-char-rnn: truncated BPTT,
  printing training and validation loss and samples (docs/numpy.md).
"""

from __future__ import annotations

import argparse
import functools
import sys
import time
from typing import Sequence

import numpy as np

# the seqlab command's parser (a usage error is one line on stderr and exit code 2); imports no torch
from ..cli import _Parser
from ..cli_args import add_seed_option, float_type, int_type
from ..errors import SeqlabError
from ..vocab import Vocabulary
from .gradcheck import gradient_check
from .gru import gru_backward, gru_forward
from .lstm import lstm_backward, lstm_forward
from .net import NET_CELLS, NetConfig, init_params, sample
from .optim import OPTIMIZERS, STATE_ARRAYS
from .rnn import rnn_backward, rnn_forward
from .stack import stacked_backward, stacked_forward
from .trainer import TrainConfig, evaluate, train_lm


def _params(rng: np.random.Generator, G: int, I: int, H: int, peephole: bool = False) -> dict:
    p = {"weight_ih": rng.normal(0, 0.6, (G * H, I)), "weight_hh": rng.normal(0, 0.6, (G * H, H)),
         "bias_ih": rng.normal(0, 0.6, G * H), "bias_hh": rng.normal(0, 0.6, G * H)}
    if peephole:
        p["weight_ch"] = rng.normal(0, 0.6, (3, H))
    return p


def check() -> int:
    """Print the gradient-check table; 0 if every error is below 1e-6."""
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


def read_text(path: str) -> str:
    """A UTF-8 text file through seqlab's one read boundary (seqlab.files: a regular file, not a
    FIFO or device, read with a size limit; empty, binary or non-UTF-8 files are one-line errors)."""
    from ..files import read_text as read_checked

    return read_checked(path, "--data", nul=False)


def check_memory(args: argparse.Namespace, vocab: int, train_chars: int) -> None:
    """SeqlabError before anything is allocated when the options cannot fit in memory: the
    estimate every job uses (seqlab.resources, no torch), in float64 with this optimizer's state."""
    from ..resources import check_fits, recurrent_estimate

    steps = min(args.seq_len, max(1, train_chars // args.batch_size))  # a chunk is at most a stream
    inputs = {"inputs": 0, "vocab": vocab, "embed": args.embed} if args.embed else {"inputs": vocab}
    check_fits(recurrent_estimate(cell=args.cell, hidden=args.hidden, layers=args.layers, batch=args.batch_size,
                                  steps=steps, outputs=vocab, outputs_per_step=True, float_bytes=8,
                                  moments=STATE_ARRAYS[args.optimizer], **inputs),
               "--hidden/--layers/--embed/--batch-size/--seq-len")


def train(args: argparse.Namespace) -> int:
    """The char-RNN: read, split, train with truncated BPTT, print losses and samples."""
    text = read_text(args.data)
    if args.max_chars:
        text = text[: args.max_chars]
    vocab = Vocabulary.build(text, level="char")
    ids = np.array(vocab.encode(text), dtype=np.int64)
    n_val = int(len(ids) * args.val_fraction)
    train_ids, val_ids = ids[: len(ids) - n_val], ids[len(ids) - n_val :]
    if len(train_ids) < 2 * args.batch_size:
        raise SeqlabError(f"--data: expected at least {2 * args.batch_size} training characters for --batch-size "
                          f"{args.batch_size}, got {len(train_ids)}; use a longer text or a smaller --batch-size")
    check_memory(args, len(vocab), len(train_ids))
    net = NetConfig(len(vocab), args.hidden, cell=args.cell, num_layers=args.layers,
                    input="embedding" if args.embed else "onehot", embed_size=args.embed or 1)
    cfg = TrainConfig(optimizer=args.optimizer, lr=args.lr, momentum=args.momentum, weight_decay=args.weight_decay,
                      clip=args.clipnorm or None, seq_len=args.seq_len, batch_size=args.batch_size, steps=args.steps,
                      seed=args.seed)
    rng = np.random.default_rng(args.seed)
    first = vocab.stoi.get("\n", int(train_ids[0]))
    print(f"{len(ids)} characters ({len(train_ids)} train, {len(val_ids)} validation), vocabulary {len(vocab)}; "
          f"{args.cell} {args.layers}x{args.hidden}, {'embedding ' + str(args.embed) if args.embed else 'one-hot'} input; "
          f"{args.optimizer} lr {args.lr:g}, clip {args.clipnorm:g}, BPTT {args.seq_len} steps, batch {args.batch_size}")
    params = init_params(net, args.seed)  # updated in place by train_lm, read by the samples
    val_start = evaluate(params, net, val_ids) if len(val_ids) > 1 else None
    if val_start is not None:
        print(f"step {0:>6}  val {val_start:.3f} nats/char (uniform: {np.log(len(vocab)):.3f})")
    start = time.perf_counter()

    def log(step: int, loss: float, val: float | None, state) -> None:
        line = f"step {step:>6}  loss {loss:.3f}" + (f"  val {val:.3f}" if val is not None else "")
        print(f"{line}  ({time.perf_counter() - start:.1f} s)")
        if args.sample_length:
            text = vocab.decode(sample(params, net, first, args.sample_length, rng, args.temperature))
            print(f"----\n{text}\n----", flush=True)

    _, history = train_lm(train_ids, val_ids, net, cfg, params=params, every=args.every, log=log)
    last = history[-1]
    if val_start is not None:
        print(f"validation loss {val_start:.3f} -> {last['val_loss']:.3f} nats/char in {last['step']} steps "
              f"({time.perf_counter() - start:.1f} s)")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="python -m seqlab.reference",
                     description="The NumPy reference: gradient checks (the default) and char-RNN training.")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    sub.add_parser("check", help="gradient check of every hand-derived backward pass (the default)")
    t = sub.add_parser("train", help="train a char-RNN in pure NumPy on a text file")
    t.add_argument("--data", required=True, metavar="FILE", help="UTF-8 text file to learn from")
    t.add_argument("--cell", choices=NET_CELLS, default="rnn", help="recurrent cell (default rnn)")
    t.add_argument("--hidden", type=int_type(1, 100_000), default=100,
                   help="hidden units per layer (default 100)")
    t.add_argument("--layers", type=int_type(1, 100), default=1, help="stacked layers (default 1)")
    t.add_argument("--embed", type=int_type(0, 100_000), default=0,
                   help="embedding size; 0 for one-hot input (default 0)")
    t.add_argument("--optimizer", choices=OPTIMIZERS, default="adagrad", help="update rule (default adagrad)")
    t.add_argument("--lr", type=float_type(0, 10, low_open=True), default=0.1, help="learning rate (default 0.1)")
    t.add_argument("--momentum", type=float_type(0, 1, high_open=True), default=0.9,
                   help="for --optimizer momentum (default 0.9)")
    t.add_argument("--weight-decay", type=float_type(0, 1), default=0.0,
                   help="L2 weight decay in [0, 1]; a larger factor outweighs the loss, every weight goes to 0 "
                        "(default 0)")
    t.add_argument("--clipnorm", type=float_type(0), default=5.0,
                   help="max global gradient norm; 0 for no clipping (default 5)")
    t.add_argument("--seq-len", type=int_type(1, 10**6), default=25,
                   help="truncated BPTT: steps per chunk (default 25)")
    t.add_argument("--batch-size", type=int_type(1, 10**5), default=1,
                   help="streams of text trained side by side (default 1)")
    t.add_argument("--steps", type=int_type(1, 10**9), default=2000, help="updates (default 2000)")
    t.add_argument("--every", type=int_type(0, 10**9), default=500,
                   help="print losses and a sample every N steps; 0 for the end only (default 500)")
    t.add_argument("--sample-length", type=int_type(0, 10**6), default=200,
                   help="characters per sample; 0 for none (default 200)")
    t.add_argument("--temperature", type=float_type(0, low_open=True), default=1.0,
                   help="sampling temperature (default 1)")
    t.add_argument("--val-fraction", type=float_type(0, 1, high_open=True), default=0.1,
                   help="last part of the text held out for validation (default 0.1)")
    t.add_argument("--max-chars", type=int_type(0, 10**12), default=0,
                   help="use only the first N characters; 0 for all (default 0)")
    add_seed_option(t)
    return parser


def main(argv: Sequence[str] = ()) -> int:
    """Run the command with ``argv`` (no arguments: ``check``); returns the exit code."""
    try:
        args = build_parser().parse_args(list(argv))
    except SystemExit as exc:  # --help, or a usage error already printed as one line
        return exc.code if isinstance(exc.code, int) else 2
    if args.command in (None, "check"):
        return check()
    try:
        return train(args)
    except SeqlabError as exc:
        sys.stderr.write(f"python -m seqlab.reference {args.command}: error: {exc}\n")
        return 2
    except KeyboardInterrupt:
        sys.stderr.write("interrupted\n")
        return 130
    except MemoryError as exc:  # the estimate (check_memory) is a lower bound: the last line of defence
        sys.stderr.write(f"python -m seqlab.reference {args.command}: error: out of memory ({str(exc)[:200]}); "
                         "use smaller sizes (--hidden, --layers, --embed, --batch-size, --seq-len)\n")
        return 2


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
