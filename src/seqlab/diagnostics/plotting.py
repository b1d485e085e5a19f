"""Lazy matplotlib (Agg backend) and atomic PNG writes for the diagnostics plots."""

from __future__ import annotations

import io
import os

from ..errors import SeqlabError
from ..io import atomic_write_bytes


def pyplot():
    """``matplotlib.pyplot`` with the Agg backend, or a SeqlabError telling how to install it."""
    try:
        import matplotlib
    except ImportError as exc:
        raise SeqlabError("plotting needs matplotlib: pip install seqlab[plot]") from exc
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def check_png_path(path: str | os.PathLike) -> str:
    """Validate an output path before any work: its folder must exist."""
    path = os.fspath(path)
    folder = os.path.dirname(path) or "."
    if not os.path.isdir(folder):
        raise SeqlabError(f"plot: folder {folder!r} does not exist; create it first or choose another path")
    return path


def save_figure(fig, path: str | os.PathLike | None = None, dpi: int = 110):
    """Write ``fig`` as PNG to ``path`` atomically (temp file then rename) and close it; return the figure."""
    plt = pyplot()
    if path is not None:
        check_png_path(path)
        buf = io.BytesIO()
        fig.tight_layout()
        fig.savefig(buf, format="png", dpi=dpi)
        atomic_write_bytes(path, buf.getvalue())
        plt.close(fig)
    return fig
