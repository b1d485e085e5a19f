"""``seqlab generate``: a tiny end-to-end run, and every kind of bad input as one line, exit 2."""

import pytest
import torch

from seqlab.cli import main
from seqlab.io import save_file
from seqlab.text.model import LMConfig, RecurrentLM, load_lm, save_lm
from seqlab.text.sampling import sample
from seqlab.train.checkpoint import checkpoint_path
from seqlab.vocab import Vocabulary

TEXT = "To be, or not to be: that is the question. Ça va? 🙂\n" * 30


@pytest.fixture(scope="module")
def model_file(tmp_path_factory):
    vocab = Vocabulary.build(TEXT)
    torch.manual_seed(0)
    model = RecurrentLM(LMConfig(len(vocab), "lstm", hidden_size=12, num_layers=1))
    path = tmp_path_factory.mktemp("m") / "model.safetensors"
    save_lm(path, model, vocab)
    return path


def _error(capsys, argv):
    code = main(argv)
    err = capsys.readouterr().err
    assert code == 2
    lines = err.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in err, err
    return lines[0]


def test_train_end_to_end(tmp_path, capsys):
    src = tmp_path / "t.txt"
    src.write_text(TEXT[:800], encoding="utf-8")
    out = tmp_path / "m.safetensors"
    code = main(["generate", "train", "--data", str(src), "--hidden", "8", "--layers", "1", "--epochs", "2",
                 "--batch-size", "4", "--seq-len", "30", "--sample-length", "20", "--save", str(out)])
    text = capsys.readouterr().out
    assert code == 0
    assert "epoch 1: train" in text and "epoch 2: train" in text and "bits/char" in text and "  | " in text
    model, vocab, extra = load_lm(out)
    assert set(vocab.itos) == set(TEXT) and extra["source"] == str(src)
    assert model.config.hidden_size == 8 and not checkpoint_path(out).exists()  # removed once the model is saved
    code = main(["generate", "train", "--data", str(src), "--hidden", "8", "--layers", "1", "--epochs", "1",
                 "--batch-size", "4", "--seq-len", "30", "--quiet", "--save", str(out)])
    text = capsys.readouterr().out
    assert code == 0 and "epoch 1" not in text and "  | " not in text and "saved" in text


def test_train_word_level_reports_perplexity(tmp_path, capsys):
    src = tmp_path / "t.txt"
    src.write_text(TEXT, encoding="utf-8")
    out = tmp_path / "w.safetensors"
    code = main(["generate", "train", "--data", str(src), "--level", "word", "--hidden", "8", "--layers", "1",
                 "--epochs", "1", "--batch-size", "2", "--seq-len", "8", "--sample-length", "5", "--save", str(out)])
    assert code == 0 and "perplexity" in capsys.readouterr().out
    assert load_lm(out)[1].config.level == "word"


def test_sample_prints_the_same_text_as_the_library(model_file, capsys):
    code = main(["generate", "sample", "--model", str(model_file), "--prime", "To be", "--sample-length", "30",
                 "--temperature", "0.9", "--top-k", "5", "--top-p", "0.9", "--seed", "4"])
    out = capsys.readouterr().out
    model, vocab, _ = load_lm(model_file)
    assert code == 0
    assert out == "To be" + sample(model, vocab, "To be", 30, 0.9, 5, 0.9, seed=4) + "\n"


@pytest.mark.parametrize("extra,message", [
    (["--temperature", "0"], "--temperature: expected a number in [1e-06, 1e+06] to sample with, got 0; --greedy"),
    (["--temperature", "-0.5"], "--temperature: expected a finite number >= 0"),
    (["--top-p", "0"], "--top-p: expected a finite number > 0 and <= 1"),
    (["--top-p", "1.5"], "--top-p: expected a finite number > 0 and <= 1"),
    (["--top-k", "0"], "--top-k: expected an integer in [1, 1000000000]"),
    (["--prime", "xyz§"], "characters not in the model's vocabulary"),
])
def test_sample_bad_input(model_file, capsys, extra, message):
    line = _error(capsys, ["generate", "sample", "--model", str(model_file), "--sample-length", "5", *extra])
    assert message in line


def test_greedy_ignores_the_temperature_even_0(model_file, capsys):
    outs = []
    for t in ("0", "0.8", "5"):
        assert main(["generate", "sample", "--model", str(model_file), "--prime", "To be", "--sample-length", "20",
                     "--greedy", "--temperature", t]) == 0
        outs.append(capsys.readouterr().out)
    assert outs[0] == outs[1] == outs[2] and outs[0].startswith("To be")


def test_sample_not_a_model(tmp_path, capsys):
    junk = tmp_path / "junk.safetensors"
    junk.write_bytes(b"\x00\x01 definitely not a model")
    assert "not a readable seqlab model" in _error(capsys, ["generate", "sample", "--model", str(junk)])
    other = tmp_path / "forecast.safetensors"
    save_file(other, "forecast", {"a": 1}, {"w": torch.zeros(1)})
    assert "expected a 'text-lm' model" in _error(capsys, ["generate", "sample", "--model", str(other)])
    assert "does not exist" in _error(capsys, ["generate", "sample", "--model", str(tmp_path / "nope.safetensors")])


