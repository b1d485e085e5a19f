"""The training engine behind ``Sequential.fit``, ``evaluate`` and ``predict``.

One training step is exactly a hand-written PyTorch step (forward, loss, zero_grad, backward,
optional clipping, optimizer step); the extras cost no host synchronisation: per-batch losses
and metric sums stay tensors until the end of the epoch, and batch-level callback hooks run only
when a callback overrides them.
"""

from __future__ import annotations

import sys
import time
from typing import Any, Sequence

import numpy as np
import torch
from torch import Tensor
from torch.utils.data import DataLoader

from ..errors import SeqlabError, check_int, check_positive_int
from ..utils import is_interactive, resolve_device, seed_everything
from . import distributed as D
from .callbacks import Callback, overrides
from .data import ArrayData, as_tensor, distributed_loader, split_batch
from .history import History




def make_data(model, x: Any, y: Any, name: str = "x", need_y: bool = True) -> ArrayData | DataLoader:
    """Validate ``x``/``y`` and wrap them (a DataLoader passes through)."""
    if isinstance(x, DataLoader):
        if y is not None:
            raise SeqlabError(f"y: pass y=None when {name} is a DataLoader (it yields (x, y) batches)")
        return x
    if x is None:
        raise SeqlabError(f"{name}: no input data given; pass arrays or tensors x and y, or a DataLoader")
    dtype = model.param_dtype()
    xt = as_tensor(name, x, dtype)
    if y is None:
        if need_y:
            raise SeqlabError(f"y: targets are missing; pass y with one target per sample of {name}")
        return ArrayData(xt, None)
    yt = as_tensor("y" if name == "x" else f"{name} targets", y, dtype)
    if xt.shape[0] != yt.shape[0]:
        raise SeqlabError(
            f"x and y: expected the same number of samples, got {xt.shape[0]} in {name} and {yt.shape[0]} in y"
        )
    if xt.shape[0] == 0:
        raise SeqlabError(f"{name}: no samples (the first axis has length 0)")
    return ArrayData(xt, yt)


def _first_x(data: ArrayData | DataLoader) -> Tensor:
    if isinstance(data, ArrayData):
        return data.x[:1]
    xb, _ = split_batch(next(iter(data)))
    return torch.as_tensor(xb)


class _Step:
    """Loss, metrics and fused-logits choice shared by training and evaluation."""

    def __init__(self, model) -> None:
        from ..layers import ACTIVATIONS

        self.loss = model.loss_fn
        self.metrics = model.metric_fns
        act = model.last_activation()
        self.fuse = self.loss.fuses is not None and act == self.loss.fuses
        self.act = ACTIVATIONS[act] if self.fuse else None

    def probs(self, out: Tensor) -> Tensor:
        return self.act(out) if self.fuse else out


def _to(t: Any, device: torch.device, dtype: torch.dtype) -> Tensor:
    t = torch.as_tensor(t)
    if t.dtype.is_floating_point and t.dtype != dtype:
        t = t.to(dtype)
    return t.to(device, non_blocking=True)


def _fmt(logs: dict[str, float]) -> str:
    return " - ".join(f"{k}: {v:.4g}" for k, v in logs.items())


def _autocast(device: torch.device, enabled: bool):
    if not enabled:
        return None, None
    if device.type != "cuda":
        raise SeqlabError("mixed_precision: needs a CUDA GPU; use mixed_precision=False on CPU")
    if torch.cuda.is_bf16_supported():
        return torch.bfloat16, None
    return torch.float16, torch.amp.GradScaler("cuda")


