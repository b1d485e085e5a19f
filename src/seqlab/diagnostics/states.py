"""Hidden and cell states over time: heatmaps, and units coloured over the characters of a text.

``collect_states`` runs a model once and returns every recurrent (layer, direction)'s states at
every step. ``text_activation_html`` / ``plot_text_activations`` show chosen units over a text in
the style of Karpathy, Johnson & Fei-Fei (2015), "Visualizing and Understanding Recurrent
Networks": each symbol's background is the unit's value after reading it, blue for -1 through
white for 0 to red for +1 (tanh range; LSTM cell states are squashed with tanh for colour).
"""

from __future__ import annotations

import html
import os
from typing import Sequence

import numpy as np
import torch
from torch import Tensor, nn

from ..errors import SeqlabError
from ..plotting import pyplot, save_figure
from .trace import record_eval


@torch.no_grad()
def collect_states(model: nn.Module, x: Tensor, **forward_kwargs) -> dict[str, dict[str, np.ndarray]]:
    """States of every recurrent (layer, direction) at every step of ``model(x)``, in time order.

    Returns ``{label: {"h": (B, T, H), "c": (B, T, H) for LSTM}}`` as NumPy arrays, labels like
    ``"rnn.l0"`` / ``"rnn.l0_reverse"``. The model runs once in eval mode (its mode is restored).
    """
    rec = record_eval(model, x, **forward_kwargs)
    out: dict[str, dict[str, np.ndarray]] = {}
    for tr in rec.traces:
        if not tr.new:
            continue
        names = ("h", "c")[: len(tr.new[0])]
        out[tr.label] = {n: tr.stacked(j).double().cpu().numpy() for j, n in enumerate(names)}
    return out


def plot_states(states: dict[str, dict[str, np.ndarray]], path: str | os.PathLike | None = None, sample: int = 0,
                max_units: int | None = None, title: str = ""):
    """Heatmaps of units (rows) over time (columns), one panel per layer, direction and state.

    ``states`` as returned by :func:`collect_states`; ``sample`` picks the batch element;
    ``max_units`` draws only units ``0 .. max_units - 1`` (None, the default: every unit). The
    values are drawn as given (pass ``np.tanh`` of a cell state to see it in [-1, 1]). Written
    atomically to ``path`` (PNG) when given; returns the figure.
    """
    panels = [(label, name, arr) for label, d in states.items() for name, arr in d.items()]
    if not panels:
        raise SeqlabError("states: nothing to plot (no recurrent layer ran)")
    B = panels[0][2].shape[0]
    if max_units is not None and (isinstance(max_units, bool) or not isinstance(max_units, int) or max_units < 1):
        raise SeqlabError(f"max_units: expected a positive integer or None (every unit), got {max_units!r}")
    if isinstance(sample, bool) or not isinstance(sample, int) or not 0 <= sample < B:
        raise SeqlabError(f"sample: expected an index in [0, {B}), got {sample!r}")
    plt = pyplot()
    shown = max(min(arr.shape[2], max_units or arr.shape[2]) for _, _, arr in panels)
    row = max(2.2, 0.02 * shown)  # taller panels for many units, so each unit keeps a visible row
    fig, axes = plt.subplots(len(panels), 1, figsize=(10, row * len(panels) + 0.6), squeeze=False)
    for ax, (label, name, arr) in zip(axes[:, 0], panels):
        a = arr[sample, :, :max_units].T  # (T, H) -> (H, T)
        lim = max(float(np.abs(a).max()), 1e-12)
        im = ax.imshow(a, aspect="auto", cmap="RdBu_r", vmin=-lim, vmax=lim, interpolation="nearest")
        ax.set_ylabel(f"{label} {name}\nunit")
        fig.colorbar(im, ax=ax, fraction=0.025, pad=0.01)
    axes[-1, 0].set_xlabel("time step")
    if title:
        axes[0, 0].set_title(title)
    return save_figure(fig, path)


def _check_activations(symbols: Sequence[str], activations: np.ndarray, units: Sequence[int]) -> np.ndarray:
    a = np.asarray(activations, dtype=float)
    if a.ndim != 2 or a.shape[0] != len(symbols):
        raise SeqlabError(
            f"activations: expected shape (symbols, units) = ({len(symbols)}, H), got {tuple(a.shape)}"
        )
    if len(units) == 0:
        raise SeqlabError("units: expected at least one unit index")
    for u in units:
        if isinstance(u, bool) or not isinstance(u, (int, np.integer)) or not 0 <= u < a.shape[1]:
            raise SeqlabError(f"units: expected indices in [0, {a.shape[1]}), got {u!r}")
    return a


