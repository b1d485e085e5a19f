"""Thread limits for small models.

Forecasting networks are tiny (tens of units, a hundred windows): extra threads only add
synchronisation, and on a loaded machine oversubscribed torch or BLAS threads make a fit many
times slower (measured on 2 busy cores: a fit took 171 s with 2 torch threads and 8 s with 1; a
statsmodels ARIMA fit 14 s with 2 OpenBLAS threads and 1.2 s with 1). ``limit_threads(n)`` caps
torch's intra-op threads and, when threadpoolctl is installed, the BLAS pools, and restores both.
"""

from __future__ import annotations

import contextlib
from typing import Iterator

import torch


@contextlib.contextmanager
def limit_threads(n: int | None = 1) -> Iterator[None]:
    """Run the block with at most ``n`` torch and BLAS threads (``None``: leave them alone)."""
    if n is None:
        yield
        return
    before = torch.get_num_threads()
    with contextlib.ExitStack() as stack:
        try:
            from threadpoolctl import threadpool_limits

            stack.enter_context(threadpool_limits(n))
        except ImportError:
            pass
        if before != n:
            torch.set_num_threads(n)
        try:
            yield
        finally:
            if torch.get_num_threads() != before:
                torch.set_num_threads(before)
