"""Forecast tests run with one torch/BLAS thread: the models are tiny and the cores are shared."""

import pytest

from seqlab.utils import limit_threads


@pytest.fixture(autouse=True)
def _one_thread():
    with limit_threads(1):
        yield
