"""``Sequential.fit``, ``evaluate`` and ``predict``: the Keras-style API on the one loop.

``fit`` is :class:`SequentialTask` run by :mod:`seqlab.train.loop`. One training step is exactly a
hand-written PyTorch step (forward, loss, zero_grad, backward, optional clipping, optimizer
step); the extras cost no host synchronisation: per-batch losses and metric sums stay tensors
until the end of the epoch, and batch-level callback hooks run only when a callback overrides
them.
"""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np
import torch
from torch import Tensor
from torch.utils.data import DataLoader

from ..errors import SeqlabError, check_float, check_int, check_positive_int
from ..utils import seed_everything, seeded, thread_policy
from . import distributed as D
from .callbacks import Callback
from .data import ArrayData, as_tensor, distributed_loader, split_batch
from .history import History
from .loop import Task, TrainConfig, _Run, num_shards, shard




def make_data(model, x: Any, y: Any, name: str = "x", need_y: bool = True, sample_weight: Any = None,
              class_weight: dict | None = None) -> ArrayData | DataLoader:
    """Validate ``x``/``y`` (and the loss weights) and wrap them (a DataLoader passes through)."""
    if isinstance(x, DataLoader):
        if y is not None:
            raise SeqlabError(f"y: pass y=None when {name} is a DataLoader (it yields (x, y) batches)")
        if sample_weight is not None or class_weight is not None:
            raise SeqlabError(f"sample_weight, class_weight: with a DataLoader {name}, let it yield (x, y, weight) "
                              "batches instead")
        return x
    if x is None:
        raise SeqlabError(f"{name}: no input data given; pass arrays or tensors x and y, or a DataLoader")
    if isinstance(x, torch.utils.data.Dataset):
        raise SeqlabError(f"{name}: got a torch Dataset ({type(x).__name__}); wrap it in a DataLoader, e.g. "
                          f"DataLoader(dataset, batch_size=32, shuffle=True), and pass that with y=None")
    dtype = model.param_dtype()
    xt = as_tensor(name, x, dtype)
    if not xt.dtype.is_floating_point and not model.takes_ids():
        xt = xt.to(dtype)  # integer features (counts, one-hot uint8) as numbers, as Keras takes them
    if y is None:
        if need_y:
            raise SeqlabError(f"y: targets are missing; pass y with one target per sample of {name}")
        return ArrayData(xt, None)
    yt = as_tensor("y" if name == "x" else f"{name} targets", y, dtype)
    check_finite(name, xt)
    check_finite("y" if name == "x" else f"{name} targets", yt)
    if xt.shape[0] != yt.shape[0]:
        raise SeqlabError(
            f"x and y: expected the same number of samples, got {xt.shape[0]} in {name} and {yt.shape[0]} in y"
        )
    if xt.shape[0] == 0:
        raise SeqlabError(f"{name}: no samples (the first axis has length 0)")
    return ArrayData(xt, yt, loss_weights(yt, sample_weight, class_weight, "sample_weight" if name == "x"
                                          else f"{name} sample weights"))


def class_targets(model, data: ArrayData | DataLoader | None, name: str = "y") -> ArrayData | DataLoader | None:
    """``data`` with float class labels as int64, checked once here rather than on every batch.

    For a (sparse) categorical cross-entropy, targets in floats shaped as class labels of the
    model's output (..., C) -- (N,), (N, 1), (N, T) or (N, T, 1), not one-hot -- must be whole
    numbers; they become int64, so the loss and the accuracy metric take them as they are (no
    check, no host synchronisation per batch). SeqlabError naming ``name`` for a fraction
    (padded steps included). Anything else passes unchanged: other losses, one-hot or integer
    targets, a DataLoader (its batches' float labels are checked batch by batch), and models
    whose output shape is not known before a call (a plain torch module last)."""
    from .losses import CategoricalCrossentropy

    if not isinstance(data, ArrayData) or data.y is None or not data.y.dtype.is_floating_point:
        return data
    loss = model.loss_fn
    if not isinstance(loss, CategoricalCrossentropy) or not model.built:
        return data
    try:
        out = tuple(model.output_shapes()[-1])
    except (SeqlabError, IndexError, TypeError, ValueError):  # a torch module's shape is unknown until called
        return data
    C = out[-1] if len(out) >= 2 else None
    if not isinstance(C, int) or not all(d is None or isinstance(d, int) for d in out):
        return data
    y = data.y
    if y.dim() == len(out) and y.shape[-1] == C:
        return data  # one-hot (or soft) targets shaped like the output
    if not (y.dim() == len(out) - 1 or (y.dim() == len(out) and y.shape[-1] == 1)):
        return data  # not label-shaped: the loss names the shapes it takes
    frac = y != y.round()
    if bool(frac.any()):
        pos = tuple(int(i) for i in torch.nonzero(frac)[0])
        where = f"sample {pos[0]}" + (f", step {pos[1]}" if len(out) > 2 else "")  # (N, T) labels: per step
        raise SeqlabError(f"{name}: {loss.name} takes class labels as whole numbers 0 to {C - 1} (the model has {C} "
                          f"outputs), got fractional values such as {float(y[pos]):g} at {where}; round them, or "
                          f"pass one-hot targets {tuple(y.shape[:len(out) - 1]) + (C,)} for soft labels")
    return ArrayData(data.x, y.long(), data.w)


