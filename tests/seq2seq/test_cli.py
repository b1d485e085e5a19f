"""``seqlab translate train|predict`` through seqlab.cli.main: outputs and one-line errors."""

import re
from pathlib import Path

import pytest

from seqlab.cli import main
from seqlab.seq2seq import Translator
from seqlab.seq2seq.vocab import SPECIALS
from seqlab.vocab import Vocabulary


def run(capsys, *argv):
    """``seqlab translate predict ARGV`` (``seqlab translate train ...`` when ARGV starts with train)."""
    code = main(["translate", *([] if argv and argv[0] == "train" else ["predict"]), *argv])
    out, err = capsys.readouterr()
    return code, out, err


def test_translate_prints_greedy_beam_nbest_and_plot(tmp_path, capsys, model_path):
    path, tr = model_path
    code, out, err = run(capsys, "--model", path, "ab 12")
    assert code == 0 and out == tr.translate("ab 12").text + "\n"
    code, out, _ = run(capsys, "--model", path, "AB", "12", "--beam", "3")  # words joined, lowercased
    assert code == 0 and out == tr.translate("ab 12", beam=3).text + "\n"
    png = tmp_path / "att.png"
    code, out, _ = run(capsys, "--model", path, "--text", "train", "--beam", "3", "--nbest", "--plot", str(png))
    lines = [line.split("\t") for line in out.splitlines()]
    assert code == 0 and [(r, t) for r, _, t in lines] == [(str(k + 1), h.text) for k, h in enumerate(tr.nbest("train", 3))]
    scores = [float(s) for _, s, _ in lines]
    assert scores == sorted(scores, reverse=True)
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


@pytest.mark.parametrize("argv,msg", [
    (["--model", "{m}", ""], "non-empty"),
    (["--model", "{m}", "ab", "--text", "c"], "either as --text or as words"),
    (["--model", "{m}", "abz!"], "2 characters not in the model's vocabulary: 'z', '!'"),
    (["--model", "{m}", "ab", "--beam", str(10**6)], r"--beam: expected at most 1000 \(the beam size; 1 is greedy decoding\)"),
    (["--model", "{m}", "ab", "--max-len", "0"], "--max-len"),
    (["--model", "{m}", "ab", "--plot", "x.jpg"], "ending in .png"),
    (["ab"], "the following arguments are required: --model"),
    (["--model", "{m}"], "text: expected the text to translate"),
    (["--model", "{junk}", "ab"], "not a readable seqlab model"),
    (["--model", "{tmp}/missing.safetensors", "ab"], "does not exist"),
    (["--model", "{m}", "ab", "--data", "x.tsv"], "unrecognized arguments: --data"),
    (["train", "--data", "{tsv_notab}", "--save", "{m}"], "line 2 .* 0 tabs"),
    (["train", "--data", "{tsv_empty}", "--save", "{m}"], "line 1 .* empty target side"),
    (["train", "--data", "{tmp}/none.tsv", "--save", "{m}"], "does not exist"),
    (["train", "--save", "{tmp}/no/such/m.safetensors"], "folder .* does not exist"),
    (["train", "now"], "unrecognized arguments: now"),
    (["train", "--model", "{m}"], "unrecognized arguments: --model"),
    (["train", "--resume", "--save", "{tmp}/fresh.safetensors"], "--resume: no checkpoint at .*fresh.ckpt.safetensors"),
    (["--model", "{m}", "ab", "--resume"], "unrecognized arguments: --resume"),
])
def test_bad_input_exits_2_with_one_line(tmp_path, capsys, model_path, argv, msg):
    path, _ = model_path
    junk = tmp_path / "junk.safetensors"
    junk.write_bytes(b"this is not a model")
    (tmp_path / "notab.tsv").write_text("a b\tx y\nno tab here\n", encoding="utf-8")
    (tmp_path / "empty.tsv").write_text("a b\t \n", encoding="utf-8")
    before = Path(path).read_bytes()
    subst = dict(m=path, junk=str(junk), tmp=str(tmp_path), tsv_notab=str(tmp_path / "notab.tsv"),
                 tsv_empty=str(tmp_path / "empty.tsv"))
    code, out, err = run(capsys, *[a.format(**subst) for a in argv])
    assert code == 2 and out == ""
    assert err.count("\n") == 1 and re.match(r"seqlab translate( train| predict)?: error: ", err), err
    assert re.search(msg, err), err
    assert Path(path).read_bytes() == before  # a failed command leaves the earlier model alone


