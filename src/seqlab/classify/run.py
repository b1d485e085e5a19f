"""The workflows behind ``seqlab classify``: plain functions of keyword arguments, callable
without argparse.

:func:`train` checks every input, holds out a stratified split, trains a
:class:`SequenceClassifier` on the one loop (a checkpoint next to the model file, ``resume``,
several processes under ``torchrun``), prints the held-out metrics, writes the model and removes
the checkpoint. :func:`predict` loads a model and prints (and optionally writes) predictions and
one explanation. Under ``torchrun`` only rank 0 prints and writes files.
"""

from __future__ import annotations

import os
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from ..cli_args import PLOT_SUFFIXES, check_output, check_outputs
from ..files import held_writes
from ..errors import SeqlabError, check_float
from ..train import Callback, History
from ..train import checkpoint as ckpt
from ..train.distributed import is_main_process
from ..utils import resolve_device, thread_policy
from .defaults import DEFAULTS as D
from .estimator import SequenceClassifier
from .explain import Explanation

DEFAULT_SAVE = "runs/classify/model.safetensors"


@dataclass
class Trained:
    """What :func:`train` did: the classifier, its per-epoch history, the held-out metrics
    (``None`` on processes other than rank 0), the model file written (``None`` there too) and
    this call's seconds of training."""

    classifier: SequenceClassifier
    history: History
    metrics: dict[str, Any] | None
    path: Path | None
    seconds: float


@dataclass
class Predicted:
    """What :func:`predict` printed: labels (N,), probabilities (N, C), metrics when the data
    had labels, and the explanation asked for."""

    labels: list
    proba: np.ndarray
    metrics: dict[str, Any] | None
    explanation: Explanation | None


def _load(data: str | os.PathLike | None, text_column: str, label_column: str, sep: str | None = ","):
    """``(X, lengths, labels, source)``: the digits for ``data=None``, else the file's contents."""
    from .data import load_data, load_digits_sequences

    if data is None:
        X, y = load_digits_sequences()
        return X, None, y, "digits (scikit-learn 8x8, read row by row)"
    X, lengths, y = load_data(data, text_column, label_column, sep=sep)
    if y is None:
        raise SeqlabError(f"--data: no labels in {str(data)!r} (CSV column {label_column!r} or array 'y'); "
                          "training needs one label per sequence")
    return X, lengths, y, str(data)


