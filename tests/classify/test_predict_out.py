"""`seqlab classify predict --out`: the rows join back to the input. Each kind of --data carries
its identifying columns (CSV: every column as written; folder: path and class folder; .npz/.ts:
row index and label), in input order, before the unchanged prediction columns; the probabilities
are those of the library's predict_proba on the same inputs; a clash of names renames the input's."""

import numpy as np
import pandas as pd
import pytest

from seqlab.classify import SequenceClassifier
from seqlab.classify.data import load_data
from seqlab.classify.run import input_columns, prediction_table
from seqlab.cli import main

FAST = ["--steps", "20", "--hidden", "4", "--fcn", "0", "--embed", "4", "--quiet", "--threads", "1",
        "--device", "cpu", "--test-size", "0"]


@pytest.fixture(scope="module")
def text_model(tmp_path_factory):
    d = tmp_path_factory.mktemp("text_model")
    rows = ["text,label"] + [f"a great {w},pos" for w in "abcdefgh"] + [f"a bad {w},neg" for w in "abcdefgh"]
    (d / "train.csv").write_text("\n".join(rows) + "\n")
    model = d / "m.safetensors"
    assert main(["classify", "train", "--data", str(d / "train.csv"), "--save", str(model), *FAST]) == 0
    return model


def _predict(model, data, out, *extra):
    assert main(["classify", "predict", "--model", str(model), "--data", str(data), "--out", str(out),
                 "--threads", "1", "--device", "cpu", *extra]) == 0
    return pd.read_csv(out, dtype=str, keep_default_na=False)


def _library_proba(model, texts):
    return SequenceClassifier.load(model, device="cpu").predict_proba(texts)


def test_csv_keeps_every_input_column_first_in_input_order(tmp_path, text_model, capsys):
    data = tmp_path / "in.csv"
    data.write_text("id,text,label,source\n00017,a great c,pos,web\n00003,a bad d,neg,mail\n"
                    "00042,\"a great, bad e\",pos,web\n")
    df = _predict(text_model, data, tmp_path / "p.csv")
    assert list(df.columns) == ["id", "text", "label", "source", "prediction", "probability", "p_neg", "p_pos"]
    assert df["id"].tolist() == ["00017", "00003", "00042"]  # ids as written: leading zeros kept
    assert df["text"].tolist() == ["a great c", "a bad d", "a great, bad e"]
    assert df["label"].tolist() == ["pos", "neg", "pos"] and df["source"].tolist() == ["web", "mail", "web"]
    proba = _library_proba(text_model, df["text"].tolist())
    np.testing.assert_allclose(df[["p_neg", "p_pos"]].astype(float).to_numpy(), proba, atol=1e-6)
    np.testing.assert_allclose(df["probability"].astype(float), proba.max(1), atol=1e-6)
    assert df["prediction"].tolist() == [["neg", "pos"][i] for i in proba.argmax(1)]


def test_csv_without_labels_and_another_separator(tmp_path, text_model, capsys):
    data = tmp_path / "in.csv"
    data.write_text("text;id\na bad b;x1\na great a;x2\n")
    df = _predict(text_model, data, tmp_path / "p.csv", "--sep", ";")
    assert list(df.columns) == ["text", "id", "prediction", "probability", "p_neg", "p_pos"]
    assert df["id"].tolist() == ["x1", "x2"]


def test_a_csv_column_named_like_a_prediction_column_is_renamed(tmp_path, text_model, capsys):
    data = tmp_path / "in.csv"
    data.write_text("text,prediction,p_pos,input_p_pos\na great a,old1,0.1,z1\na bad b,old2,0.2,z2\n")
    df = _predict(text_model, data, tmp_path / "p.csv")
    assert list(df.columns) == ["text", "input_prediction", "input_input_p_pos", "input_p_pos", "prediction",
                                "probability", "p_neg", "p_pos"]
    assert df["input_prediction"].tolist() == ["old1", "old2"] and df["input_input_p_pos"].tolist() == ["0.1", "0.2"]
    assert df["input_p_pos"].tolist() == ["z1", "z2"]  # an input column that clashes with nothing keeps its name
    assert df["prediction"].isin(["pos", "neg"]).all()


def test_prediction_table_by_hand():
    ids = pd.DataFrame({"id": ["a", "b"], "probability": ["x", "y"]})
    proba = np.array([[0.25, 0.75], [0.9, 0.1]])
    df = prediction_table(ids, ["up", "down"], proba, ["down", "up"])
    assert list(df.columns) == ["id", "input_probability", "prediction", "probability", "p_down", "p_up"]
    assert df["prediction"].tolist() == ["up", "down"] and df["probability"].tolist() == [0.75, 0.9]
    assert df["p_down"].tolist() == [0.25, 0.9] and df["input_probability"].tolist() == ["x", "y"]
    assert list(prediction_table(None, ["up"], proba[:1], ["down", "up"]).columns) == [
        "prediction", "probability", "p_down", "p_up"]


def _folder(root):
    for cls, texts in {"pos": ["a great a", "a great b"], "neg": ["a bad c"]}.items():
        (root / cls).mkdir(parents=True)
        for i, t in enumerate(texts):
            (root / cls / f"{i:02d}.txt").write_text(t)
    (root / "pos" / ".hidden.txt").write_text("a great hidden")  # skipped, as training skips it
    (root / "pos" / "sub").mkdir()  # not a file: skipped
    (root / ".git").mkdir()
    (root / ".git" / "x").write_text("a bad")
    return root


def test_folder_gives_relative_path_and_class_folder(tmp_path, text_model, capsys):
    data = _folder(tmp_path / "docs")
    df = _predict(text_model, data, tmp_path / "p.csv")
    assert list(df.columns) == ["path", "label", "prediction", "probability", "p_neg", "p_pos"]
    assert df["path"].tolist() == ["neg/00.txt", "pos/00.txt", "pos/01.txt"]
    assert df["label"].tolist() == ["neg", "pos", "pos"]
    texts = [(data / p).read_text() for p in df["path"]]
    X, _, y = load_data(data)
    assert texts == X and df["label"].tolist() == y  # the same walk as the reader the predictions come from
    np.testing.assert_allclose(df[["p_neg", "p_pos"]].astype(float).to_numpy(), _library_proba(text_model, X),
                               atol=1e-6)


def test_input_columns_of_an_npz_without_labels(tmp_path):
    np.savez(tmp_path / "d.npz", X=np.zeros((3, 4, 2)))
    df = input_columns(tmp_path / "d.npz", 3, None)
    assert list(df.columns) == ["row"] and df["row"].tolist() == [0, 1, 2]


def test_text_option_writes_the_texts(tmp_path, text_model, capsys):
    out = tmp_path / "p.csv"
    assert main(["classify", "predict", "--model", str(text_model), "--text", "a great a", "--text", "a bad b",
                 "--out", str(out), "--threads", "1"]) == 0
    df = pd.read_csv(out)
    assert list(df.columns) == ["text", "prediction", "probability", "p_neg", "p_pos"]
    assert df["text"].tolist() == ["a great a", "a bad b"]
