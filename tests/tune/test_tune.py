"""seqlab tune: pruning, the time budget, a resumable SQLite study, the table and plot, and the best
model of each job written where the job's own commands read it."""

import time

import numpy as np
import pandas as pd
import pytest

pytest.importorskip("optuna", reason="the optuna extra is part of .[all]")

from seqlab import Sequential  # noqa: E402
from seqlab.cli import main  # noqa: E402
from seqlab.layers import GRU, Dense  # noqa: E402
from seqlab.tune.study import Report, tune  # noqa: E402


class FakeTrial:
    """Records reports; asks to prune from the second report on."""

    def __init__(self):
        self.reports = []

    def report(self, value, step):
        self.reports.append((step, value))

    def should_prune(self):
        return len(self.reports) >= 2


def test_report_stops_training_through_the_loop():
    x, y = np.random.default_rng(0).normal(size=(32, 5, 2)).astype(np.float32), np.zeros((32, 1), np.float32)
    model = Sequential([GRU(4, input_shape=(5, 2)), Dense(1)])
    model.compile(loss="mse", optimizer="adam")
    trial = FakeTrial()
    report = Report(trial, "loss")
    history = model.fit(x, y, epochs=10, verbose=0, callbacks=[report], threads=None)
    assert report.pruned and len(history.history["loss"]) == 2
    assert [s for s, _ in trial.reports] == [0, 1]
    assert trial.reports[1][1] == pytest.approx(history.history["loss"][1])


def _toy(trial, budget):
    """Trials get worse with their number; each reports four steps of its value."""
    value = float(trial.suggest_float("x", 0.0, 1.0)) + trial.number
    for step in range(4):
        trial.report(value, step)
        if trial.should_prune():
            import optuna

            raise optuna.TrialPruned()
    return value


def test_pruning_resume_table_and_plot(tmp_path):
    db = tmp_path / "s.db"
    lines = []
    kw = dict(direction="minimize", label="score", minutes=0, study=db, table=str(tmp_path / "t.csv"),
              plot=str(tmp_path / "p.png"), say=lines.append)
    first = tune("toy", _toy, lambda n, p, b: [], trials=4, **kw)
    states = list(first.table["state"])
    assert states[:2] == ["complete", "complete"] and "pruned" in states[2:]  # worse than the median: stopped
    assert any("pruned" in line for line in lines)
    second = tune("toy", _toy, lambda n, p, b: [], trials=2, **kw)  # the same file: continued
    assert len(second.table) == 6 and any("continuing after 4 trial(s)" in line for line in lines)
    assert second.best_value == first.best_value
    table = pd.read_csv(tmp_path / "t.csv")
    assert list(table.columns[:4]) == ["trial", "state", "value", "seconds"] and len(table) == 6
    assert (tmp_path / "p.png").stat().st_size > 1000


def test_time_budget_stops_starting_trials(tmp_path):
    def slow(trial, budget):
        trial.suggest_int("k", 0, 9)
        time.sleep(0.4)
        return 1.0

    t0 = time.monotonic()
    r = tune("slow", slow, lambda n, p, b: [], direction="minimize", label="s", trials=50, minutes=1.5 / 60,
             study=tmp_path / "s.db", say=lambda line: None)
    assert time.monotonic() - t0 < 3.0
    assert 1 <= len(r.table) < 10


def test_tune_forecast_command_within_budget(tmp_path, capsys):
    """The command on the embedded data within its budget; the model it writes is what
    'seqlab forecast predict --model' reads (the bar of issue #16 is --trials 8 --minutes 3; here smaller)."""
    model = tmp_path / "best.safetensors"
    args = ["tune", "forecast", "--trials", "3", "--minutes", "0.4", "--epochs", "4", "--folds", "2",
            "--study", str(tmp_path / "f.db"), "--save", str(model), "--table", str(tmp_path / "f.csv"),
            "--plot", "", "--threads", "1"]
    t0 = time.monotonic()
    assert main(args) == 0
    assert time.monotonic() - t0 < 0.4 * 60 + 5
    out = capsys.readouterr().out
    assert "best: trial" in out and f"wrote {model}" in out
    table = pd.read_csv(tmp_path / "f.csv")
    assert {"cell", "hidden", "layers", "dropout", "lr", "lookback", "network"} <= set(table.columns)
    assert set(table["network"].dropna()) <= {"mix", "hybrid", "rnn"}  # airline is seasonal: the kind is searched too
    best = table.loc[table["value"].idxmin()]
    from seqlab.forecast import Forecaster

    f = Forecaster.load(str(model))
    assert f.config.cell == best["cell"] and f.config.lookback == best["lookback"]
    assert f.config.model == best["network"]
    assert main(["forecast", "predict", "--model", str(model), "--no-plot"]) == 0
    assert "1961-01" in capsys.readouterr().out