def train(*, data: str | os.PathLike | None = None, text_column: str = "text", label_column: str = "label",
          save: str | os.PathLike | None = None, resume: bool = False, cell: str = D["cell"],
          hidden: int = D["hidden_size"], layers: int = D["num_layers"], bidirectional: bool = D["bidirectional"],
          pooling: str = D["pooling"], dropout: float = D["dropout"], chrono: int = 0, fcn: int = D["fcn"],
          rnn_steps: int | None = D["rnn_steps"], normalize: str = D["normalize"],
          embedding_dim: int = 32, tokenizer: str = "word", min_freq: int = 1, max_vocab: int | None = None,
          epochs: int | None = D["epochs"], steps: int | None = D["max_steps"], minutes: float = 0.0,
          batch_size: int = D["batch_size"], lr: float = D["lr"], patience: int | None = D["patience"],
          val_size: float | None = D["validation_split"],
          class_weight: str | None = None, test_size: float | None = None, seed: int = 0, threads: int | None = 0,
          device: str = "auto", quiet: bool = False, checkpoint_minutes: float | None = 5.0,
          checkpoint_steps: int | None = None, callbacks: Sequence[Callback] = (), validate: bool = False,
          sep: str | None = ",") -> Trained:
    """Train a classifier on ``data`` (a .csv with text and label columns, a folder with one
    sub-folder per class, an .npz with X, y and optional lengths, a .ts file of the time-series
    archive; ``None``: the 8x8 digits), print the metrics on a held-out stratified ``test_size``
    split (None: 0.2, and 0 for a .ts file, whose archive comes with its own test file for
    :func:`predict`; 0: train on everything, print the training metrics), and save it to ``save`` (default
    runs/classify/model.safetensors, its folder created). The checkpoint goes next to ``save``
    (:func:`seqlab.train.checkpoint.checkpoint_path`) at every epoch end, every
    ``checkpoint_minutes`` and every ``checkpoint_steps`` steps; ``resume`` continues from it; it
    is removed once the model file is written. ``minutes`` 0 means no time limit. Everything is
    checked before training starts. ``callbacks`` go to the training loop; with ``validate`` the
    held-out split is also scored after every epoch (``val_loss``, ``val_accuracy`` in the logs the
    callbacks see; training never uses it), for monitoring; ``seqlab tune classify`` scores its
    trials on the ``val_size`` split carved from the training part instead.
    """
    from .data import as_padded, is_text, stratified_split
    from .metrics import format_confusion

    save = DEFAULT_SAVE if save is None else save
    if Path(save) == Path(DEFAULT_SAVE):  # the default's folder is made; any other must exist
        Path(save).parent.mkdir(parents=True, exist_ok=True)
    save = check_output(save, "--save")
    check_outputs({"--save": save}, {"--data": data})
    resolve_device(device)
    check_float("--minutes", minutes, 0, none="no time limit")
    if test_size is None:
        test_size = 0.0 if data is not None and _is_ts(data) else 0.2
    check_float("--test-size", test_size, 0, 1, high_open=True, meaning="the held-out fraction")
    if validate and patience is not None:
        raise SeqlabError("--patience: early stopping watches its own validation split; it cannot also report "
                          "the held-out split after every epoch")
    checkpoint = ckpt.checkpoint_path(save)
    if resume and not checkpoint.is_file():
        raise SeqlabError(f"--resume: no checkpoint at {str(checkpoint)!r} (a run with --save {str(save)!r} writes "
                          "one at each epoch end and removes it when it finishes); start without --resume")
    clf = SequenceClassifier(
        cell=cell, hidden_size=hidden, num_layers=layers, bidirectional=bidirectional, pooling=pooling,
        dropout=dropout, embedding_dim=embedding_dim, chrono=chrono, tokenizer=tokenizer, min_freq=min_freq,
        max_vocab=max_vocab, epochs=epochs, minutes=minutes or None, batch_size=batch_size, lr=lr,
        class_weight=class_weight, seed=seed, device=device, verbose=0 if quiet else 1,
        threads=None,  # None: the thread policy below covers training and evaluation alike
        fcn=fcn, rnn_steps=rnn_steps, normalize=normalize, max_steps=steps, patience=patience,
        validation_split=val_size)
    clf._check_options()
    X, lengths, y, source = _load(data, text_column, label_column, sep)
    text = is_text(X)
    if not text:
        X, lengths = as_padded(X, lengths)  # validates: empty sequences, NaN, shapes
    labels = data_labels(y, len(X), data, label_column)
    check_memory(X, text, cell=cell, hidden=hidden, layers=layers, bidirectional=bidirectional,
                 batch_size=batch_size, embedding_dim=embedding_dim, tokenizer=tokenizer, max_vocab=max_vocab,
                 device=device)
    if test_size > 0:
        train_idx, test_idx = stratified_split(labels, test_size, seed)
        if len(test_idx) == 0:
            raise SeqlabError(f"--test-size: the held-out split of {len(labels)} sequences is empty (a stratified "
                              f"{test_size:g} of each class, none from a class with one sequence); pass more --data, "
                              "a larger --test-size, or --test-size 0")
    else:  # everything trains; the metrics printed are the training data's
        train_idx = test_idx = np.arange(len(labels))  # in file order: the model the library fits on X
    if patience is not None and not validate:  # the estimator holds out its early-stopping split: said here
        fraction = val_size or 0.1
        if len(stratified_split([labels[i] for i in train_idx], fraction, seed or 0)[1]) == 0:
            raise SeqlabError(f"--val-fraction: the {len(train_idx)} training sequences leave no validation split for "
                              f"--patience (a stratified {fraction:g} of each class, none from a class with one "
                              "sequence); pass more --data, a larger --val-fraction, or no --patience")

    def take(idx):
        return [X[i] for i in idx] if text else X[idx]

    y_arr = np.empty(len(labels), dtype=object)
    y_arr[:] = labels
    main = is_main_process()
    if main:
        if text:
            what = f"{len(X)} texts"
        else:
            lo, hi = int(lengths.min()), int(lengths.max())
            what = f"{len(X)} sequences of {lo if lo == hi else f'{lo}-{hi}'} steps x {X.shape[2]} features"
        print(f"data: {source}: {what}, {len(set(map(str, labels)))} classes")
        print(f"split: {len(train_idx)} train / {len(test_idx)} held out (stratified, seed {seed})" if test_size > 0
              else f"split: all {len(train_idx)} train, none held out (--test-size 0)", flush=True)
    with thread_policy(threads):
        import torch

        n_threads = torch.get_num_threads()
        t0 = time.perf_counter()
        held = (take(test_idx), list(y_arr[test_idx])) + (() if text else (lengths[test_idx],))
        clf.fit(take(train_idx), list(y_arr[train_idx]), None if text else lengths[train_idx],
                checkpoint=checkpoint, resume=resume, checkpoint_minutes=checkpoint_minutes,
                checkpoint_steps=checkpoint_steps, callbacks=callbacks, validation_data=held if validate else None)
        seconds = time.perf_counter() - t0
        if not main:
            return Trained(clf, clf.history, None, None, seconds)
        r = clf.evaluate(take(test_idx), list(y_arr[test_idx]), None if text else lengths[test_idx])
    h, c = clf.history, clf.net.config
    why = f" ({h.stopped})" if h.stopped else ""
    print(f"model: {describe(c)}; {h.steps} steps ({len(h.epoch)} epochs){why} in {seconds:.1f} s on {n_threads} "
          f"thread{'s' if n_threads > 1 else ''}, final training loss {h['loss'][-1]:.4f}")
    what = "held-out" if test_size > 0 else "training"
    print(f"{what} accuracy: {r['accuracy']:.4f}   macro-F1: {r['macro_f1']:.4f}")
    print("confusion matrix (rows: true, columns: predicted):")
    print(format_confusion(r["confusion"], r["labels"]))
    clf.save(save)
    ckpt.discard(checkpoint)  # the model file is safely written: the run is over
    print(f"saved: {save}", flush=True)
    return Trained(clf, h, r, save, seconds)


