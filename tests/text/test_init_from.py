"""``seqlab generate train --init-from MODEL``: training starts from the saved model's weights
(with a learning rate too small to move them, the result is the saved model; a new run is not),
keeps its vocabulary and architecture, takes other options as given, and refuses a model of
another job, a checkpoint, an architecture option that disagrees, and text outside the
vocabulary: one line, exit 2, no file written."""

from pathlib import Path

import pytest
import torch

from seqlab.cli import main
from seqlab.io import save_file
from seqlab.text.model import LMConfig, RecurrentLM, load_lm, save_lm
from seqlab.text.run import check_text_in_vocab, train
from seqlab.vocab import Vocabulary

TEXT = "the cat sat on the mat. the dog sat on the log.\n" * 12
FAST = ["--epochs", "1", "--batch-size", "4", "--seq-len", "20", "--quiet", "--threads", "1", "--device", "cpu"]


@pytest.fixture(scope="module")
def base(tmp_path_factory):
    """A char-level GRU, 1 layer of 6 units, embeddings of 5, dropout 0.1, trained for one epoch."""
    d = tmp_path_factory.mktemp("init_from")
    (d / "t.txt").write_text(TEXT, encoding="utf-8")
    path = d / "base.safetensors"
    assert main(["generate", "train", "--data", str(d / "t.txt"), "--cell", "gru", "--hidden", "6", "--layers", "1",
                 "--embed", "5", "--dropout", "0.1", *FAST, "--save", str(path)]) == 0
    return path


def _weights(path):
    return {k: v.clone() for k, v in load_lm(path)[0].state_dict().items()}


def _text(tmp_path, text="the mat sat on the cat.\n" * 10):
    p = tmp_path / "new.txt"
    p.write_text(text, encoding="utf-8")
    return p


def test_starts_from_the_saved_weights_and_keeps_vocabulary_and_architecture(tmp_path, base, capsys):
    src = _text(tmp_path)
    still = tmp_path / "still.safetensors"
    assert main(["generate", "train", "--init-from", str(base), "--data", str(src), "--lr", "1e-12", *FAST,
                 "--save", str(still)]) == 0
    out = capsys.readouterr().out
    assert f"starting from the weights of {base}" in out
    model, vocab, extra = load_lm(still)
    base_model, base_vocab, _ = load_lm(base)
    assert vocab == base_vocab and model.config == base_model.config  # the new text's own vocabulary is smaller
    assert extra["init_from"] == str(base) and extra["source"] == str(src)
    w0, w1 = _weights(base), _weights(still)
    assert all(torch.allclose(w0[k], w1[k], atol=1e-8) for k in w0)  # a step of 1e-12 leaves the start in place
    fresh = tmp_path / "fresh.safetensors"  # the same options without --init-from: new weights
    assert main(["generate", "train", "--data", str(base.parent / "t.txt"), "--seed", "1", "--cell", "gru", "--hidden", "6", "--layers", "1",
                 "--embed", "5", "--lr", "1e-12", *FAST, "--save", str(fresh)]) == 0
    w2 = _weights(fresh)
    assert any(not torch.allclose(w0[k], w2[k], atol=1e-3) for k in w0)
    tuned = tmp_path / "tuned.safetensors"  # a usual learning rate moves them
    assert main(["generate", "train", "--init-from", str(base), "--data", str(src), *FAST, "--save", str(tuned)]) == 0
    w3 = _weights(tuned)
    assert any(not torch.allclose(w0[k], w3[k], atol=1e-4) for k in w0)


def test_matches_the_library_started_from_the_same_model(tmp_path, base, capsys):
    """The command's run is the library's train() with init_from, and agreeing options change nothing."""
    src = _text(tmp_path)
    cmd = tmp_path / "cmd.safetensors"
    assert main(["generate", "train", "--init-from", str(base), "--data", str(src), "--cell", "gru", "--hidden", "6",
                 "--level", "char", "--embed", "5", *FAST, "--save", str(cmd)]) == 0
    model, vocab, _ = train(text=src, init_from=base, epochs=1, batch_size=4, seq_len=20, quiet=True, threads=1,
                            device="cpu", save=None)
    w = _weights(cmd)
    assert all(torch.equal(w[k], v) for k, v in model.state_dict().items())


