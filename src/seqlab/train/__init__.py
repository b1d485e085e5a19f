"""The training engine: losses, optimizers, metrics, callbacks, history, multi-process."""

from .callbacks import (Callback, EarlyStopping, LearningRateScheduler, ModelCheckpoint, ReduceLROnPlateau,
                        TerminateOnNaN)
from .history import History
from .losses import LOSSES, get_loss
from .metrics import METRICS, get_metric
from .optimizers import SGD, Adagrad, Adam, AdamW, OptimizerSpec, RMSprop, get_optimizer

__all__ = [
    "Adagrad", "Adam", "AdamW", "Callback", "EarlyStopping", "History", "LOSSES", "LearningRateScheduler",
    "METRICS", "ModelCheckpoint", "OptimizerSpec", "RMSprop", "ReduceLROnPlateau", "SGD", "TerminateOnNaN",
    "get_loss", "get_metric", "get_optimizer",
]