def _labels_where(data: str | os.PathLike | None, label_column: str) -> str:
    """Where the labels of ``data`` come from, for messages."""
    if data is None:
        return "the digits' labels"
    p = Path(data)
    if p.is_dir():
        return "its class folders"
    if p.suffix.lower() == ".npz":
        return "its array 'y'"
    if _is_ts(p):
        return "its class labels"
    return f"column {label_column!r} (--label-column)"


def data_labels(y: Any, n: int, data: str | os.PathLike | None, label_column: str = "label") -> list:
    """The training labels of ``data`` checked (:func:`seqlab.classify.data.check_labels`), with
    errors that name --data and where its labels are, not the library's ``y``: continuous numbers
    (an .npz whose 'y' holds measurements) are refused with the fixes."""
    from .data import check_labels, continuous_label

    where = _labels_where(data, label_column)
    try:
        labels = check_labels(y, n, fitting=False)
    except SeqlabError as exc:
        raise SeqlabError(f"--data: the labels of {str(data)!r} ({where}): {str(exc).removeprefix('y: ')}") from None
    example = continuous_label(labels)
    if example is not None:
        raise SeqlabError(f"--data: the labels of {str(data)!r} ({where}) are continuous numbers (such as "
                          f"{example!r}), not classes; classify needs class labels: store whole numbers or strings "
                          f"there (bin or round the values), or, to predict the numbers, fit "
                          f"seqlab.classify.SequenceRegressor from Python (seqlab has no regression command)")
    classes = sorted(set(map(str, labels)))
    if len(classes) < 2:
        csv = where.startswith("column")
        raise SeqlabError(f"--data: {str(data)!r} holds a single class ({classes[0] if classes else None!r}) in "
                          f"{where}; a classifier needs at least 2: pass data with examples of 2 or more classes"
                          + (", or the right --label-column" if csv else ""))
    return labels


