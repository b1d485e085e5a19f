"""The attention matrix of one translation as a PNG (through :mod:`seqlab.plotting`)."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

from ..errors import SeqlabError
from ..plotting import pyplot, save_figure

if TYPE_CHECKING:
    from .translator import Translation


def _label(tok: str) -> str:
    return "␣" if tok == " " else tok


def plot_attention(tr: "Translation", path: str | os.PathLike) -> None:
    """Heat map of ``tr.attention`` (target rows x source columns), written atomically to ``path``."""
    if not str(path).lower().endswith(".png"):
        raise SeqlabError(f"plot: expected a path ending in .png, got {str(path)!r}")
    plt = pyplot()
    att = tr.attention.detach().cpu().numpy()  # (T, S)
    T, S = att.shape
    fig, ax = plt.subplots(figsize=(max(4.0, 0.32 * S + 1.5), max(3.0, 0.32 * T + 1.2)))
    im = ax.imshow(att, cmap="viridis", vmin=0.0, vmax=1.0, aspect="auto")
    ax.set_xticks(range(S), [_label(t) for t in tr.source_tokens], fontsize=8)
    ax.set_yticks(range(T), [_label(t) for t in tr.target_tokens], fontsize=8)
    ax.set_xlabel("source")
    ax.set_ylabel("output")
    ax.set_title(f"{tr.source!r} -> {tr.text!r}", fontsize=9)
    fig.colorbar(im, ax=ax, fraction=0.04)
    save_figure(fig, path)
