"""The work behind ``seqlab explain gradients`` and ``seqlab explain states``, returning printable text."""

from __future__ import annotations

import copy
import os

import numpy as np
import torch

from ..errors import SeqlabError
from ..files import atomic_write_text
from ..nn.registry import get_cell
from ..utils import seed_everything
from .gates import gate_statistics
from .gradients import GradientFlow, gradient_flow, scale_recurrent_weights
from .memory import MemoryConfig, MemoryModel, train_memory
from .tasks import adding_problem


def fit_number(value: float, width: int, decimals: int = 4) -> str:
    """``value`` right-aligned in ``width`` characters: fixed point with ``decimals`` when it fits
    (``0.1692``), else the most significant digits that fit (``2.4e+28``), so a huge loss or MSE
    keeps a table's columns aligned (every float fits in 7 characters: ``-2e-300``)."""
    text = f"{value:.{decimals}f}"
    for digits in range(max(decimals, 1), 0, -1):
        if len(text) <= width:
            break
        text = f"{value:.{digits}g}"
    return f"{text:>{width}s}"


def name_width(names, header: str = "cell", minimum: int = 7) -> int:
    """The width of a table's name column: the longest of ``names`` and ``header``, at least
    ``minimum`` (the tables' width for rnn, lstm, gru)."""
    return max([minimum, len(header), *(len(n) for n in names)])


def measure_flow(model: MemoryModel, x: torch.Tensor, y: torch.Tensor) -> GradientFlow:
    """Gradient flow of a float64 copy of ``model`` (float32 underflows below ~1e-45)."""
    return gradient_flow(copy.deepcopy(model).double(), x.double(), y.double())


def gradient_report(cells: list[str], length: int, hidden: int = 64, batch_size: int = 32, train_steps: int = 100,
                    seed: int = 0, plot: str | os.PathLike | None = None, radius: float | None = None) -> str:
    """||dL/dh_t|| of each cell on the adding problem of ``length``, at init and after ``train_steps``.

    ``radius``: first scale every recurrent weight block to this spectral radius (see
    :func:`~seqlab.diagnostics.gradients.scale_recurrent_weights`): above 1 the plain RNN's
    gradient grows with the distance from the loss instead of vanishing."""
    seed_everything(seed)
    x, y = adding_problem(batch_size, length, torch.Generator().manual_seed(seed))
    flows: dict[str, list[GradientFlow]] = {}
    for cell in cells:
        seed_everything(seed)
        model = MemoryModel("adding", cell, hidden)
        if radius is not None:
            scale_recurrent_weights(model, radius)
        flows[cell] = [measure_flow(model, x, y)]
        if train_steps:
            cfg = MemoryConfig(task="adding", length=length, cell=cell, hidden_size=hidden, batch_size=batch_size,
                               max_steps=train_steps, eval_batch=256, seed=seed)
            train_memory(cfg, model=model)
            flows[cell].append(measure_flow(model, x, y))
    stages = ["at initialization"] + ([f"after {train_steps} training steps"] if train_steps else [])
    lines = [f"||dL/dh_t|| on the adding problem, T = {length}, hidden {hidden}, batch {batch_size} (float64)"
             + (f", recurrent weights scaled to spectral radius {radius:g}" if radius is not None else "")]
    w = name_width(cells)
    for k, stage in enumerate(stages):
        lines.append(f"\n{stage}:")
        lines.append(f"{'cell':{w}s} {'loss':>8s} {'t = T':>11s} {'t = T/2':>11s} {'t = 1':>11s} {'1 / T':>11s}")
        for cell in cells:
            f = flows[cell][k]
            h = next(iter(f.hidden.values()))  # h[t - 1] is ||dL/dh_t||, t = 1 .. T
            lines.append(f"{cell:{w}s} {fit_number(f.loss, 8)} {h[-1]:11.3e} {h[len(h) // 2 - 1]:11.3e} {h[0]:11.3e} "
                         f"{f.ratio():11.3e}")
    if plot is not None:
        _plot_flows(flows, stages, length, plot, radius)
        lines.append(f"\nwrote {plot}")
    return "\n".join(lines)


def _plot_flows(flows: dict[str, list[GradientFlow]], stages: list[str], length: int, path,
                radius: float | None = None) -> None:
    from ..plotting import pyplot, save_figure

    plt = pyplot()
    fig, axes = plt.subplots(1, len(stages), figsize=(6 * len(stages), 4), squeeze=False, sharey=True)
    t = np.arange(1, length + 1)
    for k, (ax, stage) in enumerate(zip(axes[0], stages)):
        for cell, fl in flows.items():
            h = next(iter(fl[k].hidden.values()))
            ax.plot(t, np.maximum(h, 1e-300), label=cell)
        ax.set_yscale("log")
        ax.set_xlabel("time step t")
        ax.set_title(stage)
        ax.grid(True, which="major", alpha=0.3)
    axes[0, 0].set_ylabel("||dL/dh_t||")
    axes[0, 0].legend()
    fig.suptitle(f"gradient reaching each step, adding problem T = {length}"
                 + (f", recurrent spectral radius {radius:g}" if radius is not None else ""))
    save_figure(fig, path)


