"""seqlab tune on bad input: a failed run leaves no study file behind (and an earlier one as it
was), a study holding failed trials is not continued silently, messages name tune's own options,
and tune forecast takes --fill and --wide as seqlab forecast does."""

import numpy as np
import pandas as pd
import pytest

pytest.importorskip("optuna", reason="the optuna extra is part of .[all]")

from seqlab.errors import SeqlabError  # noqa: E402
from seqlab.tune.study import tune  # noqa: E402
from tests.cli_helpers import assert_one_line_error, snapshot  # noqa: E402


def _good(trial, budget):
    return float(trial.suggest_float("x", 0.0, 1.0))


def _failing(trial, budget):
    trial.suggest_int("k", 0, 9)
    raise SeqlabError("--data: something the trial found wrong")


def _final_fails(n, p, b):
    raise SeqlabError("--save: the final model could not be made")


KW = dict(direction="minimize", label="score", minutes=0, say=lambda line: None)


def test_a_failed_run_removes_the_study_file_it_created(tmp_path):
    db = tmp_path / "s.db"
    with pytest.raises(SeqlabError):
        tune("toy", _failing, lambda n, p, b: [], trials=1, study=db, table=str(tmp_path / "t.csv"),
             plot=str(tmp_path / "p.png"), **KW)
    assert list(tmp_path.iterdir()) == []  # no study, no table, no plot, no SQLite journal


def test_a_run_failing_after_its_trials_keeps_them_to_continue(tmp_path):
    """Trials that finished are kept, as a training checkpoint is after a crash: the study file
    stays (no table, no plot) and the next run continues it."""
    db = tmp_path / "s.db"
    with pytest.raises(SeqlabError, match="final model could not be made"):
        tune("toy", _good, _final_fails, trials=1, study=db, table=str(tmp_path / "t.csv"),
             plot=str(tmp_path / "p.png"), **KW)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["s.db"]
    lines = []
    again = tune("toy", _good, lambda n, p, b: [], trials=1, study=db, **dict(KW, say=lines.append))
    assert list(again.table["state"]) == ["complete"] * 2
    assert any("continuing after 1 trial(s) (1 complete)" in line for line in lines), lines


def test_a_failed_run_leaves_an_earlier_study_file_untouched(tmp_path):
    db = tmp_path / "s.db"
    tune("toy", _good, lambda n, p, b: [], trials=2, study=db, **KW)
    before = snapshot(tmp_path)
    with pytest.raises(SeqlabError):
        tune("toy", _failing, lambda n, p, b: [], trials=1, study=db, **KW)
    assert snapshot(tmp_path) == before
    lines = []
    again = tune("toy", _good, lambda n, p, b: [], trials=1, study=db, **dict(KW, say=lines.append))
    assert list(again.table["state"]) == ["complete"] * 3  # no failed trial was added
    assert any("continuing after 2 trial(s) (2 complete)" in line for line in lines), lines


def test_a_study_holding_a_failed_trial_is_not_continued_silently(tmp_path):
    import optuna

    db = tmp_path / "s.db"
    s = optuna.create_study(study_name="toy", storage=f"sqlite:///{db}", direction="minimize")
    s.tell(s.ask(), state=optuna.trial.TrialState.FAIL)  # what an older seqlab, or a Ctrl-C, left
    lines = []
    tune("toy", _good, lambda n, p, b: [], trials=1, study=db, **dict(KW, say=lines.append))
    line = next(line for line in lines if "continuing" in line)
    assert "1 fail" in line and "failed or were interrupted" in line and "--study" in line, line


def _csv(path, rows):
    path.write_text("text,label\n" + "".join(f"{t},{y}\n" for t, y in rows))
    return path


@pytest.mark.parametrize("rows", [[("good day", "pos"), ("bad day", "neg")],
                                  [("good day", "pos"), ("fine day", "pos"), ("bad day", "neg"), ("sad day", "neg")]])
