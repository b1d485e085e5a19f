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


def test_check_int_messages_name_the_argument_and_the_bound():
    from seqlab.errors import SeqlabError, check_int

    assert check_int("n", 3) == 3 and check_int("k", 0, 0) == 0 and check_int("m", None, none="no limit") is None
    cases = [
        (dict(name="n", value=0), "n: expected a positive integer, got 0"),
        (dict(name="n", value=True), "n: expected a positive integer, got True"),
        (dict(name="n", value=2.0), "n: expected a positive integer, got 2.0"),
        (dict(name="k", value=-1, minimum=0), "k: expected a non-negative integer, got -1"),
        (dict(name="m", value=1, minimum=2, none="no limit"), "m: expected an integer >= 2 (or None for no limit), got 1"),
        (dict(name="t", value=None, meaning="the span"), "t: expected a positive integer (the span), got None"),
    ]
    for kwargs, message in cases:
        with pytest.raises(SeqlabError) as err:
            check_int(**kwargs)
        assert str(err.value) == message


def test_threads_option_takes_a_count_or_0_for_automatic(monkeypatch):
    from seqlab.errors import SeqlabError

    monkeypatch.setattr(utils, "auto_threads", lambda: 7)
    assert utils.threads_option(3) == 3
    assert utils.threads_option(0) == 7
    for bad in (-1, True, 1.5):
        with pytest.raises(SeqlabError, match="--threads: expected 0 \\(automatic\\) or a number of CPU threads >= 1"):
            utils.threads_option(bad)