def fit(model, x: Any = None, y: Any = None, batch_size: int = 32, epochs: int = 1, verbose: int = 1,
        callbacks: Sequence[Callback] | None = None, validation_split: float = 0.0,
        validation_data: Any = None, shuffle: bool = True, initial_epoch: int = 0,
        clipnorm: float | None = None, l1: float = 0.0, l2: float = 0.0, seed: int | None = None,
        device: str | torch.device = "auto", mixed_precision: bool = False) -> History:
    """Train ``model``; see :meth:`seqlab.model.Sequential.fit`."""
    if model.loss_fn is None:
        raise SeqlabError("fit: the model is not compiled; call model.compile(loss='mse', optimizer='adam') first")
    check_positive_int("batch_size", batch_size)
    check_positive_int("epochs", epochs)
    if verbose not in (0, 1, 2):
        raise SeqlabError(f"verbose: expected 0 (silent), 1 (progress bar) or 2 (one line per epoch), got {verbose!r}")
    check_int("initial_epoch", initial_epoch, 0)
    if clipnorm is not None and not (isinstance(clipnorm, (int, float)) and clipnorm > 0):
        raise SeqlabError(f"clipnorm: expected a positive number or None, got {clipnorm!r}")
    for nm, v in (("l1", l1), ("l2", l2)):
        if isinstance(v, bool) or not isinstance(v, (int, float)) or v < 0:
            raise SeqlabError(f"{nm}: expected a non-negative penalty factor, got {v!r}")
    if not isinstance(validation_split, (int, float)) or not 0 <= validation_split < 1:
        raise SeqlabError(f"validation_split: expected a fraction in [0, 1), got {validation_split!r}")
    callbacks = list(callbacks or [])
    for cb in callbacks:
        if not isinstance(cb, Callback):
            raise SeqlabError(f"callbacks: expected seqlab.train.callbacks.Callback instances, got {type(cb).__name__}")

    seed_everything(seed)
    dev = resolve_device(device)
    ctx, dev = D.setup(dev)

    train = make_data(model, x, y)
    val = None
    if validation_split:
        if not isinstance(train, ArrayData):
            raise SeqlabError("validation_split: works with arrays only; pass validation_data with a DataLoader")
        train, val = train.split(validation_split)
    if validation_data is not None:
        if isinstance(validation_data, DataLoader):
            val = validation_data
        elif isinstance(validation_data, (tuple, list)) and len(validation_data) == 2:
            val = make_data(model, validation_data[0], validation_data[1], name="validation_data")
        else:
            raise SeqlabError("validation_data: expected a tuple (x_val, y_val) or a DataLoader")

    if not model.built:
        model.build_from(_first_x(train))  # lazy build from one sample (on CPU, before moving to the device)
    for nm, d in (("x", train), ("validation_data", val)):
        if isinstance(d, ArrayData):
            model.check_input_shape(tuple(d.x.shape), nm)
    if model.device() != dev:
        model.to(dev)
    opt = model.ensure_optimizer(dev)
    if isinstance(train, ArrayData):
        train = train.to(dev)
    else:
        train = distributed_loader(train, ctx, shuffle, seed)
    if isinstance(val, ArrayData):
        val = val.to(dev)

    net = model
    if ctx.enabled:
        from torch.nn.parallel import DistributedDataParallel as DDP

        net = DDP(model, device_ids=[dev.index] if dev.type == "cuda" else None)
    amp_dtype, scaler = _autocast(dev, mixed_precision)

    step = _Step(model)
    loss_fn, metrics, fuse = step.loss, step.metrics, step.fuse
    dtype = model.param_dtype()
    penalized = [p for p in model.parameters() if p.dim() > 1] if (l1 or l2) else []
    gen = None
    if seed is not None:
        gen = torch.Generator().manual_seed(seed)

    history = History()
    n_steps = train.num_batches(batch_size, ctx) if isinstance(train, ArrayData) else len(train)
    history.params = {"epochs": epochs, "steps": n_steps, "verbose": verbose, "batch_size": batch_size}
    model.stop_training = False
    for cb in callbacks:
        cb.set_model(model)
        cb.is_main = ctx.is_main
    begin_cbs = [cb for cb in callbacks if overrides(cb, "on_train_batch_begin")]
    grad_cbs = [cb for cb in callbacks if overrides(cb, "on_after_backward")]
    end_cbs = [cb for cb in callbacks if overrides(cb, "on_train_batch_end")]
    show = verbose if ctx.is_main else 0
    bar = show == 1 and is_interactive() and not _no_progress()

    for cb in callbacks:
        cb.on_train_begin({})
    gstep = 0
    logs: dict[str, float] = {}
    for epoch in range(initial_epoch, epochs):
        for cb in callbacks:
            cb.on_epoch_begin(epoch, {})
        model.train()
        t0 = time.perf_counter()
        losses: list[Tensor] = []
        sizes: list[int] = []
        msums: list[Tensor | int] = [0] * len(metrics)
        mcounts = [0] * len(metrics)
        if isinstance(train, ArrayData):
            batches = train.train_batches(batch_size, shuffle, epoch, seed, gen, ctx)
        else:
            if hasattr(train.sampler, "set_epoch"):
                train.sampler.set_epoch(epoch)
            batches = (tuple(_to(t, dev, dtype) for t in split_batch(b)) for b in train)
        pbar = None
        if bar:
            from tqdm.auto import tqdm

            pbar = tqdm(total=n_steps, desc=f"Epoch {epoch + 1}/{epochs}", leave=True, dynamic_ncols=True,
                        file=sys.stderr)
            every = max(1, n_steps // 20)
        for i, (xb, yb) in enumerate(batches):
            if begin_cbs:
                for cb in begin_cbs:
                    cb.on_train_batch_begin(gstep, {})
            if amp_dtype is None:
                out = net(xb, return_logits=fuse)
                loss = loss_fn(yb, out, fuse)
            else:
                with torch.autocast(dev.type, dtype=amp_dtype):
                    out = net(xb, return_logits=fuse)
                    loss = loss_fn(yb, out.float(), fuse)
            if penalized:
                loss = loss + _penalty(penalized, l1, l2)
            opt.zero_grad(set_to_none=True)
            if scaler is None:
                loss.backward()
            else:
                scaler.scale(loss).backward()
                scaler.unscale_(opt)
            if grad_cbs:
                for cb in grad_cbs:
                    cb.on_after_backward(model, gstep)
            if clipnorm:
                torch.nn.utils.clip_grad_norm_(model.parameters(), clipnorm)
            if scaler is None:
                opt.step()
            else:
                scaler.step(opt)
                scaler.update()
            ld = loss.detach()
            losses.append(ld)
            sizes.append(xb.shape[0])
            if metrics:
                with torch.no_grad():
                    pred = step.probs(out.detach())
                    for k, m in enumerate(metrics):
                        s, c = m.update(yb, pred)
                        msums[k] = msums[k] + s
                        mcounts[k] += c
            if end_cbs:
                for cb in end_cbs:
                    cb.on_train_batch_end(gstep, {"loss": ld, "size": xb.shape[0]})
            gstep += 1
            if pbar is not None:
                pbar.update(1)
                if i % every == 0:
                    pbar.set_postfix_str(f"loss: {ld.item():.4g}")
            if model.stop_training and end_cbs:
                break
        # epoch values: one sync here
        if not losses:
            raise SeqlabError("x: no training batches (empty data)")
        w = torch.tensor(sizes, dtype=torch.float64)
        tot = torch.stack(losses).double().cpu() @ w
        vec = torch.stack([tot, w.sum()] + [torch.as_tensor(s, dtype=torch.float64).cpu() for s in msums]
                          + [torch.tensor(float(c), dtype=torch.float64) for c in mcounts])
        vec = _all_sum(ctx, vec, dev)
        logs = {"loss": float(vec[0] / vec[1])}
        nm = len(metrics)
        for k, m in enumerate(metrics):
            logs[m.name] = m.result(float(vec[2 + k]), float(vec[2 + nm + k]))
        if val is not None:
            vlogs = evaluate_data(model, val, batch_size, ctx)
            logs.update({f"val_{k}": v for k, v in vlogs.items()})
        logs["lr"] = float(opt.param_groups[0]["lr"])
        history.record(epoch, logs)
        model.epochs_trained = epoch + 1
        if pbar is not None:
            pbar.set_postfix_str(_fmt({k: v for k, v in logs.items() if k != "lr"}))
            pbar.close()
        elif show:
            print(f"Epoch {epoch + 1}/{epochs} - {time.perf_counter() - t0:.2f}s - "
                  f"{_fmt({k: v for k, v in logs.items() if k != 'lr'})}", flush=True)
        for cb in callbacks:
            cb.on_epoch_end(epoch, logs)
        if model.stop_training:
            break
    for cb in callbacks:
        cb.on_train_end(logs)
    model.history = history
    return history


def _no_progress() -> bool:
    import os

    return bool(os.environ.get("SEQLAB_NO_PROGRESS"))


def _penalty(params: list[Tensor], l1: float, l2: float) -> Tensor:
    total = params[0].new_zeros(())
    for p in params:
        if l1:
            total = total + l1 * p.abs().sum()
        if l2:
            total = total + l2 * p.square().sum()
    return total


def _all_sum(ctx: D.DistContext, vec: Tensor, dev: torch.device) -> Tensor:
    if not ctx.enabled:
        return vec
    t = vec.to(dev)
    ctx.all_sum(t)
    return t.cpu()


@torch.no_grad()
def evaluate_data(model, data: ArrayData | DataLoader, batch_size: int,
                  ctx: D.DistContext | None = None) -> dict[str, float]:
    """Sample-weighted loss and metrics over ``data`` (summed over processes)."""
    step = _Step(model)
    dev = model.device()
    dtype = model.param_dtype()
    was_training = model.training
    model.eval()
    tot = torch.zeros((), dtype=torch.float64, device=dev)
    n = 0
    msums = [torch.zeros((), dtype=torch.float64, device=dev) for _ in step.metrics]
    mcounts = [0] * len(step.metrics)
    if isinstance(data, ArrayData):
        batches = data.eval_batches(batch_size, ctx)
    else:
        batches = (tuple(_to(t, dev, dtype) for t in split_batch(b)) for b in data)
    try:
        for xb, yb in batches:
            if yb is None:
                raise SeqlabError("y: evaluation needs targets; the data yields inputs only")
            out = model(xb, return_logits=step.fuse)
            tot += step.loss(yb, out, step.fuse).double() * xb.shape[0]
            n += xb.shape[0]
            pred = step.probs(out)
            for k, m in enumerate(step.metrics):
                s, c = m.update(yb, pred)
                msums[k] += s.double()
                mcounts[k] += c
    finally:
        model.train(was_training)
    vec = torch.stack([tot.cpu(), torch.tensor(float(n), dtype=torch.float64)] + [s.cpu() for s in msums]
                      + [torch.tensor(float(c), dtype=torch.float64) for c in mcounts])
    if ctx is not None:
        vec = _all_sum(ctx, vec, dev)
    if float(vec[1]) == 0:
        raise SeqlabError("x: no samples to evaluate")
    logs = {"loss": float(vec[0] / vec[1])}
    nm = len(step.metrics)
    for k, m in enumerate(step.metrics):
        logs[m.name] = m.result(float(vec[2 + k]), float(vec[2 + nm + k]))
    return logs


@torch.no_grad()
def predict(model, x: Any, batch_size: int = 32) -> np.ndarray | Tensor:
    """Outputs for ``x``: a NumPy array for array or DataLoader input, a CPU tensor for tensor input."""
    check_positive_int("batch_size", batch_size)
    data = make_data(model, x, None, need_y=False)
    if not model.built:
        model.build_from(_first_x(data))
    dev = model.device()
    dtype = model.param_dtype()
    was_training = model.training
    model.eval()
    outs = []
    try:
        if isinstance(data, ArrayData):
            batches = (xb.to(dev) for xb, _ in data.eval_batches(batch_size))
        else:
            batches = (_to(split_batch(b)[0], dev, dtype) for b in data)
        for xb in batches:
            outs.append(model(xb).cpu())
    finally:
        model.train(was_training)
    out = torch.cat(outs, 0)
    return out if isinstance(x, Tensor) else out.numpy()
