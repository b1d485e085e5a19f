"""One torch thread for the model-API tests: on a shared, loaded CPU, OpenMP threads that spin
while waiting for each other make small recurrent models tens of times slower."""

import pytest
import torch


@pytest.fixture(autouse=True)
def _one_thread():
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)
