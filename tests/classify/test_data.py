"""Data forms, tokenizers, vocabulary, padding, splits and their error messages."""

import numpy as np
import pytest

from seqlab.classify import Vocabulary, as_padded, stratified_split, text_config, tokenize
from seqlab.classify.data import check_labels, load_csv, load_data, load_folder
from seqlab.errors import SeqlabError


def test_tokenizers():
    cfg = text_config()  # word, lower case, spaces dropped
    assert cfg.tokenize("The cat, the HAT!") == ["the", "cat", ",", "the", "hat", "!"]
    assert text_config("char").tokenize("Ab c") == ["a", "b", " ", "c"]
    assert tokenize("Ab", "char", lowercase=False) == ["A", "b"]
    with pytest.raises(SeqlabError, match="tokenizer"):
        text_config(tokenizer="bpe")
    with pytest.raises(SeqlabError, match="max_vocab"):
        text_config(max_vocab=0)


def test_vocabulary_min_freq_max_size_and_unk():
    texts = ["a b c a", "b a d", "a e"]  # counts: a 4, b 2, c 1, d 1, e 1
    v = Vocabulary.build(texts, text_config())
    assert v.itos == ["<pad>", "<unk>", "a", "b", "c", "d", "e"]  # ties in order of first appearance
    v2 = Vocabulary.build(texts, text_config(min_freq=2))
    assert v2.itos == ["<pad>", "<unk>", "a", "b"]
    v3 = Vocabulary.build(texts, text_config(max_vocab=3))
    assert v3.itos == ["<pad>", "<unk>", "a", "b", "c"]
    # unknown and rare tokens map to <unk> = 1; padding is 0 and never a real token
    assert v2.encode("a c zebra b") == [2, 1, 1, 3]
    assert v2.to_tokens([2, 1, 3]) == ["a", "<unk>", "b"]
    again = Vocabulary.from_config(v2.to_config())
    assert again.itos == v2.itos and again.config == v2.config


def test_as_padded_accepts_every_form():
    rng = np.random.default_rng(0)
    seqs = [rng.normal(size=(t, 3)).astype(np.float32) for t in (4, 2, 5)]
    x, lens = as_padded(seqs)
    assert x.shape == (3, 5, 3) and lens.tolist() == [4, 2, 5]
    np.testing.assert_array_equal(x[1, :2], seqs[1])
    assert not x[1, 2:].any()  # padded with zeros
    # a padded array with lengths: values past each length are ignored (zeroed), whatever they were
    garbage = x.copy()
    garbage[1, 2:] = 99.0
    x2, lens2 = as_padded(garbage, lengths=np.array([4, 2, 5]))
    np.testing.assert_array_equal(x2, x)
    np.testing.assert_array_equal(lens2, lens)
    # 3-D array of equal lengths, 2-D array (one feature), list of 1-D arrays
    x3, l3 = as_padded(np.ones((2, 6, 3)))
    assert x3.shape == (2, 6, 3) and l3.tolist() == [6, 6]
    x4, _ = as_padded(np.arange(6.0).reshape(2, 3))
    np.testing.assert_array_equal(x4[:, :, 0], [[0, 1, 2], [3, 4, 5]])
    x5, l5 = as_padded([[1.0, 2.0], [3.0]])
    assert x5.shape == (2, 2, 1) and l5.tolist() == [2, 1]


@pytest.mark.parametrize("X, kwargs, match", [
    ([], {}, "no sequences"),
    ([np.ones((3, 2)), np.ones((0, 2))], {}, "sequence 1 is empty"),
    (np.ones((2, 4, 1)), {"lengths": np.array([4, 0])}, "sequence 1 is empty"),
    ([np.ones((3, 2)), np.array([[1.0, np.nan]])], {}, "sequence 1 has a NaN .* step 0, feature 1"),
    ([np.ones((3, 2)), np.ones((3, 4))], {}, "same number of features"),
    (np.ones((2, 4, 1)), {"lengths": np.array([4, 5])}, "at most the padded length 4"),
    (np.ones((2, 4, 1)), {"lengths": np.array([4.0, 2.0])}, "lengths: expected 2 integers"),
    ("some text", {}, "single string"),
    (np.ones(5), {}, "expected a list of arrays"),
])
def test_as_padded_bad_input(X, kwargs, match):
    with pytest.raises(SeqlabError, match=match):
        as_padded(X, **kwargs)


def test_nan_in_padding_is_ignored():
    x = np.ones((2, 3, 1))
    x[1, 2, 0] = np.nan  # past the length of sequence 1
    out, _ = as_padded(x, lengths=np.array([3, 2]))
    assert np.isfinite(out).all()


def test_check_labels():
    assert check_labels(np.array([1, 0, 1]), 3) == [1, 0, 1]
    assert all(type(v) is int for v in check_labels(np.array([1, 0]), 2))
    with pytest.raises(SeqlabError, match="got 2 labels for 3 sequences"):
        check_labels([0, 1], 3)
    with pytest.raises(SeqlabError, match="single class"):
        check_labels(["a", "a", "a"], 3)
    assert check_labels(["a", "a"], 2, fitting=False) == ["a", "a"]


def test_stratified_split_keeps_class_shares():
    y = [0] * 50 + [1] * 30 + [2] * 20
    tr, te = stratified_split(y, 0.2, seed=3)
    assert sorted(np.concatenate([tr, te]).tolist()) == list(range(100))  # a partition
    counts = np.bincount(np.asarray(y)[te])
    assert counts.tolist() == [10, 6, 4]
    tr2, te2 = stratified_split(y, 0.2, seed=3)
    np.testing.assert_array_equal(te, te2)  # reproducible


def test_text_files(tmp_path):
    csv = tmp_path / "d.csv"
    csv.write_text('text,label\n"good, very good",pos\nbad,neg\n')
    assert load_csv(csv) == (["good, very good", "bad"], ["pos", "neg"])
    padded = tmp_path / "padded.csv"  # labels typed with a space after the comma: the same classes
    padded.write_text('text,label\ngood,pos\nbad, neg\nfine,pos \nugly,"  "\n')
    with pytest.raises(SeqlabError, match="row 4 .* has no label"):
        load_csv(padded)
    padded.write_text('text,label\ngood,pos\nbad, neg\nfine,pos \n')
    assert load_csv(padded) == (["good", "bad", "fine"], ["pos", "neg", "pos"])
    with pytest.raises(SeqlabError, match="'body' is not a column"):
        load_csv(csv, text_column="body")
    for cls, texts in {"neg": ["awful", "bad"], "pos": ["great"]}.items():
        (tmp_path / "f" / cls).mkdir(parents=True)
        for i, t in enumerate(texts):
            (tmp_path / "f" / cls / f"{i}.txt").write_text(t)
    assert load_folder(tmp_path / "f") == (["awful", "bad", "great"], ["neg", "neg", "pos"])
    X, lengths, y = load_data(tmp_path / "f")
    assert y == ["neg", "neg", "pos"] and lengths is None
    np.savez(tmp_path / "n.npz", X=np.ones((2, 3, 1)), y=np.array([0, 1]), lengths=np.array([3, 1]))
    X, lengths, y = load_data(tmp_path / "n.npz")
    assert X.shape == (2, 3, 1) and lengths.tolist() == [3, 1] and y.tolist() == [0, 1]
    with pytest.raises(SeqlabError, match="does not exist"):
        load_data(tmp_path / "missing.csv")