def test_dropout_may_change(tmp_path, base, capsys):
    out = tmp_path / "d.safetensors"
    assert main(["generate", "train", "--init-from", str(base), "--data", str(_text(tmp_path)), "--dropout", "0.3",
                 *FAST, "--save", str(out)]) == 0
    cfg, base_cfg = load_lm(out)[0].config, load_lm(base)[0].config
    assert cfg.dropout == 0.3 and base_cfg.dropout == 0.1
    assert (cfg.cell, cfg.hidden_size, cfg.embed_size, cfg.num_layers) == ("gru", 6, 5, 1)


@pytest.mark.parametrize("extra,expected", [
    (["--hidden", "7"], "--hidden: the model of --init-from {base!r} has 6 units per layer, got --hidden 7; leave "
                        "--hidden out to keep the model's, or train a new model without --init-from"),
    (["--cell", "lstm"], "--cell: the model of --init-from {base!r} is a 'gru' network, got --cell lstm"),
    (["--layers", "2"], "--layers: the model of --init-from {base!r} has 1 layer, got --layers 2"),
    (["--embed", "6"], "--embed: the model of --init-from {base!r} has embeddings of size 5, got --embed 6"),
    (["--tie-weights"], "--tie-weights: the model of --init-from {base!r} does not tie its embedding and output "
                        "weights, got --tie-weights on"),
    (["--cell", "lstm-peephole"], ("--cell: the model of --init-from {base!r} is a 'gru' network, got --cell "
                                   "lstm-peephole")),
    (["--level", "word"], "--level: the model of --init-from {base!r} reads characters, got --level word"),
    (["--max-vocab", "50"], "--max-vocab: the vocabulary is that of the model of --init-from {base!r}"),
])
def test_an_architecture_option_that_disagrees_is_refused(tmp_path, base, capsys, extra, expected):
    save = tmp_path / "m.safetensors"
    save.write_bytes(b"earlier")
    code = main(["generate", "train", "--init-from", str(base), "--data", str(_text(tmp_path)), *extra, *FAST,
                 "--save", str(save)])
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1 and "Traceback" not in err, err
    assert err.startswith(f"seqlab generate: error: {expected.format(base=str(base))}"), err
    assert save.read_bytes() == b"earlier"


def test_text_outside_the_vocabulary_is_refused(tmp_path, base, capsys):
    src = _text(tmp_path, "the cat sat, zebra! é\n" * 10)
    save = tmp_path / "m.safetensors"
    code = main(["generate", "train", "--init-from", str(base), "--data", str(src), *FAST, "--save", str(save)])
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1, err
    assert f"--data: 6 characters of {src} are not in the vocabulary of the model of --init-from {str(base)!r}: " \
           "',', 'z', 'b', 'r', '!', 'é'; " in err, err
    assert "remove them from the text, or train a new model without --init-from" in err
    assert not save.exists()


def test_unknown_characters_are_listed_in_order_of_appearance():
    vocab = Vocabulary.build("abc ")
    with pytest.raises(Exception) as exc:
        check_text_in_vocab("ab zyz!", vocab, "x.txt", "m.safetensors")
    assert str(exc.value) == ("--data: 3 characters of x.txt are not in the vocabulary of the model of --init-from "
                              "'m.safetensors': 'z', 'y', '!'; a model can only learn the symbols it was built with: "
                              "remove them from the text, or train a new model without --init-from")
    assert check_text_in_vocab("cab ab", vocab, "x.txt", "m.safetensors") == 0