def split_sizes(labels: Sequence, test_size: float, val_size: float, seed: int = 0) -> tuple[int, int, int]:
    """``(train, test, validation)``: the sizes of the stratified splits :func:`train` makes of
    ``labels`` (``test_size`` 0: no test split, all train) and of the early-stopping split the
    classifier then holds out of the training part (``val_size``, the classifier's seed)."""
    from .data import stratified_split

    train_idx = np.arange(len(labels))
    n_test = 0
    if test_size > 0:
        train_idx, test_idx = stratified_split(labels, test_size, seed)
        n_test = len(test_idx)
    keep, held = stratified_split([labels[i] for i in train_idx], val_size, seed or 0)
    return len(keep), n_test, len(held)


def _is_ts(path: str | os.PathLike) -> bool:
    suffixes = [x.lower() for x in Path(path).suffixes[-2:]]
    return suffixes[-1:] == [".ts"] or suffixes == [".ts", ".gz"]


def describe(c) -> str:
    """One line naming the network of a :class:`ClassifierConfig`."""
    rec = f"{'bi' if c.bidirectional else ''}{c.cell.upper()} {c.num_layers}x{c.hidden_size}, pooling {c.pooling}"
    if c.patch > 1:
        rec += f", {c.patch} steps per recurrent step"
    conv = (f" beside an FCN {'-'.join(str(m * c.fcn) for m in (1, 2, 1))}" if c.fcn else "")
    return rec + conv + (f", vocabulary {c.vocab_size} tokens" if c.vocab_size else "")


def check_memory(X: Any, text: bool, *, cell: str, hidden: int, layers: int, bidirectional: bool,
                 batch_size: int, embedding_dim: int, tokenizer: str, max_vocab: int | None, device: str) -> None:
    """SeqlabError before training when the options cannot fit in memory (for texts the
    vocabulary is bounded by their distinct tokens)."""
    from ..resources import check_fits, recurrent_estimate

    if text:
        tokens = [t if tokenizer == "char" else t.split() for t in X]
        vocab = len({w for t in tokens for w in t}) + 4
        vocab = min(vocab, max_vocab + 4) if max_vocab else vocab
        steps, inputs = max(len(t) for t in tokens), 0
    else:
        vocab, steps, inputs = 0, int(X.shape[1]), int(X.shape[2])
    est = recurrent_estimate(cell=cell, inputs=inputs, hidden=hidden, layers=layers,
                             directions=2 if bidirectional else 1, batch=min(batch_size, len(X)),
                             steps=max(1, steps), vocab=vocab, embed=embedding_dim if text else 0, outputs=64)
    check_fits(est, "--hidden/--layers/--batch-size/--embed", resolve_device(device))


