"""The one training loop. Every job (and ``Sequential.fit``) hands it a :class:`Task`.

A task says what a batch is and what the loss of a batch is; the loop owns everything else:
threads, device placement, DistributedDataParallel under ``torchrun`` (gloo on CPU, nccl on GPU),
mixed precision, zero-grad / backward / clipping / optimizer step, the learning-rate schedule,
the step limit and the time budget, validation with early stopping and the best weights,
callbacks, the progress bar, and checkpoints to resume from. See docs/train.md.

Determinism: with a seed, each epoch's data order comes from a generator seeded by
``(seed, epoch)`` (:func:`epoch_generator`), and every dropout mask of the model's layers (input,
recurrent and ``Dropout`` masks of the modules with a ``generator`` attribute) from one mask
generator seeded at the start of each epoch by ``(seed, epoch)`` (:func:`mask_seed`), so a run
resumed from a checkpoint draws the same order and masks, skips the batches already done, and
(with the checkpointed generator states) ends with bit-identical weights on CPU; and a fit
continued at an epoch boundary (``fit(..., initial_epoch=k, seed=s)`` on a model saved after k
epochs) trains as the uninterrupted fit with that seed.

Non-finite losses: at each epoch end the loop checks the epoch's summed loss and the weights; when
either is NaN or infinite it stops, puts back the weights (and optimizer state) of the last epoch
end where both were finite, and says so on stderr and in ``history.stopped``. A callback with
``guard_steps = True`` (:class:`~seqlab.train.callbacks.TerminateOnNaN`) has every step checked
instead: a step whose loss is not finite is not applied, so the weights stay the last good ones.
"""

from __future__ import annotations

import copy
import math
import sys
import time
from dataclasses import asdict, dataclass
from typing import Any, Iterable, Sequence

import numpy as np
import torch
from torch import Tensor, nn

from ..errors import SeqlabError, check_float, check_int
from ..utils import is_interactive, resolve_device, seeded, thread_policy
from . import checkpoint as ckpt
from . import distributed as D
from .callbacks import Callback, overrides
from .history import History
from .optimizers import state_from_file, state_to_file
from .schedules import SCHEDULES, lr_factor

CLOCKS = {"wall": time.perf_counter, "cpu": time.process_time}