def test_word_level_reads_new_words_as_unk(tmp_path, capsys):
    words = Vocabulary.build(TEXT, level="word", max_size=6)  # has <unk>: the rarer words were left out
    assert words.unk_id is not None
    base = tmp_path / "w.safetensors"
    torch.manual_seed(0)
    save_lm(base, RecurrentLM(LMConfig(len(words), "gru", hidden_size=4, num_layers=1)), words)
    src = _text(tmp_path, "the cat sat on the zebra .\n" * 20)
    tokens = words.config.tokenize(src.read_text())
    n_unknown = sum(t not in set(words.tokens) for t in tokens)
    assert check_text_in_vocab(src.read_text(), words, str(src), base) == n_unknown > 0
    out = tmp_path / "o.safetensors"
    assert main(["generate", "train", "--init-from", str(base), "--data", str(src), "--epochs", "1", "--batch-size",
                 "2", "--seq-len", "4", "--quiet", "--threads", "1", "--save", str(out)]) == 0
    assert f"note: {n_unknown:,} words of the text are not in the vocabulary of {base} and read as <unk>" in \
        capsys.readouterr().out
    assert load_lm(out)[1] == words


def test_other_files_are_refused(tmp_path, base, capsys):
    src = _text(tmp_path)
    other = tmp_path / "clf.safetensors"
    save_file(other, "classifier", {"model": {}}, {"w": torch.zeros(2)})
    ck = tmp_path / "run.ckpt.safetensors"
    save_file(ck, "checkpoint", {"x": 1}, {"w": torch.zeros(2)})
    junk = tmp_path / "junk.safetensors"
    junk.write_bytes(b"not a model at all")
    cases = [
        (other, f"--init-from: {str(other)!r} holds a 'classifier' model, expected a language model written by "
                "'seqlab generate train'"),
        (ck, f"--init-from: {str(ck)!r} is the checkpoint of an unfinished run, not a model"),
        (junk, "--init-from: "),
        (tmp_path / "missing.safetensors", "--init-from: model file"),
        (base, f"--save: {str(base)!r} is also the file of --init-from"),
    ]
    for path, expected in cases:
        save = base if path == base else tmp_path / "m.safetensors"
        before = Path(base).read_bytes()
        code = main(["generate", "train", "--init-from", str(path), "--data", str(src), *FAST, "--save", str(save)])
        err = capsys.readouterr().err
        assert code == 2 and err.count("\n") == 1 and "Traceback" not in err, err
        assert err.startswith(f"seqlab generate: error: {expected}"), err
        assert not (tmp_path / "m.safetensors").exists() and Path(base).read_bytes() == before
    assert "does not exist" in main_err(capsys, tmp_path / "missing.safetensors", src)


def main_err(capsys, path, src):
    main(["generate", "train", "--init-from", str(path), "--data", str(src), *FAST])
    return capsys.readouterr().err


def test_a_peephole_lstm_saved_before_the_cell_table_is_cell_lstm_peephole(tmp_path, capsys):
    """Files from before the registry saved a peephole LSTM as 'lstm' with cell_options peephole:
    --init-from reads it as --cell lstm-peephole (the one spelling; --peephole is gone)."""
    vocab = Vocabulary.build(TEXT, level="char")
    old = tmp_path / "old.safetensors"
    save_lm(old, RecurrentLM(LMConfig(len(vocab), "lstm", 6, 1, cell_options={"peephole": True})), vocab)
    src, save = _text(tmp_path), tmp_path / "m.safetensors"
    assert main(["generate", "train", "--init-from", str(old), "--data", str(src), "--cell", "lstm-peephole", *FAST,
                 "--save", str(save)]) == 0
    assert load_lm(save)[0].config.cell_options.get("peephole") is True
    capsys.readouterr()
    assert main(["generate", "train", "--init-from", str(old), "--data", str(src), "--cell", "lstm", *FAST]) == 2
    assert "is a 'lstm-peephole' network, got --cell lstm" in capsys.readouterr().err
