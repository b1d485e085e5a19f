"""Record every step of every seqlab recurrent layer while a model runs.

:func:`recording` is a context manager over the runner's observer hook
(:func:`seqlab.nn.loop.observe`): inside it, each :class:`seqlab.nn.Recurrent` layer in a model
runs its loop (one ``cell.recurrence`` call per time step, whatever backend was chosen), and each
step's input ``gi``, previous state and new state are kept. The new hidden state of each step is
a tensor of the autograd graph, so ``torch.autograd.grad(loss, h_t)`` gives the total derivative
dL/dh_t. Nothing is patched; leaving the block ends the recording, even after an error.
"""

from __future__ import annotations

from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Iterator

import torch
from torch import Tensor, nn

from ..errors import SeqlabError
from ..nn import Recurrent, Step, observe


@dataclass
class CellTrace:
    """The steps of one (layer, direction) of one call of a recurrent layer, in stepping order.

    For a backward direction, stepping order is reversed time (within each sequence's length).
    """

    label: str  # e.g. "encoder.l0" or "encoder.l1_reverse" (torch's naming)
    cell: nn.Module
    layer: int
    direction: int
    lengths: Tensor | None
    gi: list[Tensor] = field(default_factory=list)  # each (B, G*H)
    prev: list[tuple[Tensor, ...]] = field(default_factory=list)  # state before each step
    new: list[tuple[Tensor, ...]] = field(default_factory=list)  # state after each step

    def stacked(self, which: int = 0, to_time: bool = True) -> Tensor:
        """State component ``which`` (0 = h, 1 = c) of every step, (B, T, H), in time order."""
        s = torch.stack([n[which] for n in self.new], 1)  # (B, T, H)
        return to_time_order(s, self.direction, self.lengths) if to_time else s

    def valid(self) -> Tensor:
        """(B, T) bool: True at the steps inside each sequence's length."""
        B, T = self.new[0][0].shape[0], len(self.new)
        if self.lengths is None:
            return torch.ones(B, T, dtype=torch.bool)
        return torch.arange(T).unsqueeze(0) < self.lengths.cpu().unsqueeze(1)  # (B, T)


def to_time_order(s: Tensor, direction: int, lengths: Tensor | None) -> Tensor:
    """Map (B, T, ...) values in stepping order back to time order (a no-op going forward)."""
    if direction == 0:
        return s
    from ..nn import reverse_padded

    return reverse_padded(s, lengths)


@dataclass
class Recording:
    """All traces of one model call, in the order the cells ran."""

    traces: list[CellTrace] = field(default_factory=list)
    inputs: list[tuple[str, Tensor, Recurrent]] = field(default_factory=list)  # input of each layer call


def recurrent_layers(model: nn.Module) -> list[tuple[str, Recurrent]]:
    """Every seqlab recurrent layer inside ``model`` (the model itself included), with its name."""
    if not isinstance(model, nn.Module):
        raise SeqlabError(f"model: expected a torch.nn.Module, got {type(model).__name__}")
    found = [(name, m) for name, m in model.named_modules() if isinstance(m, Recurrent)]
    if not found:
        raise SeqlabError(
            f"model: expected a model containing seqlab.nn recurrent layers (RNN, LSTM, GRU), found none in "
            f"{type(model).__name__}; torch.nn layers can be converted with seqlab.nn.from_torch"
        )
    return found


def ensure_built(model: nn.Module, x, **forward_kwargs) -> None:
    """Run ``model`` once without gradients when its recurrent layers do not exist yet (a lazily
    built Sequential without ``input_shape``), so that :func:`recording` can find them."""
    if isinstance(model, nn.Module) and not any(isinstance(m, Recurrent) for m in model.modules()):
        with torch.no_grad():
            model(x, **forward_kwargs)


@contextmanager
def recording(model: nn.Module, make_input_leaf: bool = False) -> Iterator[Recording]:
    """Run ``model``'s seqlab recurrent layers step by step and record every step (see module doc).

    With ``make_input_leaf``, an input of a recurrent layer that does not require grad (the model's
    own float input) is replaced by a copy that does, so that dL/dx can be asked for.
    """
    layers = recurrent_layers(model)
    names = {id(m): name for name, m in layers}
    rec = Recording()
    calls: dict[int, int] = {}
    current: dict[tuple[int, int], CellTrace] = {}  # (layer module, cell index) -> this call's trace

    def pre_hook(layer: Recurrent, args: tuple, kwargs: dict):
        """A new call of ``layer``: one fresh trace per cell, and the input (made a leaf if asked)."""
        name = names[id(layer)]
        calls[id(layer)] = calls.get(id(layer), 0) + 1
        tag = name if calls[id(layer)] == 1 else f"{name}#{calls[id(layer)]}"
        D = layer.num_directions
        for k, cell in enumerate(layer.cells):
            layer_idx, d = divmod(k, D)
            label = f"{tag}.l{layer_idx}" if tag else f"l{layer_idx}"
            current[(id(layer), k)] = CellTrace(label + ("_reverse" if d else ""), cell, layer_idx, d, None)
            rec.traces.append(current[(id(layer), k)])
        if args and isinstance(args[0], Tensor):
            x = args[0]
            if make_input_leaf and not x.requires_grad and x.is_floating_point():
                x = x.detach().requires_grad_(True)
                args = (x,) + tuple(args[1:])
            rec.inputs.append((tag, x, layer))
            return args, kwargs
        return None

    def on_step(step: Step) -> None:
        trace = current[(id(step.module), step.layer * step.module.num_directions + step.direction)]
        trace.lengths = step.lengths  # the lengths the runner checked (from lengths= or mask=)
        trace.gi.append(step.gi)
        trace.prev.append(tuple(step.prev))
        trace.new.append(tuple(step.new))

    handles = [layer.register_forward_pre_hook(pre_hook, with_kwargs=True) for _, layer in layers]
    try:
        with observe(model, on_step):
            yield rec
    finally:
        for h in handles:
            h.remove()


def record_eval(model: nn.Module, x, **forward_kwargs) -> Recording:
    """Run ``model(x, **forward_kwargs)`` once in eval mode under :func:`recording` and return the
    recording; the model's training mode is restored afterwards, even after an error."""
    was_training = model.training
    model.eval()
    try:
        ensure_built(model, x, **forward_kwargs)
        with recording(model) as rec:
            model(x, **forward_kwargs)
    finally:
        model.train(was_training)
    return rec
