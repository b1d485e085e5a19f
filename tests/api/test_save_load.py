"""save / load_model: identical predictions, resumed training, clear errors for bad files."""

import json
import os

import numpy as np
import pytest
import torch

from seqlab import ModelFileError, SeqlabError, Sequential, load_model
from seqlab.io import save_file
from seqlab.layers import GRU, LSTM, Bidirectional, Dense, Dropout, Embedding


def _data(n=32, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, 5, 3)).astype(np.float32)
    return x, (x[:, :, 0].sum(1, keepdims=True) > 0).astype(np.float32)


def test_save_and_load_predict_identically(tmp_path):
    torch.manual_seed(0)
    ids = torch.randint(1, 20, (6, 7))
    ids[0, 4:] = 0  # padding at the end
    model = Sequential([Embedding(20, 4, mask_zero=True), Bidirectional(GRU(5, reset="before", return_sequences=True)),
                        LSTM(3, peephole=True), Dropout(0.1), Dense(2, activation="softmax")])
    model(ids)  # lazy build
    path = tmp_path / "m.safetensors"
    model.save(path)
    loaded = load_model(path)
    model.eval()
    assert torch.equal(loaded.predict(ids), model.predict(ids))
    assert loaded.get_config() == model.get_config()
    # the file is safetensors with JSON metadata; no pickle anywhere
    raw = path.read_bytes()
    header = json.loads(raw[8:8 + int.from_bytes(raw[:8], "little")])
    meta = json.loads(header["__metadata__"]["seqlab"])
    assert meta["kind"] == "sequential" and meta["config"]["model"]["layers"][1]["class_name"] == "Bidirectional"


def test_resume_from_checkpoint_with_optimizer_state(tmp_path):
    x, y = _data()

    def fresh():
        torch.manual_seed(1)
        m = Sequential([LSTM(4, input_shape=(5, 3)), Dense(1, activation="sigmoid")])
        m.compile(loss="binary_crossentropy", optimizer="adam", lr=0.02, metrics=["accuracy"])
        return m

    straight = fresh()
    straight.fit(x, y, epochs=4, batch_size=8, shuffle=False, verbose=0)
    first = fresh()
    first.fit(x, y, epochs=2, batch_size=8, shuffle=False, verbose=0)
    first.save(tmp_path / "ck.safetensors")
    resumed = load_model(tmp_path / "ck.safetensors")
    assert resumed.epochs_trained == 2
    h = resumed.fit(x, y, epochs=4, initial_epoch=2, batch_size=8, shuffle=False, verbose=0)
    assert h.epoch == [2, 3] and "accuracy" in h.history
    for p, q in zip(straight.parameters(), resumed.parameters()):
        assert torch.equal(p, q)
    # without the optimizer state, Adam restarts and the weights differ
    first.save(tmp_path / "w.safetensors", include_optimizer=False)
    restart = load_model(tmp_path / "w.safetensors")
    restart.fit(x, y, epochs=4, initial_epoch=2, batch_size=8, shuffle=False, verbose=0)
    assert not all(torch.equal(p, q) for p, q in zip(straight.parameters(), restart.parameters()))


def test_continued_fit_with_a_seed_equals_one_fit(tmp_path):
    """Saved after 2 epochs, loaded and fit on to 4 with the same seed: the weights of 4 epochs in
    one go, with shuffling and dropout masks (input, recurrent, Dropout) drawn from the seed."""
    x, y = _data()

    def fresh():
        m = Sequential([LSTM(4, input_shape=(5, 3), dropout=0.2, recurrent_dropout=0.2), Dropout(0.3),
                        Dense(1, activation="sigmoid")])
        m.compile(loss="binary_crossentropy", optimizer="adam", lr=0.02)
        return m

    straight = fresh()
    straight.fit(x, y, epochs=4, batch_size=8, verbose=0, seed=5)
    first = fresh()
    first.fit(x, y, epochs=2, batch_size=8, verbose=0, seed=5)
    first.save(tmp_path / "ck.safetensors")
    resumed = load_model(tmp_path / "ck.safetensors")
    resumed.fit(x, y, epochs=4, initial_epoch=resumed.epochs_trained, batch_size=8, verbose=0, seed=5)
    for p, q in zip(straight.parameters(), resumed.parameters()):
        assert torch.equal(p, q)
    other = load_model(tmp_path / "ck.safetensors")  # another seed: other orders and masks
    other.fit(x, y, epochs=4, initial_epoch=2, batch_size=8, verbose=0, seed=6)
    assert not all(torch.equal(p, q) for p, q in zip(straight.parameters(), other.parameters()))


def _saved(tmp_path):
    torch.manual_seed(0)
    m = Sequential([GRU(3, input_shape=(4, 2)), Dense(1)])
    path = tmp_path / "good.safetensors"
    m.save(path)
    return m, path


def test_truncated_file(tmp_path):
    _, path = _saved(tmp_path)
    bad = tmp_path / "trunc.safetensors"
    bad.write_bytes(path.read_bytes()[:-40])
    with pytest.raises(ModelFileError, match="trunc.safetensors' is not a readable seqlab model"):
        load_model(bad)


