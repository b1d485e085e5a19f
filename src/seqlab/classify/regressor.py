"""``SequenceRegressor``: one number (or k numbers) per numeric sequence; a scikit-learn estimator.

The classifier's network, data handling and training with a mean-squared-error head: the same
:class:`ClassifierNet` with k linear outputs, the same input forms and scaling
(:class:`~seqlab.classify.estimator.SequenceEstimator`), and :class:`RegressionTask`, the
classifier's task on the one training loop with the squared error in place of the
cross-entropy. Targets are standardised per output with the training mean and standard
deviation for training and mapped back for prediction. ``score`` is R^2. ``save`` / ``load``:
one .safetensors file of kind 'regressor'.

>>> reg = SequenceRegressor(cell="gru", hidden_size=16, epochs=20).fit(list_of_arrays, y)  # y (N,) or (N, k)
>>> reg.predict(new_sequences), reg.score(X_test, y_test)
"""

from __future__ import annotations

import os
from dataclasses import asdict
from typing import Any, Sequence

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

from .._sklearn import RegressorMixin, python_params
from ..errors import ModelFileError, SeqlabError
from ..train import Callback
from .data import as_padded, is_text
from .estimator import SequenceEstimator, as_input
from .model import ClassifierConfig
from .task import ClassifierTask

KIND = "regressor"
#: the training arguments a model file records (and :meth:`SequenceRegressor.load` restores)
TRAIN_KEYS = ("epochs", "max_steps", "minutes", "batch_size", "lr", "weight_decay", "clipnorm", "validation_split",
              "patience", "seed")


class RegressionTask(ClassifierTask):
    """:class:`ClassifierTask` (its batches, sharding and validation data) with targets (N, k)
    and, per sequence, the loss ``mean_j (out_j - y_j)^2``; ``val_loss`` is its mean over the
    validation data."""

    def training_step(self, net, batch) -> tuple[Tensor, float]:
        xb, lb, yb, norm = batch
        return self.share(F.mse_loss(net(xb, lb), yb, reduction="none").mean(-1).sum(), norm)  # sum_i mean_j

    def validate(self) -> dict[str, float]:
        if self.val is None:
            return {}
        total = torch.zeros((), dtype=torch.float64, device=self.val[0].device)
        for out, yb in self.val_outputs():  # (b, k) each
            total += F.mse_loss(out, yb, reduction="none").mean(-1).sum().double()
        return {"val_loss": float(total / len(self.val[1]))}


