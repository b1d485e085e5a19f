"""seqlab.utils: the automatic thread count follows the load average."""

import os

import pytest
import torch

from seqlab import utils


@pytest.mark.parametrize("cores, load, torch_threads, want", [
    (4, 0.2, 4, 4),   # idle: all of torch's threads
    (4, 1.6, 4, 2),   # two cores busy elsewhere: the two idle ones
    (2, 2.9, 2, 1),   # a busy machine: one thread, never zero
    (8, 0.0, 2, 2),   # never more than torch's own setting
])
def test_auto_threads_uses_the_cores_the_load_leaves_idle(monkeypatch, cores, load, torch_threads, want):
    monkeypatch.setattr(os, "cpu_count", lambda: cores)
    monkeypatch.setattr(os, "getloadavg", lambda: (load, load, load))
    monkeypatch.setattr(torch, "get_num_threads", lambda: torch_threads)
    assert utils.auto_threads() == want


def test_auto_threads_without_a_load_average_keeps_torch_setting(monkeypatch):
    def no_load():
        raise OSError("not available")

    monkeypatch.setattr(os, "getloadavg", no_load)
    monkeypatch.setattr(torch, "get_num_threads", lambda: 3)
    assert utils.auto_threads() == 3
