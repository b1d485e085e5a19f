"""One intra-op thread for these tests: on a loaded 2-core machine, two OpenMP threads per
process make the many small matrix products of a step loop tens of times slower."""

import pytest
import torch


@pytest.fixture(autouse=True)
def _one_thread():
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)