def test_train_bad_files_do_not_touch_an_earlier_model(tmp_path, capsys, model_file):
    before = model_file.read_bytes()
    empty = tmp_path / "empty.txt"
    empty.write_text("")
    binary = tmp_path / "data.bin"
    binary.write_bytes(bytes(range(256)) * 4)
    base = ["generate", "train", "--save", str(model_file), "--epochs", "1"]
    assert "is empty" in _error(capsys, base + ["--data", str(empty)])
    assert "looks binary" in _error(capsys, base + ["--data", str(binary)])
    assert "does not exist" in _error(capsys, base + ["--data", str(tmp_path / "missing.txt")])
    short = tmp_path / "short.txt"
    short.write_text("tiny")
    assert "too few" in _error(capsys, base + ["--data", str(short)])
    assert "--threads: expected an integer in [0, 4096], got '-2'" in _error(capsys, base + ["--threads", "-2"])
    assert "folder" in _error(capsys, ["generate", "train", "--data", str(short), "--batch-size", "1",
                                       "--save", str(tmp_path / "no" / "m.safetensors")])
    assert model_file.read_bytes() == before


@pytest.mark.parametrize("extra,message", [
    (["--lr", "nan"], "--lr: expected a finite number > 0 and <= 10, got 'nan'"),
    (["--lr", "-1"], "--lr: expected a finite number > 0"),
    (["--minutes", "inf"], "--minutes: expected a finite number >= 0, got 'inf'"),
    (["--minutes", "-1"], "--minutes: expected a finite number >= 0, got '-1'"),
    (["--epochs", "0"], "--epochs: expected an integer in [1, 1000000000], got '0'"),
    (["--batch-size", "-3"], "--batch-size: expected an integer in [1, 10000000], got '-3'"),
    (["--seq-len", "0"], "--seq-len: expected an integer in [1, 10000000], got '0'"),
    (["--hidden", "nan"], "--hidden: expected an integer, got 'nan'"),
    (["--dropout", "1"], "--dropout: expected a finite number >= 0 and < 1, got '1'"),
    (["--clipnorm", "nan"], "--clipnorm: expected a finite number >= 0, got 'nan'"),
    (["--clipnorm=-inf"], "--clipnorm: expected a finite number >= 0, got '-inf'"),
    (["--val-fraction", "1"], "--val-fraction: expected a finite number >= 0 and < 1, got '1'"),
    (["--sample-length", "-1"], "--sample-length: expected an integer in [0, 10000000], got '-1'"),
    (["--seed", "-1"], "--seed: expected an integer in [0, 9223372036854775807], got '-1'"),
    (["--device", "tpu"], "device: expected 'auto', 'cpu', 'cuda' or 'cuda:N', got 'tpu'"),
    (["--resume"], "--resume: no checkpoint at"),
])
def test_train_bad_numbers_and_resume(tmp_path, capsys, extra, message):
    """Each refused before any work: one line on stderr, exit 2, nothing written."""
    save = tmp_path / "m.safetensors"
    line = _error(capsys, ["generate", "train", "--data", str(tmp_path / "missing.txt"), "--save", str(save), *extra])
    assert message in line
    assert list(tmp_path.iterdir()) == []


def test_missing_sub_command_is_one_line(capsys):
    line = _error(capsys, ["generate"])
    assert line == "seqlab generate: error: expected a sub-command (see 'seqlab generate --help')"


def test_sample_threads_and_device(model_file, capsys):
    code = main(["generate", "sample", "--model", str(model_file), "--sample-length", "10", "--seed", "1", "--threads", "1",
                 "--device", "cpu"])
    model, vocab, _ = load_lm(model_file)
    assert code == 0 and capsys.readouterr().out == sample(model, vocab, None, 10, 0.8, seed=1) + "\n"
    assert "--threads: expected an integer in [0, 4096]" in _error(capsys, ["generate", "sample", "--model",
                                                                         str(model_file), "--threads", "-1"])
    assert "device: expected 'auto'" in _error(capsys, ["generate", "sample", "--model", str(model_file),
                                                        "--device", "gpu0"])


def test_schedule_help_says_over_what_the_default_decay_runs(monkeypatch):
    """--help describes the 'decay' schedule of the defaults: over the whole run (decay_fraction
    1.0, the default), or over its last part, with the per cent escaped for argparse."""
    from seqlab.text import cli
    from seqlab.text.defaults import TextDefaults

    assert cli._decay_span() == "the whole run"
    monkeypatch.setattr(cli, "D", TextDefaults(decay_fraction=0.2))
    assert cli._decay_span() == "the last 20%% of the run, holding it before"
    assert "the last 20% of the run" in (cli._decay_span() % ())


@pytest.mark.parametrize("action,old,new", [
    ("train", "--text", "--data"), ("train", "--out", "--save"), ("train", "--clip", "--clipnorm"),
    ("train", "--peephole", "--cell lstm-peephole"), ("train", "--hidden-size", "--hidden"),
    ("sample", "--length", "--sample-length"),
])
def test_old_spellings_of_generate_point_to_the_new_ones(capsys, action, old, new):
    line = _error(capsys, ["generate", action, old, "1"])
    assert line == f"seqlab generate {action}: error: {old} was renamed {new} (see 'seqlab generate {action} --help')"