def test_tune_classify_and_generate(tmp_path, capsys):
    rng = np.random.default_rng(0)
    y = np.array([0, 1] * 20)
    X = rng.normal(size=(40, 6, 2)).astype(np.float32) + y[:, None, None]
    np.savez(tmp_path / "d.npz", X=X, y=y)
    assert main(["tune", "classify", "--data", str(tmp_path / "d.npz"), "--trials", "2", "--epochs", "2",
                 "--minutes", "0", "--study", str(tmp_path / "c.db"), "--save", str(tmp_path / "c.safetensors"),
                 "--table", "", "--plot", "", "--threads", "1"]) == 0
    from seqlab.classify import SequenceClassifier

    clf = SequenceClassifier.load(tmp_path / "c.safetensors")
    assert clf.predict(X[:4]).shape == (4,)
    assert not list(tmp_path.glob("classify-trial*"))  # the trials' own files are gone
    (tmp_path / "t.txt").write_text("the cat sat on the mat. " * 60)
    assert main(["tune", "generate", "--data", str(tmp_path / "t.txt"), "--trials", "2", "--epochs", "1",
                 "--seq-len", "16", "--batch-size", "4", "--minutes", "0", "--study", str(tmp_path / "g.db"),
                 "--save", str(tmp_path / "g.safetensors"), "--table", "", "--plot", "", "--threads", "1"]) == 0
    out = capsys.readouterr().out
    assert "validation loss" in out and "best: trial" in out
    from seqlab.text.model import load_lm

    load_lm(tmp_path / "g.safetensors")


def test_errors(tmp_path, capsys):
    assert main(["tune", "forecast", "--trials", "0"]) == 2
    assert "--trials" in capsys.readouterr().err
    assert main(["tune", "forecast", "--save", str(tmp_path / "nope" / "m.safetensors")]) == 2
    assert "does not exist" in capsys.readouterr().err


def test_files_that_would_be_overwritten_or_cannot_hold_a_study(tmp_path, capsys):
    text = tmp_path / "corpus.txt"
    text.write_text("the quick brown fox jumps over the lazy dog. " * 100)
    before = text.read_bytes()
    junk = tmp_path / "junk.db"
    junk.write_bytes(bytes(range(256)) * 8)
    base = ["tune", "generate", "--data", str(text), "--trials", "1", "--epochs", "1", "--minutes", "0.2",
            "--threads", "1", "--plot", ""]
    cases = [
        (["--table", str(text), "--study", str(tmp_path / "a.db"), "--save", str(tmp_path / "a.safetensors")],
         "--table: '%s' is also the file of --data" % text),
        (["--table", "", "--study", str(tmp_path / "m.safetensors"), "--save", str(tmp_path / "m.safetensors")],
         "is also the file of --study"),
        (["--table", "", "--study", str(junk), "--save", str(tmp_path / "b.safetensors")],
         "--study: '%s' is not an SQLite database" % junk),
    ]
    for extra, message in cases:
        assert main(base + extra) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and message in err and "Traceback" not in err, err
    assert text.read_bytes() == before and junk.read_bytes() == bytes(range(256)) * 8
    assert not (tmp_path / "b.safetensors").exists()


def test_a_trial_that_fails_raises_its_error_without_optunas_traceback(tmp_path):
    from seqlab.errors import SeqlabError

    def failing(trial, budget):
        trial.suggest_int("k", 0, 9)
        raise SeqlabError("--text: something the trial found wrong")

    import logging

    records: list[logging.LogRecord] = []
    handler = logging.Handler()
    handler.emit = records.append  # what optuna's own stderr handler would print
    logger = logging.getLogger("optuna")
    logger.addHandler(handler)
    try:
        with pytest.raises(SeqlabError, match="something the trial found wrong"):
            tune("failing", failing, lambda n, p, b: [], direction="minimize", label="s", trials=1, minutes=0,
                 study=tmp_path / "f.db", say=lambda line: None)
    finally:
        logger.removeHandler(handler)
    assert not [r for r in records if "failed" in r.getMessage()], [r.getMessage() for r in records]


