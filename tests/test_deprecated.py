"""Python names removed by the command-line clean-up kept for old scripts: each still works and
warns with a DeprecationWarning naming its replacement."""

import numpy as np
import pytest

from seqlab.errors import SeqlabError


def test_text_train_peephole_true_is_cell_lstm_peephole(tmp_path):
    from seqlab.text.run import train

    text = tmp_path / "t.txt"
    text.write_text("the cat sat on the mat.\n" * 12, encoding="utf-8")
    fast = {"text": text, "hidden": 4, "layers": 1, "epochs": 1, "minutes": 0, "batch_size": 2, "seq_len": 10,
            "sample_length": 0, "threads": 1, "device": "cpu", "save": None, "quiet": True}
    with pytest.deprecated_call(match='cell="lstm-peephole"'):
        old, _, _ = train(peephole=True, **fast)
    new, _, _ = train(cell="lstm-peephole", **fast)
    assert old.config == new.config
    with pytest.deprecated_call(), pytest.raises(SeqlabError, match="peephole: only applies to cell 'lstm'"):
        train(peephole=True, cell="gru", **fast)


def test_classify_padding_mask_and_pad_ids():
    from seqlab import classify
    from seqlab.classify import vocab as classify_vocab
    from seqlab.vocab import pad_ids

    assert "padding_mask" in classify.__all__
    with pytest.deprecated_call(match="seqlab.classify.padding_mask"):
        mask = classify.padding_mask(np.array([2, 0, 3]), 3)
    np.testing.assert_array_equal(mask, [[True, True, False], [False, False, False], [True, True, True]])
    seqs = [[5, 6], [], [7, 8, 9]]
    with pytest.deprecated_call(match="use seqlab.vocab.pad_ids"):
        got = classify_vocab.pad_ids(seqs)
    for a, b in zip(got, pad_ids(seqs)):
        np.testing.assert_array_equal(a, b)
    assert classify.pad_ids is pad_ids  # the package's own export is the shared function, no warning


def test_resources_gates_is_derived_from_the_registry():
    from seqlab import resources
    from seqlab.nn.registry import GATE_NAMES, gate_count

    with pytest.deprecated_call(match="seqlab.nn.registry.gate_count"):
        from seqlab.resources import GATES
    assert GATES == {family: gate_count(family) for family in GATE_NAMES}
    assert GATES["lstm"] == 4 and GATES["gru"] == 3 and GATES["rnn"] == 1
    with pytest.raises(AttributeError, match="has no attribute 'NOPE'"):
        resources.NOPE  # noqa: B018
