"""The network: padding never changes a result; pooling checked against torch.nn on the unpadded sequence."""

import itertools

import numpy as np
import pytest
import torch

from seqlab.classify import ClassifierConfig, ClassifierNet, SequenceClassifier
from seqlab.errors import SeqlabError

LENGTHS = [7, 3, 1, 5]


def _padded(F=3, seed=0, dtype=torch.float64):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(len(LENGTHS), max(LENGTHS), F, generator=g, dtype=dtype)  # (B, T, F)
    for i, n in enumerate(LENGTHS):
        x[i, n:] = 1e3  # garbage in the padding: must never be read
    return x, torch.tensor(LENGTHS)


@pytest.mark.parametrize("cell, bidirectional, pooling", list(itertools.product(
    ["lstm", "gru", "rnn"], [False, True], ["last", "mean", "max"])))
def test_padding_never_changes_the_logits(cell, bidirectional, pooling):
    net = ClassifierNet(ClassifierConfig(num_classes=3, input_size=3, cell=cell, hidden_size=5, num_layers=2,
                                         bidirectional=bidirectional, pooling=pooling)).double().eval()
    x, lens = _padded()
    batch = net(x, lens)  # (B, C)
    for i, n in enumerate(LENGTHS):
        alone = net(x[i : i + 1, :n], lens[i : i + 1])  # the sequence alone, no padding at all
        torch.testing.assert_close(batch[i], alone[0], rtol=1e-10, atol=1e-10)


@pytest.mark.parametrize("pooling", ["last", "mean", "max"])
@pytest.mark.parametrize("bidirectional", [False, True])
def test_pooling_matches_torch_nn_on_the_unpadded_sequence(pooling, bidirectional):
    """Independent reference: torch.nn.LSTM with the same weights, run on each sequence alone."""
    net = ClassifierNet(ClassifierConfig(num_classes=2, input_size=3, hidden_size=4, bidirectional=bidirectional,
                                         pooling=pooling)).double().eval()
    ref = net.rnn.to_torch().double()
    x, lens = _padded()
    feats = net.features(x, lens)  # (B, D*H)
    for i, n in enumerate(LENGTHS):
        out, (h, _) = ref(x[i : i + 1, :n])  # out (1, n, D*H), h (D, 1, H)
        if pooling == "last":
            want = h[:, 0].reshape(-1)  # forward's final state, then backward's (at step 0)
        elif pooling == "mean":
            want = out[0].mean(0)
        else:
            want = out[0].max(0).values
        torch.testing.assert_close(feats[i], want, rtol=1e-10, atol=1e-10)


@pytest.mark.parametrize("pooling", ["last", "mean", "max"])
@pytest.mark.parametrize("bidirectional", [False, True])
def test_estimator_prediction_alone_equals_inside_padded_batch(pooling, bidirectional):
    rng = np.random.default_rng(0)
    seqs = [rng.normal(size=(n, 2)) for n in (9, 2, 5, 1, 7, 4)]
    y = [0, 1, 2, 0, 1, 2]
    clf = SequenceClassifier(cell="gru", hidden_size=6, bidirectional=bidirectional, pooling=pooling, epochs=2,
                             batch_size=3, verbose=0).fit(seqs, y)
    batch = clf.predict_proba(seqs)
    for i, s in enumerate(seqs):
        np.testing.assert_allclose(clf.predict_proba([s])[0], batch[i], rtol=0, atol=1e-6)
    # the same through a padded array with lengths, padding filled with garbage
    padded = np.full((6, 9, 2), 7.0)
    for i, s in enumerate(seqs):
        padded[i, : len(s)] = s
    np.testing.assert_allclose(clf.predict_proba(padded, lengths=np.array([9, 2, 5, 1, 7, 4])), batch, atol=1e-6)


def test_text_prediction_alone_equals_inside_padded_batch():
    texts = ["a good film", "bad", "a very very bad and long film indeed", "good good"]
    y = ["pos", "neg", "neg", "pos"]
    clf = SequenceClassifier(cell="lstm", hidden_size=5, bidirectional=True, pooling="max", embedding_dim=4,
                             epochs=2, verbose=0).fit(texts, y)
    assert clf.net.embedding.padding_idx == 0
    batch = clf.predict_proba(texts)
    for i, t in enumerate(texts):
        np.testing.assert_allclose(clf.predict_proba([t])[0], batch[i], atol=1e-6)


def test_config_validation():
    with pytest.raises(SeqlabError, match="pooling"):
        ClassifierConfig(num_classes=2, input_size=1, pooling="attn")
    with pytest.raises(SeqlabError, match="cell"):
        ClassifierConfig(num_classes=2, input_size=1, cell="transformer")
    with pytest.raises(SeqlabError, match="input_size"):
        ClassifierConfig(num_classes=2)
    # scikit-learn's contract: __init__ keeps the arguments, fit checks them before any training
    with pytest.raises(SeqlabError, match="pooling"):
        SequenceClassifier(pooling="sum").fit([[0.0, 1.0], [1.0, 0.0]], [0, 1])
    with pytest.raises(SeqlabError, match="chrono"):
        SequenceClassifier(chrono=-3).fit([[0.0, 1.0], [1.0, 0.0]], [0, 1])


@pytest.mark.parametrize("cell", ["lstm", "gru"])
def test_chrono_and_forget_bias_initialisation(cell):
    H, T = 6, 50
    plain = ClassifierNet(ClassifierConfig(num_classes=2, input_size=1, cell=cell, hidden_size=H))
    chrono = ClassifierNet(ClassifierConfig(num_classes=2, input_size=1, cell=cell, hidden_size=H, chrono=T))
    b = chrono.rnn.cells[0].bias_ih.detach()
    if cell == "lstm":
        assert torch.all(plain.rnn.cells[0].bias_ih.detach()[H : 2 * H] == 1.0)  # unit forget bias
        forget = b[H : 2 * H]
        assert torch.all((forget >= 0) & (forget <= np.log(T - 1)))
        torch.testing.assert_close(b[:H], -forget)  # input bias is the negative
    else:
        z = b[H : 2 * H]  # seqlab GRU: small z keeps the state
        assert torch.all((z <= 0) & (z >= -np.log(T - 1)))
    assert float(chrono.rnn.cells[0].bias_hh.detach()[H : 2 * H].abs().sum()) == 0.0
