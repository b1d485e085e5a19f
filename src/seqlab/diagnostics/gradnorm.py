"""Record the gradient norm at every training step, and what clipping by norm does to it.

:class:`GradientNormRecorder` is a :class:`seqlab.train.callbacks.Callback`: pass it to
``model.fit(..., callbacks=[rec], clipnorm=1.0)`` and it reads the global gradient norm in the
engine's ``on_after_backward`` hook (after backward, before clipping and the optimizer step); any
task on :func:`seqlab.train.train` takes it the same way. In a loop of your own, call
``rec.record(model.parameters())`` after the backward pass and before clipping. Norms stay tensors until read, so recording adds no host synchronisation.

With ``clipnorm`` set, the norm after clipping is the one ``torch.nn.utils.clip_grad_norm_``
leaves: ``norm * min(1, clipnorm / (norm + 1e-6))``.
"""

from __future__ import annotations

import os
from typing import Iterable

import numpy as np
import torch
from torch import Tensor

from ..errors import SeqlabError
from ..train.callbacks import Callback


def grad_norm(parameters: Iterable[torch.nn.Parameter]) -> Tensor:
    """The global L2 norm of the gradients of ``parameters`` (as ``clip_grad_norm_`` computes it), a 0-dim tensor."""
    grads = [p.grad.detach() for p in parameters if p.grad is not None]
    if not grads:
        return torch.zeros(())
    return torch.linalg.vector_norm(torch.stack([torch.linalg.vector_norm(g) for g in grads]))


class GradientNormRecorder(Callback):
    """Gradient norm of every training step, before and (with ``clipnorm``) after clipping."""

    def __init__(self, clipnorm: float | None = None) -> None:
        if clipnorm is not None and (isinstance(clipnorm, bool) or not isinstance(clipnorm, (int, float)) or clipnorm <= 0):
            raise SeqlabError(f"clipnorm: expected a positive number or None, got {clipnorm!r}")
        self.clipnorm = None if clipnorm is None else float(clipnorm)
        self._norms: list[Tensor] = []

    # -- recording -----------------------------------------------------------------------------
    def record(self, parameters: Iterable[torch.nn.Parameter]) -> Tensor:
        """Record (and return) the current gradient norm; call after backward, before clipping."""
        n = grad_norm(parameters)
        self._norms.append(n)
        return n

    def on_after_backward(self, model, step: int) -> None:
        self.record(model.parameters())

    # -- reading -------------------------------------------------------------------------------
    @property
    def norms(self) -> np.ndarray:
        """(steps,) gradient norm before clipping."""
        return torch.stack(self._norms).double().cpu().numpy() if self._norms else np.zeros(0)

    @property
    def clipped_norms(self) -> np.ndarray:
        """(steps,) gradient norm after clipping by ``clipnorm`` (the same as ``norms`` without it)."""
        n = self.norms
        if self.clipnorm is None:
            return n
        return n * np.minimum(1.0, self.clipnorm / (n + 1e-6))

    def summary(self) -> dict[str, float]:
        """Steps, median and max norm, and the fraction of steps that clipping rescaled."""
        n = self.norms
        if not len(n):
            return {"steps": 0}
        out = {"steps": len(n), "median": float(np.median(n)), "max": float(n.max()),
               "max_after_clipping": float(self.clipped_norms.max())}
        if self.clipnorm is not None:
            out["clipped_fraction"] = float((n > self.clipnorm).mean())
        return out

    def plot(self, path: str | os.PathLike | None = None, title: str = "gradient norm per step"):
        """Norms before and after clipping on a log scale; written atomically to ``path`` (PNG) if given."""
        from ..plotting import pyplot, save_figure

        plt = pyplot()
        fig, ax = plt.subplots(figsize=(8, 3.5))
        steps = np.arange(1, len(self.norms) + 1)
        ax.plot(steps, self.norms, lw=0.8, label="before clipping")
        if self.clipnorm is not None:
            ax.plot(steps, self.clipped_norms, lw=0.8, label="after clipping")
            ax.axhline(self.clipnorm, color="k", ls="--", lw=0.8, label=f"clipnorm = {self.clipnorm:g}")
        ax.set_yscale("log")
        ax.set_xlabel("training step")
        ax.set_ylabel("||gradient||")
        ax.set_title(title)
        ax.legend()
        return save_figure(fig, path)
