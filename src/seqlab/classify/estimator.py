"""``SequenceClassifier``: fit, predict, evaluate, explain, save and load.

A small estimator around :class:`ClassifierNet`: it turns user data (numeric sequences or text)
into padded tensors with lengths, trains with Adam and a cosine learning-rate decay on a weighted
cross-entropy, and keeps what prediction needs (label names, vocabulary, feature scaling) so a
saved model predicts the same after loading.
"""

from __future__ import annotations

import math
import os
from dataclasses import asdict, dataclass, fields
from typing import Any, Mapping, Sequence

import numpy as np
import torch
import torch.nn.functional as F

from ..errors import ModelFileError, SeqlabError, check_positive_int
from ..utils import progress, resolve_device, seed_everything
from ..vocab import Vocabulary
from .data import as_padded, check_labels, is_text
from .explain import Explanation, attribute
from .metrics import accuracy, confusion_matrix, macro_f1
from .model import ClassifierConfig, ClassifierNet
from .vocab import pad_ids, text_config

KIND = "classifier"


@dataclass
class TrainConfig:
    """How to train (saved in the model file for the record)."""

    epochs: int = 30
    batch_size: int = 32
    lr: float = 3e-3
    weight_decay: float = 0.0
    clip_norm: float = 1.0  # gradient norm clipping; 0 turns it off
    class_weight: str | None = None  # None, "balanced", or set with a mapping in fit()
    seed: int = 0
    device: str = "auto"
    verbose: int = 1

    def __post_init__(self) -> None:
        for name in ("epochs", "batch_size"):
            check_positive_int(name, getattr(self, name))
        if not (isinstance(self.lr, (int, float)) and self.lr > 0):
            raise SeqlabError(f"lr: expected a positive learning rate, got {self.lr!r}")
        if self.class_weight not in (None, "balanced"):
            raise SeqlabError(f"class_weight: expected None or 'balanced' (or a mapping passed to fit), got {self.class_weight!r}")


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
    """Classify whole sequences (numeric or text) with an RNN, LSTM or GRU.

    >>> clf = SequenceClassifier(cell="gru", hidden_size=32, pooling="mean", epochs=10)
    >>> clf.fit(list_of_arrays, labels)            # or a 3-D array, or (padded, lengths=...), or texts
    >>> clf.predict(new_sequences); clf.predict_proba(new_sequences)   # (N,) labels; (N, C)

    Text: ``tokenizer`` 'word' or 'char', ``min_freq``, ``max_vocab``; tokens unseen in training
    map to ``<unk>`` at prediction time. Numeric features are standardised with the training mean
    and standard deviation (``standardize=False`` to turn off).
    """

    def __init__(self, cell: str = "lstm", hidden_size: int = 64, num_layers: int = 1, bidirectional: bool = False,
                 pooling: str = "last", dropout: float = 0.0, embedding_dim: int = 32, chrono: int = 0,
                 tokenizer: str = "word",
                 lowercase: bool = True, min_freq: int = 1, max_vocab: int | None = None, standardize: bool = True,
                 epochs: int = 30, batch_size: int = 32, lr: float = 3e-3, weight_decay: float = 0.0,
                 clip_norm: float = 1.0, class_weight: str | Mapping | None = None, seed: int = 0,
                 device: str = "auto", verbose: int = 1) -> None:
        self.model_options = dict(cell=cell, hidden_size=hidden_size, num_layers=num_layers, bidirectional=bidirectional,
                                  pooling=pooling, dropout=dropout, embedding_dim=embedding_dim, chrono=chrono)
        ClassifierConfig(num_classes=2, input_size=1, **self.model_options)  # validate now, not after loading data
        self.text_config = text_config(tokenizer, lowercase, min_freq, max_vocab)
        self.standardize = bool(standardize)
        self.class_weight = class_weight
        self.train_config = TrainConfig(epochs, batch_size, lr, weight_decay, clip_norm,
                                        None if isinstance(class_weight, Mapping) else class_weight, seed, device, verbose)
        self.net: ClassifierNet | None = None
        self.classes_: list = []
        self.vocab: Vocabulary | None = None
        self.mean_: np.ndarray | None = None
        self.std_: np.ndarray | None = None
        self.history: list[float] = []

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
        if self.mean_ is not None:
            valid = np.arange(x.shape[1])[None, :] < lens[:, None]  # (N, T)
            x = np.where(valid[..., None], (x - self.mean_) / self.std_, 0.0).astype(np.float32)
        return torch.from_numpy(x), torch.from_numpy(lens), None

    def _batches(self, x: torch.Tensor, lengths: torch.Tensor, order: torch.Tensor, batch_size: int, device):
        for b in range(0, len(order), batch_size):
            idx = order[b : b + batch_size]
            lb = lengths[idx]
            T = int(lb.max())
            yield idx, x[idx, :T].to(device), lb  # (b, T_batch[, F]): cut to the batch's longest

    # -- training ------------------------------------------------------------------------------
    def fit(self, X: Any, y: Sequence, lengths: Any = None) -> "SequenceClassifier":
        """Train on sequences ``X`` with labels ``y`` (see :mod:`seqlab.classify.data` for forms)."""
        tc = self.train_config
        text = is_text(X)
        self.net, self.vocab, self.mean_, self.std_ = None, None, None, None
        if text:
            labels = check_labels(y, len(X))
            self.vocab = Vocabulary.build(X, self.text_config)
            x, lens, _ = self._encode(X)
            cfg = ClassifierConfig(num_classes=2, vocab_size=len(self.vocab), **self.model_options)
        else:
            xs, ls = as_padded(X, lengths)
            labels = check_labels(y, len(xs))
            if self.standardize:
                valid = np.arange(xs.shape[1])[None, :] < ls[:, None]  # (N, T)
                steps = xs[valid]  # (sum of lengths, F)
                self.mean_ = steps.mean(0)
                self.std_ = np.maximum(steps.std(0), 1e-6).astype(np.float32)
            x, lens, _ = self._encode(xs, ls)
            cfg = ClassifierConfig(num_classes=2, input_size=int(xs.shape[2]), **self.model_options)
        self.classes_ = sorted(set(labels), key=_label_key)
        cfg.num_classes = len(self.classes_)
        index = {c: i for i, c in enumerate(self.classes_)}
        target = torch.tensor([index[v] for v in labels], dtype=torch.long)
        w = class_weights(labels, self.classes_, self.class_weight)

        seed_everything(tc.seed)
        device = resolve_device(tc.device)
        self.net = net = ClassifierNet(cfg).to(device)
        weight = None if w is None else torch.tensor(w, dtype=torch.float32, device=device)
        opt = torch.optim.Adam(net.parameters(), lr=tc.lr, weight_decay=tc.weight_decay)
        n = len(target)
        total = tc.epochs * math.ceil(n / tc.batch_size)
        sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda k: 0.5 * (1 + math.cos(math.pi * min(k, total) / total)))
        gen = torch.Generator().manual_seed(tc.seed)
        self.history = []
        net.train()
        for _ in progress(range(tc.epochs), total=tc.epochs, desc="classify", verbose=tc.verbose):
            order = torch.randperm(n, generator=gen)
            total_loss = 0.0
            for idx, xb, lb in self._batches(x, lens, order, tc.batch_size, device):
                loss = F.cross_entropy(net(xb, lb), target[idx].to(device), weight=weight)
                opt.zero_grad(set_to_none=True)
                loss.backward()
                if tc.clip_norm:
                    torch.nn.utils.clip_grad_norm_(net.parameters(), tc.clip_norm)
                opt.step()
                sched.step()
                total_loss += float(loss.detach()) * len(idx)
            self.history.append(total_loss / n)
        net.eval()
        return self

    # -- prediction ----------------------------------------------------------------------------
    @torch.no_grad()
    def predict_proba(self, X: Any, lengths: Any = None, batch_size: int = 256) -> np.ndarray:
        """Class probabilities (N, C), columns in the order of ``classes_``."""
        net = self._check_fitted()
        x, lens, _ = self._encode(X, lengths)
        device = next(net.parameters()).device
        net.eval()
        out = np.zeros((len(lens), len(self.classes_)), dtype=np.float64)  # (N, C)
        for idx, xb, lb in self._batches(x, lens, torch.arange(len(lens)), batch_size, device):
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
    def save(self, path: str | os.PathLike) -> None:
        """One .safetensors file (kind 'classifier') with weights, label names, vocabulary, scaling."""
        from ..io import save_file

        net = self._check_fitted()
        config = {
            "model": asdict(net.config),
            "classes": list(self.classes_),
            "vocab": self.vocab.to_config() if self.vocab is not None else None,
            "train": asdict(self.train_config),
        }
        tensors = {f"net.{k}": v for k, v in net.state_dict().items()}
        if self.mean_ is not None:
            tensors["scale.mean"] = torch.from_numpy(np.asarray(self.mean_, dtype=np.float32))
            tensors["scale.std"] = torch.from_numpy(np.asarray(self.std_, dtype=np.float32))
        save_file(path, KIND, config, tensors)

    @classmethod
    def load(cls, path: str | os.PathLike, device: str = "cpu") -> "SequenceClassifier":
        """Load a model saved by :meth:`save` (raises ModelFileError for anything else)."""
        from ..io import load_file

        config, tensors = load_file(path, KIND)
        try:
            mc = ClassifierConfig(**config["model"])
            classes = list(config["classes"])
            vocab = Vocabulary.from_config(config["vocab"]) if config.get("vocab") else None
            tkeys = {f.name for f in fields(TrainConfig)}
            train = {k: v for k, v in (config.get("train") or {}).items() if k in tkeys}
        except (KeyError, TypeError, ValueError) as exc:
            raise ModelFileError(f"model file {str(path)!r} has an invalid classifier config: {exc}") from exc
        if len(classes) != mc.num_classes:
            raise ModelFileError(f"model file {str(path)!r} names {len(classes)} classes for {mc.num_classes} outputs")
        clf = cls(**{k: v for k, v in asdict(mc).items() if k not in ("num_classes", "input_size", "vocab_size")})
        clf.train_config = TrainConfig(**train) if train else clf.train_config
        clf.classes_, clf.vocab = classes, vocab
        if vocab is not None:
            clf.text_config = vocab.config
        net = ClassifierNet(mc)
        state = {k[4:]: v for k, v in tensors.items() if k.startswith("net.")}
        try:
            net.load_state_dict(state, strict=True)
        except RuntimeError as exc:
            raise ModelFileError(f"model file {str(path)!r} has weights that do not fit its config: {exc}") from exc
        if "scale.mean" in tensors:
            clf.mean_ = tensors["scale.mean"].numpy()
            clf.std_ = tensors["scale.std"].numpy()
        clf.standardize = clf.mean_ is not None
        clf.net = net.to(resolve_device(device)).eval()
        return clf
