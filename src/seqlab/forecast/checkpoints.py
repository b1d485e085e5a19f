"""One checkpoint for a whole forecast run: every network of every fit, in training order.

A forecast run trains networks one after the other: ``ensemble`` members per fit, and in
``seqlab forecast`` one fit per backtest origin, one for the holdout and one for the final
model. They share one engine checkpoint file (``--save``'s
:func:`seqlab.train.checkpoint.checkpoint_path`). The network in training writes it when it
finishes and every ``checkpoint_minutes`` (5 by default; ``checkpoint_steps`` optimizer steps
too when set), not at epoch ends (:func:`seqlab.forecast.task.training`: its epochs take
milliseconds, a write about 4 ms), and the file carries, as that task's own
state, the final weights and history of every network the run has finished, and a fingerprint
(settings and training windows) of every fit begun.

A resumed run repeats the same fits in the same order: a finished network is loaded from the file
instead of trained, the one that was training continues from the engine's state, and the rest
train from scratch; baselines and forecasts are recomputed. With the same seed on CPU with one
thread the final weights are bit-identical to an uninterrupted run's. A fit whose fingerprint
differs from the saved one (other data or settings) is refused with the fix.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, replace
from pathlib import Path
from typing import Any

import numpy as np
from torch import Tensor, nn

from ..errors import SeqlabError
from ..train import History, TrainConfig
from ..train import checkpoint as ckpt

KIND = "forecast run"
# TrainConfig fields that change how a run is executed, not what it computes
RUNTIME = ("checkpoint", "resume", "threads", "verbose", "epoch_lines", "checkpoint_minutes", "checkpoint_steps",
           "device")


def fingerprint(settings: dict[str, Any], *arrays: np.ndarray) -> str:
    """A short hash of ``settings`` (JSON) and the bytes of ``arrays``."""
    h = hashlib.sha256(json.dumps(settings, sort_keys=True, default=str).encode())
    for a in arrays:
        a = np.ascontiguousarray(a)
        h.update(f"{a.dtype}{a.shape}".encode())
        h.update(a.tobytes())
    return h.hexdigest()[:24]


def training_settings(config: TrainConfig) -> dict[str, Any]:
    """The fields of ``config`` that decide the weights a run ends with."""
    return {k: v for k, v in asdict(config).items() if k not in RUNTIME}


def _history_meta(h: History) -> dict[str, Any]:
    return {"epoch": h.epoch, "values": h.history, "best_epoch": h.best_epoch, "stopped": h.stopped}


def _history(meta: dict[str, Any]) -> History:
    h = History()
    h.epoch, h.history = list(meta["epoch"]), {k: list(v) for k, v in meta["values"].items()}
    h.best_epoch, h.stopped = int(meta["best_epoch"]), str(meta["stopped"])
    return h


class RunCheckpoint:
    """The checkpoint file at ``path`` shared by every network of a run; ``resume`` reads it
    first (a missing file is a SeqlabError naming the fix)."""

    def __init__(self, path: str | Path, resume: bool = False) -> None:
        self.path = Path(path)
        self.fits: list[str] = []  # fingerprint of each fit begun by this run
        self.saved_fits: list[str] = []  # ... and by the run that wrote the file
        self.weights: dict[str, dict[str, Tensor]] = {}  # finished networks by key
        self.histories: dict[str, dict[str, Any]] = {}
        self.current: str | None = None  # the network the file's engine state belongs to
        if resume:
            self._read()

    def _read(self) -> None:
        if not self.path.exists():  # the engine's message would say "at each epoch end"
            raise SeqlabError(f"--resume: no checkpoint at {str(self.path)!r} (a forecast run with --save writes one "
                              "there when each network finishes and every --checkpoint-minutes, and removes it once "
                              "the model file is written); start without --resume")
        meta, tensors = ckpt.load(self.path)
        task = meta.get("task") or {}
        if task.get("kind") != KIND:
            raise SeqlabError(f"--resume: {str(self.path)!r} is not the checkpoint of a forecast run; "
                              "start without --resume")
        self.saved_fits, self.current, self.histories = list(task["fits"]), str(task["key"]), dict(task["done"])
        for key in self.histories:
            prefix = f"task/done/{key}/"
            self.weights[key] = {n[len(prefix):]: t for n, t in tensors.items() if n.startswith(prefix)}

    @staticmethod
    def key(fit: int, member: int) -> str:
        return f"fit{fit}/member{member}"

    def begin_fit(self, fp: str) -> int:
        """Register the next fit of the run by its fingerprint; returns its index."""
        i = len(self.fits)
        if i < len(self.saved_fits) and self.saved_fits[i] != fp:
            raise SeqlabError(f"--resume: the checkpoint {str(self.path)!r} was written by a run with other data "
                              f"or settings (fit {i + 1} differs); resume with the same options, or start over "
                              "without --resume")
        self.fits.append(fp)
        return i

    def finished(self, key: str, net: nn.Module) -> History | None:
        """If network ``key`` finished before the interruption: load its weights into ``net`` and
        return its history; else None."""
        if key not in self.weights:
            return None
        try:
            net.load_state_dict(self.weights[key])
        except RuntimeError as exc:
            raise SeqlabError(f"--resume: checkpoint {str(self.path)!r} does not fit this model: {exc}") from exc
        return _history(self.histories[key])

    def config(self, key: str, config: TrainConfig) -> TrainConfig:
        """``config`` for network ``key``: checkpoint to this file, resume if it was training."""
        return replace(config, checkpoint=str(self.path), resume=key == self.current)

    def record(self, key: str, net: nn.Module, history: History) -> None:
        """Network ``key`` is finished: keep its final weights and history for later checkpoints."""
        self.weights[key] = {n: t.detach().cpu().clone() for n, t in net.state_dict().items()}
        self.histories[key] = _history_meta(history)

    def task_state(self, key: str) -> tuple[dict[str, Any], dict[str, Tensor]]:
        """What network ``key``'s task adds to each checkpoint the engine writes."""
        meta = {"kind": KIND, "key": key, "fits": list(self.fits), "done": self.histories}
        tensors = {f"done/{k}/{n}": t for k, w in self.weights.items() for n, t in w.items()}
        return meta, tensors

    def check_task_state(self, key: str, meta: dict[str, Any]) -> None:
        if meta.get("kind") != KIND or meta.get("key") != key:
            raise SeqlabError(f"--resume: checkpoint {str(self.path)!r} holds network {meta.get('key')!r}, "
                              f"expected {key!r}; start over without --resume")

    def discard(self) -> None:
        """Remove the file (once the run's result is safely written)."""
        ckpt.discard(self.path)


__all__ = ["RunCheckpoint", "fingerprint", "training_settings"]
