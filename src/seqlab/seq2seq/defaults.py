"""The defaults of ``seqlab translate train``, in one place (no torch here: the command line
reads them for ``--help``). The keyword names of :func:`seqlab.seq2seq.run.train`; the command's
options, that function's signature, the date task's model (:data:`seqlab.seq2seq.train.DATE_MODEL`)
and this job's :func:`~seqlab.seq2seq.train.default_config` all read them. Sizes that reach >= 99 %
exact match on held-out dates within minutes on two CPU cores (docs/seq2seq.md,
benchmarks/bench_seq2seq.py); Luong attention without input feeding trains all target steps at
once: several times faster.
"""

from __future__ import annotations

from typing import Any

#: seqlab.seq2seq.run.train keyword -> default of the command (``--hidden`` is ``hidden`` ...)
DEFAULTS: dict[str, Any] = {
    "level": "char", "cell": "gru", "attention": "luong", "input_feeding": False, "hidden": 64, "embed": 32,
    "layers": 1, "dropout": 0.0, "epochs": 50, "minutes": 5.0, "lr": 3e-3, "batch_size": 64, "teacher_forcing": 1.0,
    "target_accuracy": 1.0,
}

#: the rest of this job's TrainConfig (no option sets them): the gradient norm is clipped at 1, and
#: the learning rate multiplied by 0.7 after each epoch without a better validation exact match
TRAINING: dict[str, Any] = {"clipnorm": 1.0, "lr_plateau_factor": 0.7}


__all__ = ["DEFAULTS", "TRAINING"]
