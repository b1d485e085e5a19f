"""``keras.losses`` on seqlab: the loss classes Keras code passes to ``compile``.

    from seqlab.keras.losses import SparseCategoricalCrossentropy
    model.compile(optimizer="adam", loss=SparseCategoricalCrossentropy(from_logits=True))

Each returns the :mod:`seqlab.train.losses` loss of the same name. ``from_logits`` is Keras's:
True takes the outputs as logits (with a last ``Dense`` whose activation is the loss's own, that
activation is skipped); False, Keras's default, as probabilities, and a last ``Dense`` without
activation is then refused, since its outputs are logits. Saved with the model and restored by
``load_model``.
"""

from __future__ import annotations

from ..errors import SeqlabError
from ..train.losses import Huber as HuberLoss
from ..train.losses import Loss, get_loss


def _cross_entropy(name: str, from_logits: bool) -> Loss:
    if not isinstance(from_logits, bool):
        raise SeqlabError(f"from_logits: expected True or False, got {from_logits!r}")
    return get_loss({"name": name, "from_logits": from_logits})


def BinaryCrossentropy(from_logits: bool = False) -> Loss:
    return _cross_entropy("binary_crossentropy", from_logits)


def CategoricalCrossentropy(from_logits: bool = False) -> Loss:
    return _cross_entropy("categorical_crossentropy", from_logits)


def SparseCategoricalCrossentropy(from_logits: bool = False) -> Loss:
    return _cross_entropy("sparse_categorical_crossentropy", from_logits)


def MeanSquaredError() -> Loss:
    return get_loss("mse")


def MeanAbsoluteError() -> Loss:
    return get_loss("mae")


def Huber(delta: float = 1.0) -> Loss:
    """``0.5 x²`` where ``|x| <= delta``, else ``delta (|x| - 0.5 delta)``, x = y_pred - y_true
    (Keras's formula, torch's HuberLoss); ``delta`` a finite number > 0."""
    return HuberLoss(delta)


__all__ = ["BinaryCrossentropy", "CategoricalCrossentropy", "Huber", "MeanAbsoluteError", "MeanSquaredError",
           "SparseCategoricalCrossentropy"]