def predict(*, model: str | os.PathLike, data: str | os.PathLike | None = None, text: list[str] | None = None,
            text_column: str = "text", label_column: str = "label", out: str | os.PathLike | None = None,
            explain: int | None = None, method: str = "ig", plot: str | os.PathLike | None = None,
            color: str = "auto", threads: int | None = 0, device: str = "auto", sep: str | None = ",") -> Predicted:
    """Predict with the model file ``model`` for ``data`` (same forms as :func:`train`; labels, if
    present, are scored) or for the strings ``text``; print one line per input (all of them
    when there are at most 20 or no ``out``), write ``out`` (a CSV with one row per input, in
    input order: the columns identifying the input (:func:`input_columns`), then prediction,
    probability and p_<class>; :func:`prediction_table`) and explain input number ``explain``
    (``plot``: also draw it to an image). Every input is checked and every prediction made
    before a file is written."""
    from ..utils import is_interactive
    from .data import load_data
    from .explain import plot as plot_explanation
    from .explain import render
    from .metrics import format_confusion

    if (data is None) == (text is None):
        raise SeqlabError("predict: pass exactly one of --data FILE or --text TEXT")
    if plot and explain is None:
        raise SeqlabError("--plot: only with --explain I (the input whose importance to plot)")
    out = check_output(out, "--out")
    plot = check_output(plot, "--plot", PLOT_SUFFIXES)
    if plot:
        from ..plotting import require_matplotlib

        require_matplotlib("--plot")
    check_outputs({"--out": out, "--plot": plot}, {"--model": model, "--data": data})
    resolve_device(device)
    with thread_policy(threads):
        clf = SequenceClassifier.load(model, device=device)
        y = lengths = None
        if text is not None:
            X = list(text)
            if not clf.is_text:
                raise SeqlabError(f"--text: model {str(model)!r} classifies numeric sequences; pass --data FILE.npz")
            empty = [i for i, t in enumerate(X) if not t.strip()]
            if empty:
                raise SeqlabError(f"--text: text {empty[0] + 1} of the {len(X)} given is empty ({X[empty[0]]!r}); "
                                  "pass a text with words in it, or leave that --text out")
        else:
            X, lengths, y = load_data(data, text_column, label_column, sep=sep)
        proba = clf.predict_proba(X, lengths)  # validates everything before any output is written
        if y is not None:  # labels to score: of the model's classes
            _check_known(clf, y, len(X), data, label_column, model)
        n = len(proba)
        if explain is not None and not 0 <= explain < n:
            raise SeqlabError(f"--explain: expected an input number in [0, {n - 1}], got {explain}")
        expl = None
        if explain is not None:
            x = X[explain] if lengths is None else X[explain][: int(lengths[explain])]
            expl = clf.explain(x, method=method)
        pred = [clf.classes_[i] for i in proba.argmax(1)]
        r = clf.evaluate(X, y, lengths) if y is not None else None
        ids = (input_columns(data, n, y, sep) if data is not None else _frame({"text": X})) if out else None
    with held_writes():  # both or neither: a plot that fails leaves an earlier --out file as it was
        if out:
            from ..files import atomic_write_text

            atomic_write_text(out, prediction_table(ids, pred, proba, clf.classes_).to_csv(index=False))
        if plot:
            plot_explanation(expl, plot)

    show = n if n <= 20 or not out else 0
    for i in range(show):
        item = f"  {X[i][:60]!r}" if clf.is_text else ""
        print(f"{i}\t{pred[i]}\t{proba[i].max():.3f}{item}")
    if out:
        print(f"wrote {n} predictions to {out}")
    elif n > show:
        print(f"... {n - show} more")
    if r is not None:
        print(f"accuracy: {r['accuracy']:.4f}   macro-F1: {r['macro_f1']:.4f}")
        print("confusion matrix (rows: true, columns: predicted):")
        print(format_confusion(r["confusion"], r["labels"]))
    if expl is not None:
        on = color == "always" or (color == "auto" and is_interactive(sys.stdout))
        print(render(expl, color=on))
        if plot:
            print(f"plot: {plot}")
    return Predicted(pred, proba, r, expl)


