"""``SequenceClassifier``: fit, predict, evaluate, explain, save and load; a scikit-learn estimator.

A small estimator around :class:`ClassifierNet`: it turns user data (numeric sequences or text)
into padded tensors with lengths, trains them as a :class:`~seqlab.classify.task.ClassifierTask`
on the one training loop (Adam, a cosine learning-rate decay to 0 over the run, a weighted
cross-entropy, gradient clipping, checkpoints and resume, several processes under ``torchrun``),
and keeps what prediction needs (label names, vocabulary, feature scaling) so a saved model
predicts the same after loading.

It follows scikit-learn's estimator contract (docs/ecosystem.md, "scikit-learn"): ``__init__``
stores each argument under its own name and does nothing else, so ``get_params``,
``set_params`` and ``clone`` work; ``fit`` checks the arguments, derives the network, text and
training configs (:attr:`~SequenceEstimator.model_options`, :attr:`~SequenceClassifier.text_config`,
:attr:`~SequenceEstimator.train_config`) and returns the estimator; what it learns ends with
``_``. :class:`SequenceEstimator` holds what the classifier shares with
:class:`seqlab.classify.regressor.SequenceRegressor`.
"""

from __future__ import annotations

import os
from dataclasses import asdict, replace
from typing import Any, Callable, Mapping, Sequence

import numpy as np
import torch

from .._sklearn import BaseEstimator, ClassifierMixin, NotFittedError, column_warning, python_params
from ..errors import ModelFileError, SeqlabError, check_float, check_int, check_positive_int
from ..train import Callback, History, Task, TrainConfig, train
from ..utils import resolve_device, seeded
from ..vocab import VocabConfig, Vocabulary, pad_ids
from .data import as_padded, check_labels, continuous_label, is_text, znormalize
from .explain import Explanation, attribute
from .metrics import accuracy, confusion_matrix, macro_f1
from .model import ClassifierConfig, ClassifierNet
from .task import ClassifierTask, cut
from .vocab import text_config

KIND = "classifier"
#: the training settings a model file records (and :meth:`SequenceClassifier.load` restores)
TRAIN_KEYS = ("epochs", "max_steps", "minutes", "batch_size", "lr", "weight_decay", "clipnorm", "class_weight",
              "validation_split", "patience", "seed")
#: how numeric input is scaled: per feature over the training data, per series (and channel), or not
NORMALIZE = ("feature", "series", "none")
#: the network options the classifier and the regressor share (fields of ClassifierConfig)
MODEL_KEYS = ("cell", "hidden_size", "num_layers", "bidirectional", "pooling", "dropout", "chrono")


def as_input(X: Any) -> Any:
    """scikit-learn's array-likes in the forms :func:`~seqlab.classify.data.as_padded` reads: a
    DataFrame, a memmap or any object with ``__array__`` becomes an ndarray (rows are sequences,
    columns are steps); lists, tuples and arrays pass unchanged. A 1-D array of numbers is refused:
    it could be one sequence or many sequences of one step."""
    if type(X).__module__.startswith("scipy.sparse"):
        raise SeqlabError(f"X: sparse input is not supported; pass a dense array (X.toarray()), got {type(X).__name__}")
    if not isinstance(X, (list, tuple, str, np.ndarray)) and hasattr(X, "__array__"):
        X = np.asarray(X)
    if isinstance(X, np.ndarray) and X.dtype.kind == "c":
        raise SeqlabError("X: Complex data not supported; pass real numbers (for example the real and imaginary "
                          "parts as two features)")
    if isinstance(X, np.ndarray) and X.ndim == 1 and X.dtype.kind in "biuf":
        n = len(X)
        raise SeqlabError(f"X: got a 1-D array of {n} numbers; Reshape your data: x.reshape(1, -1) (or [x]) for "
                          f"one sequence of {n} steps, x.reshape(-1, 1) for {n} sequences of one step")
    return X


def as_column(y: Any) -> Any:
    """``y`` as a plain sequence: array-likes become arrays, a column vector (N, 1) becomes (N,)
    with scikit-learn's DataConversionWarning."""
    if not isinstance(y, (list, tuple, str, np.ndarray)) and hasattr(y, "__array__"):
        y = np.asarray(y)
    if isinstance(y, np.ndarray) and y.ndim == 2 and y.shape[1] == 1:
        column_warning(y.shape)
        y = y[:, 0]
    return y


