"""``seqlab classify train`` and ``seqlab classify predict``: parse arguments, call the library.

The handlers only parse; the work is in :mod:`seqlab.classify.run` (``train`` and ``predict``).
"""

from __future__ import annotations

import argparse

DEFAULT_SAVE = "runs/classify/model.safetensors"  # seqlab.classify.run.DEFAULT_SAVE (not imported: no torch here)


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "classify", help="label whole sequences (numeric or text) with an RNN, LSTM or GRU",
        description="Sequence classification. 'seqlab classify train' with no --data trains on scikit-learn's "
                    "8x8 digits read row by row (8 steps of 8 pixels) and prints held-out metrics.",
    )
    sub = p.add_subparsers(dest="action", metavar="ACTION", parser_class=type(p))
    from ..cli_args import (add_csv_options, add_model_options, add_runtime_options, add_training_options,
                            float_type, int_type)
    from ..nn.registry import cell_names  # the one cell table (imports no torch)

    from .defaults import DEFAULTS as D  # no torch there either

    t = sub.add_parser("train", help="train a classifier, print held-out accuracy, macro-F1 and the confusion matrix",
                       description="Train on --data (a .csv with text and label columns, a folder with one sub-folder "
                                   "per class, an .npz with X, y and optional lengths, or a .ts file of the "
                                   "time-series classification archive) or, with no --data, on the 8x8 digits. A "
                                   "stratified --test-size split is held out for the metrics. The default network is "
                                   "a bidirectional LSTM with attention pooling beside a small fully convolutional "
                                   "network (LSTM-FCN), trained for --steps optimizer steps with a cosine decay of the "
                                   "learning rate, whatever the size of the data. While "
                                   "training, a checkpoint PATH.ckpt.safetensors next to --save lets --resume continue "
                                   "an interrupted run. Under 'torchrun --nproc_per_node N' the N processes train "
                                   "data-parallel (--batch-size per process).")
    t.add_argument("--data", help="training data: FILE.csv, FOLDER/<class>/<file>, FILE.npz or FILE.ts (default: "
                                  "digits)")
    add_csv_options(t)
    t.add_argument("--text-column", default="text", help="CSV column holding the text (default: text)")
    t.add_argument("--label-column", default="label", help="CSV column holding the label (default: label)")
    add_model_options(t, cells=cell_names(), cell=D["cell"], hidden=D["hidden_size"], layers=D["num_layers"],
                      dropout=D["dropout"])
    t.add_argument("--direction", choices=("bi", "uni"), default="bi" if D["bidirectional"] else "uni",
                   help=f"bidirectional or not (default: {'bi' if D['bidirectional'] else 'uni'})")
    t.add_argument("--pooling", choices=("last", "mean", "max", "attention"), default=D["pooling"],
                   help="how the recurrent steps become one vector: last state, mean or max over steps, or attention "
                        f"(a learned weighting of the steps) (default: {D['pooling']})")
    t.add_argument("--fcn", type=int_type(0, 100_000), default=D["fcn"], metavar="W",
                   help="a fully convolutional branch of W, 2W, W channels beside the recurrent one (LSTM-FCN); 0 for "
                        f"the recurrent network alone (default: {D['fcn']})")
    t.add_argument("--rnn-steps", type=int_type(0), default=D["rnn_steps"], metavar="S",
                   help="numeric input: the recurrent branch reads a series of T steps in at most S steps of "
                        f"ceil(T/S) consecutive values each; 0 for every step (default: {D['rnn_steps']})")
    t.add_argument("--normalize", choices=("feature", "series", "none"), default=D["normalize"],
                   help="numeric input: standardise each feature over the training data, z-normalise each series "
                        f"(each channel over its own steps), or neither (default: {D['normalize']})")
    t.add_argument("--chrono", type=int_type(0), default=0, metavar="T",
                   help="chrono gate initialisation for dependencies about T steps long (LSTM/GRU; default off)")
    t.add_argument("--embed", type=int_type(1, 1_000_000), default=32,
                   help="text only: embedding size, the size of token vectors (default 32)")
    t.add_argument("--level", choices=("word", "char"), default="word",
                   help="text only: tokens are words (and punctuation runs, lower-cased) or characters (default: word)")
    t.add_argument("--min-freq", type=int_type(1), default=1, help="text only: rarer tokens become <unk>")
    t.add_argument("--max-vocab", type=int_type(1), default=None,
                   help="text only: keep the most frequent tokens")
    add_training_options(t, epochs=D["epochs"], lr=D["lr"], batch_size=D["batch_size"], save=DEFAULT_SAVE)
    t.add_argument("--steps", type=int_type(1, 10**9), default=D["max_steps"], metavar="N",
                   help="the training budget in optimizer steps, on 36 sequences as on 100,000; the learning rate "
                        f"decays along a half cosine over it (default: {D['max_steps']})")
    t.add_argument("--patience", type=int_type(1), default=D["patience"], metavar="P",
                   help="hold out --val-fraction of the training data and stop after P epochs without a lower validation "
                        "loss, keeping the best epoch's weights (default: off)")
    t.add_argument("--val-fraction", type=float_type(0, 1, low_open=True, high_open=True), default=None,
                   metavar="F", help="with --patience: the validation fraction of the training data (default 0.1)")
    t.add_argument("--class-weight", choices=("none", "balanced"), default="none",
                   help="'balanced' weights the loss by n / (classes * count) for imbalanced data")
    t.add_argument("--test-size", type=float_type(0, 1, high_open=True), default=None,
                   help="held-out fraction for the printed metrics; 0 trains on everything (default: 0.2, and 0 "
                        "for a .ts file, whose archive has its own test file for 'predict')")
    t.set_defaults(func=train_command)

    q = sub.add_parser("predict", help="predict labels with a saved classifier; optionally explain one prediction",
                       description="Predict for --data (same formats as train; labels, if present, are scored) or "
                                   "for --text strings. --explain I shows which steps of input I mattered.")
    q.add_argument("--model", required=True, help="a model file written by 'seqlab classify train'")
    q.add_argument("--data", help="FILE.csv, FOLDER/<class>/<file>, FILE.npz or FILE.ts")
    add_csv_options(q)
    q.add_argument("--text", action="append", help="a text to classify (repeatable)")
    q.add_argument("--text-column", default="text", help="CSV column holding the text (default: text)")
    q.add_argument("--label-column", default="label", help="CSV column holding the label (default: label)")
    q.add_argument("--out", help="write predictions and probabilities to this CSV")
    q.add_argument("--explain", type=int_type(0), metavar="I", help="explain the prediction for input number I (0-based)")
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
          fcn=args.fcn, rnn_steps=args.rnn_steps or None, normalize=args.normalize, steps=args.steps,
          patience=args.patience, val_size=args.val_fraction,
          embedding_dim=args.embed, tokenizer=args.level, min_freq=args.min_freq,
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
