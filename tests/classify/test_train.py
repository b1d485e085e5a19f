"""Training: a task that needs memory, class weights, save/load, text end to end, bad input."""

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from seqlab.classify import SequenceClassifier, class_weights
from seqlab.errors import ModelFileError, SeqlabError


def first_element_task(n, T, seed):
    """Label = sign of the first element; the other T-1 steps are small noise the model must ignore."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, n)
    X = rng.uniform(-0.2, 0.2, (n, T, 1)).astype(np.float32)
    X[:, 0, 0] = np.where(y == 1, 1.0, -1.0)
    return X, y


def test_learns_a_task_that_needs_memory_over_100_steps():
    # unidirectional, pooling 'last': the answer must be carried through 99 steps of state
    X, y = first_element_task(256, 100, seed=0)
    Xt, yt = first_element_task(200, 100, seed=1)
    clf = SequenceClassifier(cell="lstm", hidden_size=16, pooling="last", chrono=100, epochs=8, lr=1e-2,
                             verbose=0, seed=0).fit(X, y)
    assert clf.evaluate(Xt, yt)["accuracy"] >= 0.95
    # and it is the first step that matters: flipping it flips the prediction
    flipped = Xt.copy()
    flipped[:, 0, 0] *= -1
    assert np.mean(clf.predict(flipped).astype(int) != yt) >= 0.95
    # docs/classify.md: with the default initialisation the same run stays at chance
    plain = SequenceClassifier(cell="lstm", hidden_size=16, pooling="last", chrono=0, epochs=8, lr=1e-2,
                               verbose=0, seed=0).fit(X, y)
    assert plain.evaluate(Xt, yt)["accuracy"] <= 0.65


def test_class_weights_balanced_by_hand_and_in_the_loss():
    w = class_weights(["a", "a", "a", "b"], ["a", "b"], "balanced")
    np.testing.assert_allclose(w, [4 / (2 * 3), 4 / (2 * 1)])
    np.testing.assert_allclose(class_weights([0, 1], [0, 1], {1: 3.0}), [1.0, 3.0])
    with pytest.raises(SeqlabError, match="not one of the classes"):
        class_weights([0, 1], [0, 1], {2: 3.0})
    # the weighted cross-entropy used in fit is sum_i w_{y_i} nll_i / sum_i w_{y_i}
    logits = torch.tensor([[2.0, -1.0], [0.5, 0.3], [-1.0, 1.0], [0.0, 2.0]])
    target = torch.tensor([0, 0, 0, 1])
    nll = -torch.log_softmax(logits, -1)[torch.arange(4), target]
    wt = torch.tensor(w)[target]
    want = float((wt * nll).sum() / wt.sum())
    assert F.cross_entropy(logits, target, weight=torch.tensor(w, dtype=torch.float32)).item() == pytest.approx(want)


def test_balanced_weights_help_the_minority_class():
    rng = np.random.default_rng(0)
    n0, n1 = 180, 20
    y = np.array([0] * n0 + [1] * n1)
    X = rng.normal(size=(n0 + n1, 6, 2)).astype(np.float32)
    X[y == 1, :, 0] += 0.8  # a weak signal for the rare class
    kw = dict(cell="gru", hidden_size=8, pooling="mean", epochs=8, batch_size=50, lr=1e-2, verbose=0, seed=0)
    plain = SequenceClassifier(**kw).fit(X, y)
    weighted = SequenceClassifier(class_weight="balanced", **kw).fit(X, y)
    minority = y == 1
    assert (weighted.predict(X[minority]) == 1).mean() > (plain.predict(X[minority]) == 1).mean()


def test_save_load_round_trip_numeric(tmp_path):
    rng = np.random.default_rng(1)
    seqs = [rng.normal(size=(n, 3)) * 5 + 2 for n in rng.integers(2, 9, 30)]
    y = ["up" if s[:, 0].mean() > 2 else "down" for s in seqs]
    clf = SequenceClassifier(cell="rnn", hidden_size=6, bidirectional=True, pooling="max", epochs=3,
                             verbose=0).fit(seqs, y)
    path = tmp_path / "m.safetensors"
    clf.save(path)
    back = SequenceClassifier.load(path)
    assert back.classes_.tolist() == ["down", "up"]  # an array, as scikit-learn has it
    np.testing.assert_allclose(back.mean_, clf.mean_)
    np.testing.assert_allclose(back.predict_proba(seqs), clf.predict_proba(seqs), atol=1e-6)
    assert list(back.predict(seqs)) == list(clf.predict(seqs))
    assert back.net.config == clf.net.config


def test_text_end_to_end_with_unknown_tokens_and_save_load(tmp_path):
    pos = ["a great film", "great acting", "i loved it", "loved the great story", "what a great time"]
    neg = ["a bad film", "bad acting", "i hated it", "hated the bad story", "what a bad time"]
    texts, y = pos + neg, ["pos"] * 5 + ["neg"] * 5
    clf = SequenceClassifier(cell="gru", hidden_size=8, embedding_dim=8, pooling="max", epochs=40, lr=1e-2,
                             verbose=0).fit(texts, y)
    assert clf.evaluate(texts, y)["accuracy"] == 1.0
    # tokens never seen in training are read as <unk> (documented), not an error
    new = ["zzz great qqq", "zzz bad qqq"]
    proba = clf.predict_proba(new)
    np.testing.assert_allclose(proba.sum(1), 1.0)
    np.testing.assert_array_equal(clf._encode(new)[0], [[1, clf.vocab.stoi["great"], 1], [1, clf.vocab.stoi["bad"], 1]])
    np.testing.assert_allclose(clf.predict_proba(["zzz great"]), clf.predict_proba(["yyy great"]))
    path = tmp_path / "t.safetensors"
    clf.save(path)
    back = SequenceClassifier.load(path)
    assert back.vocab.itos == clf.vocab.itos and back.vocab.config == clf.vocab.config
    np.testing.assert_allclose(back.predict_proba(texts + new), clf.predict_proba(texts + new), atol=1e-6)


def test_char_tokenizer_and_vocab_limits():
    texts = ["aaab", "abbb", "cccd", "cddd"]
    clf = SequenceClassifier(tokenizer="char", max_vocab=2, hidden_size=4, epochs=1, verbose=0).fit(texts, [0, 0, 1, 1])
    assert clf.vocab.itos == ["<pad>", "<unk>", "a", "b"] or clf.vocab.itos == ["<pad>", "<unk>", "b", "a"]
    assert clf.net.embedding.num_embeddings == 4


def test_bad_input_errors(tmp_path):
    rng = np.random.default_rng(0)
    seqs = [rng.normal(size=(4, 2)) for _ in range(6)]
    with pytest.raises(SeqlabError, match="single class"):
        SequenceClassifier(verbose=0).fit(seqs, [1] * 6)
    with pytest.raises(SeqlabError, match="got 5 labels for 6 sequences"):
        SequenceClassifier(verbose=0).fit(seqs, [0, 1, 0, 1, 0])
    with pytest.raises(SeqlabError, match="sequence 2 is empty"):
        SequenceClassifier(verbose=0).fit(seqs[:2] + [np.zeros((0, 2))], [0, 1, 0])
    bad = [s.copy() for s in seqs]
    bad[3][1, 0] = np.nan
    with pytest.raises(SeqlabError, match="sequence 3 has a NaN"):
        SequenceClassifier(verbose=0).fit(bad, [0, 1] * 3)
    with pytest.raises(SeqlabError, match="text 1 has no tokens"):
        SequenceClassifier(verbose=0).fit(["good", "  ", "bad"], [0, 1, 0])
    with pytest.raises(SeqlabError, match="not trained yet"):
        SequenceClassifier().predict(seqs)
    clf = SequenceClassifier(hidden_size=4, epochs=1, verbose=0).fit(seqs, [0, 1] * 3)
    with pytest.raises(SeqlabError, match="expects 2 feature"):
        clf.predict([np.ones((3, 5))])
    with pytest.raises(SeqlabError, match="reads numeric sequences, got texts"):
        clf.predict(["hello"])
    with pytest.raises(SeqlabError, match="NaN"):
        clf.predict([np.array([[np.nan, 1.0]])])
    junk = tmp_path / "junk.safetensors"
    junk.write_bytes(b"this is not a model")
    with pytest.raises(ModelFileError):
        SequenceClassifier.load(junk)