@dataclass
class TrainConfig:
    """How the loop trains. Every job's options map onto these fields.

    Limits (training stops at the first one reached): ``epochs`` (None: no limit), ``max_steps``
    optimizer steps, ``minutes`` of training time measured by ``clock`` ("wall", or "cpu": this
    process's CPU time, which a busy shared machine does not stretch). At least one must be set.

    ``monitor`` names a logged value (such as "val_loss") to watch at each epoch end, minimised or
    maximised by ``mode``: ``patience`` epochs without an improvement of more than ``min_delta``
    stop training, ``restore_best`` puts back the weights of the best epoch at the end, and
    ``lr_plateau_factor`` multiplies the rate at every epoch without improvement.

    ``threads``: 0 picks the cores the machine's load leaves idle (see
    :func:`seqlab.utils.auto_threads`), N >= 1 uses N, None leaves torch's setting alone.
    ``checkpoint``: the file to write at every ``checkpoint_epochs``-th epoch end (None: at none;
    for epochs of milliseconds, where a write would cost more than the epoch), every
    ``checkpoint_minutes`` of training (or ``checkpoint_steps`` steps) and when training ends;
    ``resume`` continues from it.

    ``restore_finite``: when an epoch's loss or the weights turn NaN or infinite, stop and put
    back the last finite weights (the default); False trains on regardless (a demonstration of
    divergence wants to see it).
    """

    epochs: int | None = 10
    max_steps: int | None = None
    minutes: float | None = None
    lr: float = 1e-3
    weight_decay: float = 0.0
    clipnorm: float | None = None
    schedule: str = "constant"
    min_lr: float = 0.05
    decay_fraction: float = 0.2
    monitor: str | None = None
    mode: str = "min"
    min_delta: float = 0.0
    patience: int | None = None
    restore_best: bool = False
    lr_plateau_factor: float | None = None
    seed: int | None = 0
    device: str = "auto"
    threads: int | None = 0
    mixed_precision: bool = False
    verbose: int = 1
    epoch_lines: bool = False
    checkpoint: str | None = None
    checkpoint_epochs: int | None = 1
    checkpoint_minutes: float | None = 5.0
    checkpoint_steps: int | None = None
    resume: bool = False
    clock: str = "wall"
    restore_finite: bool = True

    def __post_init__(self) -> None:
        check_int("epochs", self.epochs, 1, none="no epoch limit")
        check_int("max_steps", self.max_steps, 1, none="no step limit")
        check_float("minutes", self.minutes, 0, low_open=True, none="no time limit")
        if self.epochs is None and self.max_steps is None and self.minutes is None:
            raise SeqlabError("epochs, max_steps, minutes: set at least one limit, or training never stops")
        # as Python floats (a NumPy scalar is taken too): the checkpoint writes them in JSON (_RESUME_KEYS)
        self.lr = check_float("lr", self.lr, 0, low_open=True, meaning="the learning rate")
        self.weight_decay = check_float("weight_decay", self.weight_decay, 0)
        check_float("clipnorm", self.clipnorm, 0, low_open=True, none="no clipping")
        if self.schedule not in SCHEDULES:
            raise SeqlabError(f"schedule: expected one of {', '.join(SCHEDULES)}, got {self.schedule!r}")
        check_float("min_lr", self.min_lr, 0, 1, meaning="a fraction of lr")
        check_float("decay_fraction", self.decay_fraction, 0, 1, low_open=True, meaning="a fraction of the run")
        if self.mode not in ("min", "max"):
            raise SeqlabError(f"mode: expected 'min' or 'max', got {self.mode!r}")
        check_float("min_delta", self.min_delta, 0)
        check_int("patience", self.patience, 1, none="no early stopping")
        check_float("lr_plateau_factor", self.lr_plateau_factor, 0, 1, low_open=True, high_open=True, none="no cuts")
        if self.seed is not None and (isinstance(self.seed, bool) or not isinstance(self.seed, int)
                                      or not 0 <= self.seed < 2**63):
            raise SeqlabError(f"seed: expected an integer in [0, 2**63) or None, got {self.seed!r}")
        check_int("threads", self.threads, 0, none="torch's own setting", meaning="0 picks the idle cores")
        if self.verbose not in (0, 1, 2):
            raise SeqlabError(f"verbose: expected 0 (silent), 1 (progress bar) or 2 (one line per epoch), got {self.verbose!r}")
        check_int("checkpoint_epochs", self.checkpoint_epochs, 1, none="no checkpoints at epoch ends")
        check_float("checkpoint_minutes", self.checkpoint_minutes, 0, low_open=True, none="only at epoch ends")
        check_int("checkpoint_steps", self.checkpoint_steps, 1, none="no step-based checkpoints")
        if self.resume and not self.checkpoint:
            raise SeqlabError("resume: needs the checkpoint path (config.checkpoint) to resume from")
        if self.clock not in CLOCKS:
            raise SeqlabError(f"clock: expected one of {tuple(CLOCKS)}, got {self.clock!r}")


class Task:
    """What a job gives the loop; override what applies (see docs/train.md for a worked example).

    The loop sets ``device`` (where the model is), ``ctx`` (rank and world size) and ``is_main``
    (only rank 0 prints and writes) before training starts.
    """

    model: nn.Module
    device: torch.device = torch.device("cpu")
    ctx: D.DistContext = D.DistContext()
    is_main: bool = True
    stop_reason: str = ""  # set to a reason to stop at the end of this epoch
    find_unused_parameters: bool = False  # for DistributedDataParallel

    def configure_optimizer(self, config: TrainConfig) -> torch.optim.Optimizer:
        """The optimizer (default: Adam at ``config.lr`` with ``config.weight_decay``)."""
        return torch.optim.Adam(self.model.parameters(), lr=config.lr, weight_decay=config.weight_decay)

    def num_batches(self) -> int | None:
        """Batches per epoch on this process, if known (for the progress bar and schedules)."""
        return None

    def batches(self, epoch: int, generator: torch.Generator) -> Iterable[Any]:
        """This process's batches of ``epoch``, on ``self.device``. Draw any randomness of the
        data order from ``generator`` so that a resumed run draws the same (see :func:`shard`)."""
        raise NotImplementedError

    def training_step(self, net: nn.Module, batch: Any) -> Tensor | tuple[Tensor, float]:
        """The loss of one batch, computed through ``net`` (the model, or its DDP wrapper); or
        ``(loss, weight)`` where the epoch's mean loss weighs batches by ``weight``."""
        raise NotImplementedError

    def epoch_logs(self) -> dict[str, float]:
        """Extra training values of the epoch just ended (metrics the task accumulated)."""
        return {}

    def validate(self) -> dict[str, float]:
        """Named validation values after an epoch (``{}`` for none). Every process runs it."""
        return {}

    def on_train_begin(self) -> None: ...
    def on_epoch_begin(self, epoch: int) -> None: ...
    def on_epoch_end(self, epoch: int, logs: dict[str, Any]) -> None: ...
    def on_train_end(self, logs: dict[str, Any]) -> None: ...

    def state_dict(self) -> tuple[dict[str, Any], dict[str, Tensor]]:
        """The task's own state for a checkpoint: (JSON part, tensors)."""
        return {}, {}

    def load_state_dict(self, meta: dict[str, Any], tensors: dict[str, Tensor]) -> None: ...


