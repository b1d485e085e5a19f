"""The baselines beside the model's fits (seqlab.forecast.baselines.Beside): the background
processes give exactly the forecasts and notes of the inline path, and nothing is lost when a
process cannot start or dies. The tests force the background path on small panels (it is used
from BESIDE_MIN_HISTORIES histories with two threads or more, and the suite runs on one)."""

import os
import subprocess
import sys
import time

import numpy as np
import pytest

import seqlab.forecast.backtesting as bt
from seqlab.data import make_panel
from seqlab.forecast import Forecaster, backtest, prepare
from seqlab.forecast import baselines as B

pytest.importorskip("statsforecast")
pytest.importorskip("statsmodels")

TINY = dict(horizon=3, hidden=4, epochs=2, ensemble=1, patience=5, verbose=0, seed=0, threads=None)
NAMES = ["naive", "seasonal naive", "AutoETS", "AutoTheta", "Theta"]  # Theta: statsmodels'


def histories(n=70, seed=0):
    """Monthly histories of 3-40 values: some too short for AutoETS (7) and AutoTheta (4)."""
    return [g["y"].to_numpy() for _, g in make_panel(n, 3, 40, seed).groupby("id")]


def assert_same(got, want):
    (r1, f1), (r2, f2) = got, want
    assert len(r1) == len(r2)
    for a, b in zip(r1, r2):
        assert list(a) == list(b)
        for name in a:
            np.testing.assert_array_equal(a[name], b[name])  # the very numbers, not nearly
    assert list(f1) == list(f2)
    for name in f1:
        np.testing.assert_array_equal(f1[name], f2[name])


@pytest.mark.parametrize("workers", [1, 2])
def test_sf_calls_reproduce_the_layout_of_one_call(workers):
    # statsforecast's AutoTheta differs in the last bits with a history's place in its call; the
    # ranges of sf_calls, each fitted in a call of its own, give the numbers of the one call
    # (workers 1) or of statsforecast's own split over processes (workers 2)
    h = histories()
    calls = B.sf_calls([len(x) for x in h], NAMES, workers, size=6)
    assert calls[0][0] == 0 and calls[-1][1] == len(h) and all(a[1] == b[0] for a, b in zip(calls, calls[1:]))
    assert len(calls) > 3
    want = B.baseline_forecasts(h, 3, 12, NAMES, workers)
    assert_same(B.baseline_forecasts(h, 3, 12, NAMES, calls=calls), want)


def test_beside_delivers_the_inline_forecasts_and_survives_a_dead_process():
    h = histories()
    want = B.baseline_forecasts(h, 3, 12, NAMES, 1)
    b = B.Beside(h, 3, 12, NAMES, processes=1, unit=6)
    assert len(b.units) > 3 and len(b.procs) == 1
    first = os.path.join(b.folder, "unit-0.npz")
    deadline = time.monotonic() + 60
    while not os.path.exists(first) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert os.path.exists(first), "the background process delivered nothing in 60 s"
    b.procs[0].kill()  # dies mid-way: what it took and did not deliver is computed by collect
    folder = b.folder
    assert_same(b.collect(), want)
    assert not os.path.exists(folder)  # cleaned up


def test_beside_falls_back_inline_when_no_process_starts(monkeypatch):
    h = histories(50, seed=1)
    for workers in (1, 2):
        want = B.baseline_forecasts(h, 3, 12, NAMES, workers)

        def refuse(*args, **kwargs):
            raise OSError("no processes today")

        with monkeypatch.context() as m:
            m.setattr(subprocess, "Popen", refuse)
            b = B.Beside(h, 3, 12, NAMES, processes=1, workers=workers, unit=6)
        assert b.procs == []
        assert_same(b.collect(), want)
        # a process that starts but fails at once (here: not Python at all)
        with monkeypatch.context() as m:
            m.setattr(sys, "executable", "/bin/false")
            b = B.Beside(h, 3, 12, NAMES, processes=1, workers=workers, unit=6)
            assert_same(b.collect(), want)


def test_backtest_beside_equals_inline(monkeypatch):
    # a panel with series too short for the first origin and for AutoETS (notes), two origins
    frame = make_panel(20, 5, 26, 3)
    series = prepare(frame, target="y", time="date", series_id="id")
    f = Forecaster(**TINY)
    runs = {}
    for mode in ("inline", "beside"):
        started = []
        with monkeypatch.context() as m:
            if mode == "beside":
                m.setattr(bt, "beside_split", lambda threads: (1, 1))
                m.setattr(bt, "BESIDE_MIN_HISTORIES", 0)
                m.setattr(B, "BESIDE_UNIT", 5)
            m.setattr(bt, "Beside", lambda *a, **k: started.append(1) or B.Beside(*a, **k))
            for refit in (True, False):
                runs[mode, refit] = backtest(series, f.config, folds=2, train=f.train_config, refit=refit,
                                             methods=["naive", "snaive", "autoets", "autotheta"])
        assert len(started) == (2 if mode == "beside" else 0)
    for refit in (True, False):
        a, b = runs["inline", refit], runs["beside", refit]
        assert a.notes == b.notes
        assert any("AutoETS" in n for n in a.notes)
        assert refit or any("not in the model fitted at the first origin" in n for n in a.notes)  # inline then
        assert len(a.forecasts) == len(b.forecasts)
        for x, y in zip(a.forecasts, b.forecasts):
            assert (x["series"], x["cutoff"]) == (y["series"], y["cutoff"])
            np.testing.assert_array_equal(x["model"], y["model"])
            assert list(x["baselines"]) == list(y["baselines"])
            for name in x["baselines"]:
                np.testing.assert_array_equal(x["baselines"][name], y["baselines"][name])
        assert a.folds.equals(b.folds)
        assert b.forecaster.train_config.threads is None  # the caller's threads, not the share it fitted with


def test_beside_split(monkeypatch):
    monkeypatch.delenv("WORLD_SIZE", raising=False)
    assert bt.beside_split(1) is None  # one thread: the baselines after the fits, as before
    assert bt.beside_split(2) == (1, 1)
    assert bt.beside_split(5) == (3, 2)
    # the suite pins torch at one thread (OMP_NUM_THREADS=1): automatic threads respect it
    assert bt.beside_split(0) is None and bt.beside_split(None) is None
    monkeypatch.setenv("WORLD_SIZE", "2")  # under torchrun the processes share the cores already
    assert bt.beside_split(4) is None


def test_the_background_files_round_trip_without_pickle(tmp_path):
    """The job and each unit's forecasts travel as .npz arrays plus JSON settings (np.load with
    allow_pickle=False), and come back equal."""
    h = histories(30, seed=2)
    b = B.Beside(h, 3, 12, NAMES, processes=0, unit=6)
    assert b.procs == []  # no background process: the round trip below is this process's alone
    try:
        job = b._job()
        B._write_job(str(tmp_path / "job.npz"), job)
        back = B._read_job(str(tmp_path / "job.npz"))
        assert set(back) == set(job)
        assert back["units"] == [[list(c) for c in u] for u in job["units"]] and back["names"] == NAMES
        for x, y in zip(back["histories"], h):
            np.testing.assert_array_equal(x, y)
        out = B._unit(back, 1)
        B._write_unit(str(tmp_path / "unit.npz"), out)
        assert_same(B._read_unit(str(tmp_path / "unit.npz")), out)
        assert not list(tmp_path.glob("*.part"))
    finally:
        b.close()
