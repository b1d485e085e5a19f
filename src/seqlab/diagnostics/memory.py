"""Train a recurrent cell on a long-range memory task and compare it with the task's baseline.

:class:`MemoryModel` is one seqlab recurrent layer and a linear read-out: for the adding problem
it reads the last hidden state (one number), for copy memory every step (ten classes, inputs
one-hot). Gated cells start with a *keep bias* of 1 (Gers et al. 2000; Jozefowicz et al. 2015):
the LSTM's forget-gate bias is +1 and, because seqlab's GRU writes ``h = (1 - z) h_prev + z n``,
the GRU's update-gate bias is -1, so both keep about 73% of their state per step at first.
minGRU (``h = (1 - z) h_prev + z v``, ``z = σ(W_z x + b_z)``) gets the same -1 on ``b_z`` (73%);
minLSTM gets +1 on its forget gate ``b_f`` (keep fraction ``f / (f + i)``: 59% at zero input).
Their gates see the input only, so the keep fraction is a function of the current symbol.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ..errors import SeqlabError, check_positive_int
from ..nn import Recurrent, registry
from ..utils import seed_everything
from ..train import Task, TrainConfig, train
from .gradnorm import GradientNormRecorder
from .tasks import COPY_CLASSES, baseline, check_task, make_batch, _check_length

#: every cell of seqlab.nn.registry
CELLS = registry.cell_names()


def check_cells(cells: str | list[str]) -> list[str]:
    """Parse ``"rnn,lstm,gru"`` (or a list) into known cell names, in order, without repeats."""
    names = [c.strip().lower() for c in (cells.split(",") if isinstance(cells, str) else cells)]
    names = [c for c in names if c]
    if not names:
        raise SeqlabError(f"cells: expected a comma-separated list from {', '.join(CELLS)}, got {cells!r}")
    for c in names:
        if c not in CELLS:
            raise SeqlabError(f"cells: unknown cell {c!r}; expected names from {', '.join(CELLS)} (e.g. --cells rnn,lstm,gru)")
    return list(dict.fromkeys(names))


def make_layer(cell: str, input_size: int, hidden_size: int, keep_bias: float = 1.0) -> Recurrent:
    """A one-layer seqlab layer of any registry cell with the keep bias of its family applied (see
    the module docstring; every LSTM variant is an LSTM there, every GRU variant a GRU)."""
    layer = registry.make_layer(check_cells([cell])[0], input_size, hidden_size)
    family = registry.get_cell(cell).family
    H = hidden_size
    with torch.no_grad():
        for c in layer.cells:
            if family == "lstm":
                c.bias_ih[H : 2 * H] += keep_bias  # forget gate (block f of i|f|g|o)
            elif family == "gru":
                c.bias_ih[H : 2 * H] -= keep_bias  # update gate z of r|z|n: 1 - z is the keep fraction
            elif family == "mingru":
                c.bias_ih[:H] -= keep_bias  # gate z of z|h: 1 - z is the keep fraction
            elif family == "minlstm":
                c.bias_ih[:H] += keep_bias  # forget gate f of f|i|h
    return layer


class MemoryModel(nn.Module):
    """Recurrent layer + linear read-out for a memory task.

    adding: x (B, T, 2) -> (B, 1) from the last step. copy: x (B, N) int -> logits (B, N, 10).
    """

    def __init__(self, task: str, cell: str, hidden_size: int = 32, keep_bias: float = 1.0) -> None:
        super().__init__()
        self.task = check_task(task)
        self.input_size = 2 if task == "adding" else COPY_CLASSES
        self.rnn = make_layer(cell, self.input_size, hidden_size, keep_bias)
        self.head = nn.Linear(hidden_size, 1 if task == "adding" else COPY_CLASSES)

    def forward(self, x: Tensor) -> Tensor:
        if self.task == "copy":
            x = F.one_hot(x, COPY_CLASSES).to(self.head.weight.dtype)  # (B, N) -> (B, N, 10)
            out, _ = self.rnn(x)  # (B, N, H)
            return self.head(out)  # (B, N, 10)
        out, _ = self.rnn(x)  # (B, T, H)
        return self.head(out[:, -1])  # (B, 1)

    def loss(self, out: Tensor, y: Tensor) -> Tensor:
        if self.task == "copy":
            return F.cross_entropy(out.reshape(-1, COPY_CLASSES), y.reshape(-1))  # (B*N, 10) vs (B*N,)
        return F.mse_loss(out, y)


@dataclass
class MemoryConfig:
    """Training settings for :func:`train_memory` (defaults reach the bars on 2 CPU cores)."""

    task: str = "adding"
    length: int = 100
    cell: str = "lstm"
    hidden_size: int = 32
    batch_size: int = 64
    lr: float = 1e-2
    clipnorm: float = 1.0
    keep_bias: float = 1.0
    max_steps: int = 1200
    minutes: float | None = None  # wall-clock budget; stops at max_steps or the budget, whichever first
    eval_batch: int = 1000
    seed: int = 0

    def validate(self) -> "MemoryConfig":
        check_task(self.task)
        _check_length(self.length)
        check_cells([self.cell])
        for name in ("hidden_size", "batch_size", "max_steps", "eval_batch"):
            check_positive_int(name, getattr(self, name))
        for name in ("lr", "clipnorm"):
            v = getattr(self, name)
            if not isinstance(v, (int, float)) or v <= 0:
                raise SeqlabError(f"{name}: expected a positive number, got {v!r}")
        if self.minutes is not None and (not isinstance(self.minutes, (int, float)) or self.minutes <= 0):
            raise SeqlabError(f"minutes: expected a positive number of minutes, got {self.minutes!r}")
        return self


@dataclass
class MemoryResult:
    """Outcome of :func:`train_memory`: loss on a fresh evaluation batch against the baseline."""

    config: MemoryConfig
    final_loss: float
    baseline: float
    steps: int
    seconds: float
    curve: list[tuple[int, float]] = field(default_factory=list)  # (step, smoothed training loss)
    grad_norms: dict[str, float] = field(default_factory=dict)

    def to_dict(self) -> dict:
        d = asdict(self)
        d["config"] = asdict(self.config)
        return d


def evaluate(model: MemoryModel, task: str, length: int, batch_size: int, seed: int) -> float:
    """Loss of ``model`` on a fresh batch drawn with its own seed."""
    gen = torch.Generator().manual_seed(seed)
    x, y = make_batch(task, batch_size, length, gen)
    model.eval()
    with torch.no_grad():
        loss = float(model.loss(model(x), y))
    model.train()
    return loss


class MemoryTask(Task):
    """A memory task on the one loop: every batch freshly generated (no epochs in the data), an
    "epoch" of :data:`LOG_EVERY` steps after which the smoothed training loss is logged."""

    def __init__(self, model: MemoryModel, cfg: MemoryConfig, log=None) -> None:
        self.model, self.cfg, self.log = model, cfg, log
        self.ema: float | None = None
        self.curve: list[tuple[int, float]] = []
        self.steps = 0
        self.losses: list[Tensor] = []

    def configure_optimizer(self, config: TrainConfig) -> torch.optim.Optimizer:
        return torch.optim.Adam(self.model.parameters(), lr=config.lr)

    def num_batches(self) -> int:
        return LOG_EVERY

    def batches(self, epoch: int, generator: torch.Generator):
        c = self.cfg
        for _ in range(LOG_EVERY):
            x, y = make_batch(c.task, c.batch_size, c.length, generator)
            yield x.to(self.device), y.to(self.device)

    def training_step(self, net, batch):
        x, y = batch
        loss = self.model.loss(net(x), y)
        self.losses.append(loss.detach())
        return loss

    def on_epoch_end(self, epoch: int, logs: dict) -> None:
        for value in torch.stack(self.losses).tolist():  # one host sync per logged stretch
            self.ema = value if self.ema is None else 0.95 * self.ema + 0.05 * value
        self.steps += len(self.losses)
        self.losses = []
        if self.steps % LOG_EVERY == 0:
            self.curve.append((self.steps, self.ema))
            if self.log is not None and self.is_main:
                self.log(self.steps, self.ema)

    def state_dict(self):
        losses = {"losses": torch.stack(self.losses)} if self.losses else {}
        return {"ema": self.ema, "curve": self.curve, "steps": self.steps}, losses

    def load_state_dict(self, meta, tensors) -> None:
        self.ema, self.steps = meta.get("ema"), int(meta.get("steps", 0))
        self.curve = [tuple(p) for p in meta.get("curve", [])]
        self.losses = list(tensors["losses"].unbind()) if "losses" in tensors else []


LOG_EVERY = 100  # steps between two points of the training curve


def train_memory(config: MemoryConfig, log=None, model: MemoryModel | None = None, threads: int | None = 0,
                 checkpoint: str | None = None, resume: bool = False) -> MemoryResult:
    """Train ``config.cell`` on ``config.task`` with Adam and gradient clipping, batches generated
    on the fly, on the one training loop (:mod:`seqlab.train.loop`).

    ``log(step, smoothed_loss)`` is called every 100 steps when given. Returns the loss on a
    held-out batch of ``eval_batch`` examples and the task's memoryless baseline. ``threads``,
    ``checkpoint`` and ``resume`` as in :class:`seqlab.train.TrainConfig`.
    """
    cfg = config.validate()
    seed_everything(cfg.seed)
    model = model or MemoryModel(cfg.task, cfg.cell, cfg.hidden_size, cfg.keep_bias)
    rec = GradientNormRecorder(cfg.clipnorm)
    task = MemoryTask(model, cfg, log)
    train_cfg = TrainConfig(epochs=None, max_steps=cfg.max_steps, minutes=cfg.minutes, lr=cfg.lr,
                            clipnorm=cfg.clipnorm, seed=cfg.seed, device="cpu", threads=threads, verbose=0,
                            checkpoint=checkpoint, resume=resume, checkpoint_minutes=None)
    t0 = time.perf_counter()
    train(task, train_cfg, callbacks=[rec])
    seconds = time.perf_counter() - t0
    final = evaluate(model, cfg.task, cfg.length, cfg.eval_batch, cfg.seed + 10_000)
    return MemoryResult(cfg, final, baseline(cfg.task, cfg.length), task.steps, seconds, task.curve, rec.summary())
