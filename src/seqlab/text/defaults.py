"""The defaults of ``seqlab generate train`` in one place: the command line's options, the
keyword arguments of :func:`seqlab.text.run.train` and :func:`seqlab.text.train.default_config`
all read them. No torch import (the command line reads them for ``--help``).

Chosen by measuring validation loss on tiny Shakespeare (last 10 % held out) within a training
time budget; see docs/generate.md, "Quality per CPU-minute".
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class TextDefaults:
    """Model, data and training defaults of the text job."""

    cell: str = "lstm"
    hidden: int = 256
    layers: int = 2
    embed: int | None = None
    dropout: float = 0.1
    epochs: int = 20
    minutes: float = 3.0
    batch_size: int = 32
    seq_len: int = 64
    lr: float = 4e-3
    schedule: str = "decay"
    decay_fraction: float = 1.0
    clipnorm: float = 5.0
    precision: str = "auto"


DEFAULTS = TextDefaults()

__all__ = ["DEFAULTS", "TextDefaults"]
