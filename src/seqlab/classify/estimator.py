"""``SequenceClassifier``: fit, predict, evaluate, explain, save and load.

A small estimator around :class:`ClassifierNet`: it turns user data (numeric sequences or text)
into padded tensors with lengths, trains them as a :class:`~seqlab.classify.task.ClassifierTask`
on the one training loop (Adam, a cosine learning-rate decay to 0 over the run, a weighted
cross-entropy, gradient clipping, checkpoints and resume, several processes under ``torchrun``),
and keeps what prediction needs (label names, vocabulary, feature scaling) so a saved model
predicts the same after loading.
"""

from __future__ import annotations

import os
from dataclasses import asdict, replace
from typing import Any, Mapping, Sequence

import numpy as np
import torch

from ..errors import ModelFileError, SeqlabError, check_float, check_int, check_positive_int
from ..train import Callback, History, TrainConfig, train
from ..utils import resolve_device, seed_everything
from ..vocab import Vocabulary
from .data import as_padded, check_labels, is_text, znormalize
from .explain import Explanation, attribute
from .metrics import accuracy, confusion_matrix, macro_f1
from .model import ClassifierConfig, ClassifierNet
from .task import ClassifierTask, cut
from .vocab import pad_ids, text_config

KIND = "classifier"
#: the training settings a model file records (and :meth:`SequenceClassifier.load` restores)
TRAIN_KEYS = ("epochs", "max_steps", "minutes", "batch_size", "lr", "weight_decay", "clipnorm", "class_weight",
              "validation_split", "patience", "seed")
#: how numeric input is scaled: per feature over the training data, per series (and channel), or not
NORMALIZE = ("feature", "series", "none")


def _label_key(v: Any) -> tuple:
    return (str(type(v).__name__), v)


def class_weights(labels: Sequence, classes: Sequence, mode: str | Mapping | None) -> np.ndarray | None:
    """Per-class loss weights. 'balanced': ``n / (C * count_c)``; a mapping: label -> weight (others 1)."""
    if mode is None:
        return None
    if mode == "balanced":
        counts = np.array([sum(1 for v in labels if v == c) for c in classes], dtype=float)
        return len(labels) / (len(classes) * counts)
    if isinstance(mode, Mapping):
        unknown = [k for k in mode if k not in classes]
        if unknown:
            raise SeqlabError(f"class_weight: {unknown[0]!r} is not one of the classes {list(classes)}")
        w = np.array([float(mode.get(c, 1.0)) for c in classes])
        if not np.all(np.isfinite(w)) or np.any(w <= 0):
            raise SeqlabError(f"class_weight: weights must be positive numbers, got {dict(mode)}")
        return w
    raise SeqlabError(f"class_weight: expected None, 'balanced' or a mapping label -> weight, got {mode!r}")