def test_corrupted_file(tmp_path):
    _, path = _saved(tmp_path)
    data = bytearray(path.read_bytes())
    data[10:30] = b"\xff" * 20  # garbage inside the JSON header
    bad = tmp_path / "corrupt.safetensors"
    bad.write_bytes(bytes(data))
    with pytest.raises(ModelFileError, match="corrupt.safetensors"):
        load_model(bad)


def test_foreign_files(tmp_path):
    txt = tmp_path / "notes.txt"
    txt.write_text("hello, I am not a model\n" * 10)
    with pytest.raises(ModelFileError, match="not a readable seqlab model"):
        load_model(txt)
    from safetensors.torch import save_file as st_save

    plain = tmp_path / "plain.safetensors"
    st_save({"w": torch.randn(2, 2)}, str(plain))
    with pytest.raises(ModelFileError, match="not saved by seqlab"):
        load_model(plain)
    other = tmp_path / "other.safetensors"
    save_file(other, "forecaster", {"a": 1}, {"w": torch.randn(2)})
    with pytest.raises(ModelFileError, match="holds a 'forecaster' model, expected a 'sequential' model"):
        load_model(other)
    weird = tmp_path / "weird.safetensors"
    save_file(weird, "sequential", {"model": {"layers": [{"class_name": "os.system", "config": {}}]}}, {})
    with pytest.raises(ModelFileError, match="unknown layer 'os.system'"):
        load_model(weird)
    with pytest.raises(ModelFileError, match="does not exist"):
        load_model(tmp_path / "missing.safetensors")


def test_weights_not_matching_architecture(tmp_path):
    m, path = _saved(tmp_path)
    cfg = {"model": m.get_config(), "compile": None, "epochs_trained": 0}
    save_file(tmp_path / "mismatch.safetensors", "sequential", cfg, {"model/bogus": torch.randn(3)})
    with pytest.raises(ModelFileError, match="weights do not match"):
        load_model(tmp_path / "mismatch.safetensors")


def test_failed_save_keeps_the_previous_file(tmp_path, monkeypatch):
    m, path = _saved(tmp_path)
    before = path.read_bytes()
    with torch.no_grad():
        for p in m.parameters():
            p.add_(1.0)

    def boom(fd):
        raise OSError("disk full")

    monkeypatch.setattr(os, "fsync", boom)
    with pytest.raises(OSError, match="disk full"):
        m.save(path)
    assert path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["good.safetensors"]  # no temp file left


def test_unbuilt_or_unsaveable_models_raise(tmp_path):
    with pytest.raises(SeqlabError, match="not built"):
        Sequential([GRU(3), Dense(1)]).save(tmp_path / "x.safetensors")
    m = Sequential([torch.nn.Linear(2, 2)])
    m.build((None, 2))
    with pytest.raises(SeqlabError, match="only seqlab.layers layers can be saved"):
        m.save(tmp_path / "x.safetensors")


def test_atomic_writes_give_files_the_usual_permissions(tmp_path):
    from seqlab.files import atomic_write_text

    old = os.umask(0o022)
    try:
        atomic_write_text(tmp_path / "a.txt", "hello")
    finally:
        os.umask(old)
    assert (tmp_path / "a.txt").read_text() == "hello"
    assert (os.stat(tmp_path / "a.txt").st_mode & 0o777) == 0o644


def test_numpy_numbers_in_a_config_are_saved_as_json_numbers(tmp_path):
    """The argument checks take NumPy's real scalars (lr=np.float32(0.01)); a model built with them
    saves (the JSON header was refused after training) and loads with the same values."""
    import numpy as np

    from seqlab.forecast import Forecaster

    torch.manual_seed(0)
    y = np.sin(np.arange(60) / 3.0) + 2.0
    f = Forecaster(horizon=4, lookback=8, epochs=1, ensemble=1, lr=np.float32(0.01), dropout=np.float32(0.25))
    f.fit(y)
    f.save(tmp_path / "f.safetensors")
    g = Forecaster.load(tmp_path / "f.safetensors")
    assert g.config.dropout == 0.25 and type(g.config.dropout) is float
    a, b = g.predict(), f.predict()
    values = [c for c in a.columns if c != "time"]  # the forecasts (step labels aside)
    np.testing.assert_allclose(a[values].select_dtypes("number").to_numpy(), b[values].select_dtypes("number").to_numpy())


def test_a_loaded_forecaster_numbers_its_steps_on_from_the_whole_history(tmp_path):
    """A series without times is numbered 0 .. n-1: a saved forecaster keeps only the history's
    tail, and its forecast still starts at step n (it restarted at the tail's length)."""
    import numpy as np

    from seqlab.forecast import Forecaster

    torch.manual_seed(0)
    f = Forecaster(horizon=4, lookback=8, epochs=1, ensemble=1)
    f.fit(np.sin(np.arange(60) / 3.0) + 2.0)
    f.save(tmp_path / "f.safetensors")
    g = Forecaster.load(tmp_path / "f.safetensors")
    assert list(f.predict()["time"]) == list(g.predict()["time"]) == [60, 61, 62, 63]
