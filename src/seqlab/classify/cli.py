"""``seqlab classify train`` and ``seqlab classify predict``: parse arguments, call the library.

The handlers only parse; the work is in :mod:`seqlab.classify.run` (``train`` and ``predict``).
"""

from __future__ import annotations

import argparse

DEFAULT_OUT = "runs/classify/model.safetensors"  # seqlab.classify.run.DEFAULT_SAVE (not imported: no torch here)


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "classify", help="label whole sequences (numeric or text) with an RNN, LSTM or GRU",
        description="Sequence classification. 'seqlab classify train' with no --data trains on scikit-learn's "
                    "8x8 digits read row by row (8 steps of 8 pixels) and prints held-out metrics.",
    )
    sub = p.add_subparsers(dest="action", metavar="ACTION", parser_class=type(p))
    from ..cli_args import (add_csv_options, add_model_options, add_runtime_options, add_training_options,
                            float_type, int_type)

    t = sub.add_parser("train", help="train a classifier, print held-out accuracy, macro-F1 and the confusion matrix",
                       description="Train on --data (a .csv with text and label columns, a folder with one sub-folder "
                                   "per class, or an .npz with X, y and optional lengths) or, with no --data, on the "
                                   "8x8 digits. A stratified --test-size split is held out for the metrics. While "
                                   "training, a checkpoint PATH.ckpt.safetensors next to --save lets --resume continue "
                                   "an interrupted run. Under 'torchrun --nproc_per_node N' the N processes train "
                                   "data-parallel (--batch-size per process).")
    t.add_argument("--data", help="training data: FILE.csv, FOLDER/<class>/<file>, or FILE.npz (default: digits)")
    add_csv_options(t)
    t.add_argument("--text-column", default="text", help="CSV column holding the text (default: text)")
    t.add_argument("--label-column", default="label", help="CSV column holding the label (default: label)")
    from ..nn.registry import cell_names  # the one cell table (imports no torch)
    add_model_options(t, cells=cell_names(), cell="lstm", hidden=64, dropout=0.2)
    t.add_argument("--direction", choices=("bi", "uni"), default="bi", help="bidirectional or not (default: bi)")
    t.add_argument("--pooling", choices=("last", "mean", "max"), default="mean",
                   help="how steps become one vector: last state, mean or max over steps (default: mean)")
    t.add_argument("--chrono", type=int_type("--chrono", 0), default=0, metavar="T",
                   help="chrono gate initialisation for dependencies about T steps long (LSTM/GRU; default off)")
    t.add_argument("--embedding-dim", type=int_type("--embedding-dim", 1, 1_000_000), default=32,
                   help="text only: size of token vectors")
    t.add_argument("--tokenizer", choices=("word", "char"), default="word", help="text only (default: word)")
    t.add_argument("--min-freq", type=int_type("--min-freq", 1), default=1, help="text only: rarer tokens become <unk>")
    t.add_argument("--max-vocab", type=int_type("--max-vocab", 1), default=None,
                   help="text only: keep the most frequent tokens")
    add_training_options(t, epochs=30, lr=3e-3, batch_size=32, save=DEFAULT_OUT)
    t.add_argument("--class-weight", choices=("none", "balanced"), default="none",
                   help="'balanced' weights the loss by n / (classes * count) for imbalanced data")
    t.add_argument("--test-size", type=float_type("--test-size", 0, 1, low_open=True, high_open=True), default=0.2,
                   help="held-out fraction (default: 0.2)")
    t.set_defaults(func=train_command)

    q = sub.add_parser("predict", help="predict labels with a saved classifier; optionally explain one prediction",
                       description="Predict for --data (same formats as train; labels, if present, are scored) or "
                                   "for --text strings. --explain I shows which steps of input I mattered.")
    q.add_argument("--model", required=True, help="a model file written by 'seqlab classify train'")
    q.add_argument("--data", help="FILE.csv, FOLDER/<class>/<file> or FILE.npz")
    add_csv_options(q)
    q.add_argument("--text", action="append", help="a text to classify (repeatable)")
    q.add_argument("--text-column", default="text")
    q.add_argument("--label-column", default="label")
    q.add_argument("--out", help="write predictions and probabilities to this CSV")
    q.add_argument("--explain", type=int_type("--explain", 0), metavar="I", help="explain the prediction for input number I (0-based)")
    q.add_argument("--method", choices=("grad", "ig"), default="ig",
                   help="gradient x input or integrated gradients (default: ig)")
    q.add_argument("--plot", help="with --explain: also save the importance plot to this image file")
    q.add_argument("--color", choices=("auto", "always", "never"), default="auto",
                   help="highlight important steps with terminal colours (default: auto, on a terminal)")
    add_runtime_options(q)
    q.set_defaults(func=predict_command)


def train_command(args: argparse.Namespace) -> int:
    from ..cli_args import checkpoint_options
    from .run import train

    train(data=args.data, text_column=args.text_column, label_column=args.label_column, save=args.save,
          resume=args.resume, cell=args.cell, hidden=args.hidden, layers=args.layers,
          bidirectional=args.direction == "bi", pooling=args.pooling, dropout=args.dropout, chrono=args.chrono,
          embedding_dim=args.embedding_dim, tokenizer=args.tokenizer, min_freq=args.min_freq,
          max_vocab=args.max_vocab, epochs=args.epochs, minutes=args.minutes, batch_size=args.batch_size,
          lr=args.lr, class_weight=None if args.class_weight == "none" else args.class_weight,
          test_size=args.test_size, seed=args.seed, threads=args.threads, device=args.device, quiet=args.quiet,
          sep=args.sep, **checkpoint_options(args))
    return 0


def predict_command(args: argparse.Namespace) -> int:
    from .run import predict

    predict(model=args.model, data=args.data, text=args.text, text_column=args.text_column,
            label_column=args.label_column, out=args.out, explain=args.explain, method=args.method, plot=args.plot,
            color=args.color, threads=args.threads, device=args.device, sep=args.sep)
    return 0
