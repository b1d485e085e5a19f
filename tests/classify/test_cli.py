"""`seqlab classify train|predict` through seqlab.cli.main: outputs, files, and one-line errors (exit 2)."""

import numpy as np
import pytest

from seqlab.cli import main

FAST = ["--epochs", "3", "--hidden", "8", "--quiet"]


def _npz(path, n=40, seed=0, **overrides):
    rng = np.random.default_rng(seed)
    y = np.arange(n) % 2
    X = rng.normal(size=(n, 5, 2))
    X[:, :, 0] += np.where(y == 1, 1.5, -1.5)[:, None]
    arrays = {"X": X, "y": y, "lengths": rng.integers(2, 6, n)}
    arrays.update(overrides)
    np.savez(path, **{k: v for k, v in arrays.items() if v is not None})
    return path


def _csv(path):
    rows = ["text,label"] + [f"a great {w},pos" for w in "abcdefgh"] + [f"a bad {w},neg" for w in "abcdefgh"]
    path.write_text("\n".join(rows) + "\n")
    return path


def _one_line_error(capsys, argv, match):
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err, err
    assert match in err, err
    return err


def test_train_and_predict_numeric(tmp_path, capsys):
    data = _npz(tmp_path / "d.npz")
    model = tmp_path / "m.safetensors"
    assert main(["classify", "train", "--data", str(data), "--save", str(model), "--epochs", "10", "--hidden", "8",
                 "--quiet", "--lr", "1e-2"]) == 0
    out = capsys.readouterr().out
    assert "32 train / 8 held out" in out
    acc = float(out.split("held-out accuracy:")[1].split()[0])
    assert acc >= 0.75
    assert "confusion matrix" in out and model.exists()
    preds = tmp_path / "p.csv"
    plot = tmp_path / "imp.png"
    assert main(["classify", "predict", "--model", str(model), "--data", str(data), "--out", str(preds),
                 "--explain", "3", "--method", "grad", "--plot", str(plot), "--color", "never", "--threads", "1",
                 "--device", "cpu"]) == 0
    out = capsys.readouterr().out
    import pandas as pd

    df = pd.read_csv(preds)
    assert list(df.columns) == ["row", "label", "prediction", "probability", "p_0", "p_1"] and len(df) == 40
    assert df["row"].tolist() == list(range(40)) and df["label"].tolist() == (np.arange(40) % 2).tolist()
    np.testing.assert_allclose(df[["p_0", "p_1"]].to_numpy().sum(1), 1.0, atol=1e-6)
    assert "accuracy:" in out and "gradient x input" in out and "t=0" in out
    n3 = int(np.load(data)["lengths"][3])
    assert f"t={n3 - 1}" in out and f"t={n3} " not in out  # only the real steps of input 3 are explained
    assert plot.read_bytes()[:4] == b"\x89PNG"


def test_train_and_predict_text(tmp_path, capsys):
    data = _csv(tmp_path / "d.csv")
    model = tmp_path / "t.safetensors"
    assert main(["classify", "train", "--data", str(data), "--save", str(model), "--test-size", "0.25", *FAST]) == 0
    out = capsys.readouterr().out
    assert "16 texts, 2 classes" in out and "vocabulary" in out
    assert main(["classify", "predict", "--model", str(model), "--text", "a great movie", "--text", "bad",
                 "--explain", "0", "--color", "never"]) == 0
    out = capsys.readouterr().out
    lines = out.splitlines()
    assert lines[0].startswith("0\t") and lines[1].startswith("1\t")
    assert "movie?[" in out  # unknown word flagged, read as <unk>