def parse_error(capsys, argv):
    """Exit code and stderr of a command that argparse refuses."""
    try:
        code = main(["translate", *([] if argv[0] == "train" else ["predict"]), *argv])
    except SystemExit as exc:
        code = exc.code
    return code, capsys.readouterr().err


@pytest.mark.parametrize("argv,msg", [
    (["--model", "m", "--beam", "five", "ab"], "--beam: expected an integer, got 'five'"),
    (["--model", "m", "--beam", "0", "ab"], "--beam: expected an integer >= 1, got '0'"),
    (["train", "--minutes", "nan"], "--minutes: expected a finite number >= 0, got 'nan'"),
    (["train", "--minutes", "-1"], "--minutes: expected a finite number >= 0"),
    (["train", "--lr", "inf"], "--lr: expected a finite number > 0"),
    (["train", "--lr", "0"], "--lr: expected a finite number > 0"),
    (["train", "--epochs", "0"], "--epochs: expected an integer in"),
    (["train", "--batch-size", "-8"], "--batch-size: expected an integer in"),
    (["train", "--threads", "-1"], "--threads: expected an integer in"),
    (["train", "--hidden", "0"], "--hidden: expected an integer in"),
    (["train", "--embed", "-3"], "--embed: expected an integer in"),
    (["train", "--dropout", "1"], "--dropout: expected a finite number >= 0 and < 1"),
    (["train", "--teacher-forcing", "1.5"], "--teacher-forcing: expected a finite number >= 0 and <= 1"),
    (["train", "--target-accuracy", "nan"], "--target-accuracy: expected a finite number > 0 and <= 1"),
    (["train", "--seed", "-1"], "--seed: expected an integer in"),
    (["--model", "m", "ab", "--length-penalty", "nan"], "--length-penalty: expected a finite number >= 0"),
])
def test_usage_errors_are_one_line(capsys, argv, msg):
    code, err = parse_error(capsys, argv)
    assert code == 2 and err.count("\n") == 1 and re.match(r"seqlab translate (train|predict): error: ", err), err
    assert re.search(msg, err), err


def test_options_reach_the_workflows_as_plain_arguments(monkeypatch, capsys):
    """The handlers only parse: shared options and --threads 0 (automatic) by default."""
    import seqlab.seq2seq.run as workflows

    calls = []
    monkeypatch.setattr(workflows, "train", lambda **kw: calls.append(("train", kw)))
    monkeypatch.setattr(workflows, "translate", lambda **kw: calls.append(("translate", kw)))
    assert main(["translate", "train", "--hidden", "16", "--save", "x.safetensors", "--minutes", "0",
                 "--layers", "2", "--dropout", "0.1", "--resume"]) == 0
    assert main(["translate", "predict", "--model", "m.safetensors", "3/3/15", "--device", "cpu"]) == 0
    (_, kw), (_, tk) = calls
    assert (kw["hidden"], kw["save"], kw["minutes"], kw["layers"], kw["dropout"], kw["resume"]) == (
        16, "x.safetensors", 0.0, 2, 0.1, True)
    assert (kw["threads"], kw["epochs"], kw["lr"], kw["batch_size"], kw["cell"]) == (0, 50, 3e-3, 64, "gru")
    assert tk == dict(model="m.safetensors", text="3/3/15", beam=1, nbest=False, length_penalty=0.0, max_len=None,
                      plot=None, threads=0, device="cpu")