#: the settings a resumed run must share with the run that wrote its checkpoint
_RESUME_KEYS = ("epochs", "max_steps", "seed", "lr", "weight_decay", "schedule")


def epoch_generator(seed: int, epoch: int) -> torch.Generator:
    """The generator of epoch ``epoch``'s data order: a function of ``(seed, epoch)`` alone."""
    state = np.random.SeedSequence([seed, epoch]).generate_state(2, dtype=np.uint32)
    return torch.Generator().manual_seed(int(state[0]) << 32 | int(state[1]))


def mask_seed(seed: int, epoch: int, rank: int = 0) -> int:
    """The seed of the dropout masks of epoch ``epoch`` in process ``rank``: a function of
    ``(seed, epoch, rank)`` alone (each process of a multi-process run masks its own share of
    the batch, so the processes draw independent masks, not the same ones)."""
    state = np.random.SeedSequence([seed, 0x6D61736B, epoch, rank]).generate_state(2, dtype=np.uint32)  # "mask"
    return int(state[0]) << 32 | int(state[1])


def attach_generator(model: nn.Module, generator: torch.Generator) -> list[nn.Module]:
    """Give ``generator`` to every module of ``model`` that draws dropout masks from a
    ``generator`` attribute and has none of its own; returns them (to detach after training)."""
    out = []
    for m in model.modules():
        if "generator" in dir(type(m)) or "generator" in vars(m):
            if getattr(m, "generator", None) is None:
                m.generator = generator
                out.append(m)
    return out


def shard(n: int, batch_size: int, shuffle: bool, generator: torch.Generator | None,
          ctx: D.DistContext) -> list[Tensor]:
    """Index batches of ``n`` samples for this process: one order for every process, cut into
    global batches of ``batch_size * world_size``, each process taking every world_size-th index
    of each. So N processes at ``batch_size`` see the global batches of one process at
    ``N * batch_size``. A last global batch too small to give every process a sample is dropped
    under multi-process training (a process with no batch would stall the others)."""
    order = torch.randperm(n, generator=generator) if shuffle else torch.arange(n)
    w = ctx.world_size
    g = batch_size * w
    out = []
    for i in range(0, n, g):
        chunk = order[i:i + g]
        if len(chunk) < w:
            break
        out.append(chunk[ctx.rank::w])
    return out


def num_shards(n: int, batch_size: int, ctx: D.DistContext) -> int:
    """How many batches :func:`shard` gives each process."""
    g = batch_size * ctx.world_size
    full, rest = divmod(n, g)
    return full + (1 if rest >= ctx.world_size else 0)


@dataclass
class _Counters:
    epoch: int = 0  # the epoch running (or next to run)
    batch: int = 0  # batches done in that epoch
    step: int = 0  # optimizer steps done
    seconds: float = 0.0  # training time spent
    plateau: float = 1.0  # product of the lr cuts
    best: float | None = None
    best_epoch: int = -1
    wait: int = 0
    finished: bool = False
    stop: str = ""
    nonfinite: str = ""  # the first step whose loss was not finite (with guard_steps), not applied