# -- pruning at the current step (not on the best value so far) ---------------------------------

def _scripted(values):
    """An objective reporting ``values[trial.number]`` step by step; it returns the last one."""
    def objective(trial, budget=None):
        import optuna

        trial.suggest_float("x", 0.0, 1.0)
        for step, v in enumerate(values[trial.number]):
            trial.report(v, step)
            if trial.should_prune():
                raise optuna.TrialPruned()
        return values[trial.number][-1]
    return objective


def test_step_median_pruner_judges_the_value_at_the_current_step():
    import optuna

    from seqlab.tune.pruning import StepMedianPruner

    def states(pruner, direction, values):
        study = optuna.create_study(direction=direction, pruner=pruner, sampler=optuna.samplers.RandomSampler(0))
        study.optimize(_scripted(values), n_trials=len(values))
        return [t.state.name.lower() for t in study.trials]

    # running means of a backtest: origin 0 is easy for every trial; trial 2 is the best there and
    # clearly the worst at origin 1 (median 0.6); trial 3 is better than the median at origin 1
    values = [(0.5, 0.6), (0.5, 0.6), (0.324, 0.924), (0.9, 0.55)]
    assert states(StepMedianPruner(n_startup_trials=2, n_warmup_steps=1), "minimize", values) == \
        ["complete", "complete", "pruned", "complete"]
    # Optuna's MedianPruner judges trial 2 by its best value over the steps (0.324): not pruned
    assert states(optuna.pruners.MedianPruner(n_startup_trials=2, n_warmup_steps=1), "minimize", values)[2] == \
        "complete"
    flipped = [tuple(1 - v for v in t) for t in values]  # accuracies: higher is better
    assert states(StepMedianPruner(), "maximize", flipped) == ["complete", "complete", "pruned", "complete"]
    # warm-up: step 0 never prunes; startup: nothing before 2 trials completed
    assert states(StepMedianPruner(), "minimize", [(0.5,), (0.5,), (0.9,)]) == ["complete"] * 3
    assert states(StepMedianPruner(), "minimize", [(0.5, 0.5), (0.9, 0.9)]) == ["complete"] * 2
    assert states(StepMedianPruner(), "minimize", [(0.5, 0.5), (0.5, 0.5), (0.5, float("nan"))])[2] == "pruned"


def test_step_median_pruner_errors():
    from seqlab.errors import SeqlabError
    from seqlab.tune.pruning import StepMedianPruner

    with pytest.raises(SeqlabError, match="n_warmup_steps"):
        StepMedianPruner(n_warmup_steps=-1)
    with pytest.raises(SeqlabError, match="n_min_trials"):
        StepMedianPruner(n_min_trials=0)
    with pytest.raises(SeqlabError, match="mode"):
        Report(FakeTrial(), "val_loss", mode="lowest")


def test_tune_prunes_a_trial_worse_at_a_later_step(tmp_path):
    from seqlab.tune.pruning import StepMedianPruner

    values = [(0.5, 0.6), (0.5, 0.6), (0.324, 0.924), (0.9, 0.55)]
    r = tune("scripted", _scripted(values), lambda n, p, b: [], direction="minimize", label="s", trials=4, minutes=0,
             study=tmp_path / "s.db", say=lambda line: None)
    assert isinstance(r.study.pruner, StepMedianPruner)
    assert list(r.table["state"]) == ["complete", "complete", "pruned", "complete"]


