"""The runner's loop over time, and its per-step observer hook.

:func:`run_loop` steps one cell over a sequence: the input products of all steps are one matrix
multiply (``cell.input_projection``), then one ``cell.recurrence`` call per step. Steps past a
sequence's length keep its state and output zeros. ``h_mask`` (B, H) is the cell's recurrent
dropout mask for the whole sequence (drawn by :class:`~seqlab.nn.Recurrent`, one per sequence
for all steps).

Observers: inside ``with observe(model, callback):`` every :class:`~seqlab.nn.Recurrent` layer of
``model`` takes the loop path, whatever its backend, and calls ``callback(step)`` after each
step with a :class:`Step`. ``layer.observe(callback)`` does the same for one layer. ``step.new``
is the cell's output, a tensor of the autograd graph, so ``torch.autograd.grad(loss, step.new[0])``
gives the total derivative dL/dh_t. Nothing is patched: leaving the block ends the observation,
even after an error.
"""

from __future__ import annotations

from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Callable, Iterator

import torch
from torch import Tensor, nn

from ..errors import SeqlabError

if TYPE_CHECKING:  # pragma: no cover
    from .cells import CellBase
    from .recurrent import Recurrent

State = tuple[Tensor, ...]
StepHook = Callable[[int, Tensor, State, State], None]


@dataclass(frozen=True)
class Step:
    """One step of one cell, as an observer sees it.

    ``t`` counts steps in the order the cell runs them: for ``direction`` 1 (backward), step t of
    sequence b reads time ``lengths[b] - 1 - t`` (while ``t < lengths[b]``). ``new`` is what the
    cell computed; past a sequence's length the runner discards it and keeps ``prev``.
    """

    module: "Recurrent"  # the layer that ran the step
    layer: int  # stacked layer index
    direction: int  # 0 forward, 1 backward
    t: int
    gi: Tensor  # (B, G*H): W_ih x_t + b_ih (layer-normalized where the cell has it)
    prev: State  # state before the step: (h,) or (h, c), each (B, H)
    new: State  # state after the step, same shapes
    lengths: Tensor | None  # (B,), or None for full-length sequences

    @property
    def cell(self) -> "CellBase":
        return self.module.cells[self.layer * self.module.num_directions + self.direction]


Observer = Callable[[Step], None]


def run_loop(cell: "CellBase", x: Tensor, state: State, lengths: Tensor | None, h_mask: Tensor | None = None,
             on_step: StepHook | None = None) -> tuple[Tensor, State]:
    """Step ``cell`` over ``x`` (B, T, I) from ``state``: ``(out (B, T, H), final state)``.

    ``h_mask`` (B, H): recurrent dropout mask on ``h_{t-1}`` for every step. ``on_step(t, gi,
    prev, new)`` is called after each step with the cell's own output ``new``.
    """
    gi = cell.input_projection(x)  # (B, T, G*H): all input products in one multiply
    T = x.shape[1]
    outs = []
    if lengths is not None:
        valid = (torch.arange(T, device=x.device).unsqueeze(1) < lengths.to(x.device).unsqueeze(0))  # (T, B)
        valid = valid.unsqueeze(-1)  # (T, B, 1)
    for t in range(T):
        # cells written before recurrent dropout take (gi, state): pass a mask only when there is one
        new = cell.recurrence(gi[:, t], state) if h_mask is None else cell.recurrence(gi[:, t], state, h_mask)
        if on_step is not None:
            on_step(t, gi[:, t], state, new)
        if lengths is not None:
            m = valid[t]
            new = tuple(torch.where(m, n, s) for n, s in zip(new, state))
            outs.append(new[0] * m)
        else:
            outs.append(new[0])
        state = new
    return torch.stack(outs, 1), state


@contextmanager
def observe(model: nn.Module, callback: Observer) -> Iterator[list["Recurrent"]]:
    """Observe every step of every seqlab recurrent layer in ``model`` (itself included).

    Yields the observed layers. Raises SeqlabError when ``model`` has none.
    """
    from .recurrent import Recurrent

    if not isinstance(model, nn.Module):
        raise SeqlabError(f"model: expected a torch.nn.Module, got {type(model).__name__}")
    if not callable(callback):
        raise SeqlabError(f"callback: expected a function of one Step, got {type(callback).__name__}")
    layers = [m for m in model.modules() if isinstance(m, Recurrent)]
    if not layers:
        raise SeqlabError(
            f"model: expected a model containing seqlab.nn recurrent layers, found none in {type(model).__name__}; "
            "torch.nn layers can be converted with seqlab.nn.from_torch"
        )
    with ExitStack() as stack:
        for layer in layers:
            stack.enter_context(layer.observe(callback))
        yield layers
