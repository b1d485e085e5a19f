"""Exploding gradients on a training curve: the same network trained with and without clipping.

:func:`clipping_comparison` builds one plain tanh RNN for the adding problem, scales its recurrent
matrix to a spectral radius (:func:`seqlab.diagnostics.gradients.scale_recurrent_weights`; above 1
the gradient sent back k steps grows like radius^k), and trains two copies of it from the same
weights on the same batches through the one training loop (:func:`seqlab.train.train`) with plain
SGD: one with the gradient norm clipped to ``clipnorm`` (Pascanu, Mikolov and Bengio 2013), one
without. SGD makes the step as long as the gradient, so an exploding gradient throws the weights
far; Adam would normalise much of that away. Each run records the training loss and the gradient
norm (before clipping) of every step.
"""

from __future__ import annotations

import copy
import math
from dataclasses import dataclass, field

import numpy as np
import torch
from torch import Tensor

from ..errors import check_float, check_int
from ..train import Task, TrainConfig, train
from ..train.callbacks import Callback
from ..utils import seed_everything
from .gradients import scale_recurrent_weights
from .gradnorm import GradientNormRecorder
from .report import fit_number
from .tasks import adding_problem


@dataclass
class ClipRun:
    """One training run: per-step loss and gradient norm, and the loss on a held-out batch."""

    clipnorm: float | None
    losses: np.ndarray  # (steps,) training loss of each step
    norms: np.ndarray  # (steps,) gradient norm before clipping
    eval_loss: float  # MSE on a held-out batch after training (nan if training diverged)
    diverged_at: int | None = None  # the first step whose loss was not finite

    def summary(self) -> dict[str, float]:
        finite = self.losses[np.isfinite(self.losses)]
        n = self.norms[np.isfinite(self.norms)]
        out = {"steps": float(len(self.losses)), "eval_loss": self.eval_loss,
               "max_loss": float(finite.max()) if len(finite) else math.nan,
               "median_norm": float(np.median(n)) if len(n) else math.nan,
               "max_norm": float(n.max()) if len(n) else math.nan}
        if self.clipnorm is not None and len(n):
            out["clipped_fraction"] = float((n > self.clipnorm).mean())
            out["max_norm_after_clipping"] = float(np.minimum(n, self.clipnorm).max())
        return out


@dataclass
class ClipComparison:
    radius: float
    length: int
    hidden: int
    lr: float
    steps: int
    runs: list[ClipRun] = field(default_factory=list)


class _AddingSGDTask(Task):
    """The adding problem, a fresh batch each step from the loop's generator; plain SGD."""

    def __init__(self, model, length: int, batch_size: int, steps_per_epoch: int) -> None:
        self.model, self.length, self.batch_size, self.per_epoch = model, length, batch_size, steps_per_epoch
        self.losses: list[Tensor] = []

    def configure_optimizer(self, config: TrainConfig) -> torch.optim.Optimizer:
        return torch.optim.SGD(self.model.parameters(), lr=config.lr)

    def num_batches(self) -> int:
        return self.per_epoch

    def batches(self, epoch: int, generator: torch.Generator):
        for _ in range(self.per_epoch):
            x, y = adding_problem(self.batch_size, self.length, generator)
            yield x.to(self.device), y.to(self.device)

    def training_step(self, net, batch):
        x, y = batch
        loss = self.model.loss(net(x), y)
        self.losses.append(loss.detach())
        return loss


class _StopOnNonFinite(Callback):
    """Stop at the first step whose loss is NaN or infinite (the rest would be NaN too)."""

    def __init__(self) -> None:
        self.step: int | None = None

    def on_train_batch_end(self, step, logs=None):
        if self.step is None and not bool(torch.isfinite(logs["loss"])):
            self.step = step
            self.model.stop_training = True


