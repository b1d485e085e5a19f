"""Plots, one way for every job: matplotlib (the ``plot`` extra) imported lazily with the Agg
backend (:func:`pyplot`), checked before any work whenever a command is given a plot path
(:func:`require_matplotlib`), and figures written atomically through :mod:`seqlab.files`
(:func:`save_figure`: held with a command's other outputs, so a failed run writes none of them).
"""

from __future__ import annotations

import importlib.util
import io
import os

from .errors import SeqlabError

INSTALL = "pip install 'seqlab[plot]'"


def require_matplotlib(option: str, instead: str | None = None, path: str | os.PathLike | None = None) -> None:
    """SeqlabError naming ``option`` when matplotlib is not installed, or when ``path`` (the plot
    file, when given) does not end in an image format matplotlib writes
    (:data:`seqlab.cli_args.PLOT_SUFFIXES`). Commands call it before any work whenever a plot path
    is set, so that a long run does not end in a plot it cannot draw.
    ``instead``: how to run without the plot (default: leave ``option`` out)."""
    if path is not None:
        from .cli_args import PLOT_SUFFIXES

        suffix = os.path.splitext(os.fspath(path))[1].lower()
        if suffix not in PLOT_SUFFIXES:
            raise SeqlabError(f"{option}: cannot write an image in format {suffix.lstrip('.') or '(none)'!r}: "
                              f"expected a file ending in {', '.join(PLOT_SUFFIXES)}, got {os.fspath(path)!r}")
    try:
        found = importlib.util.find_spec("matplotlib") is not None
    except (ImportError, ValueError):  # a broken installation, or one hidden from the import system
        found = False
    if not found:
        raise SeqlabError(f"{option}: plotting needs matplotlib, which is not installed: {INSTALL} "
                          f"(or {instead or 'leave ' + option + ' out'})")


def pyplot():
    """``matplotlib.pyplot`` with the Agg backend, or a SeqlabError telling how to install it."""
    try:
        import matplotlib
    except ImportError as exc:
        raise SeqlabError(f"plotting needs matplotlib: {INSTALL}") from exc
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def save_figure(fig, path: str | os.PathLike | None = None, dpi: int = 110):
    """Write ``fig`` to ``path`` atomically (a temporary file, then a rename) in the format of its
    extension (PNG without one) and close it; return the figure (``path`` None: only return it)."""
    if path is None:
        return fig
    plt = pyplot()
    folder = os.path.dirname(os.fspath(path)) or "."
    if not os.path.isdir(folder):
        plt.close(fig)
        raise SeqlabError(f"plot: folder {folder!r} does not exist; create it first or choose another path")
    fmt = os.path.splitext(os.fspath(path))[1].lstrip(".").lower() or "png"
    buf = io.BytesIO()
    try:
        fig.tight_layout()
        fig.savefig(buf, format=fmt, dpi=dpi)
    except ValueError as exc:
        raise SeqlabError(f"plot: cannot write format {fmt!r}: {exc}; use a .png, .svg or .pdf path") from exc
    finally:
        plt.close(fig)
    from .files import atomic_write_bytes

    atomic_write_bytes(path, buf.getvalue())
    return fig