def test_bad_input_exits_2_with_one_line(tmp_path, capsys):
    model = tmp_path / "m.safetensors"
    one_class = _npz(tmp_path / "one.npz", y=np.zeros(40, dtype=int))
    _one_line_error(capsys, ["classify", "train", "--data", str(one_class), "--save", str(model), *FAST], "single class")
    mismatch = _npz(tmp_path / "mm.npz", y=np.arange(39) % 2)
    _one_line_error(capsys, ["classify", "train", "--data", str(mismatch), "--save", str(model), *FAST],
                    "39 labels for 40 sequences")
    lengths = np.full(40, 5)
    lengths[7] = 0
    empty = _npz(tmp_path / "e.npz", lengths=lengths)
    _one_line_error(capsys, ["classify", "train", "--data", str(empty), "--save", str(model), *FAST], "sequence 7 is empty")
    X = np.ones((40, 5, 2))
    X[4, 1, 1] = np.nan
    nan = _npz(tmp_path / "nan.npz", X=X, lengths=None)
    _one_line_error(capsys, ["classify", "train", "--data", str(nan), "--save", str(model), *FAST], "sequence 4 has a NaN")
    _one_line_error(capsys, ["classify", "train", "--save", str(model), "--threads", "-1", *FAST], "--threads: expected an integer")
    for opt, value, match in [("--lr", "nan", "--lr: expected a finite number > 0"),
                              ("--minutes", "inf", "--minutes: expected a finite number >= 0"),
                              ("--minutes", "-1", "--minutes: expected a finite number >= 0"),
                              ("--epochs", "-1", "--epochs: expected an integer in [1, "),
                              ("--dropout", "-0.5", "--dropout: expected a finite number >= 0 and < 1"),
                              ("--test-size", "1.5", "--test-size: expected a finite number >= 0 and < 1"),
                              ("--test-size", "nan", "--test-size: expected a finite number"),
                              ("--batch-size", "0", "--batch-size: expected an integer in [1, "),
                              ("--hidden", "0", "--hidden: expected an integer in [1, 1000000]"),
                              ("--hidden", "-3", "--hidden: expected an integer in [1, 1000000]"),
                              ("--chrono", "-1", "--chrono: expected an integer >= 0")]:
        _one_line_error(capsys, ["classify", "train", "--save", str(model), *FAST, opt, value], match)
    _one_line_error(capsys, ["classify", "train", "--save", str(model), "--resume", *FAST],
                    f"--resume: no checkpoint at {str(tmp_path / 'm.ckpt.safetensors')!r}")
    _one_line_error(capsys, ["classify", "train", "--save", str(tmp_path / "no" / "m.safetensors"), *FAST],
                    "--save: folder")
    _one_line_error(capsys, ["classify", "train", "--save", str(tmp_path), *FAST], "is a folder")
    assert not model.exists()  # nothing written by failed commands

    junk = tmp_path / "junk.safetensors"
    junk.write_text("not a model at all")
    _one_line_error(capsys, ["classify", "predict", "--model", str(junk), "--text", "hi"], "not a readable seqlab model")
    _one_line_error(capsys, ["classify", "predict", "--model", str(tmp_path / "nope.safetensors"), "--text", "hi"],
                    "does not exist")
    _one_line_error(capsys, ["classify", "predict", "--model", str(junk), "--text", "hi", "--threads", "-2"],
                    "--threads: expected an integer")
    _one_line_error(capsys, ["classify", "predict", "--model", str(junk), "--text", "hi", "--out", str(tmp_path)],
                    "--out: ")


def test_failed_predict_keeps_earlier_outputs(tmp_path, capsys):
    data = _npz(tmp_path / "d.npz")
    model = tmp_path / "m.safetensors"
    assert main(["classify", "train", "--data", str(data), "--save", str(model), *FAST]) == 0
    before = model.read_bytes()
    preds = tmp_path / "p.csv"
    preds.write_text("earlier result\n")
    _one_line_error(capsys, ["classify", "predict", "--model", str(model), "--text", "hello", "--out", str(preds)],
                    "classifies numeric sequences")
    _one_line_error(capsys, ["classify", "predict", "--model", str(model), "--data", str(data), "--explain", "99",
                     "--out", str(preds)], "--explain")
    assert preds.read_text() == "earlier result\n"
    # a failed training run leaves the earlier model in place
    bad = _npz(tmp_path / "bad.npz", y=np.zeros(40, dtype=int))
    _one_line_error(capsys, ["classify", "train", "--data", str(bad), "--save", str(model), *FAST], "single class")
    assert model.read_bytes() == before


