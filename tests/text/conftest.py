"""Tiny models gain nothing from intra-op threads, and on a shared machine every thread barrier
costs a scheduler slice: run the text tests single-threaded, restoring the setting after each."""

import pytest
import torch


@pytest.fixture(autouse=True)
def _one_thread():
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)
