"""``seqlab classify train`` and ``seqlab classify predict``: parse arguments, call the library."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

DEFAULT_OUT = "runs/classify/model.safetensors"


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "classify", help="label whole sequences (numeric or text) with an RNN, LSTM or GRU",
        description="Sequence classification. 'seqlab classify train' with no --data trains on scikit-learn's "
                    "8x8 digits read row by row (8 steps of 8 pixels) and prints held-out metrics.",
    )
    sub = p.add_subparsers(dest="action", metavar="ACTION", parser_class=type(p))
    p.set_defaults(func=lambda args: (p.print_help(), 2)[1])

    t = sub.add_parser("train", help="train a classifier, print held-out accuracy, macro-F1 and the confusion matrix",
                       description="Train on --data (a .csv with text and label columns, a folder with one sub-folder "
                                   "per class, or an .npz with X, y and optional lengths) or, with no --data, on the "
                                   "8x8 digits. A stratified --test-size split is held out for the metrics.")
    t.add_argument("--data", help="training data: FILE.csv, FOLDER/<class>/<file>, or FILE.npz (default: digits)")
    t.add_argument("--text-column", default="text", help="CSV column holding the text (default: text)")
    t.add_argument("--label-column", default="label", help="CSV column holding the label (default: label)")
    t.add_argument("--save", "--out", dest="out", default=DEFAULT_OUT,
                   help=f"model file to write (default: {DEFAULT_OUT}); --out is the same option")
    from ..nn.registry import cell_names  # the one cell table (imports no torch)
    t.add_argument("--cell", choices=cell_names(), default="lstm")
    t.add_argument("--hidden-size", type=int, default=64)
    t.add_argument("--layers", type=int, default=1)
    t.add_argument("--direction", choices=("bi", "uni"), default="bi", help="bidirectional or not (default: bi)")
    t.add_argument("--pooling", choices=("last", "mean", "max"), default="mean",
                   help="how steps become one vector: last state, mean or max over steps (default: mean)")
    t.add_argument("--dropout", type=float, default=0.2)
    t.add_argument("--chrono", type=int, default=0, metavar="T",
                   help="chrono gate initialisation for dependencies about T steps long (LSTM/GRU; default off)")
    t.add_argument("--embedding-dim", type=int, default=32, help="text only: size of token vectors")
    t.add_argument("--tokenizer", choices=("word", "char"), default="word", help="text only (default: word)")
    t.add_argument("--min-freq", type=int, default=1, help="text only: rarer tokens become <unk>")
    t.add_argument("--max-vocab", type=int, default=None, help="text only: keep the most frequent tokens")
    t.add_argument("--epochs", type=int, default=30)
    t.add_argument("--batch-size", type=int, default=32)
    t.add_argument("--lr", type=float, default=3e-3)
    t.add_argument("--class-weight", choices=("none", "balanced"), default="none",
                   help="'balanced' weights the loss by n / (classes * count) for imbalanced data")
    t.add_argument("--test-size", type=float, default=0.2, help="held-out fraction (default: 0.2)")
    t.add_argument("--seed", type=int, default=0)
    t.add_argument("--device", default="auto")
    t.add_argument("--threads", type=int, default=0,
                   help="torch CPU threads (default 0: as many as the load average leaves idle cores, at least 1)")
    t.add_argument("--quiet", action="store_true", help="no progress bar")
    t.set_defaults(func=train_command)

    q = sub.add_parser("predict", help="predict labels with a saved classifier; optionally explain one prediction",
                       description="Predict for --data (same formats as train; labels, if present, are scored) or "
                                   "for --text strings. --explain I shows which steps of input I mattered.")
    q.add_argument("--model", required=True, help="a model file written by 'seqlab classify train'")
    q.add_argument("--data", help="FILE.csv, FOLDER/<class>/<file> or FILE.npz")
    q.add_argument("--text", action="append", help="a text to classify (repeatable)")
    q.add_argument("--text-column", default="text")
    q.add_argument("--label-column", default="label")
    q.add_argument("--out", help="write predictions and probabilities to this CSV")
    q.add_argument("--explain", type=int, metavar="I", help="explain the prediction for input number I (0-based)")
    q.add_argument("--method", choices=("grad", "ig"), default="ig",
                   help="gradient x input or integrated gradients (default: ig)")
    q.add_argument("--plot", help="with --explain: also save the importance plot to this image file")
    q.add_argument("--color", choices=("auto", "always", "never"), default="auto",
                   help="highlight important steps with terminal colours (default: auto, on a terminal)")
    q.set_defaults(func=predict_command)


def _check_out(path: str | None, what: str) -> None:
    from ..errors import SeqlabError

    if path is None:
        return
    p = Path(path)
    if p.is_dir():
        raise SeqlabError(f"{what}: {path!r} is a folder; give a file name")
    if not p.parent.exists() and what != "--out (model)":
        raise SeqlabError(f"{what}: folder {str(p.parent)!r} does not exist; create it first")


def train_command(args: argparse.Namespace) -> int:
    import time

    import numpy as np

    from ..errors import SeqlabError
    from ..utils import limit_threads, threads_option
    from .data import is_text, load_data, load_digits_sequences, stratified_split
    from .estimator import SequenceClassifier
    from .metrics import format_confusion

    _check_out(args.out, "--out (model)")
    threads = threads_option(args.threads)
    if args.data is None:
        X, y = load_digits_sequences()
        lengths = None
        source = "digits (scikit-learn 8x8, read row by row)"
    else:
        X, lengths, y = load_data(args.data, args.text_column, args.label_column)
        source = args.data
        if y is None:
            raise SeqlabError(f"--data: no labels in {args.data!r} (CSV column {args.label_column!r} or array 'y'); "
                              "training needs one label per sequence")
    clf = SequenceClassifier(
        cell=args.cell, hidden_size=args.hidden_size, num_layers=args.layers, bidirectional=args.direction == "bi",
        pooling=args.pooling, dropout=args.dropout, embedding_dim=args.embedding_dim, chrono=args.chrono,
        tokenizer=args.tokenizer,
        min_freq=args.min_freq, max_vocab=args.max_vocab, epochs=args.epochs, batch_size=args.batch_size,
        lr=args.lr, class_weight=None if args.class_weight == "none" else "balanced", seed=args.seed,
        device=args.device, verbose=0 if args.quiet else 1,
    )
    text = is_text(X)
    if not text:
        from .data import as_padded

        X, lengths = as_padded(X, lengths)  # validates: empty sequences, NaN, shapes
    from .data import check_labels

    labels = check_labels(y, len(X))
    train, test = stratified_split(labels, args.test_size, args.seed)
    if len(test) == 0:
        raise SeqlabError("--test-size: the held-out split is empty; use more data or a larger --test-size")

    def take(idx):
        return [X[i] for i in idx] if text else X[idx]

    y_arr = np.empty(len(labels), dtype=object)
    y_arr[:] = labels
    if text:
        what = f"{len(X)} texts"
    else:
        lo, hi = int(lengths.min()), int(lengths.max())
        what = f"{len(X)} sequences of {lo if lo == hi else f'{lo}-{hi}'} steps x {X.shape[2]} features"
    print(f"data: {source}: {what}, {len(set(map(str, labels)))} classes")
    print(f"split: {len(train)} train / {len(test)} held out (stratified, seed {args.seed})")
    t0 = time.perf_counter()
    with limit_threads(threads):
        clf.fit(take(train), list(y_arr[train]), None if text else lengths[train])
    dt = time.perf_counter() - t0
    c = clf.net.config
    print(f"model: {'bi' if c.bidirectional else ''}{c.cell.upper()} {c.num_layers}x{c.hidden_size}, pooling {c.pooling}"
          + (f", vocabulary {c.vocab_size} tokens" if c.vocab_size else "")
          + f"; {args.epochs} epochs in {dt:.1f} s on {threads} thread{'s' if threads > 1 else ''}, "
          f"final training loss {clf.history[-1]:.4f}")
    r = clf.evaluate(take(test), list(y_arr[test]), None if text else lengths[test])
    print(f"held-out accuracy: {r['accuracy']:.4f}   macro-F1: {r['macro_f1']:.4f}")
    print("confusion matrix (rows: true, columns: predicted):")
    print(format_confusion(r["confusion"], r["labels"]))
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    clf.save(args.out)
    print(f"saved: {args.out}")
    return 0


def predict_command(args: argparse.Namespace) -> int:
    from ..errors import SeqlabError
    from ..utils import is_interactive
    from .data import load_data
    from .estimator import SequenceClassifier
    from .explain import plot, render
    from .metrics import format_confusion

    if (args.data is None) == (args.text is None):
        raise SeqlabError("predict: pass exactly one of --data FILE or --text TEXT")
    if args.plot and args.explain is None:
        raise SeqlabError("--plot: only with --explain I (the input whose importance to plot)")
    _check_out(args.out, "--out")
    _check_out(args.plot, "--plot")
    clf = SequenceClassifier.load(args.model)
    y = lengths = None
    if args.text is not None:
        X = list(args.text)
        if not clf.is_text:
            raise SeqlabError(f"--text: model {args.model!r} classifies numeric sequences; pass --data FILE.npz")
    else:
        X, lengths, y = load_data(args.data, args.text_column, args.label_column)
    proba = clf.predict_proba(X, lengths)  # validates everything before any output is written
    n = len(proba)
    if args.explain is not None and not 0 <= args.explain < n:
        raise SeqlabError(f"--explain: expected an input number in [0, {n - 1}], got {args.explain}")
    expl = None
    if args.explain is not None:
        x = X[args.explain] if lengths is None else X[args.explain][: int(lengths[args.explain])]
        expl = clf.explain(x, method=args.method)
    pred = [clf.classes_[i] for i in proba.argmax(1)]
    r = clf.evaluate(X, y, lengths) if y is not None else None
    if args.out:
        import pandas as pd

        from ..io import atomic_write_text

        df = pd.DataFrame({"prediction": pred, "probability": proba.max(1)})
        for j, c in enumerate(clf.classes_):
            df[f"p_{c}"] = proba[:, j]
        atomic_write_text(args.out, df.to_csv(index=False))
    if args.plot:
        plot(expl, args.plot)

    show = n if n <= 20 or not args.out else 0
    for i in range(show):
        item = f"  {X[i][:60]!r}" if clf.is_text else ""
        print(f"{i}\t{pred[i]}\t{proba[i].max():.3f}{item}")
    if args.out:
        print(f"wrote {n} predictions to {args.out}")
    elif n > show:
        print(f"... {n - show} more")
    if r is not None:
        print(f"accuracy: {r['accuracy']:.4f}   macro-F1: {r['macro_f1']:.4f}")
        print("confusion matrix (rows: true, columns: predicted):")
        print(format_confusion(r["confusion"], r["labels"]))
    if expl is not None:
        color = args.color == "always" or (args.color == "auto" and is_interactive(sys.stdout))
        print(render(expl, color=color))
        if args.plot:
            print(f"plot: {args.plot}")
    return 0
