"""The same seed gives the same bits (issue #18): ``fit(seed=...)`` makes the whole run
reproducible on CPU, initial weights included, for every layer and option (input, recurrent and
Dropout masks), whether the model is built before fit (layers given input_shape) or inside it,
in one process and across fresh processes; ``set_random_seed`` makes building reproducible."""

import hashlib
import json
import os
import runpy
import subprocess
import sys
import textwrap

import numpy as np
import pytest
import torch

SCRIPT = textwrap.dedent('''
    """Train every model spec with fit(seed=7); print the digests of the final weights as JSON."""
    import hashlib, json, sys

    import numpy as np
    import torch

    from seqlab import Sequential
    from seqlab.layers import (GRU, LSTM, Bidirectional, Dense, Dropout, Embedding, MinGRU, MinLSTM,
                               SimpleRNN)

    T, F = 6, 3
    SPECS = {
        "lstm-dropout-recurrent": lambda s: [LSTM(8, dropout=0.3, recurrent_dropout=0.3, **s), Dense(1)],
        "gru-dropout-recurrent": lambda s: [GRU(8, dropout=0.2, recurrent_dropout=0.4, **s), Dense(1)],
        "simplernn-dropout-recurrent": lambda s: [SimpleRNN(8, dropout=0.2, recurrent_dropout=0.2, **s), Dense(1)],
        "lstm-peephole-recurrent": lambda s: [LSTM(6, peephole=True, recurrent_dropout=0.3, **s), Dense(1)],
        "mingru-dropout": lambda s: [MinGRU(8, dropout=0.3, **s), Dense(1)],
        "minlstm-dropout": lambda s: [MinLSTM(8, dropout=0.3, **s), Dense(1)],
        "stack-bidirectional-dropout": lambda s: [
            Bidirectional(LSTM(4, return_sequences=True, recurrent_dropout=0.25), **s), Dropout(0.3),
            GRU(4, dropout=0.1), Dense(2, activation="softmax")],
        "embedding-mask": lambda s: [Embedding(12, 5, mask_zero=True, **({"input_shape": (T,)} if s else {})),
                                     LSTM(6, dropout=0.2, recurrent_dropout=0.2), Dense(1)],
    }

    def data(name):
        rng = np.random.default_rng(3)
        if name == "embedding-mask":
            x = rng.integers(1, 12, (40, T))
            x[::3, 4:] = 0  # padding
        else:
            x = rng.standard_normal((40, T, F)).astype("float32")
        y = rng.standard_normal((40, 2 if name.startswith("stack") else 1)).astype("float32")
        if name.startswith("stack"):
            y = np.eye(2, dtype="float32")[rng.integers(0, 2, 40)]
        return x, y

    def digest(model):
        h = hashlib.sha256()
        for p in model.parameters():
            h.update(p.detach().contiguous().numpy().tobytes())
        return h.hexdigest()[:16]

    def train(name, built, seed=7):
        shape = {"input_shape": (T, F)} if built else {}  # the embedding spec gives its own (T,)
        model = Sequential(SPECS[name](shape))
        model.compile(loss="categorical_crossentropy" if name.startswith("stack") else "mse", optimizer="adam")
        x, y = data(name)
        model.fit(x, y, epochs=2, batch_size=8, verbose=0, seed=seed, threads=1)
        return digest(model)

    def main(built=True):
        return {name: train(name, built) for name in SPECS}

    if __name__ == "__main__":
        print(json.dumps(main(built=sys.argv[1] == "built")))
''')


@pytest.fixture(scope="module")
def script(tmp_path_factory):
    path = tmp_path_factory.mktemp("determinism") / "train_all.py"
    path.write_text(SCRIPT)
    return path


@pytest.fixture(scope="module")
def specs(script):
    return runpy.run_path(str(script))


def test_built_before_fit_or_inside_it_the_same_seed_gives_the_same_bits(specs):
    built, lazy = specs["main"](built=True), specs["main"](built=False)
    assert len(built) == 8
    assert built == lazy  # the initial weights come from the seed as well
    assert built == specs["main"](built=True)  # and again in this process