def _one_hot(y: Tensor) -> bool:
    """Whether integer targets ``y`` (..., C) are one-hot rows (0/1, one 1 per row), not (N, T)
    class labels."""
    return bool(((y == 0) | (y == 1)).all()) and bool((y.sum(-1) == 1).all())


def loss_weights(y: Tensor, sample_weight: Any, class_weight: dict | None, name: str) -> Tensor | None:
    """Keras's per-sample loss weights: ``sample_weight`` (N,) or, for sequence targets, (N, T)
    per step, times ``class_weight[label]`` of each sample's (or step's) class, the label read
    from integer labels, (N, 1) labels, one-hot rows or 0/1 targets. None for neither."""
    w = None
    if sample_weight is not None:
        w = as_tensor(name, sample_weight, torch.float64).to(torch.float64)
        check_finite(name, w)
        if w.dim() not in (1, 2) or w.shape[0] != y.shape[0] or (w.dim() == 2 and w.shape != y.shape[:2]):
            raise SeqlabError(f"{name}: expected one weight per sample ({y.shape[0]},) or, for sequence targets, "
                              f"per step {tuple(y.shape[:2])}, got {tuple(w.shape)}")
        if bool((w < 0).any()):
            raise SeqlabError(f"{name}: weights must be >= 0, got {float(w.min()):g}")
    if class_weight is not None:
        if not isinstance(class_weight, dict) or not class_weight:
            raise SeqlabError(f"class_weight: expected a dict {{class: weight}}, got {class_weight!r:.80}")
        for k, v in class_weight.items():
            check_int("class_weight key", k, 0)
            check_float(f"class_weight[{k}]", v, 0)
        if y.dim() >= 2 and y.shape[-1] > 1 and (y.dtype.is_floating_point or _one_hot(y)):
            labels = y.argmax(-1)  # one-hot rows (or steps), float or integer
        else:
            labels = y.squeeze(-1) if y.dim() >= 2 and y.shape[-1] == 1 else y
            if labels.dtype.is_floating_point and not bool((labels == labels.round()).all()):
                raise SeqlabError("class_weight: the targets are not class labels (they hold fractions); "
                                  "weigh samples with sample_weight instead")
            labels = labels.long()
        missing = sorted(set(labels.unique().tolist()) - set(class_weight))
        if missing:
            raise SeqlabError(f"class_weight: no weight for class(es) {missing[:10]}; give every class in y a weight")
        table = torch.zeros(max(class_weight) + 1, dtype=torch.float64)
        for k, v in class_weight.items():
            table[k] = float(v)
        cw = table[labels]  # (N,) or (N, T)
        w = cw if w is None else (w.reshape(w.shape + (1,) * (cw.dim() - w.dim())) * cw if cw.dim() >= w.dim()
                                  else w * cw.reshape(cw.shape + (1,) * (w.dim() - cw.dim())))
    return w


def check_finite(name: str, t: Tensor) -> None:
    """SeqlabError naming the position of the first NaN or infinite value of ``t``, if any (a
    single NaN in the data would make every weight NaN)."""
    if not t.dtype.is_floating_point:
        return
    bad = ~torch.isfinite(t)
    if bool(bad.any()):
        pos = tuple(int(i) for i in torch.nonzero(bad)[0])
        value = float(t[pos])
        where = (f"sample {pos[0]}, step {pos[1]}, feature {pos[2]}" if t.dim() == 3
                 else f"sample {pos[0]}" + (f", index {pos}" if t.dim() > 1 else ""))
        raise SeqlabError(f"{name}: {'a NaN' if value != value else 'an infinite'} value at {where}; "
                          f"{int(bad.sum())} value(s) are not finite; fill or drop them before fit")


def _first_x(data: ArrayData | DataLoader) -> Tensor:
    if isinstance(data, ArrayData):
        return data.x[:1]
    xb, _ = split_batch(next(iter(data)))
    return torch.as_tensor(xb)


