"""The recurrent language model: embedding, stacked seqlab recurrent layers, softmax over symbols.

::

    ids (B, T) -> Embedding -> dropout -> a seqlab.nn layer of any registry cell
               (L layers, dropout between) -> dropout -> Linear(H, V) -> logits (B, T, V)

minGRU and minLSTM (:mod:`seqlab.nn.minrnn`) train as a parallel scan and generate in step
mode; their LM defaults (:data:`CELL_DEFAULTS`) are a pre-norm of each layer's input and a
residual connection around each layer, as in the paper's deep stacks.

With ``tie_weights`` the output layer reuses the embedding matrix (Press & Wolf 2017); this needs
``embed_size == hidden_size``. Saved with its vocabulary as one ``.safetensors`` file of kind
``"text-lm"`` through :mod:`seqlab.io`.
"""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass, field
from typing import Any

import torch
from torch import Tensor, nn

from ..errors import ModelFileError, SeqlabError, check_int, check_positive_int
from ..io import build_checked, load_file, save_file
from ..nn.registry import MAX_LAYERS, cell_names, make_layer
from ..vocab import Vocabulary

KIND = "text-lm"
#: every cell of seqlab.nn.registry (its names are saved in model files)
CELLS = cell_names()
#: ``cell_options`` a config gets unless it sets them (written into the config, so saved files
#: keep them): pre-norm and residuals for the minimal RNNs, whose layers have no recurrent
#: weights; on tiny Shakespeare they lower validation bits per character (see docs/speed.md)
CELL_DEFAULTS: dict[str, dict[str, Any]] = {"mingru": {"norm": True, "residual": True},
                                            "minlstm": {"norm": True, "residual": True}}


@dataclass
class LMConfig:
    """Shape of a :class:`RecurrentLM`.

    ``cell`` is a name of :mod:`seqlab.nn.registry` ('lstm', 'gru', 'rnn', 'lstm-peephole',
    'gru-ln', 'mingru', ...); ``cell_options`` are passed to the seqlab layer on top of the
    cell's own (``peephole=True`` for LSTM, as files from before the registry store it,
    ``norm``, ``residual``, ``activation`` for minGRU / minLSTM, whose defaults
    ``norm=True, residual=True`` come from :data:`CELL_DEFAULTS`).
    ``embed_size`` None means ``hidden_size``.
    """

    vocab_size: int
    cell: str = "lstm"
    hidden_size: int = 128
    num_layers: int = 2
    embed_size: int | None = None
    dropout: float = 0.0
    tie_weights: bool = False
    backend: str = "auto"
    cell_options: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.cell not in CELLS:
            raise SeqlabError(f"cell: expected one of {', '.join(CELLS)}, got {self.cell!r}")
        if not isinstance(self.cell_options, dict):
            raise SeqlabError(f"cell_options: expected a dict, got {type(self.cell_options).__name__}")
        self.cell_options = {**CELL_DEFAULTS.get(self.cell, {}), **self.cell_options}
        for name in ("vocab_size", "hidden_size"):
            check_positive_int(name, getattr(self, name))
        check_int("num_layers", self.num_layers, maximum=MAX_LAYERS)
        if self.embed_size is None:
            self.embed_size = self.hidden_size
        if isinstance(self.embed_size, bool) or not isinstance(self.embed_size, int) or self.embed_size < 1:
            raise SeqlabError(f"embed_size: expected a positive integer or None, got {self.embed_size!r}")
        if isinstance(self.dropout, bool) or not isinstance(self.dropout, (int, float)) or not 0 <= self.dropout < 1:
            raise SeqlabError(f"dropout: expected a number in [0, 1), got {self.dropout!r}")
        if self.tie_weights and self.embed_size != self.hidden_size:
            raise SeqlabError(
                f"tie_weights: needs embed_size == hidden_size, got {self.embed_size} and {self.hidden_size}; "
                "set embed_size=None or turn tying off"
            )