def test_another_seed_gives_other_weights(specs):
    assert specs["train"]("lstm-dropout-recurrent", True, seed=7) != specs["train"]("lstm-dropout-recurrent", True,
                                                                                     seed=8)


def test_two_fresh_processes_give_the_bits_of_this_one(script, specs):
    env = dict(os.environ, OMP_NUM_THREADS="1", PYTHONHASHSEED="random")
    procs = [subprocess.Popen([sys.executable, str(script), "built"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              text=True, env=env) for _ in range(2)]  # side by side: half the wait
    outs = [p.communicate(timeout=300) for p in procs]
    for p, (_, err) in zip(procs, outs):
        assert p.returncode == 0, err
    first, second = (json.loads(out) for out, _ in outs)
    assert first == second == specs["main"](built=True)


def test_set_random_seed_makes_building_reproducible():
    from seqlab import Sequential
    from seqlab.keras.utils import set_random_seed as keras_seed
    from seqlab.layers import LSTM, Dense
    from seqlab.utils import set_random_seed

    def build():
        m = Sequential([LSTM(5, input_shape=(4, 2)), Dense(1)])
        return hashlib.sha256(b"".join(p.detach().numpy().tobytes() for p in m.parameters())).hexdigest()

    set_random_seed(3)
    a = build()
    keras_seed(3)
    assert build() == a
    set_random_seed(4)
    assert build() != a


def test_weights_set_or_loaded_before_fit_are_kept_by_fit_seed(tmp_path):
    """Only weights never trained, loaded or set are drawn again from fit's seed: a training that
    starts from weights set by hand (or loaded, or set on an Embedding before it joined the model)
    starts from exactly those."""
    from seqlab import Sequential, load_model
    from seqlab.layers import GRU, Dense, Embedding
    from seqlab.train import Callback

    class First(Callback):
        def on_train_begin(self, logs=None):
            self.weights = [p.detach().clone() for p in self.model.parameters()]

    rng = np.random.default_rng(0)
    x, y = rng.standard_normal((16, 4, 2)).astype("float32"), rng.standard_normal((16, 1)).astype("float32")
    m = Sequential([GRU(3, input_shape=(4, 2)), Dense(1)])
    with torch.no_grad():
        for p in m.parameters():
            p.fill_(0.1)
    m.compile(loss="mse", optimizer="sgd")
    first = First()
    m.fit(x, y, epochs=1, verbose=0, seed=1, threads=1, callbacks=[first])
    assert all(bool((w == 0.1).all()) for w in first.weights)
    m.save(tmp_path / "m.safetensors")
    loaded, first = load_model(tmp_path / "m.safetensors"), First()
    loaded.fit(x, y, epochs=1, verbose=0, seed=2, threads=1, callbacks=[first])
    assert all(torch.equal(w, p) for w, p in zip(first.weights, load_model(tmp_path / "m.safetensors").parameters()))
    emb = Embedding(10, 3)
    with torch.no_grad():
        emb.embedding.weight.copy_(torch.arange(30.0).reshape(10, 3))  # "pretrained" vectors
    m, first = Sequential([emb, GRU(2), Dense(1)]), First()
    m.compile(loss="mse", optimizer="adam")
    m.fit(rng.integers(0, 10, (16, 4)), y, epochs=1, verbose=0, seed=3, threads=1, callbacks=[first])
    assert torch.equal(first.weights[0], torch.arange(30.0).reshape(10, 3))


@pytest.mark.parametrize("bad", [-1, 2**64, 1.5, True])
def test_set_random_seed_refuses_what_is_not_a_seed(bad):
    from seqlab.errors import SeqlabError
    from seqlab.utils import set_random_seed

    with pytest.raises(SeqlabError, match="seed: expected an integer in \\[0, 2\\*\\*64\\)"):
        set_random_seed(bad)
