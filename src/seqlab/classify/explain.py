"""Which time steps mattered for one prediction: gradient x input and integrated gradients.

Both explain ``f(x) = softmax(net(x))[target]``, the probability of one class, with respect to the
network's input steps ``x`` (T, I): the embedding vectors for text, the standardised features
for numeric sequences. A step's importance is the sum of its attributions over the I inputs.

* ``"grad"`` (gradient x input): ``a_ti = x_ti * df/dx_ti``. One backward pass.
* ``"ig"`` (integrated gradients, Sundararajan et al. 2017): ``a_ti = (x_ti - b_ti) *
  mean_k df/dx_ti(b + alpha_k (x - b))`` over ``steps`` midpoints ``alpha_k = (k + 1/2) / steps``.
  The baseline b is 0: the zero vector for text (no token), the training mean for numeric
  features. Completeness: ``sum a ~= f(x) - f(b)``.

Positive importance pushed the prediction towards ``target``; negative pushed it away.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field

import numpy as np
import torch
from torch import Tensor

from ..errors import SeqlabError, check_positive_int
from .model import ClassifierNet

METHODS = ("grad", "ig")


@dataclass
class Explanation:
    """Per-step importance for one prediction."""

    steps: list[str]  # token strings (text) or "t=0", "t=1", ... (numeric)
    scores: np.ndarray  # (T,) importance of each step
    attributions: np.ndarray  # (T, I) per input dimension (embedding or feature)
    label: object  # the predicted label
    target: object  # the label explained
    probability: float  # softmax probability of ``target``
    method: str
    values: np.ndarray | None = None  # (T, F) raw numeric inputs; None for text
    unknown: list[int] = field(default_factory=list)  # steps whose token mapped to <unk>


def attribute(net: ClassifierNet, x: Tensor, target: int, method: str = "grad", steps: int = 64,
              baseline: Tensor | None = None) -> Tensor:
    """Attributions (T, I) for one embedded or numeric sequence ``x`` (T, I) of full length.

    Runs the recurrent layer with ``backend='loop'`` (plain autograd; cuDNN can only do backward in
    training mode) and the network in eval mode (no dropout).
    """
    if method not in METHODS:
        raise SeqlabError(f"method: expected one of {METHODS}, got {method!r}")
    check_positive_int("steps", steps)
    x = x.detach()
    T = x.shape[0]
    base = torch.zeros_like(x) if baseline is None else baseline.to(x)
    was_training, backend = net.training, net.rnn.backend
    net.eval()
    net.rnn.backend = "loop"
    try:
        if method == "grad":
            points = x.unsqueeze(0)  # (1, T, I)
        else:
            alphas = (torch.arange(steps, dtype=x.dtype, device=x.device) + 0.5) / steps
            points = base + alphas[:, None, None] * (x - base)  # (steps, T, I)
        points = points.clone().requires_grad_(True)
        lengths = torch.full((points.shape[0],), T, dtype=torch.long)
        prob = torch.softmax(net.forward_embedded(points, lengths), -1)[:, target]  # (K,)
        (grad,) = torch.autograd.grad(prob.sum(), points)
    finally:
        net.train(was_training)
        net.rnn.backend = backend
    if method == "grad":
        return x * grad[0]
    return (x - base) * grad.mean(0)


# -- display -----------------------------------------------------------------------------------

_POS = (194, 157, 120, 83, 46)  # xterm-256 greens, light to strong
_NEG = (224, 217, 210, 203, 196)  # reds


def _shade(score: float, top: float) -> int:
    level = min(int(abs(score) / top * len(_POS)), len(_POS) - 1) if top > 0 else 0
    return (_POS if score >= 0 else _NEG)[level]


def render(expl: Explanation, color: bool = False, width: int = 30) -> str:
    """Terminal text: tokens highlighted green (for the target) or red (against) with ``color``,
    else each token followed by its score; numeric steps as signed bars."""
    name = {"grad": "gradient x input", "ig": "integrated gradients"}[expl.method]
    lines = [f"predicted {expl.label!r}; importance of each step for {expl.target!r} "
             f"(p={expl.probability:.3f}) by {name}; + pushes towards it, - away"]
    s = expl.scores
    top = float(np.abs(s).max()) if len(s) else 0.0
    if expl.values is None:  # text
        parts = []
        for i, (tok, v) in enumerate(zip(expl.steps, s)):
            shown = tok + ("?" if i in expl.unknown else "")
            if color:
                parts.append(f"\x1b[48;5;{_shade(v, top)}m\x1b[38;5;16m{shown}\x1b[0m")
            else:
                parts.append(f"{shown}[{v:+.3f}]")
        lines.append(" ".join(parts))
        if expl.unknown:
            lines.append("tokens marked ? are not in the vocabulary and were read as <unk>")
        order = np.argsort(-np.abs(s))[:5]
        lines.append("strongest: " + ", ".join(f"{expl.steps[i]!r} {s[i]:+.3f}" for i in order))
    else:
        for i, v in enumerate(s):
            n = int(round(abs(v) / top * width)) if top > 0 else 0
            bar = ("+" if v >= 0 else "-") * n
            if color and n:
                bar = f"\x1b[38;5;{_shade(v, top)}m{'█' * n}\x1b[0m"
            lines.append(f"{expl.steps[i]:>6} {v:+.4f} {bar}")
    return "\n".join(lines)


def plot(expl: Explanation, path: str | os.PathLike) -> None:
    """Bar chart of per-step importance (and a heat map of the inputs for numeric sequences),
    written atomically to ``path`` (format from the extension, PNG by default)."""
    from ..plotting import pyplot, save_figure

    plt = pyplot()
    T = len(expl.scores)
    numeric = expl.values is not None
    fig, axes = plt.subplots(2 if numeric else 1, 1, figsize=(max(6.0, min(0.35 * T, 18.0)), 5 if numeric else 3),
                             squeeze=False, sharex=True)
    ax = axes[-1, 0]
    colors = ["tab:green" if v >= 0 else "tab:red" for v in expl.scores]
    ax.bar(np.arange(T), expl.scores, color=colors)
    ax.axhline(0, color="black", linewidth=0.5)
    ax.set_ylabel("importance")
    if numeric:
        top = axes[0, 0]
        top.imshow(expl.values.T, aspect="auto", cmap="viridis", interpolation="nearest")  # (F, T)
        top.set_ylabel("feature")
        top.set_title(f"input; predicted {expl.label!r}, explaining {expl.target!r} (p={expl.probability:.3f})")
        ax.set_xlabel("time step")
    else:
        ax.set_xticks(np.arange(T))
        ax.set_xticklabels(expl.steps, rotation=60, ha="right", fontsize=8)
        ax.set_title(f"predicted {expl.label!r}, explaining {expl.target!r} (p={expl.probability:.3f})")
    save_figure(fig, path)
