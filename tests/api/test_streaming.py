"""Sequential.step: chunks of a sequence with the state carried equal one pass over the whole
sequence, for every registry cell; the NumPy twin's step agrees; layers reading from the end refuse."""

import os
import sys

import numpy as np
import pytest
import torch

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "export"))
import model_files as mf  # noqa: E402

from seqlab import Sequential  # noqa: E402
from seqlab import layers as L  # noqa: E402
from seqlab.errors import SeqlabError  # noqa: E402
from seqlab.nn.registry import cell_names  # noqa: E402
from seqlab.reference import load  # noqa: E402


@pytest.mark.parametrize("cell", cell_names())
def test_chunks_equal_one_pass(tmp_path, cell):
    model = mf.make_sequential(tmp_path / "m.safetensors", [
        mf.recurrent_layer(cell, 6, input_shape=(None, 3), return_sequences=True), L.Dropout(0.5),
        mf.recurrent_layer(cell, 4, return_sequences=True), L.Dense(2)])
    x = torch.randn(2, 10, 3)
    with torch.no_grad():
        whole = model(x)
        outs, state = [], None
        for a, b in ((0, 1), (1, 5), (5, 10)):  # one step, then chunks
            y, state = model.step(x[:, a:b], state)
            outs.append(y)
    torch.testing.assert_close(torch.cat(outs, 1), whole, rtol=1e-5, atol=1e-6)
    assert len(state) == 2
    # the NumPy twin streams the same way from the same state layout
    ref = load(tmp_path / "m.safetensors")
    ref_state, ref_outs = None, []
    for a, b in ((0, 4), (4, 10)):
        y, ref_state = ref.step(x[:, a:b].numpy(), ref_state)
        ref_outs.append(y)
    np.testing.assert_allclose(np.concatenate(ref_outs, 1), whole.numpy(), rtol=1e-5, atol=1e-5)


def test_last_output_and_masks():
    model = Sequential([L.Embedding(9, 4, mask_zero=True, input_shape=(None,)), L.LSTM(5, peephole=True),
                        L.Dense(3, activation="softmax")]).eval()
    ids = torch.randint(1, 9, (3, 8))
    with torch.no_grad():
        whole = model(ids)
        y1, st = model.step(ids[:, :3])
        y2, st = model.step(ids[:, 3:], st)
        fresh, _ = model.step(ids[:, 3:])
    torch.testing.assert_close(y2, whole, rtol=1e-5, atol=1e-6)
    assert (fresh - whole).abs().max() > 1e-4  # the carried state matters
    assert isinstance(st[0], tuple) and st[0][0].shape == (1, 3, 5)


def test_refuses_what_cannot_stream():
    bi = Sequential([L.Bidirectional(L.GRU(3), input_shape=(None, 2))]).eval()
    with pytest.raises(SeqlabError, match="layer 0 .Bidirectional.*reads each sequence from its end"):
        bi.step(torch.zeros(1, 2, 2))
    back = Sequential([L.GRU(3, go_backwards=True, input_shape=(None, 2))]).eval()
    with pytest.raises(SeqlabError, match="go_backwards"):
        back.step(torch.zeros(1, 2, 2))
    ok = Sequential([L.GRU(3, input_shape=(None, 2))]).eval()
    with pytest.raises(SeqlabError, match="expected the list returned by the previous step .1 recurrent"):
        ok.step(torch.zeros(1, 2, 2), [None, None])