def test_tune_classify_on_too_few_rows_names_data_and_writes_nothing(tmp_path, monkeypatch, cli, rows):
    monkeypatch.chdir(tmp_path)
    data = _csv(tmp_path / "few.csv", rows)
    before = snapshot(tmp_path)
    code, _, err = cli("tune", "classify", "--data", data, "--trials", "1", "--epochs", "1", "--minutes", "0.3",
                       "--study", "few.db", "--save", "few.safetensors", "--threads", "1")
    assert_one_line_error(code, err, "--data")
    assert "too few examples" in err and "validation_split" not in err and "--test-size" not in err, err
    assert snapshot(tmp_path) == before


def test_tune_classify_with_a_single_class_names_data(tmp_path, monkeypatch, cli):
    monkeypatch.chdir(tmp_path)
    data = _csv(tmp_path / "one.csv", [("good day", "pos"), ("fine day", "pos"), ("nice day", "pos")])
    code, _, err = cli("tune", "classify", "--data", data, "--trials", "1", "--study", "o.db", "--save",
                       "o.safetensors")
    assert_one_line_error(code, err, "--data")
    assert "single class" in err and "y:" not in err, err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["one.csv"]


def _monthly(path, gap=False, wide=False):
    dates = pd.date_range("2000-01-01", periods=48, freq="MS").strftime("%Y-%m-%d")
    v = 10 + np.arange(48.0) + 3 * np.sin(np.arange(48) / 2)
    df = pd.DataFrame({"date": dates, "A": v})
    if wide:
        df["B"] = 2 * v
    if gap:
        df.loc[7, "A"] = np.nan
    df.to_csv(path, index=False)
    return path


def test_tune_forecast_takes_fill_and_wide_that_its_messages_suggest(tmp_path, monkeypatch, cli):
    monkeypatch.chdir(tmp_path)
    gap, wide = _monthly(tmp_path / "gap.csv", gap=True), _monthly(tmp_path / "wide.csv", wide=True)
    base = ["tune", "forecast", "--time", "date", "--trials", "1", "--epochs", "1", "--minutes", "0.5", "--horizon",
            "3", "--folds", "1", "--table", "", "--plot", "", "--threads", "1"]
    for data, option in ((gap, "--fill"), (wide, "--wide")):
        code, _, err = cli(*base, "--data", data, "--study", "x.db", "--save", "x.safetensors")
        assert_one_line_error(code, err, option)
        assert not (tmp_path / "x.db").exists()
    code, out, err = cli(*base, "--data", gap, "--fill", "interpolate", "--study", "g.db", "--save", "g.safetensors",
                         timeout=300)
    assert code == 0, err
    assert "note:" in out and (tmp_path / "g.safetensors").is_file()
    code, out, err = cli(*base, "--data", wide, "--wide", "--study", "w.db", "--save", "w.safetensors", timeout=300)
    assert code == 0, err
    assert (tmp_path / "w.safetensors").is_file()


def test_tune_takes_sep_as_the_jobs_commands_do(tmp_path, monkeypatch, cli):
    """--sep: a ';'-separated CSV tunes with --sep ';' (forecast and classify, as seqlab forecast
    and seqlab classify train read it); a bad value is one line on stderr, exit 2, nothing written."""
    monkeypatch.chdir(tmp_path)
    series = tmp_path / "semi.csv"
    _monthly(series)
    series.write_text(series.read_text().replace(",", ";"))
    rows = [(f"good, fine day {i}", "pos") for i in range(8)] + [(f"bad, sad day {i}", "neg") for i in range(8)]
    texts = tmp_path / "semi_texts.csv"
    texts.write_text("text;label\n" + "".join(f"{t};{y}\n" for t, y in rows))
    quick = ["--trials", "1", "--epochs", "1", "--minutes", "0.5", "--table", "", "--plot", "", "--threads", "1"]
    fcast = ["tune", "forecast", "--data", series, "--time", "date", "--target", "A", "--horizon", "3", "--folds", "1"]
    klass = ["tune", "classify", "--data", texts]
    for i, base in enumerate((fcast, klass)):
        before = snapshot(tmp_path)
        for bad in ("ab", ""):
            code, _, err = cli(*base, *quick, "--sep", bad, "--study", f"b{i}.db", "--save", f"b{i}.safetensors")
            assert_one_line_error(code, err, "--sep")
            assert "one separator character" in err, err
        assert snapshot(tmp_path) == before
        code, out, err = cli(*base, *quick, "--sep", ";", "--study", f"s{i}.db", "--save", f"s{i}.safetensors",
                             timeout=300)
        assert code == 0, err
        assert (tmp_path / f"s{i}.safetensors").is_file() and "best: trial" in out
    from seqlab.classify import SequenceClassifier

    assert SequenceClassifier.load(tmp_path / "s1.safetensors").classes_.tolist() == ["neg", "pos"]
    with pytest.raises(SeqlabError, match="^--sep: expected one separator character"):  # the library too
        __import__("seqlab.tune.run", fromlist=["classify"]).classify(str(texts), sep="ab", study=str(tmp_path / "l.db"))
    assert not (tmp_path / "l.db").exists()


