"""Gradient flow through time: how much of the loss's gradient reaches each step.

``gradient_flow(model, x, y)`` runs ``model`` once with every seqlab recurrent layer stepped one
time step at a time (see :mod:`seqlab.diagnostics.trace`), then asks autograd for the total
derivative of the loss with respect to each step's hidden state h_t (every layer and direction)
and to each step of the input of the first recurrent layer. A plain tanh RNN's gradient shrinks
geometrically as it goes back in time (Bengio et al. 1994; Pascanu et al. 2013); the LSTM's
additive cell state lets it travel much further.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ..errors import SeqlabError
from .trace import ensure_built, recording, to_time_order

LossFn = Callable[[Tensor, Tensor], Tensor]


def default_loss(output, y: Tensor) -> Tensor:
    """Cross-entropy when ``y`` holds class indices, mean squared error otherwise.

    ``output`` may be a model's tensor or a ``(output, state)`` pair (a bare recurrent layer).
    """
    out = output[0] if isinstance(output, (tuple, list)) else output
    if not isinstance(out, Tensor):
        raise SeqlabError(f"model output: expected a tensor or (tensor, state), got {type(out).__name__}; pass loss_fn")
    if not y.is_floating_point():
        return F.cross_entropy(out.reshape(-1, out.shape[-1]), y.reshape(-1))  # (B*T, C) vs (B*T,)
    if out.shape != y.shape:
        raise SeqlabError(
            f"y: expected the shape of the model's output {tuple(out.shape)} for the default mean squared error, "
            f"got {tuple(y.shape)}; pass loss_fn=... for another loss"
        )
    return F.mse_loss(out, y)


@dataclass
class GradientFlow:
    """Per-step gradient norms of one batch.

    ``hidden[label]`` is (T,): ``||dL/dh_t||`` (Frobenius norm over batch and hidden units) for each
    recurrent (layer, direction), labelled like torch's parameters: ``"lstm.l0"``,
    ``"lstm.l1_reverse"``. ``input`` is (T,): ``||dL/dx_t||`` over batch and features, for the input
    of the first recurrent layer. Index 0 is the first time step.
    """

    loss: float
    hidden: dict[str, np.ndarray] = field(default_factory=dict)
    input: np.ndarray | None = None

    def ratio(self, label: str | None = None) -> float:
        """``||dL/dh_1|| / ||dL/dh_T||`` for ``label`` (default: the first layer): how much survives."""
        label = label or next(iter(self.hidden))
        h = self.hidden[label]
        return float(h[0] / h[-1]) if h[-1] > 0 else float("nan")


def gradient_flow(model: nn.Module, x: Tensor, y: Tensor, loss_fn: LossFn | None = None,
                  training: bool = False, **forward_kwargs) -> GradientFlow:
    """Norms of dL/dh_t for every time step, layer and direction, and of dL/dx_t.

    ``model`` is any ``nn.Module`` containing seqlab recurrent layers (the layer itself, a
    Sequential, a plain torch module); it is called as ``model(x, **forward_kwargs)`` and
    ``loss_fn(output, y)`` (default :func:`default_loss`) must return a scalar. The model runs in
    eval mode (no dropout) unless ``training=True``; its mode and parameters' gradients are left
    as they were. Runs in the dtype of the model: use float64 to see gradients below 1e-38.
    """
    if not isinstance(x, Tensor) or not isinstance(y, Tensor):
        raise SeqlabError(f"x, y: expected torch tensors, got {type(x).__name__} and {type(y).__name__}")
    loss_fn = loss_fn or default_loss
    was_training = model.training
    model.train(training)
    try:
        ensure_built(model, x, **forward_kwargs)
        with torch.enable_grad(), recording(model, make_input_leaf=True) as rec:
            output = model(x, **forward_kwargs)
            loss = loss_fn(output, y)
        if not isinstance(loss, Tensor) or loss.dim() != 0:
            raise SeqlabError("loss_fn: expected it to return a scalar tensor")
        if not rec.traces or not rec.traces[0].new:
            raise SeqlabError("model: its recurrent layers were not called by model(x); check the input")
        hs = [h for tr in rec.traces for h in (n[0] for n in tr.new)]
        first_input = rec.inputs[0][1] if rec.inputs and rec.inputs[0][1].requires_grad else None
        targets = hs + ([first_input] if first_input is not None else [])
        grads = torch.autograd.grad(loss, targets, allow_unused=True)
    finally:
        model.train(was_training)

    flow = GradientFlow(loss=float(loss.detach()))
    i = 0
    for tr in rec.traces:
        n = len(tr.new)
        g = [torch.zeros_like(h) if gr is None else gr for h, gr in zip(hs[i : i + n], grads[i : i + n])]
        i += n
        g = to_time_order(torch.stack(g, 1), tr.direction, tr.lengths)  # (B, T, H) in time order
        flow.hidden[tr.label] = g.detach().norm(dim=(0, 2)).double().cpu().numpy()  # (T,)
    if first_input is not None:
        gx = grads[-1]
        gx = torch.zeros_like(first_input) if gx is None else gx
        layer = rec.inputs[0][2]
        if first_input.dim() == 2:  # unbatched (T, I)
            gx = gx.unsqueeze(0)  # (1, T, I)
        elif not layer.batch_first:
            gx = gx.transpose(0, 1)  # (T, B, I) -> (B, T, I)
        flow.input = gx.detach().flatten(2).norm(dim=(0, 2)).double().cpu().numpy()  # (T,)
    return flow



def spectral_radius(matrix: Tensor) -> float:
    """The largest absolute eigenvalue of a square matrix (computed in float64)."""
    return float(torch.linalg.eigvals(matrix.detach().double().cpu()).abs().max())


@torch.no_grad()
def scale_recurrent_weights(model: nn.Module, radius: float) -> int:
    """Scale every recurrent weight block of the seqlab recurrent layers in ``model`` to spectral
    radius ``radius``; returns the number of blocks scaled.

    A cell's ``weight_hh`` (G*H, H) holds one (H, H) block per gate (``i|f|g|o``, ``r|z|n``); each is
    scaled on its own. For a tanh RNN in its linear regime dh_t/dh_{t-1} ≈ W_hh, so the gradient
    sent k steps back grows or shrinks like radius^k (Pascanu, Mikolov and Bengio 2013): above 1
    it can explode, below 1 it vanishes.
    """
    if isinstance(radius, bool) or not isinstance(radius, (int, float)) or not radius > 0 or radius != radius \
            or radius == float("inf"):
        raise SeqlabError(f"radius: expected a positive finite spectral radius such as 0.9 or 1.5, got {radius!r}")
    from ..nn.cells import CellBase

    n = 0
    for cell in model.modules():
        w = getattr(cell, "weight_hh", None)
        if not isinstance(cell, CellBase) or w is None:
            continue
        H = cell.hidden_size
        for g in range(w.shape[0] // H):
            block = w[g * H:(g + 1) * H]  # (H, H), a view
            rho = spectral_radius(block)
            if rho > 0:
                block.mul_(radius / rho)
                n += 1
    if n == 0:
        raise SeqlabError("model: it has no recurrent weight matrix to scale (no seqlab RNN / LSTM / GRU cell with "
                          "weight_hh; the minimal cells MinGRU / MinLSTM have none)")
    return n
