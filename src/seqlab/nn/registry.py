"""The one table of recurrent cells: every job's ``--cell`` and every model config name a cell here.

Each :class:`CellSpec` gives a stable lowercase name, the :mod:`seqlab.nn` layer class and the
constructor arguments that make the cell, its state size (1 for ``h``, 2 for ``(h, c)``), its
family (the gate layout, :data:`GATE_NAMES`), one line of description, and the functions of
:mod:`seqlab.reference` that compute the same equations in NumPy (the forward, with its options,
and the hand-derived backward where there is one).

:data:`GATE_NAMES` holds the facts every family shares, once: the names of its gate blocks in the
order of the rows of ``weight_ih`` (so their number, :func:`gate_count`, is the ``G`` of a
``(G*H, I)`` weight). The torch code, the NumPy reference, the ONNX export, the memory estimates
and the gate diagnostics all read them here.

Names are saved in model files: keep them stable (the first three, ``lstm``, ``gru`` and ``rnn``,
are those of files written before this table existed). This module imports no torch, so command
lines can list the names in ``--help``; the layer class is imported on first use.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable

from ..errors import SeqlabError

#: the most stacked recurrent layers a job's model may have (``--layers``; a model file's config too)
MAX_LAYERS = 1000

#: gate blocks per cell family, in the order of the rows of ``weight_ih``: torch.nn's for lstm
#: (input, forget, cell candidate, output) and gru (reset, update, new); the Elman cell's one
#: block is its new state; minGRU's update gate and candidate, minLSTM's forget and input gates
#: and candidate (seqlab.nn.minrnn and seqlab.reference.minrnn split the projection this way)
GATE_NAMES: dict[str, tuple[str, ...]] = {
    "lstm": ("i", "f", "g", "o"),
    "gru": ("r", "z", "n"),
    "rnn": ("h",),
    "mingru": ("z", "h"),
    "minlstm": ("f", "i", "h"),
}


def gate_count(family: str) -> int:
    """The number of gate blocks of ``family`` (the ``G`` of its ``(G*H, I)`` input weight)."""
    if family not in GATE_NAMES:
        raise SeqlabError(f"family: expected one of {', '.join(GATE_NAMES)}, got {family!r}")
    return len(GATE_NAMES[family])

if TYPE_CHECKING:  # pragma: no cover
    from .recurrent import Recurrent


@dataclass(frozen=True)
class CellSpec:
    """One row of the table (see the module docstring)."""

    name: str
    layer_name: str  # class in seqlab.nn
    kwargs: dict[str, Any] = field(default_factory=dict)  # constructor arguments that make this cell
    state_size: int = 1
    family: str = ""
    description: str = ""
    reference: str | None = None  # function in seqlab.reference (``module.function`` for submodules)
    reference_options: dict[str, Any] = field(default_factory=dict)
    reference_backward: str | None = None  # its hand-derived backward in seqlab.reference, if any

    @property
    def gate_names(self) -> tuple[str, ...]:
        """The family's gate blocks, in the order of the rows of ``weight_ih``."""
        return GATE_NAMES[self.family]

    @property
    def gates(self) -> int:
        """The number of gate blocks (see :func:`gate_count`)."""
        return gate_count(self.family)

    @property
    def layer(self) -> type["Recurrent"]:
        """The seqlab.nn layer class (imports torch)."""
        return getattr(importlib.import_module("seqlab.nn"), self.layer_name)

    def reference_function(self) -> Callable | None:
        """The NumPy twin in :mod:`seqlab.reference`, or None."""
        return _reference(self.reference)

    def reference_backward_function(self) -> Callable | None:
        """The NumPy twin's hand-derived backward in :mod:`seqlab.reference`, or None."""
        return _reference(self.reference_backward)


def _reference(path: str | None) -> Callable | None:
    """The function ``path`` (``function`` or ``module.function``) of seqlab.reference, or None."""
    if path is None:
        return None
    module, _, name = path.rpartition(".")
    return getattr(importlib.import_module("seqlab.reference" + (f".{module}" if module else "")), name)