class _Step:
    """Loss, metrics and the logits choice shared by training and evaluation.

    A cross-entropy loss takes logits (``logits``) when the last layer is a Dense layer whose
    activation is the loss's own (softmax, sigmoid: the engine skips it, ``skip``, and the loss
    uses the stable log-softmax) or none at all (its outputs can only be logits, as for
    torch.nn.CrossEntropyLoss; ``predict`` then returns logits), or when the loss says
    ``from_logits=True``. ``from_logits=False`` (Keras's default, through seqlab.keras.losses)
    on a Dense without activation is refused: those outputs are not probabilities. The metrics
    see probabilities."""

    def __init__(self, model) -> None:
        from ..layers import ACTIVATIONS, Dense

        self.loss = loss = model.loss_fn
        self.metrics = model.metric_fns
        last = model.layers[-1] if len(model.layers) else None
        act = last.activation if isinstance(last, Dense) else None
        if isinstance(last, Dense) and act == "softmax" and last.units == 1:
            raise SeqlabError("model: the last layer is Dense(1, activation='softmax'), whose output is always 1; "
                              "use Dense(1, activation='sigmoid') for two classes, or Dense(C, activation='softmax')")
        if loss.fuses is not None and act == "linear" and loss.from_logits is False:
            raise SeqlabError(f"loss: {loss.name} with from_logits=False takes probabilities, but the last layer, "
                              f"Dense({last.units}) without activation, gives logits; pass from_logits=True, or give "
                              f"it activation={loss.fuses!r}")
        self.skip = loss.fuses is not None and act == loss.fuses  # the engine skips that activation
        self.fuse = self.skip or (loss.fuses is not None and (loss.from_logits is True or
                                                              (act == "linear" and loss.from_logits is None)))
        self.act = ACTIVATIONS[loss.fuses] if self.fuse else None

    def probs(self, out: Tensor) -> Tensor:
        return self.act(out) if self.fuse else out


def _unmasked(out: Tensor, y: Tensor, w: Tensor | None, mask: Tensor | None
              ) -> tuple[Tensor, Tensor, Tensor | None, Tensor | int]:
    """The outputs, targets and loss weights of the real (unpadded) steps, and their number (a
    tensor: no host sync), when the model's output (B, T, ...) carries a padding mask (B, T) from
    ``Embedding(mask_zero=True)`` or ``Masking``: the loss and metrics leave padded steps out, as
    Keras's do. Without a mask (or with targets not laid out per step) ``(out, y, w, B)``."""
    B = out.shape[0]
    if mask is None or out.dim() < 3 or mask.shape != out.shape[:2] or y.shape[:2] != mask.shape:
        return out, y, w, B
    if w is not None:
        w = (w[:, None].expand(mask.shape) if w.dim() == 1 else w)[mask]  # a sample's weight on each of its steps
    return out[mask], y[mask], w, mask.sum()  # (N, ...) for the N real steps


def _loader_batch(b: Any, device: torch.device, dtype: torch.dtype) -> tuple[Tensor, Tensor | None, Tensor | None]:
    """``(x, y, w)`` of a DataLoader batch: ``(x, y)``, ``(x, y, sample_weight)`` (as Keras takes
    from a dataset) or x alone."""
    x, y = split_batch(b)
    w = b[2] if isinstance(b, (tuple, list)) and len(b) >= 3 else None
    if w is not None:  # Keras's (x, y, sample_weight): checked, since other loaders put other things third
        w = torch.as_tensor(w)
        if not w.dtype.is_floating_point or w.dim() not in (1, 2) or w.shape[0] != len(x) or bool((w < 0).any()):
            raise SeqlabError(f"x: a DataLoader batch's third item is read as sample weights, as Keras reads "
                              f"(x, y, sample_weight): expected non-negative floats ({len(x)},) or ({len(x)}, T), "
                              f"got {w.dtype} {tuple(w.shape)}; yield (x, y) pairs for unweighted training")
    return (_to(x, device, dtype), None if y is None else _to(y, device, dtype),
            None if w is None else _to(w, device, torch.float64))


def _to(t: Any, device: torch.device, dtype: torch.dtype) -> Tensor:
    t = torch.as_tensor(t)
    if t.dtype.is_floating_point and t.dtype != dtype:
        t = t.to(dtype)
    return t.to(device, non_blocking=True)


def _fmt(logs: dict[str, float]) -> str:
    return " - ".join(f"{k}: {v:.4g}" for k, v in logs.items())


