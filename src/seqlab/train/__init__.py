"""The training engine: the one loop (:func:`train` with a :class:`Task` and a
:class:`TrainConfig`), checkpoints, schedules, losses, optimizers, metrics, callbacks, history,
multi-process. See docs/train.md."""

from .callbacks import (Callback, EarlyStopping, LearningRateScheduler, ModelCheckpoint, ReduceLROnPlateau,
                        TerminateOnNaN)
from .history import History
from .loop import Task, TrainConfig, epoch_generator, num_shards, shard, train
from .losses import LOSSES, get_loss
from .metrics import METRICS, get_metric
from .optimizers import SGD, Adagrad, Adam, AdamW, OptimizerSpec, RMSprop, get_optimizer

__all__ = [
    "Adagrad", "Adam", "AdamW", "Callback", "EarlyStopping", "History", "LOSSES", "LearningRateScheduler",
    "METRICS", "ModelCheckpoint", "OptimizerSpec", "RMSprop", "ReduceLROnPlateau", "SGD", "TerminateOnNaN",
    "get_loss", "get_metric", "get_optimizer", "Task", "TrainConfig", "epoch_generator", "num_shards", "shard",
    "train",
]
