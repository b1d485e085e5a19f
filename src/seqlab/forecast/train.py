"""A compact training loop: Adam, pinball loss, gradient clipping, early stopping on validation.

The validation windows come from the end of the training part (see
:func:`seqlab.forecast.windows.split_train_val`); the weights with the best validation loss are
kept. Without validation windows the loop trains for every epoch and keeps the last weights.
"""

from __future__ import annotations

import math

import numpy as np
import torch
from torch import Tensor

from ..utils import progress
from .model import ForecastNet


def pinball_loss(pred: Tensor, target: Tensor, quantiles: Tensor) -> Tensor:
    """Mean pinball loss of ``pred`` (B, S, Q) against ``target`` (B, S) for ``quantiles`` (Q,)."""
    d = target.unsqueeze(-1) - pred  # (B, S, Q)
    return torch.maximum(quantiles * d, (quantiles - 1) * d).mean()


def fit_net(net: ForecastNet, X: np.ndarray, Y: np.ndarray, Xv: np.ndarray, Yv: np.ndarray,
            quantiles: list[float], epochs: int, lr: float = 5e-3, batch_size: int = 32,
            patience: int = 30, clip: float = 1.0, weight_decay: float = 0.0,
            seed: int = 0, verbose: int = 1, desc: str = "train") -> dict:
    """Train ``net`` on windows X (N, L, F) -> Y (N, S); validate on (Xv, Yv). Returns a history
    dict with 'train' and 'val' losses per epoch and the 'best_epoch'."""
    gen = torch.Generator().manual_seed(seed)
    Xt, Yt = torch.as_tensor(X, dtype=torch.float32), torch.as_tensor(Y, dtype=torch.float32)
    Xvt, Yvt = torch.as_tensor(Xv, dtype=torch.float32), torch.as_tensor(Yv, dtype=torch.float32)
    q = torch.tensor(quantiles, dtype=torch.float32)
    opt = torch.optim.Adam(net.parameters(), lr=lr, weight_decay=weight_decay)
    n = len(Xt)
    best, best_state, best_epoch, bad = math.inf, None, -1, 0
    hist: dict = {"train": [], "val": []}
    for epoch in progress(range(epochs), total=epochs, desc=desc, verbose=verbose, leave=False):
        net.train()
        perm = torch.randperm(n, generator=gen)
        total = 0.0
        for i in range(0, n, batch_size):
            idx = perm[i : i + batch_size]
            loss = pinball_loss(net(Xt[idx]), Yt[idx], q)
            opt.zero_grad()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(net.parameters(), clip)
            opt.step()
            total += float(loss.detach()) * len(idx)
        hist["train"].append(total / n)
        if len(Xvt):
            net.eval()
            with torch.no_grad():
                v = float(pinball_loss(net(Xvt), Yvt, q))
            hist["val"].append(v)
            if v < best - 1e-6:
                best, best_epoch, bad = v, epoch, 0
                best_state = {k: t.detach().clone() for k, t in net.state_dict().items()}
            else:
                bad += 1
                if bad >= patience:
                    break
    if best_state is not None:
        net.load_state_dict(best_state)
    hist["best_epoch"] = best_epoch if best_state is not None else len(hist["train"]) - 1
    net.eval()
    return hist