class SequentialTask(Task):
    """``Sequential.fit`` as a task of the one loop: batches of (x, y), the compiled loss (plus
    the fit-wide L1/L2 penalty and the layers' regularizers), the compiled metrics summed on the
    device, and Keras-style validation."""

    def __init__(self, model, train: ArrayData | DataLoader, val: ArrayData | DataLoader | None,
                 batch_size: int, shuffle: bool, l1: float, l2: float) -> None:
        self.model, self.train, self.val = model, train, val
        self.batch_size, self.shuffle = batch_size, shuffle
        self.step = _Step(model)
        self.penalized = [p for p in model.parameters() if p.dim() > 1] if (l1 or l2) else []
        self.l1, self.l2 = l1, l2
        self.dtype = model.param_dtype()
        self.msums: list = []
        self.mcounts: list = []

    def configure_optimizer(self, config: TrainConfig) -> torch.optim.Optimizer:
        return self.model.ensure_optimizer(self.device)

    def on_train_begin(self) -> None:
        if isinstance(self.train, ArrayData):
            self.train = self.train.to(self.device)
        else:
            self.train = distributed_loader(self.train, self.ctx, self.shuffle, None)
        if isinstance(self.val, ArrayData):
            self.val = self.val.to(self.device)

    def num_batches(self) -> int | None:
        if isinstance(self.train, ArrayData):
            return num_shards(self.train.n, self.batch_size, self.ctx)
        return len(self.train)

    def batches(self, epoch: int, generator: torch.Generator):
        if isinstance(self.train, ArrayData):
            x = self.train.x
            for idx in shard(self.train.n, self.batch_size, self.shuffle, generator, self.ctx):
                yield self.train.batch(idx.to(x.device))
            return
        if hasattr(self.train.sampler, "set_epoch"):
            self.train.sampler.set_epoch(epoch)
        for b in self.train:
            yield _loader_batch(b, self.device, self.dtype)

    def on_epoch_begin(self, epoch: int) -> None:
        self.msums = [0] * len(self.step.metrics)
        self.mcounts = [0] * len(self.step.metrics)

    def training_step(self, net, batch):
        xb, yb, wb = batch
        step = self.step
        out, mask = net(xb, return_logits=step.skip, return_mask=True)
        out, yb, wb, weight = _unmasked(out, yb, wb, mask)
        loss = step.loss(yb, out.float() if out.dtype != self.dtype else out, step.fuse, wb)
        if self.penalized:
            loss = loss + _penalty(self.penalized, self.l1, self.l2)
        reg = self.model.regularization_loss()  # the layers' kernel_/recurrent_/bias_regularizer penalties
        if reg is not None:
            loss = loss + reg
        if step.metrics:
            with torch.no_grad():
                pred = step.probs(out.detach())
                for k, m in enumerate(step.metrics):
                    s, c = m.update(yb, pred)
                    self.msums[k] = self.msums[k] + s
                    self.mcounts[k] += c
        return loss, weight

    def epoch_logs(self) -> dict[str, float]:
        metrics = self.step.metrics
        if not metrics:
            return {}
        vec = torch.stack([torch.as_tensor(s, dtype=torch.float64).cpu() for s in self.msums]
                          + [torch.tensor(float(c), dtype=torch.float64) for c in self.mcounts])
        vec = _all_sum(self.ctx, vec, self.device)
        nm = len(metrics)
        return {m.name: m.result(float(vec[k]), float(vec[nm + k])) for k, m in enumerate(metrics)}

    def validate(self) -> dict[str, float]:
        if self.val is None:
            return {}
        return {f"val_{k}": v for k, v in evaluate_data(self.model, self.val, self.batch_size, self.ctx).items()}

    def on_epoch_end(self, epoch: int, logs: dict) -> None:
        self.model.epochs_trained = epoch + 1

    def state_dict(self):
        sums = [torch.as_tensor(s, dtype=torch.float64).cpu() for s in self.msums]
        return {"mcounts": list(self.mcounts)}, ({"msums": torch.stack(sums)} if sums else {})

    def load_state_dict(self, meta, tensors) -> None:
        if "mcounts" in meta:
            self.mcounts = list(meta["mcounts"])
            self.msums = [t.to(self.device) for t in tensors["msums"].unbind()] if "msums" in tensors else []