def test_tune_forecast_objective_prunes_a_trial_worse_at_a_later_origin(tmp_path, monkeypatch):
    """ForecastJob reports the running mean of the MASE per origin; a trial best at origin 0 and
    worst at origin 1 is pruned at origin 1 (the backtest scripted: no training)."""
    from types import SimpleNamespace

    import seqlab.forecast.backtesting as backtesting
    from seqlab.forecast.run import load_series
    from seqlab.tune.objectives import ForecastJob

    # MASE per origin of trials 0-3, in the order the objective asks: running means (0.5, 0.6) twice,
    # then (0.324, 0.924): the best at origin 0 and the worst at origin 1, then (0.6, 0.55)
    calls = iter([0.5, 0.7, 0.5, 0.7, 0.324, 1.524, 0.6, 0.5])

    offsets = []

    def fake_backtest(series, config, folds, step, end_offset, include_stats, train):
        offsets.append(end_offset)
        return SimpleNamespace(model_name="model", table=pd.DataFrame({"MASE": [next(calls)]}, index=["model"]))

    monkeypatch.setattr(backtesting, "backtest", fake_backtest)
    series, _ = load_series(None)
    job = ForecastJob(series, folds=2, settings=dict(horizon=12, ensemble=1, verbose=0))
    r = tune("forecast", job.objective, lambda n, p, b: [], direction="minimize", label="backtest MASE", trials=4,
             minutes=0, study=tmp_path / "f.db", say=lambda line: None)
    assert list(r.table["state"]) == ["complete", "complete", "pruned", "complete"]
    assert r.study.trials[2].intermediate_values == {0: pytest.approx(0.324), 1: pytest.approx(0.924)}
    assert set(offsets) == {24, 12}  # the origins end a horizon or more before the end: the holdout is unseen


def test_tune_forecast_network_fixes_the_kind_or_searches_it(tmp_path, monkeypatch):
    """A network kind in the fixed settings (``tune forecast --network hybrid``) is every trial's;
    without one, on seasonal data, mix, hybrid and rnn are searched as the trial parameter
    'network', spelled as 'seqlab forecast --network' (the backtest scripted: no training)."""
    from types import SimpleNamespace

    from seqlab.forecast import backtesting
    from seqlab.forecast.run import load_series
    from seqlab.tune.objectives import ForecastJob

    kinds = []

    def fake_backtest(series, config, folds, step, end_offset, include_stats, train):
        kinds.append(config.model)
        return SimpleNamespace(model_name="model", table=pd.DataFrame({"MASE": [1.0]}, index=["model"]))

    monkeypatch.setattr(backtesting, "backtest", fake_backtest)
    series, _ = load_series(None)
    for fixed, searched in [({"model": "hybrid"}, False), ({}, True)]:
        kinds.clear()
        job = ForecastJob(series, folds=1, settings={"horizon": 12, "ensemble": 1, "verbose": 0, **fixed})
        r = tune("forecast", job.objective, lambda n, p, b: [], direction="minimize", label="backtest MASE",
                 trials=4, minutes=0, study=tmp_path / f"{searched}.db", say=lambda line: None)
        params = [t.params for t in r.study.trials]
        if searched:
            assert kinds == [p["network"] for p in params] and set(kinds) <= {"mix", "hybrid", "rnn"}
        else:
            assert kinds == ["hybrid"] * 4 and not any("network" in p for p in params)
    # the best parameters of a study written before the rename name the kind 'model'
    assert job.settings_for({"model": "rnn"})["model"] == job.settings_for({"network": "rnn"})["model"] == "rnn"


def test_tune_forecast_network_option_reaches_the_settings(tmp_path, monkeypatch, capsys):
    from types import SimpleNamespace

    import seqlab.tune.run as tune_run

    seen = []

    def fake_tune(job, objective, final, **kw):
        seen.append(dict(objective.__self__.settings))
        return SimpleNamespace(written=[], table=[], seconds=0.0)

    monkeypatch.setattr(tune_run, "tune", fake_tune)
    files = ["--study", str(tmp_path / "s.db"), "--save", str(tmp_path / "m.safetensors"), "--table", "",
             "--plot", "", "--threads", "1"]
    assert main(["tune", "forecast", "--network", "rnn", *files]) == 0
    assert main(["tune", "forecast", *files]) == 0
    assert seen[0]["model"] == "rnn" and "model" not in seen[1]
    assert main(["tune", "forecast", "--network", "lstm", *files]) == 2
    assert "argument --network: invalid choice: 'lstm'" in capsys.readouterr().err