def _check_known(clf: SequenceClassifier, y: Any, n: int, data: str | os.PathLike, label_column: str,
                 model: str | os.PathLike) -> None:
    """SeqlabError naming --data when the labels of ``data`` (scored after predicting) include
    classes the model was not trained on."""
    labels = clf._labels(y, n, fitting=False)
    classes = clf.classes_.tolist()
    unknown = sorted({str(v) for v in labels if v not in classes})
    if not unknown:
        return
    shown = f"{unknown[:5]}" + (f" and {len(unknown) - 5} more" if len(unknown) > 5 else "")
    if Path(data).is_dir():
        raise SeqlabError(f"--data: the class folder(s) {shown} of {str(data)!r} are not classes of model "
                          f"{str(model)!r} (its classes: {classes}); name each class folder after one of the "
                          "model's classes, or move those files into one that is")
    where = _labels_where(data, label_column)
    fix = ("pass the right --label-column, or a --label-column that is not a column of the file to predict "
           "without scoring" if where.startswith("column") else "pass data labelled with the model's classes")
    raise SeqlabError(f"--data: {where} of {str(data)!r} holds labels the model {str(model)!r} was not trained on: "
                      f"{shown} (its classes: {classes}); {fix}")


def _frame(columns: dict[str, Any]):
    import pandas as pd

    return pd.DataFrame(columns)


def input_columns(data: str | os.PathLike, n: int, labels: Sequence | None = None, sep: str | None = ","):
    """The columns that identify each of the ``n`` inputs of ``data``, one row per input in the
    order :func:`seqlab.classify.data.load_data` reads them (a DataFrame):

    * a CSV: all its columns as read (strings, ids such as 00017 kept as written), the text and
      label columns included;
    * a folder: ``path`` (the file, relative to the folder, with '/': ``<class>/<file>``, or
      ``<class>/<sub-folder>/<file>``) and ``label`` (its class folder), in the order of sorted
      class folders, then sorted relative paths (:func:`seqlab.classify.data.folder_files`);
    * an .npz or .ts file: ``row`` (0-based index in the file) and ``label`` when the file has labels.
    """
    from ..files import read_csv

    p = Path(data)
    if p.is_dir():  # the walk of seqlab.classify.data.load_folder
        from .data import folder_files

        rows = [(rel, label) for _, rel, label in folder_files(p)]
        df = _frame({"path": [r[0] for r in rows], "label": [r[1] for r in rows]})
        if labels is not None and len(df) == n and list(df["label"]) != list(labels):
            raise SeqlabError(f"--data: folder {str(data)!r} changed while it was read; run again on a folder "
                              "that is not being written")
    elif _is_ts(p) or p.suffix.lower() == ".npz":
        df = _frame({"row": np.arange(n)})
        if labels is not None:
            df["label"] = [v.item() if isinstance(v, np.generic) else v for v in labels]
    else:
        suffixes = [s.lower() for s in p.suffixes[-2:]]
        sep = "\t" if ".tsv" in suffixes and sep == "," else sep  # as load_data reads a .tsv
        df = read_csv(p, "--data", sep, dtype=str, keep_default_na=False)
    if len(df) != n:  # the file changed between the two reads
        raise SeqlabError(f"--data: {str(data)!r} changed while it was read ({len(df)} rows now, {n} predicted); "
                          "run again on a file that is not being written")
    return df


def prediction_table(ids, pred: Sequence, proba: np.ndarray, classes: Sequence):
    """``ids`` (a DataFrame of the input's columns, or None) followed by the prediction columns
    ``prediction``, ``probability`` (of the predicted class) and ``p_<class>`` for each class.

    The prediction columns keep their names; an input column of the same name is renamed
    ``input_<name>`` (``input_input_<name>`` if that is taken too, and so on)."""
    import pandas as pd

    preds = pd.DataFrame({"prediction": pred, "probability": proba.max(1)})
    for j, c in enumerate(classes):
        preds[f"p_{c}"] = proba[:, j]
    if ids is None:
        return preds
    taken = set(preds.columns) | {str(c) for c in ids.columns}
    names = {}
    for c in ids.columns:
        if str(c) in preds.columns:
            new = f"input_{c}"
            while new in taken:
                new = f"input_{new}"
            taken.add(new)
            names[c] = new
    ids = ids.rename(columns=names).reset_index(drop=True)
    return pd.concat([ids, preds], axis=1)


__all__ = ["DEFAULT_SAVE", "Predicted", "Trained", "data_labels", "input_columns", "predict", "prediction_table",
           "split_sizes", "train"]
