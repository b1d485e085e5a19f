"""Label a stream as it grows: :class:`ClassifierStream` over a trained ``SequenceClassifier``.

    stream = ClassifierStream(clf)
    for chunk in chunks:                           # (T_new, F) steps, or a text's next words
        proba = stream.update(chunk)               # (C,) probabilities of the sequence so far
    stream.label                                   # the current label

Each update runs only the new steps: the recurrent state and the pooling's running values
(``last``: the state; ``mean``: the sum of the outputs and their count; ``max``: their running
maximum) are carried from one update to the next, so the probabilities after an update equal
``clf.predict_proba([everything so far])``. A bidirectional model reads each sequence from its
end too, which a new step changes: it keeps the steps so far and reruns them at each update
(the same numbers, at the cost of the whole prefix); so does a model whose result depends on
the whole sequence at once: a convolutional branch (``fcn``), attention pooling, patches of
several steps, or series z-normalisation. Several streams advance together when
``update`` gets a batch (B, T_new, F) (or a list of B texts); :meth:`reset` starts afresh.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from ..errors import SeqlabError


class ClassifierStream:
    """See the module docstring."""

    def __init__(self, classifier: Any) -> None:
        self.clf = classifier
        self.net = classifier._check_fitted()
        self.reset()

    def reset(self) -> None:
        """Forget the stream(s): the next update starts new sequences."""
        self.state: Any = None
        self.pooled: torch.Tensor | None = None  # sum (mean) or running max (max), (B, D*H)
        self.count = 0
        self.history: list[torch.Tensor] = []  # steps so far (bidirectional models only)
        self.proba: np.ndarray | None = None

    # -- input -----------------------------------------------------------------------------------
    def _encode(self, chunk: Any) -> torch.Tensor:
        """New steps -> (B, T_new) ids or (B, T_new, F) standardised floats."""
        clf = self.clf
        if clf.is_text:
            texts = [chunk] if isinstance(chunk, str) else list(chunk)
            if not texts or not all(isinstance(t, str) for t in texts):
                raise SeqlabError("chunk: this model reads text; pass the stream's next text (or a list, one per stream)")
            ids = [clf.vocab.to_ids(clf.vocab.tokenize(t), unknown="replace") for t in texts]
            if len({len(i) for i in ids}) != 1 or not ids[0]:
                raise SeqlabError(f"chunk: every stream needs the same number (>= 1) of new tokens, got {[len(i) for i in ids]}")
            return torch.tensor(ids, dtype=torch.long)  # (B, T_new)
        x = np.asarray(chunk, dtype=np.float32)
        F = self.net.config.input_size
        if x.ndim == 1 and F == 1:
            x = x[:, None]
        if x.ndim == 2:
            x = x[None]  # one stream: (1, T_new, F)
        if x.ndim != 3 or x.shape[2] != F or x.shape[1] < 1:
            raise SeqlabError(f"chunk: expected new steps (time, {F}) or (streams, time, {F}), got shape {np.shape(chunk)}")
        if not np.all(np.isfinite(x)):
            raise SeqlabError("chunk: contains NaN or infinite values")
        if clf.mean_ is not None:
            x = ((x - clf.mean_) / clf.std_).astype(np.float32)
        return torch.from_numpy(x)  # raw with series normalisation: the whole prefix is normalised in update

    def _rerun(self) -> bool:
        """True when each update reruns the whole prefix (see the module docstring)."""
        c = self.net.config
        return (c.bidirectional or c.fcn > 0 or c.patch > 1 or c.pooling == "attention"
                or (not self.clf.is_text and self.clf._normalize() == "series"))

    # -- one update --------------------------------------------------------------------------------
    @torch.no_grad()
    def update(self, chunk: Any) -> np.ndarray:
        """Feed the new steps; returns the probabilities (C,) of the sequence so far ((B, C) for a
        batch of streams), columns in the order of ``classes_``."""
        net, c = self.net, self.net.config
        net.eval()
        x = net.embed(self._encode(chunk))  # (B, T_new, I)
        if self.proba is not None and x.shape[0] != self.proba.shape[0]:
            raise SeqlabError(f"chunk: these streams are {self.proba.shape[0]}, got {x.shape[0]}; call reset() first")
        if self._rerun():
            self.history.append(x)
            whole = torch.cat(self.history, 1)
            if not self.clf.is_text and self.clf._normalize() == "series":
                from .data import znormalize

                lens = np.full(whole.shape[0], whole.shape[1])
                whole = torch.from_numpy(znormalize(whole.numpy(), lens))
            lengths = torch.full((whole.shape[0],), whole.shape[1], dtype=torch.long)
            logits = net.forward_embedded(whole, lengths)
        else:
            out, self.state = net.rnn(x, self.state)  # out (B, T_new, H)
            if c.pooling == "last":
                h = self.state if isinstance(self.state, torch.Tensor) else self.state[0]
                feats = h[-1]  # (B, H): the top layer's state
            elif c.pooling == "mean":
                s = out.sum(1)
                self.pooled = s if self.pooled is None else self.pooled + s
                self.count += out.shape[1]
                feats = self.pooled / self.count
            else:
                m = out.max(1).values
                self.pooled = m if self.pooled is None else torch.maximum(self.pooled, m)
                feats = self.pooled
            logits = net.head(net.drop(feats))
        proba = torch.softmax(logits.double(), -1).numpy()
        self.proba = proba
        return proba[0] if proba.shape[0] == 1 else proba

    @property
    def label(self) -> Any:
        """The current label (a list for several streams)."""
        if self.proba is None:
            raise SeqlabError("label: no steps yet; call update(chunk) first")
        labels = [self.clf.classes_[i] for i in self.proba.argmax(1)]
        return labels[0] if len(labels) == 1 else labels


__all__ = ["ClassifierStream"]