class _Run:
    def __init__(self, task: Task, config: TrainConfig, callbacks: Sequence[Callback]) -> None:
        for cb in callbacks:
            if not isinstance(cb, Callback):
                raise SeqlabError(f"callbacks: expected seqlab.train.callbacks.Callback instances, got {type(cb).__name__}")
        self.task, self.c, self.callbacks = task, config, list(callbacks)
        self.history = History()
        self.n = _Counters()
        self.best_state: dict[str, Tensor] | None = None
        self.sums: list[Tensor] = []
        self.good: tuple[int, dict[str, Tensor], dict[str, Any]] | None = None  # last finite weights
        self.attached: list[nn.Module] = []

    # -- set-up --------------------------------------------------------------------------------
    def setup(self) -> None:
        c, task = self.c, self.task  # (run() has seeded the global generators: utils.seeded)
        self.base_seed = c.seed if c.seed is not None else int(torch.randint(0, 2**62, (1,)))
        self.ctx, dev = D.setup(resolve_device(c.device))
        task.device, task.ctx, task.is_main = dev, self.ctx, self.ctx.is_main
        model = task.model
        if next(model.parameters()).device != dev:
            model.to(dev)
        self.opt = task.configure_optimizer(c)
        for g in self.opt.param_groups:
            g.setdefault("initial_lr", g["lr"])
        self.net = model
        if self.ctx.enabled:
            from torch.nn.parallel import DistributedDataParallel as DDP

            self.net = DDP(model, device_ids=[dev.index] if dev.type == "cuda" else None,
                           find_unused_parameters=task.find_unused_parameters)
        self.amp, self.scaler = _autocast(dev, c.mixed_precision)
        self.clock = CLOCKS[c.clock]
        self.budget = None if c.minutes is None else 60.0 * c.minutes
        nb = task.num_batches()
        limits = [s for s in (c.max_steps, nb * c.epochs if nb and c.epochs else None) if s]
        self.total_steps = min(limits) if limits else None
        self.scheduled = c.schedule != "constant" or c.lr_plateau_factor is not None
        self.nb = nb
        self.history.params = {"epochs": c.epochs, "steps": nb, "max_steps": c.max_steps, "minutes": c.minutes}
        for cb in self.callbacks:
            cb.set_model(model)
            cb.is_main = self.ctx.is_main
        self.grad_cbs = [cb for cb in self.callbacks if overrides(cb, "on_after_backward")]
        self.begin_cbs = [cb for cb in self.callbacks if overrides(cb, "on_train_batch_begin")]
        self.end_cbs = [cb for cb in self.callbacks if overrides(cb, "on_train_batch_end")]
        model.stop_training = False
        # every dropout mask of the run, drawn on the training device: seeded at each epoch's
        # start (mask_seed), or given the checkpointed state on resuming mid-epoch
        self.mask_gen = torch.Generator(device=dev)
        self.attached = attach_generator(model, self.mask_gen)
        # with a callback that asks for it (TerminateOnNaN), a step with a non-finite loss is not
        # applied (one host sync per step); under DDP every process must step: epoch checks only
        self.guard_steps = not self.ctx.enabled and any(getattr(cb, "guard_steps", False) for cb in self.callbacks)
        if c.resume:
            self.restore(c.checkpoint)

    # -- checkpoints ---------------------------------------------------------------------------
    def save_checkpoint(self) -> None:
        c, task = self.c, self.task
        if not c.checkpoint or not self.ctx.is_main:
            return
        opt_meta, tensors = state_to_file(self.opt)
        tensors.update({f"model/{k}": v for k, v in task.model.state_dict().items()})
        if self.best_state is not None:
            tensors.update({f"best/{k}": v for k, v in self.best_state.items()})
        rng_meta, rng_t = ckpt.capture_rng()
        tensors.update(rng_t)
        task_meta, task_t = task.state_dict()
        tensors.update({f"task/{k}": v for k, v in task_t.items()})
        if self.sums:
            tensors["engine/sums"] = torch.stack([s.detach().double().cpu() for s in self.sums])
        tensors["engine/mask_rng"] = self.mask_gen.get_state()
        meta = {"counters": asdict(self.n), "base_seed": self.base_seed, "optimizer": opt_meta, "rng": rng_meta,
                "task": task_meta, "history": {"epoch": self.history.epoch, "values": self.history.history},
                "config": {k: v for k, v in asdict(c).items() if k in _RESUME_KEYS}, "batches": task.num_batches()}
        ckpt.save(c.checkpoint, meta, tensors)
        self.last_save = self.n.seconds

    def restore(self, path: str) -> None:
        meta, tensors = ckpt.load(path)
        task = self.task
        # a refused checkpoint leaves the caller's model and optimizer as they were
        kept = ({k: v.detach().clone() for k, v in task.model.state_dict().items()}, copy.deepcopy(self.opt.state_dict()))
        try:
            self._restore(path, meta, tensors)
        except BaseException:
            task.model.load_state_dict(kept[0])
            self.opt.load_state_dict(kept[1])
            raise

    def _restore(self, path: str, meta: dict, tensors: dict) -> None:
        task = self.task
        try:
            weights = {k[6:]: v for k, v in tensors.items() if k.startswith("model/")}
            task.model.load_state_dict(weights)
            state_from_file(self.opt, meta["optimizer"], tensors)
            best = {k[5:]: v for k, v in tensors.items() if k.startswith("best/")}
            self.best_state = best or None
            self.n = _Counters(**meta["counters"])
            self.base_seed = int(meta["base_seed"])
            self.history.epoch = list(meta["history"]["epoch"])
            self.history.history = {k: list(v) for k, v in meta["history"]["values"].items()}
            task.load_state_dict(meta.get("task") or {},
                                 {k[5:]: v for k, v in tensors.items() if k.startswith("task/")})
            dev = self.task.device
            self.sums = [t.to(dev) for t in tensors["engine/sums"].unbind()] if "engine/sums" in tensors else []
            ckpt.restore_rng(meta["rng"], tensors)
            if "engine/mask_rng" in tensors:
                self.mask_gen.set_state(tensors["engine/mask_rng"])
        except (KeyError, TypeError, ValueError, RuntimeError) as exc:
            first = str(exc).strip().splitlines()[0][:200] if str(exc).strip() else type(exc).__name__
            raise SeqlabError(f"--resume: checkpoint {str(path)!r} does not fit this run (another model, options, "
                              f"data or job: {first}); resume with the interrupted run's own options and data") from None
        self.check_same_run(path, meta)
        for g in self.opt.param_groups:  # the optimizer state was saved after the last lr update
            g.setdefault("initial_lr", g["lr"])

    def check_same_run(self, path: str, meta: dict) -> None:
        """SeqlabError unless this run has the training settings (:data:`_RESUME_KEYS`) and the
        number of batches per epoch (the data's size) of the run that wrote the checkpoint: a
        resumed run would otherwise silently go on with the old settings, or other data."""
        saved, now = meta.get("config") or {}, asdict(self.c)
        diff = [f"{k}={saved[k]!r} there, {now[k]!r} here" for k in _RESUME_KEYS if k in saved and saved[k] != now[k]]
        batches = meta.get("batches")
        if batches is not None and self.task.num_batches() not in (None, batches):
            diff.append(f"{batches} batches per epoch there, {self.task.num_batches()} here (other data or batch size)")
        if diff:
            raise SeqlabError(f"--resume: checkpoint {str(path)!r} is of another run ({'; '.join(diff)}); resume with "
                              "the interrupted run's own options and data, or delete the checkpoint to start afresh")

    def agree(self, halt: bool) -> bool:
        """Under multi-process training: every process takes the largest training time and stops
        if any process's callbacks asked to, so all of them stop at the same step (a process that
        stopped alone would leave the others waiting in the gradient all-reduce)."""
        t = torch.tensor([self.n.seconds, float(halt)], dtype=torch.float64, device=self.task.device)
        torch.distributed.all_reduce(t, op=torch.distributed.ReduceOp.MAX)
        self.n.seconds = float(t[0])
        return bool(t[1])

    def checkpoint_due(self) -> bool:
        c = self.c
        if not c.checkpoint or self.ctx.enabled:
            # under multi-process training only at epoch ends: a task's state mid-epoch (a language
            # model's carried state) differs per process, and rank 0 alone writes the file
            return False
        due = bool(c.checkpoint_steps and self.n.step % c.checkpoint_steps == 0) or (
            c.checkpoint_minutes is not None and self.n.seconds - self.last_save >= 60.0 * c.checkpoint_minutes)
        # never checkpoint weights a non-finite loss may have reached: the epoch end deals with them
        return due and (not self.sums or bool(torch.isfinite(self.sums[0])))

    # -- the loop ------------------------------------------------------------------------------
    def run(self) -> History:
        try:
            with seeded(self.c.seed):  # the caller's generators as they were afterwards
                return self._run()
        finally:
            for m in self.attached:  # the masks of later calls (outside the loop) are the user's
                m.generator = None

    def _run(self) -> History:
        self.setup()
        c, task, n = self.c, self.task, self.n
        self.last_save = n.seconds
        logs: dict[str, Any] = {}
        if not n.finished:
            if c.restore_finite:
                self.keep_good(n.epoch - 1)
            task.on_train_begin()
            for cb in self.callbacks:
                cb.on_train_begin({})
            while (c.epochs is None or n.epoch < c.epochs) and not n.stop:
                logs = self.run_epoch()
            self.finish()
            n.finished = True
            self.save_checkpoint()
        elif self.history.epoch:
            logs = {k: v[-1] for k, v in self.history.history.items()}
        task.on_train_end(logs)
        for cb in self.callbacks:
            cb.on_train_end(logs)
            if getattr(cb, "restored_epoch", None) is not None:  # EarlyStopping(restore_best_weights=True)
                self.history.best_epoch = cb.restored_epoch
        task.model.eval()
        self.history.stopped, self.history.steps, self.history.seconds = n.stop, n.step, n.seconds
        return self.history

    def run_epoch(self) -> dict[str, Any]:
        c, task, n = self.c, self.task, self.n
        epoch = n.epoch
        if n.batch == 0:
            self.sums = []
            self.mask_gen.manual_seed(mask_seed(self.base_seed, epoch, self.ctx.rank))  # (mid-epoch: the checkpointed state)
            for cb in self.callbacks:
                cb.on_epoch_begin(epoch, {})
            task.on_epoch_begin(epoch)
        task.model.train()
        it = iter(task.batches(epoch, epoch_generator(self.base_seed, epoch)))
        for _ in range(n.batch):  # resumed mid-epoch: the same order, without the batches done
            next(it, None)
        bar = self.progress_bar(epoch)
        self.bar_shown = bar is not None
        t_epoch = time.perf_counter()
        for batch in it:
            t0 = self.clock()
            self.train_step(batch)
            n.step += 1
            n.batch += 1
            n.seconds += self.clock() - t0
            if bar is not None:
                bar.update(1)
                if n.batch % max(1, (self.nb or 20) // 20) == 0:
                    bar.set_postfix_str(f"loss: {float(self.sums[0] / self.sums[1]):.4g}")
            halt = bool(task.model.stop_training and self.end_cbs)
            if self.ctx.enabled and (self.budget is not None or self.end_cbs):
                halt = self.agree(halt)
                task.model.stop_training = task.model.stop_training or halt
            if c.max_steps is not None and n.step >= c.max_steps:
                n.stop = f"step limit of {c.max_steps} reached"
            elif self.budget is not None and n.seconds >= self.budget:
                n.stop = f"time budget of {c.minutes:g} min reached"
            if n.stop or halt:
                break
            if self.checkpoint_due():
                self.save_checkpoint()
        if bar is not None:
            bar.close()
        if n.batch == 0:
            raise SeqlabError("data: the epoch has no training batches (empty data, or fewer samples than "
                              "processes); use more data or fewer processes")
        logs = self.end_epoch(epoch, time.perf_counter() - t_epoch)
        return logs

    def train_step(self, batch: Any) -> None:
        c, task, opt = self.c, self.task, self.opt
        step = self.n.step
        for cb in self.begin_cbs:
            cb.on_train_batch_begin(step, {})
        if self.scheduled:
            self.set_lr()
        if self.amp is None:
            out = task.training_step(self.net, batch)
        else:
            with torch.autocast(task.device.type, dtype=self.amp):
                out = task.training_step(self.net, batch)
        loss, weight = out if isinstance(out, tuple) else (out, 1.0)
        if self.guard_steps and not bool(torch.isfinite(loss.detach())):
            # not applied: the weights stay those of the last step with a finite loss (the epoch's
            # logged loss still shows it)
            self.n.nonfinite = self.n.nonfinite or f"step {step}"
            self.add_loss(loss.detach().float(), weight)
            for cb in self.end_cbs:
                cb.on_train_batch_end(step, {"loss": loss.detach().float(), "size": weight})
            return
        opt.zero_grad(set_to_none=True)
        if self.scaler is None:
            loss.backward()
        else:
            self.scaler.scale(loss).backward()
            self.scaler.unscale_(opt)
        for cb in self.grad_cbs:
            cb.on_after_backward(task.model, step)
        if c.clipnorm:
            torch.nn.utils.clip_grad_norm_(task.model.parameters(), c.clipnorm)
        if self.scaler is None:
            opt.step()
        else:
            self.scaler.step(opt)
            self.scaler.update()
        ld = loss.detach().float()
        self.add_loss(ld, weight)
        for cb in self.end_cbs:
            cb.on_train_batch_end(step, {"loss": ld, "size": weight})

    def add_loss(self, ld: Tensor, weight: float) -> None:
        if not self.sums:
            self.sums = [torch.zeros((), dtype=torch.float64, device=ld.device),
                         torch.zeros((), dtype=torch.float64, device=ld.device)]
        self.sums[0] += ld.double() * weight  # stays on the device: no host sync per step
        self.sums[1] += weight

    def set_lr(self) -> None:
        c, n = self.c, self.n
        progress = 0.0
        if self.total_steps:
            progress = n.step / self.total_steps
        if self.budget:
            progress = max(progress, n.seconds / self.budget)
        f = lr_factor(c.schedule, progress, c.min_lr, c.decay_fraction) * n.plateau
        for g in self.opt.param_groups:
            g["lr"] = g["initial_lr"] * f

    def end_epoch(self, epoch: int, seconds: float) -> dict[str, Any]:
        c, task, n = self.c, self.task, self.n
        vec = torch.stack([s.cpu() for s in self.sums]) if self.sums else torch.zeros(2, dtype=torch.float64)
        if self.ctx.enabled:
            vec = vec.to(task.device)
            self.ctx.all_sum(vec)
            vec = vec.cpu()
        logs: dict[str, Any] = {"loss": float(vec[0] / vec[1]) if float(vec[1]) else math.nan}
        # with guard_steps a step with a non-finite loss was not applied: only the weights can be bad
        if not c.restore_finite:
            pass
        elif (not math.isfinite(logs["loss"]) and not self.guard_steps) or not self.weights_finite():
            self.restore_good(epoch, logs["loss"])
        else:
            self.keep_good(epoch)
        logs.update(task.epoch_logs())
        logs.update(task.validate())
        logs["lr"] = float(self.opt.param_groups[0]["lr"])
        self.watch(epoch, logs)
        self.history.record(epoch, logs)
        task.on_epoch_end(epoch, logs)
        for cb in self.callbacks:
            cb.on_epoch_end(epoch, logs)
        if self.ctx.is_main and (c.verbose == 2 or c.epoch_lines and c.verbose == 1 and not self.bar_shown):
            shown = " - ".join(f"{k}: {v:.4g}" for k, v in logs.items() if k != "lr" and isinstance(v, float))
            print(f"Epoch {epoch + 1}/{c.epochs or '?'} - {seconds:.2f}s - {shown}", flush=True)
        if task.stop_reason and not n.stop:
            n.stop = task.stop_reason
        if task.model.stop_training and not n.stop:
            n.stop = "stopped by a callback" + (f": the loss was not finite at {n.nonfinite}, a step not applied "
                                                "(the weights are those of the step before)" if n.nonfinite else "")
        n.epoch, n.batch = epoch + 1, 0
        self.sums = []
        if not n.finished and c.checkpoint_epochs and n.epoch % c.checkpoint_epochs == 0:
            self.save_checkpoint()
        return logs

    # -- non-finite losses ----------------------------------------------------------------------
    def weights_finite(self) -> bool:
        """True when every parameter is finite (one reduction and one host sync)."""
        flags = [torch.isfinite(p.detach()).all() for p in self.task.model.parameters()]
        return bool(torch.stack(flags).all()) if flags else True

    def keep_good(self, epoch: int) -> None:
        """Remember the weights and optimizer state of the end of ``epoch`` (-1: the start), the
        last known to be finite, on the CPU."""
        weights = {k: v.detach().to("cpu", copy=True) for k, v in self.task.model.state_dict().items()}
        self.good = (epoch, weights, _cpu(self.opt.state_dict()))

    def restore_good(self, epoch: int, loss: float) -> None:
        """Put back the last finite weights and stop, saying why."""
        n = self.n
        what = f"the training loss became {loss}" if not math.isfinite(loss) else "the weights became NaN or infinite"
        if self.good is None:
            n.stop = f"{what} in epoch {epoch + 1}; stopped"
        else:
            at, weights, opt_state = self.good
            self.task.model.load_state_dict(weights)
            self.opt.load_state_dict(opt_state)
            back = "the initial weights" if at < 0 else f"the weights of epoch {at + 1}, the last with a finite loss"
            n.stop = f"{what} in epoch {epoch + 1}; stopped and restored {back}"
        if self.ctx.is_main:
            print(f"seqlab: {n.stop}", file=sys.stderr, flush=True)

    def watch(self, epoch: int, logs: dict[str, Any]) -> None:
        """Early stopping, best weights and plateau cuts on ``config.monitor``."""
        c, n = self.c, self.n
        if c.monitor is None or c.monitor not in logs:
            return
        value = float(logs[c.monitor])
        better = not math.isnan(value) and (n.best is None or (
            value < n.best - c.min_delta if c.mode == "min" else value > n.best + c.min_delta))
        if better:
            n.best, n.best_epoch, n.wait = value, epoch, 0
            if c.restore_best:
                self.best_state = {k: v.detach().clone() for k, v in self.task.model.state_dict().items()}
            return
        n.wait += 1
        if c.lr_plateau_factor is not None:
            n.plateau *= c.lr_plateau_factor
        if c.patience is not None and n.wait >= c.patience:
            n.stop = f"no improvement of {c.monitor} for {c.patience} epochs"

    def finish(self) -> None:
        if self.c.restore_best and self.best_state is not None:
            self.task.model.load_state_dict(self.best_state)
        self.history.best_epoch = self.n.best_epoch if self.best_state is not None else len(self.history.epoch) - 1

    def progress_bar(self, epoch: int):
        c = self.c
        if c.verbose != 1 or not self.ctx.is_main or not is_interactive() or _no_progress():
            return None
        from tqdm.auto import tqdm

        return tqdm(total=self.nb, initial=self.n.batch, desc=f"epoch {epoch + 1}/{c.epochs or '?'}", leave=c.epoch_lines,
                    dynamic_ncols=True, file=sys.stderr)


def _cpu(obj: Any) -> Any:
    """``obj`` (an optimizer state dict) with its tensors on the CPU."""
    if isinstance(obj, Tensor):
        return obj.detach().to("cpu", copy=True)
    if isinstance(obj, dict):
        return {k: _cpu(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return type(obj)(_cpu(v) for v in obj)
    return obj


def _no_progress() -> bool:
    import os

    return bool(os.environ.get("SEQLAB_NO_PROGRESS"))


def _autocast(device: torch.device, enabled: bool):
    if not enabled:
        return None, None
    if device.type != "cuda":
        raise SeqlabError("mixed_precision: needs a CUDA GPU; use mixed_precision=False on CPU")
    if torch.cuda.is_bf16_supported():
        return torch.bfloat16, None
    return torch.float16, torch.amp.GradScaler("cuda")


def train(task: Task, config: TrainConfig, callbacks: Sequence[Callback] = ()) -> History:
    """Train ``task.model`` as ``config`` says; returns the per-epoch :class:`History`
    (``history.stopped`` says why training ended early, ``history.best_epoch`` which epoch's
    weights were kept)."""
    if not isinstance(config, TrainConfig):
        raise SeqlabError(f"config: expected a seqlab.train.TrainConfig, got {type(config).__name__}")
    with thread_policy(config.threads):
        return _Run(task, config, callbacks).run()


__all__ = ["Task", "TrainConfig", "epoch_generator", "num_shards", "shard", "train"]