def test_tune_classify_refuses_continuous_npz_labels_before_its_study(tmp_path, monkeypatch, cli):
    """The check of --data before the study names an .npz's continuous labels, as classify train does."""
    monkeypatch.chdir(tmp_path)
    rng = np.random.default_rng(0)
    np.savez(tmp_path / "reg.npz", X=rng.standard_normal((30, 5, 2)), y=rng.standard_normal(30))
    code, _, err = cli("tune", "classify", "--data", tmp_path / "reg.npz", "--trials", "1", "--study", "r.db",
                       "--save", "r.safetensors", "--threads", "1")
    assert_one_line_error(code, err, "--data")
    assert "(its array 'y') are continuous numbers" in err and "SequenceRegressor" in err, err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["reg.npz"]


@pytest.mark.parametrize("argv,old,new", [
    (["tune", "generate"], "--text", "--data"), (["tune", "generate"], "--out", "--save"),
    (["tune", "forecast"], "--out", "--save"), (["tune", "classify"], "--out", "--save"),
])
def test_old_spellings_of_tune_point_to_the_new_ones(capsys, argv, old, new):
    from seqlab.cli import main

    prog = "seqlab " + " ".join(argv)
    assert main([*argv, old, "x"]) == 2
    assert capsys.readouterr().err == f"{prog}: error: {old} was renamed {new} (see '{prog} --help')\n"


@pytest.mark.parametrize("plot", [None, "p.png"])
def test_a_plot_without_matplotlib_is_refused_before_the_first_trial(tmp_path, monkeypatch, capsys, plot):
    """The plot is drawn after every trial and the final model: without matplotlib (an extra) the
    run is refused at once, not after the trials with its results lost. The default plot path
    (runs/tune/JOB.png) counts; --plot '' runs without a plot."""
    import sys

    from seqlab.cli import main

    monkeypatch.chdir(tmp_path)
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # import fails as if not installed
    (tmp_path / "t.txt").write_text("the quick brown fox jumps over the lazy dog. " * 50)
    before = snapshot(tmp_path)
    code = main(["tune", "generate", "--data", "t.txt", "--trials", "1", "--epochs", "1", "--threads", "1",
                 *(["--plot", plot] if plot else [])])
    assert_one_line_error(code, capsys.readouterr().err, "--plot: plotting needs matplotlib, which is not installed")
    assert snapshot(tmp_path) == before and not (tmp_path / "runs").exists()  # no study, table, model or folder


def test_a_plot_in_a_format_matplotlib_cannot_write_is_refused_before_the_first_trial(tmp_path, monkeypatch, capsys):
    """--plot g.xyz: refused at once, as classify predict and forecast do, not after the trials with
    the model, table and study lost to 'plot: cannot write format'."""
    from seqlab.cli import main

    monkeypatch.chdir(tmp_path)
    (tmp_path / "t.txt").write_text("the quick brown fox jumps over the lazy dog. " * 50)
    before = snapshot(tmp_path)
    code = main(["tune", "generate", "--data", "t.txt", "--trials", "1", "--epochs", "1", "--threads", "1",
                 "--plot", "g.xyz", "--save", "t.safetensors", "--table", "t.csv", "--study", "t.db"])
    assert_one_line_error(code, capsys.readouterr().err, "--plot: cannot write an image in format 'xyz'")
    assert snapshot(tmp_path) == before