def _classes_array(classes: list) -> np.ndarray:
    """Sorted labels as an array: of their own dtype when all share one Python type, else object."""
    kinds = {type(c) for c in classes}
    if len(kinds) == 1 and kinds <= {str, int, float, bool}:
        return np.asarray(classes)
    out = np.empty(len(classes), dtype=object)
    out[:] = classes
    return out


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


class SequenceEstimator(BaseEstimator):
    """What :class:`SequenceClassifier` and :class:`~seqlab.classify.regressor.SequenceRegressor`
    share: the checks of their arguments and the configs derived from them, input to (scaled)
    padded tensors, the network and its training on the one loop, prediction in batches.

    Fitted attributes: ``net_`` (the :class:`ClassifierNet`), ``mean_`` / ``std_`` (the feature
    scaling of numeric input, None when not scaled), ``n_features_in_`` (numbers per step, for
    numeric input), ``history_`` (the :class:`seqlab.train.History` of the run). ``net``,
    ``vocab`` and ``history`` are the names these had before the scikit-learn contract.
    """

    _model_keys: tuple[str, ...] = MODEL_KEYS
    _what = "estimator"  # in messages: "this classifier is not trained yet"
    #: what fit learns; a new fit (or a failed one) starts by forgetting it
    _fitted = ("net_", "vocab_", "mean_", "std_", "classes_", "n_features_in_", "history_", "n_outputs_",
               "y_mean_", "y_scale_", "_y_ndim")

    # -- the arguments, checked, and the configs they give ----------------------------------------
    @property
    def model_options(self) -> dict[str, Any]:
        """The network's arguments (fields of :class:`ClassifierConfig`), as given."""
        return {k: getattr(self, k) for k in self._model_keys}

    @property
    def train_config(self) -> TrainConfig:
        """The training arguments as a :class:`seqlab.train.TrainConfig` (checked as it is built)."""
        return TrainConfig(epochs=self.epochs, max_steps=self.max_steps, minutes=self.minutes or None, lr=self.lr,
                           weight_decay=self.weight_decay, clipnorm=self.clipnorm, schedule="cosine", min_lr=0.0,
                           seed=self.seed, device=str(self.device), threads=self.threads, verbose=self.verbose)

    def _check_options(self) -> str:
        """Check every argument (fit does; nothing is checked in ``__init__``); returns the
        normalisation to apply to numeric input."""
        ClassifierConfig(num_classes=2, input_size=1, **self.model_options)  # the network's arguments
        check_positive_int("batch_size", self.batch_size)
        check_int("fcn", self.fcn, 0, meaning="0 for no convolutional branch")
        check_int("rnn_steps", self.rnn_steps, 1, none="every step")
        check_int("max_steps", self.max_steps, 1, none="no step limit")
        check_int("patience", self.patience, 1, none="no early stopping")
        check_float("validation_split", self.validation_split, 0, 1, low_open=True, high_open=True,
                    none="0.1 with patience")
        tc = self.train_config
        if tc.epochs is None and tc.max_steps is None and tc.minutes is None:
            raise SeqlabError("epochs, max_steps, minutes: set at least one limit, or training never stops")
        return self._normalize()

    def _normalize(self) -> str:
        if self.normalize not in NORMALIZE:
            raise SeqlabError(f"normalize: expected one of {NORMALIZE}, got {self.normalize!r}")
        return self.normalize

    # -- fitted state ------------------------------------------------------------------------------
    def _forget(self) -> None:
        for name in self._fitted:
            self.__dict__.pop(name, None)

    def __sklearn_is_fitted__(self) -> bool:
        return getattr(self, "net_", None) is not None

    @property
    def net(self) -> ClassifierNet | None:
        """``net_`` (None before fit)."""
        return getattr(self, "net_", None)

    @property
    def vocab(self) -> Vocabulary | None:
        """``vocab_``: the vocabulary of a text model (None for numeric input or before fit)."""
        return getattr(self, "vocab_", None)

    @property
    def history(self) -> History:
        """``history_``: per-epoch 'loss' (and 'val_loss', ... with validation); empty before fit."""
        h = getattr(self, "history_", None)
        return History() if h is None else h

    @property
    def is_text(self) -> bool:
        return self.vocab is not None

    def _check_fitted(self) -> ClassifierNet:
        net = getattr(self, "net_", None)
        if net is None:
            raise NotFittedError(f"this {self._what} is not trained yet; call fit(X, y) or load a saved model")
        return net

    # -- files (what both kinds of model file hold) ---------------------------------------------
    def _file_tensors(self, net: ClassifierNet) -> dict[str, torch.Tensor]:
        """The network's weights (``net.*``) and the input scaling (``scale.mean``/``scale.std``)."""
        tensors = {f"net.{k}": v for k, v in net.state_dict().items()}
        if self.mean_ is not None:
            tensors["scale.mean"] = torch.from_numpy(np.asarray(self.mean_, dtype=np.float32))
            tensors["scale.std"] = torch.from_numpy(np.asarray(self.std_, dtype=np.float32))
        return tensors

    def _restore(self, mc: ClassifierConfig, tensors: dict[str, torch.Tensor], path: str | os.PathLike,
                 device: str) -> None:
        """Set the fitted network of config ``mc`` from a file's ``tensors``, and its input scaling."""
        from ..io import build_checked

        state = {k[4:]: v for k, v in tensors.items() if k.startswith("net.")}
        try:
            net = build_checked(lambda: ClassifierNet(mc), tensors, path)
            net.load_state_dict(state, strict=True)
        except ModelFileError:
            raise
        except (RuntimeError, ValueError, TypeError) as exc:
            raise ModelFileError(f"model file {str(path)!r} has weights that do not fit its config: {exc}") from exc
        self.mean_ = tensors["scale.mean"].numpy() if "scale.mean" in tensors else None
        self.std_ = tensors["scale.std"].numpy() if "scale.mean" in tensors else None
        self.net_ = net.to(resolve_device(device)).eval()

    # -- data to tensors -----------------------------------------------------------------------
    def _encode(self, X: Any, lengths: Any = None) -> tuple[torch.Tensor, torch.Tensor, list[list[str]] | None]:
        """User data -> ``(x (N, T) ids or (N, T, F) floats, lengths (N,), tokens per text or None)``."""
        X = as_input(X)
        text = is_text(X)
        net = getattr(self, "net_", None)
        if net is not None and text != self.is_text:
            want = "texts (strings)" if self.is_text else "numeric sequences"
            raise SeqlabError(f"X: this model reads {want}, got {'texts' if text else 'numeric sequences'}")
        if text:
            if lengths is not None:
                raise SeqlabError("lengths: not used for text; each text's length is its number of tokens")
            vocab = self.vocab
            tokens = [vocab.tokenize(t) for t in X]
            empty = [i for i, t in enumerate(tokens) if not t]
            if empty:
                raise SeqlabError(f"X: text {empty[0]} has no tokens ({X[empty[0]]!r}); remove empty texts")
            ids, lens = pad_ids([vocab.to_ids(ts, unknown="replace") for ts in tokens])
            return torch.from_numpy(ids), torch.from_numpy(lens), tokens
        x, lens = as_padded(X, lengths, net.config.input_size if net is not None else None)
        if self._normalize() == "series":
            x = znormalize(x, lens)
        if getattr(self, "mean_", None) is not None:
            valid = np.arange(x.shape[1])[None, :] < lens[:, None]  # (N, T)
            x = np.where(valid[..., None], (x - self.mean_) / self.std_, 0.0).astype(np.float32)
        return torch.from_numpy(x), torch.from_numpy(lens), None

    def _numeric(self, X: np.ndarray, lengths: np.ndarray, normalize: str) -> tuple[torch.Tensor, torch.Tensor, dict]:
        """Fit the feature scaling on padded training data ``X`` (N, T, F) and encode it; returns
        ``(x, lengths, the network's input fields)``."""
        self.mean_ = self.std_ = None
        if normalize == "feature":
            valid = np.arange(X.shape[1])[None, :] < lengths[:, None]  # (N, T)
            steps = X[valid]  # (sum of lengths, F)
            self.mean_ = steps.mean(0)
            self.std_ = np.maximum(steps.std(0), 1e-6).astype(np.float32)
        self.n_features_in_ = int(X.shape[2])
        x, lens, _ = self._encode(X, lengths)
        patch = 1 if not self.rnn_steps else max(1, -(-int(lengths.max()) // self.rnn_steps))  # ceil(T_max / S)
        return x, lens, dict(input_size=int(X.shape[2]), patch=patch)

    def _batches(self, x: torch.Tensor, lengths: torch.Tensor, batch_size: int, device):
        for b in range(0, len(lengths), batch_size):
            idx = torch.arange(b, min(b + batch_size, len(lengths)))
            xb, lb = cut(x, lengths, idx)  # (b, T_batch[, F]): cut to the batch's longest
            yield idx, xb.to(device), lb

    @torch.no_grad()
    def _outputs(self, X: Any, lengths: Any = None, batch_size: int = 256) -> np.ndarray:
        """The network's outputs (N, C) in float64 (logits of the classifier, scaled targets of the regressor)."""
        net = self._check_fitted()
        x, lens, _ = self._encode(X, lengths)
        device = next(net.parameters()).device
        net.eval()
        out = np.zeros((len(lens), net.config.num_classes), dtype=np.float64)  # (N, C)
        for idx, xb, lb in self._batches(x, lens, batch_size, device):
            out[idx.numpy()] = net(xb, lb).double().cpu().numpy()
        return out

    # -- training ------------------------------------------------------------------------------
    def _hold_out(self, X: Any, lengths: Any, y: Any, text: bool) -> tuple[Any, Any, Any, tuple]:
        """With ``patience`` and no validation data: ``(X, lengths, y)`` of the training part and the
        held-out ``validation_data`` (``validation_split`` of the sequences, 0.1 by default)."""
        keep, held = self._split(y, self.validation_split or 0.1, self.seed or 0)
        if len(held) == 0:
            raise SeqlabError(f"validation_split: {len(y)} sequences leave no validation split; pass more "
                              "data, a larger validation_split or validation_data, or no patience")
        keep, held = np.sort(keep), np.sort(held)

        def take(v, idx):
            return [v[i] for i in idx] if isinstance(v, list) else v[idx]

        if text:
            return take(X, keep), None, take(y, keep), (take(X, held), take(y, held))
        return X[keep], lengths[keep], take(y, keep), (X[held], take(y, held), lengths[held])

    def _split(self, y: Any, fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
        raise NotImplementedError

    def _targets_of(self, y: Any, n: int, name: str) -> torch.Tensor:
        """Checked validation targets as the network's training targets."""
        raise NotImplementedError

    def _validation(self, data: tuple | None) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor] | None:
        """``(X, y[, lengths])`` -> ``(x, lengths, targets)``, checked like prediction input."""
        if data is None:
            return None
        if not isinstance(data, (tuple, list)) or len(data) not in (2, 3):
            raise SeqlabError("validation_data: expected a tuple (X_val, y_val) or (X_val, y_val, lengths_val), "
                              f"got {type(data).__name__}" + (f" of length {len(data)}" if isinstance(data, (tuple, list)) else ""))
        vx, vl, _ = self._encode(data[0], data[2] if len(data) == 3 else None)
        return vx, vl, self._targets_of(data[1], len(vl), "validation_data")

    def _train(self, cfg: ClassifierConfig, make_task: Callable[[ClassifierNet, tuple | None], Task],
               validation_data: tuple | None, callbacks: Sequence[Callback], checkpoint: str | os.PathLike | None,
               resume: bool, checkpoint_steps: int | None, checkpoint_minutes: float | None) -> None:
        """Build the network of ``cfg`` (initial weights from ``seed``) and train ``make_task(net, val)``."""
        config = replace(self.train_config, checkpoint=None if checkpoint is None else str(checkpoint), resume=resume,
                         checkpoint_steps=checkpoint_steps, checkpoint_minutes=checkpoint_minutes)
        if self.patience is not None:
            config = replace(config, monitor="val_loss", mode="min", patience=self.patience, restore_best=True)
        with seeded(config.seed):  # the initial weights follow the seed; the caller's generators stay
            self.net_ = net = ClassifierNet(cfg)
            try:
                val = self._validation(validation_data)  # checked against the new network's input
            except SeqlabError:
                self._forget()
                raise
            self.history_ = train(make_task(net, val), config, callbacks)
        net.eval()


class SequenceClassifier(ClassifierMixin, SequenceEstimator):
    """Classify whole sequences (numeric or text) with a recurrent network of any seqlab cell,
    optionally beside a fully convolutional one (LSTM-FCN).

    >>> clf = SequenceClassifier(cell="gru", hidden_size=32, pooling="mean", epochs=10)
    >>> clf = SequenceClassifier(**seqlab.classify.defaults.estimator_options())  # the command's
    >>> clf.fit(list_of_arrays, labels)            # or a 3-D array, or (padded, lengths=...), or texts
    >>> clf.predict(new_sequences); clf.predict_proba(new_sequences)   # (N,) labels; (N, C)
    >>> clf.score(X_test, y_test)                  # accuracy

    Text: ``tokenizer`` 'word' or 'char', ``min_freq``, ``max_vocab``; tokens unseen in training
    map to ``<unk>`` at prediction time. Numeric input is scaled by ``normalize``: 'feature'
    standardises each feature with the training mean and standard deviation, 'series' z-normalises
    each series (each channel over its own steps, as the time-series archive's methods do),
    'none' leaves it (``standardize=False`` is the old spelling of 'none'). A 2-D array (N, T) is
    N sequences of T steps of one number each, so a DataFrame's columns are steps.

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

    Fitted attributes (besides :class:`SequenceEstimator`'s): ``classes_`` (the sorted labels,
    an array; columns of :meth:`predict_proba`), ``vocab_`` (text).
    """

    _model_keys = MODEL_KEYS + ("embedding_dim",)
    _what = "classifier"

    def __init__(self, cell: str = "lstm", hidden_size: int = 64, num_layers: int = 1, bidirectional: bool = False,
                 pooling: str = "last", dropout: float = 0.0, embedding_dim: int = 32, chrono: int = 0,
                 tokenizer: str = "word",
                 lowercase: bool = True, min_freq: int = 1, max_vocab: int | None = None, standardize: bool = True,
                 epochs: int | None = 30, batch_size: int = 32, lr: float = 3e-3, weight_decay: float = 0.0,
                 clipnorm: float | None = 1.0, class_weight: str | Mapping | None = None, seed: int | None = 0,
                 device: str = "auto", verbose: int = 1, minutes: float | None = None, threads: int | None = 0,
                 fcn: int = 0, rnn_steps: int | None = None, normalize: str = "feature", max_steps: int | None = None,
                 patience: int | None = None, validation_split: float | None = None) -> None:
        # scikit-learn's contract: every argument kept as given; fit checks them (_check_options)
        self.cell = cell
        self.hidden_size = hidden_size
        self.num_layers = num_layers
        self.bidirectional = bidirectional
        self.pooling = pooling
        self.dropout = dropout
        self.embedding_dim = embedding_dim
        self.chrono = chrono
        self.tokenizer = tokenizer
        self.lowercase = lowercase
        self.min_freq = min_freq
        self.max_vocab = max_vocab
        self.standardize = standardize
        self.epochs = epochs
        self.batch_size = batch_size
        self.lr = lr
        self.weight_decay = weight_decay
        self.clipnorm = clipnorm
        self.class_weight = class_weight
        self.seed = seed
        self.device = device
        self.verbose = verbose
        self.minutes = minutes
        self.threads = threads
        self.fcn = fcn
        self.rnn_steps = rnn_steps
        self.normalize = normalize
        self.max_steps = max_steps
        self.patience = patience
        self.validation_split = validation_split

    @property
    def text_config(self) -> VocabConfig:
        """The text arguments as the :class:`VocabConfig` a vocabulary is built with."""
        return text_config(self.tokenizer, self.lowercase, self.min_freq, self.max_vocab)

    def _check_options(self) -> str:
        self.text_config  # noqa: B018 - building it checks the text arguments
        cw = self.class_weight
        if not (cw is None or (isinstance(cw, str) and cw == "balanced") or isinstance(cw, Mapping)):
            raise SeqlabError(f"class_weight: expected None, 'balanced' or a mapping label -> weight, got {cw!r}")
        return super()._check_options()

    def _normalize(self) -> str:
        mode = super()._normalize()
        return "none" if not self.standardize and mode == "feature" else mode

    # -- training ------------------------------------------------------------------------------
    @python_params
    def fit(self, X: Any, y: Sequence, lengths: Any = None, *, validation_data: tuple | None = None,
            callbacks: Sequence[Callback] = (), checkpoint: str | os.PathLike | None = None, resume: bool = False,
            checkpoint_steps: int | None = None, checkpoint_minutes: float | None = 5.0) -> "SequenceClassifier":
        """Train on sequences ``X`` with labels ``y`` (see :mod:`seqlab.classify.data` for forms);
        returns the classifier.

        ``validation_data``: ``(X_val, y_val)`` or ``(X_val, y_val, lengths_val)``, scored after
        every epoch (``val_loss``, ``val_accuracy`` in :attr:`history_`); with ``patience`` and no
        ``validation_data``, a stratified ``validation_split`` of ``X`` is held out for it.
        ``callbacks``: instances of :class:`seqlab.train.Callback`. ``checkpoint``: a file to write
        at each epoch end, every ``checkpoint_minutes`` and every ``checkpoint_steps`` optimizer
        steps; ``resume=True`` continues the interrupted run it holds (same data and settings),
        ending with the weights of an uninterrupted run (bit-identical on CPU with the same
        ``seed`` and one thread).
        """
        X = as_input(X)
        text = is_text(X)
        normalize = self._check_options()
        self._forget()
        if text:
            X = list(X)
        else:
            X, lengths = as_padded(X, lengths)
        labels = self._labels(y, len(X))
        if self.patience is not None and validation_data is None:  # a stratified split of the training data
            X, lengths, labels, validation_data = self._hold_out(X, lengths, labels, text)
        if text:
            self.vocab_ = Vocabulary.build(X, self.text_config)
            self.mean_ = self.std_ = None  # text is not scaled
            x, lens, _ = self._encode(X)
            shape = dict(vocab_size=len(self.vocab_))
        else:
            x, lens, shape = self._numeric(X, lengths, normalize)
        classes = sorted(set(labels), key=_label_key)
        self.classes_ = _classes_array(classes)
        cfg = ClassifierConfig(num_classes=len(classes), fcn=self.fcn, **shape, **self.model_options)
        target = self._targets(labels, "y")
        w = class_weights(labels, classes, self.class_weight)
        weight = None if w is None else torch.tensor(w, dtype=torch.float32)
        self._train(cfg, lambda net, val: ClassifierTask(net, x, lens, target, self.batch_size, weight, val),
                    validation_data, callbacks, checkpoint, resume, checkpoint_steps, checkpoint_minutes)
        return self

    @staticmethod
    def _labels(y: Any, n: int, fitting: bool = True) -> list:
        """Checked labels as plain Python values; continuous numbers are refused."""
        if y is None:
            raise SeqlabError("y: SequenceClassifier requires y to be passed, but the target y is None; give one "
                              "label per sequence")
        labels = check_labels(as_column(y), n, fitting=fitting)
        example = continuous_label(labels) if fitting else None
        if example is not None:
            raise SeqlabError(f"y: the labels are continuous numbers (such as {example!r}); a classifier needs "
                              "class labels: bin or round them, or fit seqlab.classify.SequenceRegressor")
        return labels

    def _split(self, y: Any, fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
        from .data import stratified_split

        return stratified_split(y, fraction, seed)

    def _targets(self, labels: Sequence, name: str) -> torch.Tensor:
        """Labels -> class indices (N,) in the order of ``classes_``."""
        index = {c: i for i, c in enumerate(self.classes_.tolist())}
        unknown = sorted({str(v) for v in labels if v not in index})
        if unknown:
            raise SeqlabError(f"{name}: labels {unknown[:5]} were not seen in training "
                              f"(classes: {self.classes_.tolist()})")
        return torch.tensor([index[v] for v in labels], dtype=torch.long)

    def _targets_of(self, y: Any, n: int, name: str) -> torch.Tensor:
        return self._targets(self._labels(y, n, fitting=False), f"{name} labels")

    # -- prediction ----------------------------------------------------------------------------
    def predict_proba(self, X: Any, lengths: Any = None, batch_size: int = 256) -> np.ndarray:
        """Class probabilities (N, C), columns in the order of ``classes_``; rows sum to 1."""
        logits = torch.from_numpy(self._outputs(X, lengths, batch_size))  # (N, C) float64
        return torch.softmax(logits, -1).numpy()

    def predict(self, X: Any, lengths: Any = None) -> np.ndarray:
        """Predicted labels (N,): values of ``classes_`` (the training labels)."""
        proba = self.predict_proba(X, lengths)  # first: it says when the model is not trained
        return self.classes_[proba.argmax(1)]

    def score(self, X: Any, y: Sequence, lengths: Any = None) -> float:
        """Accuracy: the fraction of ``y`` predicted right (scikit-learn's ``score`` of a classifier)."""
        pred = self.predict(X, lengths)
        return accuracy(self._labels(y, len(pred), fitting=False), pred.tolist())

    def evaluate(self, X: Any, y: Sequence, lengths: Any = None) -> dict:
        """``{"accuracy", "macro_f1", "confusion" (C, C), "labels"}`` on labelled data."""
        pred = self.predict(X, lengths).tolist()
        labels = self._labels(y, len(pred), fitting=False)
        classes = self.classes_.tolist()
        unknown = sorted({str(v) for v in labels if v not in classes})
        if unknown:
            raise SeqlabError(f"y: labels {unknown[:5]} were not seen in training (classes: {classes})")
        return {
            "accuracy": accuracy(labels, pred),
            "macro_f1": macro_f1(labels, pred),  # over the classes present in y or predicted
            "confusion": confusion_matrix(labels, pred, classes),
            "labels": classes,
        }

    def explain(self, x: Any, method: str = "grad", target: Any = None, steps: int = 64) -> Explanation:
        """Per-step importance for one sequence ``x`` (a string, or an array (T, F) or (T,)).

        ``target`` is the label to explain (default: the predicted one).
        """
        net = self._check_fitted()
        classes = self.classes_.tolist()
        X = [x]
        xt, lens, tokens = self._encode(X)
        device = next(net.parameters()).device
        with torch.no_grad():
            proba = torch.softmax(net(xt.to(device), lens).double(), -1)[0].cpu().numpy()
        pred = int(proba.argmax())
        if target is None:
            t = pred
        elif target in classes:
            t = classes.index(target)
        else:
            raise SeqlabError(f"target: {target!r} is not one of the classes {classes}")
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
        return Explanation(names, a.sum(1), a, classes[pred], classes[t], float(proba[t]), method,
                           values, unknown)

    # -- files ---------------------------------------------------------------------------------
    def train_settings(self) -> dict[str, Any]:
        """The constructor's training arguments (:data:`TRAIN_KEYS`) as plain values; a class
        weight mapping is recorded as None (its labels need not be JSON keys)."""
        cw = self.class_weight if isinstance(self.class_weight, str) else None
        return dict(epochs=self.epochs, max_steps=self.max_steps, minutes=self.minutes or None,
                    batch_size=self.batch_size, lr=self.lr, weight_decay=self.weight_decay, clipnorm=self.clipnorm,
                    class_weight=cw, validation_split=self.validation_split, patience=self.patience, seed=self.seed)

    @python_params
    def save(self, path: str | os.PathLike) -> None:
        """One .safetensors file (kind 'classifier') with weights, label names, vocabulary, scaling."""
        from ..io import save_file

        net = self._check_fitted()
        config = {
            "model": asdict(net.config),
            "classes": self.classes_.tolist(),
            "vocab": self.vocab.to_config() if self.vocab is not None else None,
            "train": self.train_settings(),
            "normalize": self._normalize(),  # how numeric input is scaled before the network
            "rnn_steps": self.rnn_steps,
        }
        save_file(path, KIND, config, self._file_tensors(net))

    @classmethod
    def load(cls, path: str | os.PathLike, device: str = "cpu") -> "SequenceClassifier":
        """Load a model saved by :meth:`save` (raises ModelFileError for anything else)."""
        from ..io import load_file

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
            text = {}
            if vocab is not None:  # the text arguments the vocabulary was built with
                vc = vocab.config
                text = dict(tokenizer=vc.level, lowercase=vc.lowercase, min_freq=vc.min_freq, max_vocab=vc.max_size)
            normalize = str(config.get("normalize", "feature"))
            clf = cls(**model, **settings, **text, normalize=normalize, rnn_steps=config.get("rnn_steps"),
                      standardize="scale.mean" in tensors or normalize != "feature")
            clf._check_options()
        except (KeyError, TypeError, ValueError, SeqlabError) as exc:
            raise ModelFileError(f"model file {str(path)!r} has an invalid classifier config: {exc}") from exc
        if len(classes) != mc.num_classes:
            raise ModelFileError(f"model file {str(path)!r} names {len(classes)} classes for {mc.num_classes} outputs")
        clf._restore(mc, tensors, path, device)
        clf.classes_ = _classes_array(classes)
        if vocab is not None:
            clf.vocab_ = vocab
        else:
            clf.n_features_in_ = mc.input_size
        return clf