# -- states ------------------------------------------------------------------------------------
def load_text_model(path: str | os.PathLike):
    """``(model, vocabulary)`` of a text model file, through seqlab.text's public loader."""
    from ..io import peek_kind
    from ..text.model import KIND, load_lm

    kind = peek_kind(path)
    if kind != KIND:
        raise SeqlabError(f"--model: {str(path)!r} holds a {kind!r} model; 'explain states' needs a text model "
                          f"({KIND!r}, saved by 'seqlab generate' or seqlab.text.save_lm)")
    model, vocab, _ = load_lm(path)
    return model, vocab


def states_report(model_path: str, text: str, units: list[int] | None = None, top: int | None = None,
                  layer: int = -1, state: str = "h", html: str | None = None, png: str | None = None,
                  heatmap: str | None = None) -> str:
    """Read ``text`` with a text model and describe its units; optionally write HTML / PNG pictures.

    ``units``: the unit indices to show, or None for the ``top`` most active (their standard
    deviation over the text); ``top`` None is 6, or every unit of a smaller layer. A unit beyond
    the layer, or a ``top`` larger than it, is refused naming the layer's size."""
    from .states import collect_states, plot_states, plot_text_activations, text_activation_html

    model, vocab = load_text_model(model_path)
    if not text:
        raise SeqlabError("--text: expected a non-empty text to read")
    ids = vocab.encode(text, "--text", skip_hint=False)
    symbols = vocab.tokenize(text)
    x = torch.tensor([ids], dtype=torch.long)  # (1, T)
    states = collect_states(model, x)
    L = model.config.num_layers
    if not -L <= layer < L:
        raise SeqlabError(f"--layer: expected an index in [{-L}, {L}) for this {L}-layer model, got {layer}")
    label = f"rnn.l{layer % L}"
    if state not in states[label]:
        raise SeqlabError(f"--state: 'c' exists for LSTM models only; this model is a {model.config.cell.upper()}")
    raw = states[label][state][0]  # (T, H)
    acts = np.tanh(raw) if state == "c" else raw
    H = acts.shape[1]
    if units is None:
        if top is not None and not 1 <= top <= H:
            raise SeqlabError(f"--top: expected a number of units in [1, {H}] (layer {layer % L} has {H}), got {top}")
        units = [int(u) for u in np.argsort(-acts.std(0), kind="stable")[:min(H, 6) if top is None else top]]
    if not units:
        raise SeqlabError("--units: expected at least one unit index")
    for u in units:
        if not 0 <= u < H:
            raise SeqlabError(f"--units: expected indices in [0, {H}), got {u}")
    name = "cell state c (tanh)" if state == "c" else "hidden state h"
    lines = [f"{model.config.cell.upper()} {L} x {model.config.hidden_size}, layer {layer % L}, {name}, "
             f"{len(symbols)} symbols"]
    lines.append(f"{'unit':>5s} {'mean':>7s} {'std':>6s}  most positive after / most negative after")
    for u in units:
        a = acts[:, u]
        hi = [symbols[t] for t in np.argsort(-a, kind="stable")[:5]]
        lo = [symbols[t] for t in np.argsort(a, kind="stable")[:5]]
        lines.append(f"{u:5d} {a.mean():+7.3f} {a.std():6.3f}  {' '.join(map(repr, hi))} / {' '.join(map(repr, lo))}")
    family = get_cell(model.config.cell).family
    if family in ("lstm", "gru"):  # every LSTM / GRU variant: its cell's gate_values gives the gates
        stats = gate_statistics(model, x).values()
        relu = any("relu" in st.rule.values() for st in stats)
        lines.append("\ngate statistics over the text (saturated: < 0.05 or > 0.95; tanh gates on (v+1)/2"
                     + ("; relu gates do not saturate: zero, the fraction at 0" if relu else "") + "):")
        for st in stats:
            lines.append("  " + st.label + ": " + ", ".join(
                f"{g} mean {st.mean[g]:+.2f} {'zero' if st.measure(g) == 'zero' else 'sat'} "
                f"{100 * st.saturated[g]:.0f}%" for g in st.mean))
    elif family in ("mingru", "minlstm"):
        lines.append(f"\ngate statistics: not computed for {model.config.cell} (its gates read the input only; "
                     "gate statistics cover LSTM and GRU cells and their variants)")
    else:
        lines.append(f"\ngate statistics: none, a {model.config.cell} cell has no gates")
    labels = [f"layer {layer % L} unit {u} ({state})" for u in units]
    if html:
        atomic_write_text(html, text_activation_html(symbols, acts, units, title=f"{os.path.basename(model_path)}: "
                                                      f"{name}, layer {layer % L}", labels=labels))
        lines.append(f"wrote {html}")
    if png:
        plot_text_activations(symbols, acts, units, png, labels=labels)
        lines.append(f"wrote {png}")
    if heatmap:
        # the values the title names (c through tanh, as in the table and the page), every unit
        plot_states({label: {state: acts[None]}}, heatmap, title=f"{name} over {len(symbols)} symbols, all {H} units")
        lines.append(f"wrote {heatmap}")
    return "\n".join(lines)
