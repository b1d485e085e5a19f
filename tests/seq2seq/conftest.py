"""One torch thread for these tests: the models are tiny, and on a loaded two-core machine two
threads spin against each other (measured 80x slower for a 7-unit model)."""

import pytest
import torch


@pytest.fixture(autouse=True)
def _one_thread():
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)
