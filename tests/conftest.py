"""Shared test set-up: headless plotting, deterministic torch, float64 where tests ask for it."""

import os

os.environ.setdefault("MPLBACKEND", "Agg")
os.environ.setdefault("SEQLAB_NO_PROGRESS", "1")
# Test tensors are tiny: one intra-op thread avoids OpenMP start-up and barrier costs that make
# small ops many times slower on a 2-core machine (and far worse when the cores are shared).
os.environ.setdefault("OMP_NUM_THREADS", "1")

import pytest  # noqa: E402
import torch  # noqa: E402

torch.set_num_threads(1)

SHARED_DATA = os.path.join(os.path.dirname(__file__), "..", "..", "shared", "data")


@pytest.fixture(autouse=True)
def _seed():
    torch.manual_seed(0)
    yield


@pytest.fixture
def shared_data():
    """Path to ../shared/data (tiny Shakespeare and friends), which CI has beside the clone."""
    return os.path.abspath(SHARED_DATA)
