"""Stream batching for TBPTT (against NumPy) and reading text files."""

import numpy as np
import pytest
import torch

from seqlab.errors import SeqlabError
from seqlab.text.data import batchify, default_corpus, iter_chunks, num_chunks, read_text, split_train_val


def test_batchify_and_chunks_match_numpy():
    N, B, L = 103, 4, 6
    ids = torch.randperm(N)
    streams = batchify(ids, B)
    n = N // B
    ref = ids.numpy()[: n * B].reshape(B, n)  # stream b = ids[b*n:(b+1)*n]
    np.testing.assert_array_equal(streams.numpy(), ref)
    chunks = list(iter_chunks(streams, L))
    assert len(chunks) == num_chunks(streams, L) == int(np.ceil((n - 1) / L))
    xs = np.concatenate([x.numpy() for x, _ in chunks], 1)
    ys = np.concatenate([y.numpy() for _, y in chunks], 1)
    np.testing.assert_array_equal(xs, ref[:, :-1])  # every position but the last is an input once
    np.testing.assert_array_equal(ys, ref[:, 1:])  # targets are the next symbol of the same stream
    assert all(x.shape[1] == L for x, _ in chunks[:-1])


def test_split_train_val_takes_the_end():
    ids = torch.arange(100)
    tr, va = split_train_val(ids, 0.1)
    assert torch.equal(tr, torch.arange(90)) and torch.equal(va, torch.arange(90, 100))


def test_batchify_too_short():
    with pytest.raises(SeqlabError, match="too few"):
        batchify(torch.arange(5), 4)


def test_default_corpus():
    text = default_corpus()
    assert 300_000 < len(text) < 1_000_000 and "for" in text


def test_read_text_errors(tmp_path):
    good = tmp_path / "good.txt"
    good.write_text("héllo 🙂\n", encoding="utf-8")
    assert read_text(good) == "héllo 🙂\n"
    empty = tmp_path / "empty.txt"
    empty.write_bytes(b"")
    with pytest.raises(SeqlabError, match="is empty"):
        read_text(empty)
    binary = tmp_path / "blob.bin"
    binary.write_bytes(bytes(range(256)))
    with pytest.raises(SeqlabError, match="binary"):
        read_text(binary)
    latin = tmp_path / "latin1.txt"
    latin.write_bytes("café".encode("latin-1"))
    with pytest.raises(SeqlabError, match="not UTF-8"):
        read_text(latin)
    with pytest.raises(SeqlabError, match="does not exist"):
        read_text(tmp_path / "missing.txt")