def fit(model, x: Any = None, y: Any = None, batch_size: int = 32, epochs: int = 1, verbose: int = 1,
        callbacks: Sequence[Callback] | None = None, validation_split: float = 0.0,
        validation_data: Any = None, shuffle: bool = True, initial_epoch: int = 0,
        clipnorm: float | None = None, l1: float = 0.0, l2: float = 0.0, seed: int | None = None,
        device: str | torch.device = "auto", mixed_precision: bool = False, threads: int | None = 0,
        checkpoint: str | None = None, resume: bool = False, sample_weight: Any = None,
        class_weight: dict | None = None) -> History:
    """Train ``model``; see :meth:`seqlab.model.Sequential.fit`."""
    if model.loss_fn is None:
        raise SeqlabError("fit: the model is not compiled; call model.compile(loss='mse', optimizer='adam') first")
    check_positive_int("batch_size", batch_size)
    check_positive_int("epochs", epochs)
    check_int("initial_epoch", initial_epoch, 0)
    for nm, v in (("l1", l1), ("l2", l2)):
        check_float(nm, v, 0, meaning="a penalty factor")
    check_float("validation_split", validation_split, 0, 1, high_open=True, meaning="a fraction")
    config = TrainConfig(epochs=epochs, clipnorm=clipnorm, seed=seed, device=str(device), threads=threads,
                         mixed_precision=mixed_precision, verbose=verbose, epoch_lines=True,
                         checkpoint=None if checkpoint is None else str(checkpoint), resume=resume,
                         lr=1.0)  # lr: the compiled optimizer's own rate is used
    callbacks = list(callbacks or [])

    train_data = whole = make_data(model, x, y, sample_weight=sample_weight, class_weight=class_weight)
    val = None
    if validation_split:
        if not isinstance(train_data, ArrayData):
            raise SeqlabError("validation_split: works with arrays only; pass validation_data with a DataLoader")
        train_data, val = train_data.split(validation_split)
    if validation_data is not None:
        if isinstance(validation_data, DataLoader):
            val = validation_data
        elif isinstance(validation_data, (tuple, list)) and len(validation_data) in (2, 3):
            val = make_data(model, validation_data[0], validation_data[1], name="validation_data",
                            sample_weight=validation_data[2] if len(validation_data) == 3 else None)
        else:
            raise SeqlabError("validation_data: expected a tuple (x_val, y_val) or (x_val, y_val, sample_weight), "
                              "or a DataLoader")

    with seeded(seed):  # seeds the run; the caller's generators as they were afterwards
        fresh = seed is not None and getattr(model, "untouched_since_build", lambda: False)()
        if not model.built:
            model.build_from(_first_x(train_data))  # lazy build from one sample (on CPU, before moving to the device)
        if fresh:
            # never trained, and no weights loaded or set: draw every initial weight from the seed (a
            # layer built before fit, or at construction like Embedding, included), so the seed fixes
            # the whole run whether the model was built before fit or inside it
            seed_everything(seed)
            model.reinitialize()
        for nm, d in (("x", train_data), ("validation_data", val)):
            if isinstance(d, ArrayData):
                model.check_input_shape(tuple(d.x.shape), nm)
        # float class labels as int64, checked once: validation_split's part within the whole of y,
        # so a fraction is named at its index in y (not in the split-off part)
        if validation_split and validation_data is None:
            train_data, val = class_targets(model, whole).split(validation_split)
        else:
            train_data = class_targets(model, train_data)
            val = class_targets(model, val, "validation_data targets")
        task = SequentialTask(model, train_data, val, batch_size, shuffle, l1, l2)
        run = _Run(task, config, callbacks)
        run.n.epoch = initial_epoch
        with thread_policy(threads):
            history = run.run()
    history.params.update({"batch_size": batch_size, "verbose": verbose})
    model.history = history
    return history


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
        batches = (_loader_batch(b, dev, dtype) for b in data)
    try:
        for xb, yb, wb in batches:
            if yb is None:
                raise SeqlabError("y: evaluation needs targets; the data yields inputs only")
            out, mask = model(xb, return_logits=step.skip, return_mask=True)
            out, yb, wb, weight = _unmasked(out, yb, wb, mask)
            tot += step.loss(yb, out, step.fuse, wb).double() * weight
            n += weight
            pred = step.probs(out)
            for k, m in enumerate(step.metrics):
                s, c = m.update(yb, pred)
                msums[k] += s.double()
                mcounts[k] += c
    finally:
        model.train(was_training)
    vec = torch.stack([tot.cpu(), torch.as_tensor(n, dtype=torch.float64).cpu()] + [s.cpu() for s in msums]
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
            batches = (xb.to(dev) for xb, _, _ in data.eval_batches(batch_size))
        else:
            batches = (_to(split_batch(b)[0], dev, dtype) for b in data)
        for xb in batches:
            outs.append(model(xb).cpu())
    finally:
        model.train(was_training)
    out = torch.cat(outs, 0)
    return out if isinstance(x, Tensor) else out.numpy()