class SequenceClassifier:
    """Classify whole sequences (numeric or text) with a recurrent network of any seqlab cell,
    optionally beside a fully convolutional one (LSTM-FCN).

    >>> clf = SequenceClassifier(cell="gru", hidden_size=32, pooling="mean", epochs=10)
    >>> clf = SequenceClassifier(**seqlab.classify.defaults.estimator_options())  # the command's
    >>> clf.fit(list_of_arrays, labels)            # or a 3-D array, or (padded, lengths=...), or texts
    >>> clf.predict(new_sequences); clf.predict_proba(new_sequences)   # (N,) labels; (N, C)

    Text: ``tokenizer`` 'word' or 'char', ``min_freq``, ``max_vocab``; tokens unseen in training
    map to ``<unk>`` at prediction time. Numeric input is scaled by ``normalize``: 'feature'
    standardises each feature with the training mean and standard deviation, 'series' z-normalises
    each series (each channel over its own steps, as the time-series archive's methods do),
    'none' leaves it (``standardize=False`` is the old spelling of 'none').

    Stronger models (see :mod:`seqlab.classify.model`): ``fcn`` = W > 0 adds a fully
    convolutional branch beside the recurrent one (LSTM-FCN); ``pooling='attention'``;
    ``rnn_steps`` = S lets the recurrent branch read a series of T steps as at most S patches of
    ceil(T / S) consecutive steps (None: every step).

    Training (:attr:`train_config`, a :class:`seqlab.train.TrainConfig`): at most ``epochs``
    passes, ``max_steps`` optimizer steps and ``minutes`` of training (None or 0: no limit), Adam
    at ``lr`` with ``weight_decay``, decayed along a half cosine to 0 over the budget, gradients
    clipped to norm ``clipnorm`` (None: off), ``batch_size`` sequences per step (per process under
    ``torchrun``), ``threads`` CPU threads (0: the cores the machine's load leaves idle; None:
    torch's setting). With ``patience`` = P, a stratified ``validation_split`` (default 0.1) of
    the training data is held out (unless ``fit`` gets ``validation_data``), training stops after
    P epochs without a lower validation loss, and the best epoch's weights are restored.
    """

    def __init__(self, cell: str = "lstm", hidden_size: int = 64, num_layers: int = 1, bidirectional: bool = False,
                 pooling: str = "last", dropout: float = 0.0, embedding_dim: int = 32, chrono: int = 0,
                 tokenizer: str = "word",
                 lowercase: bool = True, min_freq: int = 1, max_vocab: int | None = None, standardize: bool = True,
                 epochs: int | None = 30, batch_size: int = 32, lr: float = 3e-3, weight_decay: float = 0.0,
                 clipnorm: float | None = 1.0, class_weight: str | Mapping | None = None, seed: int | None = 0,
                 device: str = "auto", verbose: int = 1, minutes: float | None = None, threads: int | None = 0,
                 fcn: int = 0, rnn_steps: int | None = None, normalize: str = "feature", max_steps: int | None = None,
                 patience: int | None = None, validation_split: float | None = None) -> None:
        self.model_options = dict(cell=cell, hidden_size=hidden_size, num_layers=num_layers, bidirectional=bidirectional,
                                  pooling=pooling, dropout=dropout, embedding_dim=embedding_dim, chrono=chrono)
        ClassifierConfig(num_classes=2, input_size=1, **self.model_options)  # validate now, not after loading data
        self.text_config = text_config(tokenizer, lowercase, min_freq, max_vocab)
        self.standardize = bool(standardize)
        if not (class_weight is None or class_weight == "balanced" or isinstance(class_weight, Mapping)):
            raise SeqlabError(f"class_weight: expected None, 'balanced' or a mapping label -> weight, got {class_weight!r}")
        self.class_weight = class_weight
        check_positive_int("batch_size", batch_size)
        self.batch_size = batch_size
        self.train_config = TrainConfig(epochs=epochs, max_steps=max_steps, minutes=minutes or None, lr=lr,
                                        weight_decay=weight_decay,
                                        clipnorm=clipnorm, schedule="cosine", min_lr=0.0, seed=seed,
                                        device=str(device), threads=threads, verbose=verbose)
        self.net: ClassifierNet | None = None
        self.classes_: list = []
        self.vocab: Vocabulary | None = None
        self.mean_: np.ndarray | None = None
        self.std_: np.ndarray | None = None
        self.history = History()  # per-epoch 'loss' (and 'val_loss', 'val_accuracy' with validation_data)
        # plain attributes, checked in fit()
        self.fcn = fcn
        self.rnn_steps = rnn_steps
        self.normalize = normalize
        self.max_steps = max_steps
        self.patience = patience
        self.validation_split = validation_split

    # -- data to tensors -----------------------------------------------------------------------
    @property
    def is_text(self) -> bool:
        return self.vocab is not None

    def _check_fitted(self) -> ClassifierNet:
        if self.net is None:
            raise SeqlabError("this classifier is not trained yet; call fit(X, y) or load a saved model")
        return self.net

    def _encode(self, X: Any, lengths: Any = None) -> tuple[torch.Tensor, torch.Tensor, list[list[str]] | None]:
        """User data -> ``(x (N, T) ids or (N, T, F) floats, lengths (N,), tokens per text or None)``."""
        text = is_text(X)
        if self.net is not None and text != self.is_text:
            want = "texts (strings)" if self.is_text else "numeric sequences"
            raise SeqlabError(f"X: this model reads {want}, got {'texts' if text else 'numeric sequences'}")
        if text:
            if lengths is not None:
                raise SeqlabError("lengths: not used for text; each text's length is its number of tokens")
            tokens = [self.vocab.tokenize(t) for t in X]
            empty = [i for i, t in enumerate(tokens) if not t]
            if empty:
                raise SeqlabError(f"X: text {empty[0]} has no tokens ({X[empty[0]]!r}); remove empty texts")
            ids, lens = pad_ids([self.vocab.to_ids(ts, unknown="replace") for ts in tokens])
            return torch.from_numpy(ids), torch.from_numpy(lens), tokens
        F_ = self.net.config.input_size if self.net is not None else None
        x, lens = as_padded(X, lengths, F_)
        if self._normalize() == "series":
            x = znormalize(x, lens)
        if self.mean_ is not None:
            valid = np.arange(x.shape[1])[None, :] < lens[:, None]  # (N, T)
            x = np.where(valid[..., None], (x - self.mean_) / self.std_, 0.0).astype(np.float32)
        return torch.from_numpy(x), torch.from_numpy(lens), None

    def _normalize(self) -> str:
        mode = "none" if not self.standardize and self.normalize == "feature" else self.normalize
        if mode not in NORMALIZE:
            raise SeqlabError(f"normalize: expected one of {NORMALIZE}, got {self.normalize!r}")
        return mode

    def _batches(self, x: torch.Tensor, lengths: torch.Tensor, batch_size: int, device):
        for b in range(0, len(lengths), batch_size):
            idx = torch.arange(b, min(b + batch_size, len(lengths)))
            xb, lb = cut(x, lengths, idx)  # (b, T_batch[, F]): cut to the batch's longest
            yield idx, xb.to(device), lb

    # -- training ------------------------------------------------------------------------------
    def fit(self, X: Any, y: Sequence, lengths: Any = None, *, validation_data: tuple | None = None,
            callbacks: Sequence[Callback] = (), checkpoint: str | os.PathLike | None = None, resume: bool = False,
            checkpoint_steps: int | None = None, checkpoint_minutes: float | None = 5.0) -> "SequenceClassifier":
        """Train on sequences ``X`` with labels ``y`` (see :mod:`seqlab.classify.data` for forms).

        ``validation_data``: ``(X_val, y_val)`` or ``(X_val, y_val, lengths_val)``, scored after
        every epoch (``val_loss``, ``val_accuracy`` in :attr:`history`); with ``patience`` and no
        ``validation_data``, a stratified ``validation_split`` of ``X`` is held out for it.
        ``callbacks``: instances of :class:`seqlab.train.Callback`. ``checkpoint``: a file to write
        at each epoch end, every ``checkpoint_minutes`` and every ``checkpoint_steps`` optimizer
        steps; ``resume=True`` continues the interrupted run it holds (same data and settings),
        ending with the weights of an uninterrupted run (bit-identical on CPU with the same
        ``seed`` and one thread).
        """
        text = is_text(X)
        normalize = self._check_options()
        self.net, self.vocab, self.mean_, self.std_ = None, None, None, None
        if text:
            X = list(X)
            labels = check_labels(y, len(X))
        else:
            X, lengths = as_padded(X, lengths)
            labels = check_labels(y, len(X))
        if self.patience is not None and validation_data is None:  # a stratified split of the training data
            from .data import stratified_split

            keep, held = stratified_split(labels, self.validation_split or 0.1, self.train_config.seed or 0)
            if len(held) == 0:
                raise SeqlabError(f"validation_split: {len(labels)} sequences leave no validation split; pass more "
                                  "data, a larger validation_split or validation_data, or no patience")
            keep, held = np.sort(keep), np.sort(held)
            if text:
                validation_data = ([X[i] for i in held], [labels[i] for i in held])
                X = [X[i] for i in keep]
            else:
                validation_data = (X[held], [labels[i] for i in held], lengths[held])
                X, lengths = X[keep], lengths[keep]
            labels = [labels[i] for i in keep]
        if text:
            self.vocab = Vocabulary.build(X, self.text_config)
            x, lens, _ = self._encode(X)
            cfg = ClassifierConfig(num_classes=2, vocab_size=len(self.vocab), fcn=self.fcn, **self.model_options)
        else:
            if normalize == "feature":
                valid = np.arange(X.shape[1])[None, :] < lengths[:, None]  # (N, T)
                steps = X[valid]  # (sum of lengths, F)
                self.mean_ = steps.mean(0)
                self.std_ = np.maximum(steps.std(0), 1e-6).astype(np.float32)
            x, lens, _ = self._encode(X, lengths)
            patch = 1 if not self.rnn_steps else max(1, -(-int(lengths.max()) // self.rnn_steps))  # ceil(T_max / S)
            cfg = ClassifierConfig(num_classes=2, input_size=int(X.shape[2]), fcn=self.fcn, patch=patch,
                                   **self.model_options)
        self.classes_ = sorted(set(labels), key=_label_key)
        cfg.num_classes = len(self.classes_)
        target = self._targets(labels, "y")
        w = class_weights(labels, self.classes_, self.class_weight)
        config = replace(self.train_config, checkpoint=None if checkpoint is None else str(checkpoint), resume=resume,
                         checkpoint_steps=checkpoint_steps, checkpoint_minutes=checkpoint_minutes,
                         max_steps=self.max_steps)
        if self.patience is not None:
            config = replace(config, monitor="val_loss", mode="min", patience=self.patience, restore_best=True)

        seed_everything(config.seed)  # the initial weights follow the seed
        self.net = net = ClassifierNet(cfg)
        try:
            val = self._validation(validation_data)  # checked against the new network's input
        except SeqlabError:
            self.net = None
            raise
        weight = None if w is None else torch.tensor(w, dtype=torch.float32)
        task = ClassifierTask(net, x, lens, target, self.batch_size, weight, val)
        self.history = train(task, config, callbacks)
        net.eval()
        return self

    def _check_options(self) -> str:
        """Check the options kept as plain attributes; returns the normalisation to apply."""
        check_int("fcn", self.fcn, 0, meaning="0 for no convolutional branch")
        check_int("rnn_steps", self.rnn_steps, 1, none="every step")
        check_int("max_steps", self.max_steps, 1, none="no step limit")
        check_int("patience", self.patience, 1, none="no early stopping")
        check_float("validation_split", self.validation_split, 0, 1, low_open=True, high_open=True,
                    none="0.1 with patience")
        if self.train_config.epochs is None and self.max_steps is None and self.train_config.minutes is None:
            raise SeqlabError("epochs, max_steps, minutes: set at least one limit, or training never stops")
        return self._normalize()

    def _targets(self, labels: Sequence, name: str) -> torch.Tensor:
        """Labels -> class indices (N,) in the order of ``classes_``."""
        index = {c: i for i, c in enumerate(self.classes_)}
        unknown = sorted({str(v) for v in labels if v not in index})
        if unknown:
            raise SeqlabError(f"{name}: labels {unknown[:5]} were not seen in training (classes: {self.classes_})")
        return torch.tensor([index[v] for v in labels], dtype=torch.long)

    def _validation(self, data: tuple | None) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor] | None:
        """``(X, y[, lengths])`` -> ``(x, lengths, class indices)``, checked like prediction input."""
        if data is None:
            return None
        if not isinstance(data, (tuple, list)) or len(data) not in (2, 3):
            raise SeqlabError("validation_data: expected a tuple (X_val, y_val) or (X_val, y_val, lengths_val), "
                              f"got {type(data).__name__}" + (f" of length {len(data)}" if isinstance(data, (tuple, list)) else ""))
        vx, vl, _ = self._encode(data[0], data[2] if len(data) == 3 else None)
        return vx, vl, self._targets(check_labels(data[1], len(vl), fitting=False), "validation_data labels")

    # -- prediction ----------------------------------------------------------------------------
    @torch.no_grad()
    def predict_proba(self, X: Any, lengths: Any = None, batch_size: int = 256) -> np.ndarray:
        """Class probabilities (N, C), columns in the order of ``classes_``."""
        net = self._check_fitted()
        x, lens, _ = self._encode(X, lengths)
        device = next(net.parameters()).device
        net.eval()
        out = np.zeros((len(lens), len(self.classes_)), dtype=np.float64)  # (N, C)
        for idx, xb, lb in self._batches(x, lens, batch_size, device):
            out[idx.numpy()] = torch.softmax(net(xb, lb).double(), -1).cpu().numpy()
        return out

    def predict(self, X: Any, lengths: Any = None) -> np.ndarray:
        """Predicted labels (N,), the same values (and types) as the training labels."""
        proba = self.predict_proba(X, lengths)
        labels = np.empty(len(proba), dtype=object)
        labels[:] = [self.classes_[i] for i in proba.argmax(1)]
        return labels

    def evaluate(self, X: Any, y: Sequence, lengths: Any = None) -> dict:
        """``{"accuracy", "macro_f1", "confusion" (C, C), "labels"}`` on labelled data."""
        pred = self.predict(X, lengths)
        labels = check_labels(y, len(pred), fitting=False)
        unknown = sorted({str(v) for v in labels if v not in self.classes_})
        if unknown:
            raise SeqlabError(f"y: labels {unknown[:5]} were not seen in training (classes: {self.classes_})")
        return {
            "accuracy": accuracy(labels, pred),
            "macro_f1": macro_f1(labels, pred),  # over the classes present in y or predicted
            "confusion": confusion_matrix(labels, pred, self.classes_),
            "labels": list(self.classes_),
        }

    def explain(self, x: Any, method: str = "grad", target: Any = None, steps: int = 64) -> Explanation:
        """Per-step importance for one sequence ``x`` (a string, or an array (T, F) or (T,)).

        ``target`` is the label to explain (default: the predicted one).
        """
        net = self._check_fitted()
        X = [x]
        xt, lens, tokens = self._encode(X)
        device = next(net.parameters()).device
        with torch.no_grad():
            proba = torch.softmax(net(xt.to(device), lens).double(), -1)[0].cpu().numpy()
        pred = int(proba.argmax())
        if target is None:
            t = pred
        elif target in self.classes_:
            t = self.classes_.index(target)
        else:
            raise SeqlabError(f"target: {target!r} is not one of the classes {self.classes_}")
        with torch.no_grad():
            inp = net.embed(xt.to(device))[0]  # (T, I)
        a = attribute(net, inp, t, method, steps).cpu().double().numpy()  # (T, I)
        if tokens is not None:
            names = tokens[0]
            unknown = [i for i, v in enumerate(xt[0].tolist()) if v == self.vocab.unk_id]
            values = None
        else:
            names = [f"t={i}" for i in range(len(a))]
            unknown = []
            values = as_padded(X)[0][0]  # (T, F) as given
        return Explanation(names, a.sum(1), a, self.classes_[pred], self.classes_[t], float(proba[t]), method,
                           values, unknown)

    # -- files ---------------------------------------------------------------------------------
    def train_settings(self) -> dict[str, Any]:
        """The constructor's training arguments (:data:`TRAIN_KEYS`) as plain values; a class
        weight mapping is recorded as None (its labels need not be JSON keys)."""
        tc = self.train_config
        cw = self.class_weight if isinstance(self.class_weight, str) else None
        return dict(epochs=tc.epochs, max_steps=self.max_steps, minutes=tc.minutes, batch_size=self.batch_size,
                    lr=tc.lr, weight_decay=tc.weight_decay, clipnorm=tc.clipnorm, class_weight=cw,
                    validation_split=self.validation_split, patience=self.patience, seed=tc.seed)

    def save(self, path: str | os.PathLike) -> None:
        """One .safetensors file (kind 'classifier') with weights, label names, vocabulary, scaling."""
        from ..io import save_file

        net = self._check_fitted()
        config = {
            "model": asdict(net.config),
            "classes": list(self.classes_),
            "vocab": self.vocab.to_config() if self.vocab is not None else None,
            "train": self.train_settings(),
            "normalize": self._normalize(),  # how numeric input is scaled before the network
            "rnn_steps": self.rnn_steps,
        }
        tensors = {f"net.{k}": v for k, v in net.state_dict().items()}
        if self.mean_ is not None:
            tensors["scale.mean"] = torch.from_numpy(np.asarray(self.mean_, dtype=np.float32))
            tensors["scale.std"] = torch.from_numpy(np.asarray(self.std_, dtype=np.float32))
        save_file(path, KIND, config, tensors)

    @classmethod
    def load(cls, path: str | os.PathLike, device: str = "cpu") -> "SequenceClassifier":
        """Load a model saved by :meth:`save` (raises ModelFileError for anything else)."""
        from ..io import build_checked, load_file

        config, tensors = load_file(path, KIND)
        try:
            mc = ClassifierConfig(**config["model"])
            classes = list(config["classes"])
            vocab = Vocabulary.from_config(config["vocab"]) if config.get("vocab") else None
            recorded = dict(config.get("train") or {})
            if "clip_norm" in recorded:  # files from before the one training loop: 0 meant no clipping
                recorded.setdefault("clipnorm", recorded["clip_norm"] or None)
            settings = {k: recorded[k] for k in TRAIN_KEYS if k in recorded}
            model = {k: v for k, v in asdict(mc).items()
                     if k not in ("num_classes", "input_size", "vocab_size", "patch")}  # patch: fit sets it from the data
            clf = cls(**model, **settings, normalize=str(config.get("normalize", "feature")),
                      rnn_steps=config.get("rnn_steps"))
            clf._check_options()
        except (KeyError, TypeError, ValueError, SeqlabError) as exc:
            raise ModelFileError(f"model file {str(path)!r} has an invalid classifier config: {exc}") from exc
        if len(classes) != mc.num_classes:
            raise ModelFileError(f"model file {str(path)!r} names {len(classes)} classes for {mc.num_classes} outputs")
        clf.classes_, clf.vocab = classes, vocab
        if vocab is not None:
            clf.text_config = vocab.config
        state = {k[4:]: v for k, v in tensors.items() if k.startswith("net.")}
        try:
            net = build_checked(lambda: ClassifierNet(mc), tensors, path)
            net.load_state_dict(state, strict=True)
        except ModelFileError:
            raise
        except (RuntimeError, ValueError, TypeError) as exc:
            raise ModelFileError(f"model file {str(path)!r} has weights that do not fit its config: {exc}") from exc
        if "scale.mean" in tensors:
            clf.mean_ = tensors["scale.mean"].numpy()
            clf.std_ = tensors["scale.std"].numpy()
        clf.standardize = clf.mean_ is not None or clf.normalize != "feature"
        clf.net = net.to(resolve_device(device)).eval()
        return clf