def check_targets(y: Any, n: int, name: str = "y") -> np.ndarray:
    """Targets as float64 (N,) or (N, k): finite numbers, one row per sequence."""
    if y is None:
        raise SeqlabError(f"{name}: SequenceRegressor requires y to be passed, but the target y is None; give one "
                          "number (N,) or k numbers (N, k) per sequence")
    if isinstance(y, str):
        raise SeqlabError(f"{name}: expected numbers (N,) or (N, k), got a single string")
    try:
        Y = np.asarray(y, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise SeqlabError(f"{name}: expected numbers (N,) or (N, k), got values that are not numbers: {exc}") from None
    if Y.ndim not in (1, 2) or (Y.ndim == 2 and Y.shape[1] == 0):
        raise SeqlabError(f"{name}: expected shape (N,) or (N, k) with k >= 1, got {Y.shape}")
    if len(Y) != n:
        raise SeqlabError(f"{name}: got {len(Y)} targets for {n} sequences; give one target row per sequence")
    bad = ~np.isfinite(Y.reshape(len(Y), -1)).all(1)
    if bad.any():
        raise SeqlabError(f"{name}: target {int(np.flatnonzero(bad)[0])} is NaN or infinite; fill or drop it first")
    return Y


def r2_score(y: np.ndarray, pred: np.ndarray) -> float:
    """R^2 = 1 - sum (y - pred)^2 / sum (y - mean y)^2 per output, averaged over the outputs; an
    output with constant y scores 1 when predicted exactly, else 0 (as scikit-learn's)."""
    y = y.reshape(len(y), -1)
    pred = pred.reshape(len(pred), -1)
    ss_res = ((y - pred) ** 2).sum(0)
    ss_tot = ((y - y.mean(0)) ** 2).sum(0)
    r2 = np.where(ss_tot > 0, 1 - ss_res / np.where(ss_tot > 0, ss_tot, 1.0), np.where(ss_res == 0, 1.0, 0.0))
    return float(r2.mean())


class SequenceRegressor(RegressorMixin, SequenceEstimator):
    """Predict one number, or k numbers, from a whole numeric sequence.

    The arguments are :class:`~seqlab.classify.SequenceClassifier`'s for numeric input (network,
    scaling, training, early stopping; a random ``validation_split`` instead of a stratified one).
    ``X``: a list of (T_i, F) arrays of varying lengths, a 3-D array (N, T, F), a padded array with
    ``lengths``, or a 2-D array (N, T) read as N univariate sequences. ``y``: (N,) or (N, k);
    :meth:`predict` gives the same shape.

    Fitted attributes (besides :class:`SequenceEstimator`'s): ``n_outputs_`` (k), ``y_mean_`` and
    ``y_scale_`` (k,) (the target standardisation).
    """

    _what = "regressor"

    def __init__(self, cell: str = "lstm", hidden_size: int = 64, num_layers: int = 1, bidirectional: bool = False,
                 pooling: str = "last", dropout: float = 0.0, chrono: int = 0, epochs: int | None = 30,
                 batch_size: int = 32, lr: float = 3e-3, weight_decay: float = 0.0, clipnorm: float | None = 1.0,
                 seed: int | None = 0, device: str = "auto", verbose: int = 1, minutes: float | None = None,
                 threads: int | None = 0, fcn: int = 0, rnn_steps: int | None = None, normalize: str = "feature",
                 max_steps: int | None = None, patience: int | None = None,
                 validation_split: float | None = None) -> None:
        # scikit-learn's contract: every argument kept as given; fit checks them (_check_options)
        self.cell = cell
        self.hidden_size = hidden_size
        self.num_layers = num_layers
        self.bidirectional = bidirectional
        self.pooling = pooling
        self.dropout = dropout
        self.chrono = chrono
        self.epochs = epochs
        self.batch_size = batch_size
        self.lr = lr
        self.weight_decay = weight_decay
        self.clipnorm = clipnorm
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

    def __sklearn_tags__(self):  # scikit-learn >= 1.6
        tags = super().__sklearn_tags__()
        tags.target_tags.multi_output = True  # y may be (N, k)
        return tags

    def _more_tags(self) -> dict:  # scikit-learn < 1.6
        return {"multioutput": True}

    @python_params
    def fit(self, X: Any, y: Any, lengths: Any = None, *, validation_data: tuple | None = None,
            callbacks: Sequence[Callback] = (), checkpoint: str | os.PathLike | None = None, resume: bool = False,
            checkpoint_steps: int | None = None, checkpoint_minutes: float | None = 5.0) -> "SequenceRegressor":
        """Train on numeric sequences ``X`` with targets ``y`` (N,) or (N, k); returns the regressor.
        ``validation_data`` ``(X_val, y_val[, lengths_val])`` and the other keywords as
        :meth:`SequenceClassifier.fit`."""
        X = as_input(X)
        if is_text(X):
            raise SeqlabError("X: SequenceRegressor reads numeric sequences, got texts; encode them as numbers "
                              "first, or classify them with SequenceClassifier")
        normalize = self._check_options()
        self._forget()
        X, lengths = as_padded(X, lengths)
        Y = check_targets(y, len(X))
        if self.patience is not None and validation_data is None:  # a random split of the training data
            X, lengths, Y, validation_data = self._hold_out(X, lengths, Y, False)
        self._y_ndim = Y.ndim
        Y2 = Y.reshape(len(Y), -1)  # (N, k)
        self.n_outputs_ = Y2.shape[1]
        self.y_mean_ = Y2.mean(0)
        self.y_scale_ = np.where(Y2.std(0) > 1e-12, Y2.std(0), 1.0)  # a constant target is only centred
        x, lens, shape = self._numeric(X, lengths, normalize)
        cfg = ClassifierConfig(num_classes=self.n_outputs_, fcn=self.fcn, **shape, **self.model_options)
        target = self._scaled(Y2)
        self._train(cfg, lambda net, val: RegressionTask(net, x, lens, target, self.batch_size, None, val),
                    validation_data, callbacks, checkpoint, resume, checkpoint_steps, checkpoint_minutes)
        return self

    def _scaled(self, Y: np.ndarray) -> torch.Tensor:
        return torch.from_numpy(((Y.reshape(len(Y), -1) - self.y_mean_) / self.y_scale_).astype(np.float32))

    def _split(self, y: Any, fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
        order = np.random.default_rng(seed).permutation(len(y))
        k = min(max(int(round(fraction * len(y))), 1), len(y) - 1)
        return order[k:], order[:k]

    def _targets_of(self, y: Any, n: int, name: str) -> torch.Tensor:
        Y = check_targets(y, n, name)
        if Y.reshape(n, -1).shape[1] != self.n_outputs_:
            raise SeqlabError(f"{name}: expected {self.n_outputs_} target(s) per sequence, got {Y.reshape(n, -1).shape[1]}")
        return self._scaled(Y)

    def predict(self, X: Any, lengths: Any = None, batch_size: int = 256) -> np.ndarray:
        """Predicted targets, (N,) or (N, k) as ``y`` was in fit (float64)."""
        out = self._outputs(X, lengths, batch_size) * self.y_scale_ + self.y_mean_  # (N, k)
        return out[:, 0] if self._y_ndim == 1 else out

    # -- files ---------------------------------------------------------------------------------
    @python_params
    def save(self, path: str | os.PathLike) -> None:
        """One .safetensors file (kind 'regressor'): weights, input scaling, target scaling."""
        from ..io import save_file

        net = self._check_fitted()
        config = {
            "model": asdict(net.config),
            "train": {k: getattr(self, k) for k in TRAIN_KEYS},
            "normalize": self.normalize,
            "rnn_steps": self.rnn_steps,
            "y_ndim": self._y_ndim,
        }
        tensors = self._file_tensors(net)
        tensors["target.mean"] = torch.from_numpy(np.asarray(self.y_mean_, dtype=np.float64))
        tensors["target.scale"] = torch.from_numpy(np.asarray(self.y_scale_, dtype=np.float64))
        save_file(path, KIND, config, tensors)

    @classmethod
    def load(cls, path: str | os.PathLike, device: str = "cpu") -> "SequenceRegressor":
        """Load a model saved by :meth:`save` (raises ModelFileError for anything else)."""
        from ..io import load_file

        config, tensors = load_file(path, KIND)
        try:
            mc = ClassifierConfig(**config["model"])
            model = {k: getattr(mc, k) for k in SequenceEstimator._model_keys}
            train = {k: v for k, v in dict(config.get("train") or {}).items() if k in TRAIN_KEYS}
            reg = cls(**model, **train, fcn=mc.fcn, normalize=str(config["normalize"]), rnn_steps=config["rnn_steps"])
            reg._check_options()
            y_ndim = config["y_ndim"]
            if y_ndim not in (1, 2) or (y_ndim == 1 and mc.num_classes != 1):
                raise SeqlabError(f"y_ndim: expected 1 (one output) or 2, got {y_ndim!r} for {mc.num_classes} outputs")
            y_mean, y_scale = tensors["target.mean"].numpy(), tensors["target.scale"].numpy()
            if y_mean.shape != (mc.num_classes,) or y_scale.shape != (mc.num_classes,):
                raise SeqlabError(f"target scaling: expected {mc.num_classes} values, got {tuple(y_mean.shape)}")
        except (KeyError, TypeError, ValueError, SeqlabError) as exc:
            raise ModelFileError(f"model file {str(path)!r} has an invalid regressor config: {exc}") from exc
        reg._restore(mc, tensors, path, device)
        reg._y_ndim, reg.n_outputs_ = y_ndim, mc.num_classes
        reg.y_mean_, reg.y_scale_ = y_mean, y_scale
        reg.n_features_in_ = mc.input_size
        return reg

    def score(self, X: Any, y: Any, lengths: Any = None) -> float:
        """R^2 of the predictions (averaged over the outputs), scikit-learn's ``score`` of a regressor."""
        pred = self.predict(X, lengths)
        Y = check_targets(y, len(pred))
        return r2_score(Y, pred)


__all__ = ["RegressionTask", "SequenceRegressor", "check_targets", "r2_score"]