def clipping_comparison(radius: float = 2.0, clipnorm: float = 1.0, length: int = 50, hidden: int = 32,
                        steps: int = 300, lr: float = 0.05, batch_size: int = 32, seed: int = 0,
                        threads: int | None = None) -> ClipComparison:
    """Train one tanh RNN at spectral radius ``radius`` twice, without and with ``clipnorm``."""
    from .memory import MemoryModel

    check_float("radius", radius, 0, low_open=True, meaning="the spectral radius of the recurrent matrix")
    check_float("clipnorm", clipnorm, 0, low_open=True)
    check_float("lr", lr, 0, low_open=True)
    check_int("length", length, 2)
    for name, v in (("hidden", hidden), ("steps", steps), ("batch_size", batch_size)):
        check_int(name, v, 1)
    seed_everything(seed)
    base = MemoryModel("adding", "rnn", hidden, keep_bias=0.0)
    scale_recurrent_weights(base, radius)
    per_epoch = min(steps, 50)
    out = ClipComparison(radius, length, hidden, lr, steps)
    x_eval, y_eval = adding_problem(1000, length, torch.Generator().manual_seed(seed + 10_000))
    for clip in (None, clipnorm):
        model = copy.deepcopy(base)
        task = _AddingSGDTask(model, length, batch_size, per_epoch)
        rec, stop = GradientNormRecorder(clip), _StopOnNonFinite()
        cfg = TrainConfig(epochs=None, max_steps=steps, lr=lr, clipnorm=clip, seed=seed, device="cpu",
                          threads=threads, verbose=0, checkpoint_minutes=None,
                          restore_finite=False)  # the diverged weights are the point of the demonstration
        train(task, cfg, callbacks=[rec, stop])
        losses = torch.stack(task.losses).double().numpy() if task.losses else np.zeros(0)
        model.eval()
        with torch.no_grad():
            ev = float(model.loss(model(x_eval), y_eval))
        out.runs.append(ClipRun(clip, losses, rec.norms, ev if math.isfinite(ev) else math.nan, stop.step))
    return out


def clipping_report(cmp: ClipComparison, plot: str | None = None) -> str:
    """A table of the two runs (and, with ``plot``, a PNG of their loss and gradient-norm curves)."""
    lines = [f"\nclipping: tanh RNN, hidden {cmp.hidden}, recurrent spectral radius {cmp.radius:g}, adding problem "
             f"T = {cmp.length}, SGD lr {cmp.lr:g}, up to {cmp.steps} steps"]
    steps = max(6, len(str(cmp.steps)))  # --clip-steps goes to 10 million
    lines.append(f"{'clipnorm':>9s} {'steps':>{steps}s} {'eval MSE':>9s} {'max loss':>10s} {'median ||g||':>13s} "
                 f"{'max ||g||':>11s} {'clipped':>8s}  note")
    for r in cmp.runs:
        s = r.summary()
        clip = "none" if r.clipnorm is None else f"{r.clipnorm:g}"
        if len(clip) > 9:  # 123456789.5 -> 1.23e+08
            clip = f"{r.clipnorm:.3g}"
        frac = "" if r.clipnorm is None else f"{100 * s['clipped_fraction']:.0f}%"
        note = f"loss not finite at step {r.diverged_at + 1}" if r.diverged_at is not None else ""
        if r.clipnorm is not None:
            note = f"norm after clipping <= {s['max_norm_after_clipping']:.3g}" + (f"; {note}" if note else "")
        # the .3g columns are at most 9 characters wide for the values they hold (>= 0: 1.23e+300)
        lines.append(f"{clip:>9s} {len(r.losses):{steps}d} {fit_number(s['eval_loss'], 9)} {s['max_loss']:10.3g} "
                     f"{s['median_norm']:13.3g} {s['max_norm']:11.3g} {frac:>8s}  {note}")
    lines.append("(the adding problem's memoryless baseline is MSE 0.167)")
    if plot is not None:
        _plot(cmp, plot)
        lines.append(f"wrote {plot}")
    return "\n".join(lines)


def _plot(cmp: ClipComparison, path: str) -> None:
    from ..plotting import pyplot, save_figure

    plt = pyplot()
    fig, (a, b) = plt.subplots(1, 2, figsize=(12, 4))
    for r in cmp.runs:
        label = "no clipping" if r.clipnorm is None else f"clipnorm {r.clipnorm:g}"
        steps = np.arange(1, len(r.losses) + 1)
        a.plot(steps, r.losses, lw=0.8, label=label)
        b.plot(np.arange(1, len(r.norms) + 1), r.norms, lw=0.8, label=label + " (before clipping)")
    clip = cmp.runs[-1].clipnorm
    if clip is not None:
        b.axhline(clip, color="k", ls="--", lw=0.8, label=f"clipnorm = {clip:g}")
    for ax, name in ((a, "training loss (MSE)"), (b, "||gradient||")):
        ax.set_yscale("log")
        ax.set_xlabel("training step")
        ax.set_ylabel(name)
        ax.grid(True, alpha=0.3)
        ax.legend()
    fig.suptitle(f"tanh RNN at spectral radius {cmp.radius:g}: SGD with and without clipping by norm")
    save_figure(fig, path)
