"""The defaults of ``seqlab classify train``, in one place (no torch here: the command line
reads them for ``--help``). The estimator's keyword names; :func:`estimator_options` gives
them with overrides. Measured on the archive sets and the digits: docs/classify.md,
benchmarks/bench_classify.py."""

from __future__ import annotations

from typing import Any

from ..errors import SeqlabError

#: SequenceClassifier keyword -> default of the command (and of benchmarks/bench_classify.py)
DEFAULTS: dict[str, Any] = dict(
    cell="lstm", hidden_size=8, num_layers=1, bidirectional=True, pooling="attention", dropout=0.8,
    fcn=64, rnn_steps=32, normalize="feature",
    epochs=None, max_steps=2000, batch_size=16, lr=3e-3, patience=None, validation_split=None,
)


def estimator_options(**overrides: Any) -> dict[str, Any]:
    """:data:`DEFAULTS` with ``overrides``; a name that is not one of them is a SeqlabError naming
    it and the names there are."""
    unknown = sorted(set(overrides) - set(DEFAULTS))
    if unknown:
        verb = "is not a default" if len(unknown) == 1 else "are not defaults"
        raise SeqlabError(f"estimator_options: {', '.join(map(repr, unknown))} {verb} of seqlab classify train; "
                          f"expected some of {', '.join(DEFAULTS)}")
    return {**DEFAULTS, **overrides}


__all__ = ["DEFAULTS", "estimator_options"]
