"""Streaming a ``Sequential``: run the next chunk of a sequence from the state the caller carries.

``y, state = model.step(x_chunk, state)`` runs the chunk ``x_chunk`` (B, T, F) (T >= 1; ids
(B, T) after an Embedding) from ``state`` (None to start) and returns the model's output for the
chunk and the new state: one entry per recurrent layer, in torch's layout (``h`` (1, B, H), or
``(h, c)`` for LSTM layers). Chunks fed one after the other give what one pass over the whole
sequence gives: every step's output for ``return_sequences=True`` layers, the output at the
chunk's last step otherwise (the whole sequence's output once the last chunk is in).

Layers that read each sequence from its end (``Bidirectional``, ``go_backwards=True``) cannot
continue a sequence from a chunk; ``step`` refuses them, naming the layer. The NumPy twin is
:meth:`seqlab.reference.models.SequentialModel.step`; ONNX exports take the same states as inputs.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Sequence

from torch import Tensor

from .errors import SeqlabError
from .layers import Bidirectional, Layer, RecurrentLayer

if TYPE_CHECKING:  # pragma: no cover
    from .model import Sequential

State = list[Any]  # per recurrent layer: h (1, B, H) or (h, c)


def _check_state(model: "Sequential", state: Sequence[Any] | None, n: int) -> list[Any]:
    if state is None:
        return [None] * n
    if not isinstance(state, (list, tuple)) or len(state) != n:
        got = len(state) if isinstance(state, (list, tuple)) else type(state).__name__
        raise SeqlabError(f"state: expected the list returned by the previous step ({n} recurrent layer state(s)), "
                          f"got {got}")
    return list(state)


def sequential_step(model: "Sequential", x: Tensor, state: Sequence[Any] | None = None) -> tuple[Tensor, State]:
    """See the module docstring."""
    if not isinstance(x, Tensor):
        raise SeqlabError(f"x: expected a torch.Tensor chunk (batch, time, features), got {type(x).__name__}")
    if not len(model.layers):
        raise SeqlabError("model: has no layers; add some with model.add(...)")
    recurrent = [k for k, l in enumerate(model.layers) if isinstance(l, (RecurrentLayer, Bidirectional))]
    for k in recurrent:
        layer = model.layers[k]
        if isinstance(layer, Bidirectional) or layer.go_backwards:
            what = "Bidirectional" if isinstance(layer, Bidirectional) else "go_backwards=True"
            raise SeqlabError(f"step: layer {k} ({type(layer).__name__}, {what}) reads each sequence from its end, so "
                              "a chunk cannot continue it; call the model on the whole sequence instead")
    states = _check_state(model, state, len(recurrent))
    if model.input_shape is not None:
        model.check_input_shape(tuple(x.shape))
    mask, new, j = None, [], 0
    for layer in model.layers:
        if isinstance(layer, RecurrentLayer):
            layer._maybe_build(x)
            out, st = layer.rnn(x, states[j], mask=mask)  # out (B, T, H); st h (1, B, H) or (h, c)
            h = st if isinstance(st, Tensor) else st[0]
            x = out if layer.return_sequences else h[-1]  # (B, T, H) or (B, H)
            mask = mask if layer.return_sequences else None
            new.append(st)
            j += 1
        elif isinstance(layer, Layer):
            x, mask = layer.call_masked(x, mask)
        else:
            x = layer(x)
    return x, new


def detach(state: State) -> State:
    """The state cut from the autograd graph (between chunks of a long stream)."""
    return [s.detach() if isinstance(s, Tensor) else tuple(t.detach() for t in s) for s in state]


__all__ = ["detach", "sequential_step"]