def test_train_on_pairs_then_translate(tmp_path, capsys):
    data = tmp_path / "pairs.tsv"
    data.write_text("".join(f"{a}{b}\t{b}{a}\n" for a in "abc" for b in "abc") * 3, encoding="utf-8")
    save = tmp_path / "swap.safetensors"
    code, out, err = run(capsys, "train", "--data", str(data), "--save", str(save), "--epochs", "2",
                         "--hidden", "8", "--embed", "4", "--batch-size", "8", "--quiet")
    assert code == 0 and err == "" and out.startswith(f"saved {save}: ") and save.exists()
    tr = Translator.load(save)
    assert tr.src_vocab.itos[3:] == ["a", "b", "c"] and not tr.src_vocab.config.lowercase
    code, out, _ = run(capsys, "--model", str(save), "ab")
    assert code == 0 and out == tr.translate("ab").text + "\n"
    # spaces and a newline around the text are stripped, as the training pairs were
    code, out2, _ = run(capsys, "--model", str(save), "  ab \n")
    assert code == 0 and out2 == out


def test_word_level_source_is_stripped_and_its_whitespace_runs_are_one_space():
    from seqlab.seq2seq.vocab import encode_source

    v = Vocabulary.build(["three one four"], level="word", specials=SPECIALS)
    want = encode_source(v, "three one four")
    assert len(want) == 3
    for text in (" three one four", "three  one\tfour ", "\nthree one four\n"):
        assert encode_source(v, text) == want


def test_train_dates_with_a_tiny_budget(tmp_path, capsys):
    save = tmp_path / "dates.safetensors"
    code, out, _ = run(capsys, "train", "--save", str(save), "--minutes", "0.01", "--epochs", "1",
                       "--hidden", "8", "--embed", "4", "--batch-size", "32")
    assert code == 0 and "saved" in out and "time budget" in out and save.exists()
    assert "'3rd of march 2015' -> " in out
    tr = Translator.load(save)
    assert tr.src_vocab.config.lowercase and "".join(tr.tgt_vocab.itos[3:]) == "-0123456789"
    assert tr.model.cfg.attention == "luong" and tr.model.cfg.hidden_size == 8


@pytest.mark.parametrize("old,new", [("--out", "--save"), ("--hidden-size", "--hidden")])
def test_old_spellings_of_translate_train_point_to_the_new_ones(capsys, old, new):
    code, err = parse_error(capsys, ["train", old, "x.safetensors"])
    assert code == 2 and err == (f"seqlab translate train: error: {old} was renamed {new} "
                                 "(see 'seqlab translate train --help')\n")


@pytest.mark.parametrize("argv,hint", [
    (["--model", "m.safetensors", "3rd of March 2015"], "seqlab translate predict --model m.safetensors '3rd of March 2015'"),
    (["3/3/15", "--beam", "5"], "seqlab translate predict --model PATH 3/3/15 --beam 5"),
    (["--model", "m.safetensors", "--input", "in.txt"], "seqlab translate predict --model m.safetensors --input in.txt"),
])
def test_the_old_form_without_a_sub_command_names_the_predict_command(capsys, argv, hint):
    """Before the sub-commands, 'seqlab translate --model M TEXT' translated: it now says what to run."""
    code = main(["translate", *argv])
    err = capsys.readouterr().err
    assert code == 2 and err == (f"seqlab translate: error: to translate, use the predict sub-command: {hint} "
                                 "(see 'seqlab translate --help')\n"), err


def test_a_plot_without_matplotlib_is_refused_before_translating(tmp_path, capsys, model_path, monkeypatch):
    import sys

    monkeypatch.setitem(sys.modules, "matplotlib", None)  # import fails as if not installed
    code, out, err = run(capsys, "--model", model_path[0], "ab", "--plot", str(tmp_path / "a.png"))
    assert code == 2 and out == "" and err.count("\n") == 1
    assert "--plot: plotting needs matplotlib, which is not installed: pip install 'seqlab[plot]'" in err
    assert not (tmp_path / "a.png").exists()
