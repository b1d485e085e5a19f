"""Gradient clipping and the optimizers SGD, momentum, Adagrad and Adam, written out in NumPy.

Equations (docs/numpy.md, section "Optimizers"), for every parameter p with gradient g, at the
k-th update (k = 1, 2, ...), with L2 weight decay λ folded into the gradient first (g ← g + λ p):

    clipping:  n = sqrt(Σ_all g²);  g ← g · min(1, max_norm / (n + 1e-6))   (one n for all arrays)
    SGD:       p ← p - lr g
    momentum:  v ← μ v + g  (v = g at k = 1);  p ← p - lr v                 (torch's form)
    Adagrad:   s ← s + g²;  p ← p - lr g / (sqrt(s) + eps)
    Adam:      m ← β1 m + (1 - β1) g;  v ← β2 v + (1 - β2) g²
               m̂ = m / (1 - β1^k);  v̂ = v / (1 - β2^k);  p ← p - lr m̂ / (sqrt(v̂) + eps)

These are torch.optim.SGD / Adagrad / Adam and torch.nn.utils.clip_grad_norm_ with their default
options (the 1e-6 in the clipping coefficient is torch's), so torch is a test oracle. Parameters
are a dict ``{name: float64 array}`` changed in place by ``update(params, grads)``.
"""

from __future__ import annotations

from typing import Mapping

import numpy as np

from ..errors import SeqlabError, check_float

OPTIMIZERS = ("sgd", "momentum", "adagrad", "adam")
#: arrays of state each optimizer keeps per parameter (the memory estimate of the command reads it)
STATE_ARRAYS = {"sgd": 0, "momentum": 1, "adagrad": 1, "adam": 2}


def global_norm(grads: Mapping[str, np.ndarray]) -> float:
    """``sqrt(Σ g²)`` over every entry of every array."""
    return float(np.sqrt(sum(float((g * g).sum()) for g in grads.values())))


def clip_grad_norm(grads: dict[str, np.ndarray], max_norm: float) -> float:
    """Scale every gradient by ``min(1, max_norm / (norm + 1e-6))``, in place; returns the norm
    before clipping (so a caller can log it)."""
    check_float("max_norm", max_norm, 0, low_open=True)
    norm = global_norm(grads)
    coef = min(1.0, max_norm / (norm + 1e-6))
    for g in grads.values():
        g *= coef
    return norm


class Optimizer:
    """Common to the optimizers: learning rate, weight decay, per-parameter state, the step count."""

    def __init__(self, lr: float, weight_decay: float = 0.0) -> None:
        self.lr = check_float("lr", lr, 0, low_open=True)
        self.weight_decay = check_float("weight_decay", weight_decay, 0)
        self.state: dict[str, dict[str, np.ndarray]] = {}
        self.k = 0  # updates done

    def update(self, params: dict[str, np.ndarray], grads: Mapping[str, np.ndarray]) -> None:
        """One update of every ``params[name]`` (in place) from ``grads[name]``."""
        missing = sorted(set(params) - set(grads))
        if missing:
            raise SeqlabError(f"grads: expected a gradient for every parameter, got none for {missing}")
        self.k += 1
        for name, p in params.items():
            g = grads[name] + self.weight_decay * p if self.weight_decay else grads[name]
            self._update(p, g, self.state.setdefault(name, {}))

    def _update(self, p: np.ndarray, g: np.ndarray, s: dict[str, np.ndarray]) -> None:
        raise NotImplementedError


class SGD(Optimizer):
    """Plain SGD, or heavy-ball momentum ``v ← μ v + g, p ← p - lr v`` when ``momentum > 0``."""

    def __init__(self, lr: float, momentum: float = 0.0, weight_decay: float = 0.0) -> None:
        super().__init__(lr, weight_decay)
        self.momentum = check_float("momentum", momentum, 0, 1, high_open=True)

    def _update(self, p: np.ndarray, g: np.ndarray, s: dict[str, np.ndarray]) -> None:
        if self.momentum:
            s["v"] = self.momentum * s["v"] + g if "v" in s else g.copy()
            g = s["v"]
        p -= self.lr * g


class Adagrad(Optimizer):
    """Adagrad (Duchi et al. 2011), min-char-rnn's optimizer: each entry's step shrinks with the
    sum of its squared gradients."""

    def __init__(self, lr: float, eps: float = 1e-10, weight_decay: float = 0.0) -> None:
        super().__init__(lr, weight_decay)
        self.eps = check_float("eps", eps, 0, low_open=True)

    def _update(self, p: np.ndarray, g: np.ndarray, s: dict[str, np.ndarray]) -> None:
        s["s"] = s.get("s", 0.0) + g * g
        p -= self.lr * g / (np.sqrt(s["s"]) + self.eps)


class Adam(Optimizer):
    """Adam (Kingma & Ba 2015): moving averages of g and g², corrected for their zero start."""

    def __init__(self, lr: float, betas: tuple[float, float] = (0.9, 0.999), eps: float = 1e-8,
                 weight_decay: float = 0.0) -> None:
        super().__init__(lr, weight_decay)
        if not isinstance(betas, (tuple, list)) or len(betas) != 2:
            raise SeqlabError(f"betas: expected a pair (beta1, beta2) in [0, 1), got {betas!r}")
        self.b1 = check_float("betas[0]", betas[0], 0, 1, high_open=True)
        self.b2 = check_float("betas[1]", betas[1], 0, 1, high_open=True)
        self.eps = check_float("eps", eps, 0, low_open=True)

    def _update(self, p: np.ndarray, g: np.ndarray, s: dict[str, np.ndarray]) -> None:
        s["m"] = self.b1 * s.get("m", 0.0) + (1 - self.b1) * g
        s["v"] = self.b2 * s.get("v", 0.0) + (1 - self.b2) * g * g
        m_hat = s["m"] / (1 - self.b1**self.k)
        v_hat = s["v"] / (1 - self.b2**self.k)
        p -= self.lr * m_hat / (np.sqrt(v_hat) + self.eps)


def make_optimizer(name: str, lr: float, momentum: float = 0.9, weight_decay: float = 0.0) -> Optimizer:
    """``name`` one of :data:`OPTIMIZERS`; ``momentum`` is used by 'momentum' only."""
    if name == "sgd":
        return SGD(lr, 0.0, weight_decay)
    if name == "momentum":
        return SGD(lr, momentum, weight_decay)
    if name == "adagrad":
        return Adagrad(lr, weight_decay=weight_decay)
    if name == "adam":
        return Adam(lr, weight_decay=weight_decay)
    raise SeqlabError(f"optimizer: expected one of {', '.join(OPTIMIZERS)}, got {name!r}")