def _colour(v: float) -> str:
    """Background for a value in [-1, 1]: blue (negative), white (0), red (positive)."""
    v = float(np.clip(v, -1.0, 1.0))
    fade = int(round(255 * (1 - abs(v))))
    return f"rgb(255,{fade},{fade})" if v >= 0 else f"rgb({fade},{fade},255)"


def _show_symbol(s: str) -> str:
    if s == "\n":
        return "↵<br>"
    if s == "\t":
        return "⇥"
    return html.escape(s).replace(" ", "&nbsp;")


def text_activation_html(symbols: Sequence[str], activations: np.ndarray, units: Sequence[int],
                         title: str = "unit activations", labels: Sequence[str] | None = None) -> str:
    """A self-contained HTML page: for each unit, the text with each symbol's background its activation.

    ``symbols`` (T,) are the characters (or words) the model read; ``activations`` (T, H) the
    unit values after each symbol (in [-1, 1]; larger values are clipped for colour, and the
    exact value is in each symbol's tooltip). No scripts, no external resources.
    """
    a = _check_activations(symbols, activations, units)
    labels = list(labels) if labels is not None else [f"unit {u}" for u in units]
    sep = "" if all(len(s) <= 1 for s in symbols) else " "
    parts = [
        "<!DOCTYPE html>",
        '<html><head><meta charset="utf-8">',
        f"<title>{html.escape(title)}</title>",
        "<style>body{font-family:sans-serif;margin:1.5em} .text{font-family:monospace;font-size:14px;"
        "line-height:1.5;word-wrap:break-word} .text span{padding:1px 0} h2{font-size:15px;margin:1.2em 0 .3em}"
        " .legend span{display:inline-block;width:3em;text-align:center;font-size:12px}</style>",
        "</head><body>",
        f"<h1 style='font-size:18px'>{html.escape(title)}</h1>",
        '<div class="legend">' + "".join(f'<span style="background:{_colour(v)}">{v:+.1f}</span>'
                                        for v in (-1, -0.5, 0, 0.5, 1)) + "</div>",
    ]
    for u, label in zip(units, labels):
        spans = [
            f'<span style="background:{_colour(a[t, u])}" title="{a[t, u]:+.3f}">{_show_symbol(s)}</span>'
            for t, s in enumerate(symbols)
        ]
        parts.append(f"<h2>{html.escape(label)}</h2>")
        parts.append('<div class="text">' + sep.join(spans) + "</div>")
    parts.append("</body></html>")
    return "\n".join(parts)


def plot_text_activations(symbols: Sequence[str], activations: np.ndarray, units: Sequence[int],
                          path: str | os.PathLike | None = None, width: int = 64, max_symbols: int = 640,
                          labels: Sequence[str] | None = None):
    """The same picture as :func:`text_activation_html` as a PNG: one panel per unit, ``width``
    symbols per line, the first ``max_symbols`` symbols. Written atomically to ``path`` if given."""
    a = _check_activations(symbols, activations, units)
    symbols = list(symbols)[:max_symbols]
    a = a[: len(symbols)]
    labels = list(labels) if labels is not None else [f"unit {u}" for u in units]
    rows = max(1, -(-len(symbols) // width))
    plt = pyplot()
    fig, axes = plt.subplots(len(units), 1, figsize=(width * 0.16 + 0.5, (rows * 0.28 + 0.5) * len(units)),
                             squeeze=False)
    for ax, u, label in zip(axes[:, 0], units, labels):
        grid = np.full(rows * width, np.nan)
        grid[: len(symbols)] = np.clip(a[:, u], -1, 1)
        ax.imshow(grid.reshape(rows, width), cmap="bwr", vmin=-1, vmax=1, aspect="auto",  # (rows, width)
                  interpolation="nearest")
        for t, s in enumerate(symbols):
            r, col = divmod(t, width)
            ch = "↵" if s == "\n" else (s if len(s) == 1 else s[:1])
            ax.text(col, r, ch, ha="center", va="center", fontsize=8, family="monospace")
        ax.set_title(label, fontsize=9, loc="left")
        ax.set_xticks([])
        ax.set_yticks([])
    return save_figure(fig, path)
