"""`seqlab classify train|predict --data FILE.ts` on archive-format files the test writes: labels,
missing values, unequal lengths, several channels; the .ts split defaults; bad files."""

import numpy as np

from seqlab.classify import SequenceClassifier
from seqlab.cli import main

FAST = ["--steps", "40", "--hidden", "6", "--fcn", "4", "--quiet", "--threads", "1", "--device", "cpu", "--lr", "1e-2"]


def _write_ts(path, n, seed, missing=True):
    """Two channels, 12-30 steps: class 'up' rises in channel 0, 'down' falls; a few '?'."""
    rng = np.random.default_rng(seed)
    lines = ["# written by the test", "@problemName Toy", "@missing true", "@univariate false", "@dimensions 2",
             "@equalLength false", "@classLabel true up down", "@data"]
    labels = []
    for i in range(n):
        T = int(rng.integers(12, 31))
        lab = "up" if i % 2 else "down"
        slope = 1.0 if lab == "up" else -1.0
        c0 = slope * np.linspace(0, 3, T) + rng.normal(0, 0.3, T)
        c1 = rng.normal(0, 1, T)
        vals = [[f"{v:.5f}" for v in c0], [f"{v:.5f}" for v in c1]]
        if missing and i % 3 == 0:
            vals[0][T // 2] = "?"
            vals[1][0] = "?"
        lines.append(":".join(",".join(c) for c in vals) + f":{lab}")
        labels.append(lab)
    path.write_text("\n".join(lines) + "\n")
    return labels


def test_train_on_a_ts_file_and_predict_its_test_file(tmp_path, capsys):
    _write_ts(tmp_path / "Toy_TRAIN.ts", 36, 0)
    labels = _write_ts(tmp_path / "Toy_TEST.ts", 20, 1)
    model = tmp_path / "m.safetensors"
    assert main(["classify", "train", "--data", str(tmp_path / "Toy_TRAIN.ts"), "--save", str(model), *FAST]) == 0
    out = capsys.readouterr().out
    assert "36 sequences of 12-30 steps x 2 features, 2 classes" in out
    assert "all 36 train, none held out" in out and "training accuracy" in out  # the archive has a test file
    assert "40 steps" in out and "beside an FCN 4-8-4" in out
    preds = tmp_path / "p.csv"
    assert main(["classify", "predict", "--model", str(model), "--data", str(tmp_path / "Toy_TEST.ts"), "--out",
                 str(preds), "--threads", "1"]) == 0
    out = capsys.readouterr().out
    acc = float(out.split("accuracy:")[1].split()[0])
    assert acc >= 0.9
    import pandas as pd

    df = pd.read_csv(preds)
    assert len(df) == 20 and list(df.columns) == ["row", "label", "prediction", "probability", "p_down", "p_up"]
    assert df["row"].tolist() == list(range(20)) and df["label"].tolist() == labels
    assert np.mean(df["prediction"].to_numpy() == np.array(labels)) == acc
    # the command trains on the file in its order: the model the library fits on the same data
    from seqlab.classify.data import load_data
    from seqlab.classify.defaults import estimator_options

    X, lengths, y = load_data(tmp_path / "Toy_TRAIN.ts")
    lib = SequenceClassifier(**estimator_options(max_steps=40, hidden_size=6, fcn=4, lr=1e-2), threads=1,
                             device="cpu", verbose=0).fit(X, y, lengths)
    np.testing.assert_allclose(SequenceClassifier.load(model).predict_proba(X), lib.predict_proba(X), atol=1e-6)


def test_ts_with_a_held_out_split_and_bad_files(tmp_path, capsys):
    _write_ts(tmp_path / "a.ts", 20, 2, missing=False)
    assert main(["classify", "train", "--data", str(tmp_path / "a.ts"), "--save", str(tmp_path / "m.safetensors"),
                 "--test-size", "0.2", *FAST]) == 0
    assert "16 train / 4 held out" in capsys.readouterr().out
    bad = tmp_path / "bad.ts"
    bad.write_text("@classLabel true a b\n@data\n1,2,3:c\n")
    assert main(["classify", "train", "--data", str(bad), "--save", str(tmp_path / "b.safetensors"), *FAST]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "line 3: class label 'c' is not one declared" in err
    reg = tmp_path / "reg.ts"
    reg.write_text("@targetLabel true\n@data\n1,2,3:0.5\n4,5,6:1.5\n")
    assert main(["classify", "train", "--data", str(reg), "--save", str(tmp_path / "r.safetensors"), *FAST]) == 2
    assert "regression problem" in capsys.readouterr().err


def test_the_same_command_line_on_36_and_on_100000_sequences(tmp_path, capsys):
    # the budget is in optimizer steps: the same options train 36 sequences for many epochs and
    # 100,000 for a fraction of one, and both finish
    rng = np.random.default_rng(3)
    for n, epochs in ((36, "30 epochs"), (100_000, "1 epochs")):  # 30 train: 2 batches of 16 per epoch
        y = np.arange(n) % 3
        X = rng.normal(size=(n, 4, 1)).astype(np.float32) + 3 * y[:, None, None]
        np.savez(tmp_path / "d.npz", X=X, y=y)
        assert main(["classify", "train", "--data", str(tmp_path / "d.npz"), "--save", str(tmp_path / "m.safetensors"),
                     "--steps", "60", "--quiet", "--threads", "1", "--device", "cpu"]) == 0
        out = capsys.readouterr().out
        assert f"60 steps ({epochs})" in out, out
        assert float(out.split("held-out accuracy:")[1].split()[0]) >= 0.8
