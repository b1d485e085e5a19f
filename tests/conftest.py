"""Shared test set-up: headless plotting, no progress bars, seeded torch on one thread."""

import os

os.environ.setdefault("MPLBACKEND", "Agg")
os.environ.setdefault("SEQLAB_NO_PROGRESS", "1")
# Test tensors are tiny: one intra-op thread avoids OpenMP start-up and barrier costs that make
# small ops many times slower on a 2-core machine (and far worse when the cores are shared).
os.environ.setdefault("OMP_NUM_THREADS", "1")

import pytest  # noqa: E402
import torch  # noqa: E402

torch.set_num_threads(1)


@pytest.fixture(autouse=True)
def _seed_and_one_thread():
    """Every test starts from seed 0 on one intra-op thread, whatever the test before it set."""
    torch.manual_seed(0)
    torch.set_num_threads(1)
    yield