def test_help_lists_both_actions(capsys):
    assert main(["classify", "--help"]) == 0
    out = capsys.readouterr().out
    assert "train" in out and "predict" in out


def test_digits_without_scikit_learn_is_a_clear_error(tmp_path, capsys, monkeypatch):
    import sys

    monkeypatch.setitem(sys.modules, "sklearn.datasets", None)  # import fails as if not installed
    err = _one_line_error(capsys, ["classify", "train", "--save", str(tmp_path / "m.safetensors"), *FAST],
                          "pip install 'seqlab[sklearn]'")
    assert "--data" in err
    assert not (tmp_path / "m.safetensors").exists()


def test_classify_without_action_is_one_line_on_stderr(capsys):
    assert main(["classify"]) == 2
    captured = capsys.readouterr()
    assert captured.out == "" and captured.err.count("\n") == 1
    assert "expected a sub-command" in captured.err and "seqlab classify --help" in captured.err


@pytest.mark.parametrize("old,new", [("--hidden-size", "--hidden"), ("--out", "--save"), ("--embedding-dim", "--embed"),
                                     ("--val-size", "--val-fraction"), ("--tokenizer", "--level")])
def test_old_spellings_of_classify_train_point_to_the_new_ones(capsys, old, new):
    assert main(["classify", "train", old, "1"]) == 2
    assert capsys.readouterr().err == (f"seqlab classify train: error: {old} was renamed {new} "
                                       "(see 'seqlab classify train --help')\n")


def test_the_shared_spellings_reach_the_workflow(monkeypatch):
    """--level, --embed and --val-fraction (the names generate and translate use) are the
    classifier's tokenizer, embedding_dim and val_size."""
    import seqlab.classify.run as workflows

    calls = []
    monkeypatch.setattr(workflows, "train", lambda **kw: calls.append(kw))
    assert main(["classify", "train", "--level", "char", "--embed", "7", "--patience", "2", "--val-fraction", "0.3",
                 "--save", "m.safetensors"]) == 0
    (kw,) = calls
    assert (kw["tokenizer"], kw["embedding_dim"], kw["val_size"], kw["save"]) == ("char", 7, 0.3, "m.safetensors")


def test_estimator_options_refuses_an_unknown_name_with_a_seqlab_error():
    """A name that is not a default raised a bare KeyError (a traceback, repr'd message); it is a
    SeqlabError (a ValueError) naming the name and the defaults there are."""
    import pytest

    from seqlab.classify.defaults import DEFAULTS, estimator_options
    from seqlab.errors import SeqlabError

    assert estimator_options(hidden_size=3)["hidden_size"] == 3
    with pytest.raises(SeqlabError) as info:
        estimator_options(hidden=3)
    assert isinstance(info.value, ValueError) and not isinstance(info.value, KeyError)
    assert str(info.value) == ("estimator_options: 'hidden' is not a default of seqlab classify train; expected "
                               f"some of {', '.join(DEFAULTS)}")
    with pytest.raises(SeqlabError, match=r"^estimator_options: 'a', 'b' are not defaults of seqlab classify train"):
        estimator_options(b=1, a=2)


def test_an_empty_option_name_is_unrecognized_with_no_list_of_every_option(capsys):
    """``--=x`` named no option, yet the reply offered "did you mean" and every option of the
    command (all start with the empty prefix); it is unrecognized, nothing suggested. A real prefix
    still gets the options it starts."""
    assert main(["classify", "train", "--=x"]) == 2
    err = capsys.readouterr().err
    assert err == ("seqlab classify train: error: unrecognized arguments: --=x "
                   "(see 'seqlab classify train --help')\n"), err
    assert main(["classify", "train", "--val=0.2"]) == 2
    assert "unrecognized arguments: --val; options are not abbreviated: did you mean --val-fraction?" in \
        capsys.readouterr().err