def test_report_gives_the_score_so_far():
    trial = FakeTrial()
    trial.should_prune = lambda: False
    best = Report(trial, "val_loss", mode="min")
    kept = Report(FakeTrial(), "val_accuracy", by=("val_loss", "min"))
    kept.trial.should_prune = lambda: False
    logs = [dict(val_loss=1.0, val_accuracy=0.5), dict(val_loss=0.7, val_accuracy=0.6),
            dict(val_loss=0.9, val_accuracy=0.8), dict(val_loss=float("nan"), val_accuracy=0.9)]
    for epoch, log in enumerate(logs):
        best.on_epoch_end(epoch, log)
        kept.on_epoch_end(epoch, log)
    assert trial.reports == [(0, 1.0), (1, 0.7), (2, 0.7)]  # the nan epoch reports nothing
    assert kept.trial.reports == [(0, 0.5), (1, 0.6), (2, 0.6), (3, 0.6)]  # accuracy of the lowest val_loss


# -- classify trials are scored on a validation split of the training part ----------------------

def _digits_like(poison_test: bool):
    """60 sequences of two classes; with ``poison_test`` the rows of the held-out split (the one
    'seqlab classify train' tests on, same labels so the same split) get garbage features."""
    from seqlab.classify.data import stratified_split

    rng = np.random.default_rng(1)
    y = np.array([0, 1] * 30)
    X = rng.normal(size=(60, 6, 2)).astype(np.float32) + 1.5 * y[:, None, None]
    _, test_idx = stratified_split(list(y), 0.2, 0)
    if poison_test:
        X[test_idx] = -3.0 * X[test_idx] + rng.normal(size=X[test_idx].shape).astype(np.float32) * 5
    return X, y, test_idx


def test_tune_classify_trials_never_see_the_held_out_split(tmp_path, monkeypatch):
    import optuna

    from seqlab.classify.estimator import SequenceClassifier
    from seqlab.tune.objectives import TrainJob
    from seqlab.tune.study import Budget

    fitted = []
    fit = SequenceClassifier.fit

    def spy(self, X, y, lengths=None, **kw):
        fitted.append((np.asarray(X).copy(), kw.get("validation_data")))
        return fit(self, X, y, lengths, **kw)

    monkeypatch.setattr(SequenceClassifier, "fit", spy)
    params = dict(cell="gru", hidden=8, layers=1, dropout=0.0, lr=0.005)
    scores, held, data = [], [], []
    for poison in (False, True):
        X, y, test_idx = _digits_like(poison)
        data.append((X, test_idx))
        np.savez(tmp_path / f"d{poison}.npz", X=X, y=y)
        job = TrainJob("classify", tmp_path, dict(data=str(tmp_path / f"d{poison}.npz"), epochs=3, seed=0, threads=1))
        scores.append(job.objective(optuna.trial.FixedTrial(params), Budget(0)))
        held.append(getattr(job, "held", {}).get(0))
    assert scores[0] == scores[1]  # the poisoned held-out split does not move the trial's score
    assert held[0] is not None and held[0] != held[1]  # it only moves the held-out accuracy reported
    for (X, test_idx), (X_fit, validation) in zip(data, fitted):
        assert validation is None  # the validation split is carved out of what fit gets: the training part
        assert len(X_fit) == 60 - len(test_idx)
        assert not any(np.array_equal(X_fit[i], X[j]) for i in range(len(X_fit)) for j in test_idx)


def test_tune_classify_reports_held_out_accuracy_of_the_best_only(tmp_path, capsys):
    X, y, _ = _digits_like(False)
    np.savez(tmp_path / "d.npz", X=X, y=y)
    assert main(["tune", "classify", "--data", str(tmp_path / "d.npz"), "--trials", "2", "--epochs", "2",
                 "--minutes", "0", "--study", str(tmp_path / "c.db"), "--save", str(tmp_path / "c.safetensors"),
                 "--table", "", "--plot", "", "--threads", "1"]) == 0
    out = capsys.readouterr().out
    assert "scored by validation accuracy" in out and "trial 0: validation accuracy" in out
    assert out.count("held-out accuracy of trial") == 1 and "which no trial was scored on" in out


def test_every_seed_of_the_shared_option_seeds_the_sampler(tmp_path):
    """--seed takes [0, 2**63 - 1] as in every command; Optuna's sampler takes seeds below 2**32."""
    from seqlab.cli_args import MAX_SEED

    r = tune("toy", _toy, lambda n, p, b: [], direction="minimize", label="s", trials=2, minutes=0,
             study=tmp_path / "s.db", seed=MAX_SEED, say=lambda line: None)
    assert list(r.table["state"]) == ["complete", "complete"]