_SPECS = [
    CellSpec("lstm", "LSTM", {}, 2, "lstm", "LSTM, gates i|f|g|o (Hochreiter & Schmidhuber 1997; torch.nn.LSTM)",
             "lstm_forward", reference_backward="lstm_backward"),
    CellSpec("gru", "GRU", {}, 1, "gru", "GRU, reset after the recurrent product (cuDNN's form; torch.nn.GRU)",
             "gru_forward", {"reset": "after"}, "gru_backward"),
    CellSpec("rnn", "RNN", {}, 1, "rnn", "Elman RNN, tanh", "rnn_forward", {"nonlinearity": "tanh"}, "rnn_backward"),
    CellSpec("rnn-relu", "RNN", {"nonlinearity": "relu"}, 1, "rnn", "Elman RNN, relu", "rnn_forward",
             {"nonlinearity": "relu"}, "rnn_backward"),
    CellSpec("lstm-peephole", "LSTM", {"peephole": True}, 2, "lstm",
             "LSTM with Graves (2013) peepholes from the cell state to i, f, o", "lstm_forward",
             reference_backward="lstm_backward"),
    CellSpec("lstm-ln", "LSTM", {"layer_norm": True}, 2, "lstm",
             "layer-normalized LSTM (Ba et al. 2016)", "layernorm.ln_lstm_forward"),
    CellSpec("gru-reset-before", "GRU", {"reset": "before"}, 1, "gru",
             "GRU with the reset before the recurrent product (Cho et al. 2014)", "gru_forward",
             {"reset": "before"}, "gru_backward"),
    CellSpec("gru-ln", "GRU", {"layer_norm": True}, 1, "gru",
             "layer-normalized GRU (Ba et al. 2016), reset after", "layernorm.ln_gru_forward", {"reset": "after"}),
    CellSpec("mingru", "MinGRU", {}, 1, "mingru",
             "minGRU (Feng et al. 2024): gates of the input only, trained as a parallel scan",
             "minrnn.min_forward", {"cell": "mingru"}),
    CellSpec("minlstm", "MinLSTM", {}, 1, "minlstm",
             "minLSTM (Feng et al. 2024): gates of the input only, trained as a parallel scan",
             "minrnn.min_forward", {"cell": "minlstm"}),
]

#: name -> spec, in a fixed order (the classic cells first)
CELLS: dict[str, CellSpec] = {s.name: s for s in _SPECS}


def cell_names(family: str | tuple[str, ...] | None = None) -> tuple[str, ...]:
    """Every registered name, or those of ``family`` (one family or a tuple of them)."""
    fams = (family,) if isinstance(family, str) else family
    return tuple(n for n, s in CELLS.items() if fams is None or s.family in fams)


def get_cell(name: str) -> CellSpec:
    """The spec called ``name``; SeqlabError naming the valid names when there is none."""
    if not isinstance(name, str) or name not in CELLS:
        raise SeqlabError(f"cell: expected one of {', '.join(CELLS)}, got {name!r}")
    return CELLS[name]


def check_cell(name: str, allowed: tuple[str, ...], job: str) -> str:
    """``name`` if it is one of ``allowed`` (a job's subset of the table), else SeqlabError."""
    if name not in allowed:
        extra = "" if name not in CELLS else f" ({name!r} is a seqlab cell, but not one {job} uses)"
        raise SeqlabError(f"cell: expected one of {', '.join(allowed)}, got {name!r}{extra}")
    return name


def make_layer(name: str, input_size: int, hidden_size: int, num_layers: int = 1, dropout: float = 0.0,
               bidirectional: bool = False, **extra: Any) -> "Recurrent":
    """A new layer of cell ``name``. ``extra`` goes to the layer's constructor (``backend``,
    ``recurrent_dropout``, ``peephole`` on ``lstm-ln``...); it may not contradict the cell's own
    arguments (``make_layer("lstm-peephole", ..., peephole=False)`` is an error)."""
    spec = get_cell(name)
    for k, v in extra.items():
        if k in spec.kwargs and spec.kwargs[k] != v:
            raise SeqlabError(
                f"{k}: cell {name!r} is defined by {k}={spec.kwargs[k]!r}, got {k}={v!r}; pick the cell with the "
                f"{k} you want instead (one of {', '.join(CELLS)})"
            )
    kwargs = {**spec.kwargs, **extra}
    return spec.layer(input_size, hidden_size, num_layers=num_layers, dropout=dropout, bidirectional=bidirectional,
                      **kwargs)


__all__ = ["CELLS", "GATE_NAMES", "CellSpec", "cell_names", "check_cell", "gate_count", "get_cell", "make_layer"]