class RecurrentLM(nn.Module):
    """A stateful recurrent language model. ``forward(ids, state) -> (logits, state)``."""

    def __init__(self, config: LMConfig) -> None:
        super().__init__()
        self.config = config
        c = config
        self.embedding = nn.Embedding(c.vocab_size, c.embed_size)
        self.drop = nn.Dropout(c.dropout)
        self.rnn = make_layer(c.cell, c.embed_size, c.hidden_size, num_layers=c.num_layers,
                              dropout=c.dropout if c.num_layers > 1 else 0.0, backend=c.backend, **c.cell_options)
        self.decoder = nn.Linear(c.hidden_size, c.vocab_size)
        if c.tie_weights:
            self.decoder.weight = self.embedding.weight

    #: run forward and backward as shares of the batch on worker threads (see :meth:`forward`)
    shard: bool = True

    def forward(self, ids: Tensor, state=None):
        """``ids`` (B, T) integer symbols; ``state`` as the seqlab layer's (None: zeros).

        Returns ``logits`` (B, T, V) and the final state (h (L, B, H), or (h, c) for LSTM).

        On CPU with more than one intra-op thread, the batch is cut into one share per thread
        (at least 8 sequences each), and each share runs forward and backward on its own worker
        thread with one thread (:mod:`seqlab.nn.sharded`): torch's threads split each of the
        step's hundreds of small operations and meet at a barrier after each, which cost more
        than they gained on 2 cores. In training with dropout the masks are drawn here, before
        the shares run (workers drawing them would do so in a varying order): the embedding's,
        the output's, and those between layers (:meth:`seqlab.nn.Recurrent.forward`'s
        ``dropout_masks``). ``model.shard = False`` turns the shares off.
        """
        n = self._shares(ids)
        if n > 1:
            return self._sharded_forward(ids, state, n)
        return self._forward(ids, state)

    def _forward(self, ids: Tensor, state=None, masks: list[Tensor] | None = None):
        """The model on ``ids``; ``masks``: the dropout masks [embedding, output, *between layers]
        drawn by the caller (training), else dropout draws its own."""
        x = self.embedding(ids)  # (B, T, E)
        if masks is None:
            out, state = self.rnn(self.drop(x), state)  # (B, T, H)
            return self.decoder(self.drop(out)), state  # (B, T, V)
        out, state = self.rnn(x * masks[0], state, dropout_masks=masks[2:] or None)
        return self.decoder(out * masks[1]), state

    def _dropout_masks(self, B: int, T: int, like: Tensor) -> list[Tensor]:
        """Keep masks scaled by 1/(1-p): the embedding's, the output's, and one per boundary
        between layers (when the layer drops between them)."""
        p = self.config.dropout
        D = self.rnn.num_directions

        def keep(*shape: int) -> Tensor:
            return torch.empty(shape, dtype=like.dtype, device=like.device).bernoulli_(1 - p).div_(1 - p)

        masks = [keep(B, T, self.config.embed_size), keep(B, T, D * self.config.hidden_size)]
        if self.rnn.dropout:
            masks += [keep(B, T, D * self.config.hidden_size) for _ in range(self.rnn.num_layers - 1)]
        return masks

    def _shares(self, ids: Tensor) -> int:
        if not self.shard or ids.device.type != "cpu" or ids.dim() != 2:
            return 1
        from ..nn.sharded import shares

        return shares(ids.shape[0])

    def _sharded_forward(self, ids: Tensor, state, n: int):
        from ..nn.sharded import sharded

        parts = () if state is None else (state,) if isinstance(state, Tensor) else tuple(state)
        n_state = self.rnn.state_size
        w = self.embedding.weight
        masks = (self._dropout_masks(ids.shape[0], ids.shape[1], w)
                 if self.training and self.config.dropout > 0 else [])

        def fn(sub_ids: Tensor, *rest: Tensor):
            sub_state, sub_masks = rest[: len(parts)], list(rest[len(parts) :])
            st = None if not sub_state else sub_state[0] if n_state == 1 else tuple(sub_state)
            logits, new = self._forward(sub_ids, st, sub_masks or None)
            return (logits, *((new,) if isinstance(new, Tensor) else new))

        outs = sharded(fn, [ids, *parts, *masks], [0] + [1] * len(parts) + [0] * len(masks), [0] + [1] * n_state,
                       list(self.parameters()), n)
        return outs[0], (outs[1] if n_state == 1 else tuple(outs[1:]))

    def step(self, ids: Tensor, states: list[tuple[Tensor, ...]]) -> tuple[Tensor, list[tuple[Tensor, ...]]]:
        """One time step by stepping the cells directly (no per-call checks): fast generation.

        ``ids`` (B,); ``states`` one tuple per layer (``(h,)`` or ``(h, c)``, each (B, H)), see
        :func:`split_state`. Returns ``logits`` (B, V) and the new per-layer states. Eval mode only
        (no dropout); ``forward`` on a T=1 chunk gives the same numbers.
        """
        x = self.embedding(ids)  # (B, E)
        new = []
        for cell, st in zip(self.rnn.cells, states):
            fused = _FUSED_STEP.get(cell.fused_mode) if cell.fused_unavailable() is None else None
            if fused is not None:  # one op for the whole step; the same equations as cell.step
                st = fused(x, st, cell.weight_ih, cell.weight_hh, cell.bias_ih, cell.bias_hh)
                st = st if isinstance(st, tuple) else (st,)
            else:
                st = cell.step(x, st)
            new.append(st)
            x = self.rnn._layer_output(x, st[0], None)  # (B, H): h, or x + h with residuals
        return self.decoder(x), new  # (B, V)


def _lstm_step(x, st, w_ih, w_hh, b_ih, b_hh):
    return torch.lstm_cell(x, st, w_ih, w_hh, b_ih, b_hh)


def _rnn_step(fn):
    return lambda x, st, w_ih, w_hh, b_ih, b_hh: fn(x, st[0], w_ih, w_hh, b_ih, b_hh)


# torch's one-op steps for cells whose equations they compute exactly (GRU's update gate is
# negated in seqlab, so GRU steps the cell)
_FUSED_STEP = {"LSTM": _lstm_step, "RNN_TANH": _rnn_step(torch.rnn_tanh_cell), "RNN_RELU": _rnn_step(torch.rnn_relu_cell)}


def split_state(state) -> list[tuple[Tensor, ...]]:
    """torch-style state (h (L, B, H) or (h, c)) -> one tuple per layer, as :meth:`RecurrentLM.step` takes."""
    parts = (state,) if isinstance(state, Tensor) else tuple(state)
    return [tuple(p[k] for p in parts) for k in range(parts[0].shape[0])]


def detach_state(state, dtype: torch.dtype | None = None):
    """The same state cut from the graph (for truncated BPTT), in ``dtype`` if given."""
    if state is None:
        return None
    if isinstance(state, Tensor):
        return state.detach() if dtype is None else state.detach().to(dtype)
    return tuple(s.detach() if dtype is None else s.detach().to(dtype) for s in state)


# -- save and load -----------------------------------------------------------------------------
def save_lm(path: str | os.PathLike, model: RecurrentLM, vocab: Vocabulary, extra: dict | None = None) -> None:
    """Write ``model`` and ``vocab`` to one ``.safetensors`` file (atomically)."""
    if len(vocab) != model.config.vocab_size:
        raise SeqlabError(f"vocab: has {len(vocab)} symbols but the model expects {model.config.vocab_size}")
    tensors = dict(model.state_dict())
    if model.config.tie_weights:
        tensors.pop("decoder.weight")  # the same tensor as embedding.weight
    config = {"model": asdict(model.config), "vocab": vocab.to_config(), "extra": extra or {}}
    save_file(path, KIND, config, tensors)


def load_lm(path: str | os.PathLike, device: str | torch.device = "cpu") -> tuple[RecurrentLM, Vocabulary, dict]:
    """Read a file written by :func:`save_lm`: ``(model in eval mode, vocabulary, extra info)``."""
    config, tensors = load_file(path, KIND)
    try:
        cfg = LMConfig(**config["model"])
        vocab = Vocabulary.from_config(config["vocab"])
        model = build_checked(lambda: RecurrentLM(cfg), tensors, path)
        if cfg.tie_weights:
            tensors = dict(tensors, **{"decoder.weight": tensors["embedding.weight"]})
        model.load_state_dict(tensors)
    except (KeyError, TypeError, RuntimeError, SeqlabError) as exc:
        raise ModelFileError(f"model file {str(path)!r} holds an inconsistent text model: {exc}") from exc
    if len(vocab) != cfg.vocab_size:
        raise ModelFileError(f"model file {str(path)!r}: vocabulary of {len(vocab)} symbols, model expects {cfg.vocab_size}")
    return model.to(device).eval(), vocab, config.get("extra", {})
