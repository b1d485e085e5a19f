"""`seqlab explain`: real small runs, and one-line errors with exit code 2."""

import re

import pytest
import torch

from seqlab.cli import main
from seqlab.io import save_file

PNG = b"\x89PNG\r\n\x1a\n"


def _one_line_error(capsys, argv, pattern):
    code = main(argv)
    err = capsys.readouterr().err
    assert code == 2
    assert err.count("\n") == 1 and "Traceback" not in err
    assert re.search(pattern, err), err


@pytest.mark.parametrize("argv,pattern", [
    (["explain", "gradients", "--cells", "rnn,lstmx"], r"cells: unknown cell 'lstmx'"),
    (["explain", "gradients", "--length", "1"], r"--length: expected an integer >= 2"),
    (["explain", "memory", "--task", "sum"], r"task: expected one of adding, copy, got 'sum'"),
    (["explain", "memory", "--cells", "tcn"], r"cells: unknown cell 'tcn'"),
    (["explain", "memory", "--length", "0"], r"--length: expected an integer >= 2"),
    (["explain", "memory", "--minutes", "-1"], r"--minutes: expected a finite number >= 0, got '-1'"),
    (["explain", "memory", "--minutes", "nan"], r"--minutes: expected a finite number >= 0, got 'nan'"),
    (["explain", "memory", "--lr", "inf"], r"--lr: expected a finite number > 0 and <= 10, got 'inf'"),
    (["explain", "memory", "--clipnorm", "nan"], r"--clipnorm: expected a finite number > 0, got 'nan'"),
    (["explain", "gradients", "--threads", "-1"], r"--threads: expected an integer in \[0, 4096\], got '-1'"),
    (["explain"], r"expected what to explain"),
])
def test_bad_arguments(capsys, argv, pattern):
    _one_line_error(capsys, argv, pattern)


def test_plot_folder_missing_fails_before_work(capsys, tmp_path):
    _one_line_error(capsys, ["explain", "gradients", "--plot", str(tmp_path / "no" / "g.png")], r"--plot: folder")


def _text_model(tmp_path, cell="lstm"):
    from seqlab.text import LMConfig, RecurrentLM, Vocabulary, save_lm

    vocab = Vocabulary.build("hello world, the cat sat.")
    torch.manual_seed(9)
    model = RecurrentLM(LMConfig(vocab_size=len(vocab), cell=cell, hidden_size=8, num_layers=2))
    path = tmp_path / f"{cell}.safetensors"
    save_lm(path, model, vocab)
    return path


def test_states_bad_model_files(capsys, tmp_path):
    _one_line_error(capsys, ["explain", "states", "--model", str(tmp_path / "none.safetensors"), "--text", "hi"],
                    r"does not exist")
    junk = tmp_path / "junk.safetensors"
    junk.write_bytes(b"not a model at all")
    _one_line_error(capsys, ["explain", "states", "--model", str(junk), "--text", "hi"], r"not a readable seqlab model")
    other = tmp_path / "seq.safetensors"
    save_file(other, "sequential", {"layers": []}, {"w": torch.zeros(2)})
    _one_line_error(capsys, ["explain", "states", "--model", str(other), "--text", "hi"],
                    r"holds a 'sequential' model; 'explain states' needs a text model")
    good = _text_model(tmp_path)
    _one_line_error(capsys, ["explain", "states", "--model", str(good), "--text", "hello Z"], r"not in the model's vocabulary")
    _one_line_error(capsys, ["explain", "states", "--model", str(good), "--text", "hello", "--units", "0,99"],
                    r"--units: expected indices in \[0, 8\)")
    gru = _text_model(tmp_path, "gru")
    _one_line_error(capsys, ["explain", "states", "--model", str(gru), "--text", "hello", "--state", "c"],
                    r"'c' exists for LSTM models only")


def test_states_refuses_an_empty_unit_list_and_a_top_beyond_the_layer(capsys, tmp_path):
    """--units , printed an empty unit table and exited 0; --top 99999999999999999999 was capped at
    the hidden size in silence while --units 1000 was refused: both name the layer's size now."""
    path = _text_model(tmp_path)  # 2 layers of 8 units
    base = ["explain", "states", "--model", str(path), "--text", "hello", "--threads", "1"]
    for units in (",", " , ,", ""):
        _one_line_error(capsys, [*base, "--units", units],
                        rf"--units: expected at least one unit index, such as 0,5,17, got {re.escape(repr(units))}")
    for top in ("9", "99999999999999999999"):
        _one_line_error(capsys, [*base, "--top", top],
                        rf"--top: expected a number of units in \[1, 8\] \(layer 1 has 8\), got {top}$")
    _one_line_error(capsys, [*base, "--units", "0", "--top", "2"], r"argument --top: not allowed with argument --units")
    assert main([*base, "--top", "8"]) == 0  # every unit
    assert len(re.findall(r"^\s*\d+ +[+-]\d\.\d{3} ", capsys.readouterr().out, re.MULTILINE)) == 8


def test_states_shows_every_unit_of_a_layer_smaller_than_the_default_top(capsys, tmp_path):
    from seqlab.text import LMConfig, RecurrentLM, Vocabulary, save_lm

    vocab = Vocabulary.build("hello")
    path = tmp_path / "small.safetensors"
    save_lm(path, RecurrentLM(LMConfig(vocab_size=len(vocab), cell="gru", hidden_size=3)), vocab)
    assert main(["explain", "states", "--model", str(path), "--text", "hello", "--threads", "1"]) == 0
    assert len(re.findall(r"^\s*\d+ +[+-]\d\.\d{3} ", capsys.readouterr().out, re.MULTILINE)) == 3


def test_states_writes_html_png_and_heatmap(capsys, tmp_path):
    path = _text_model(tmp_path)
    html, png, heat = tmp_path / "s.html", tmp_path / "s.png", tmp_path / "h.png"
    code = main(["explain", "states", "--model", str(path), "--text", "the cat sat, hello world.", "--top", "3",
                 "--html", str(html), "--plot", str(png), "--heatmap", str(heat), "--state", "c"])
    out = capsys.readouterr().out
    assert code == 0
    assert "LSTM 2 x 8, layer 1, cell state c" in out
    assert "gate statistics" in out and "rnn.l0:" in out and "rnn.l1:" in out
    assert len(re.findall(r"^\s*\d+ +[+-]\d\.\d{3} ", out, re.M)) == 3  # three unit rows
    page = html.read_text()
    assert page.count("<h2>") == 3 and page.count('" title="') == 3 * 25
    assert png.read_bytes()[:8] == PNG and heat.read_bytes()[:8] == PNG


def test_gradients_command_small(capsys, tmp_path):
    plot = tmp_path / "g.png"
    code = main(["explain", "gradients", "--cells", "rnn,lstm", "--length", "30", "--hidden", "8",
                 "--steps", "3", "--batch-size", "4", "--plot", str(plot)])
    out = capsys.readouterr().out
    assert code == 0
    assert "at initialization:" in out and "after 3 training steps:" in out
    rows = re.findall(r"^(rnn|lstm) +(\S+) +(\S+) +(\S+) +(\S+) +(\S+)$", out, re.M)
    assert [r[0] for r in rows] == ["rnn", "lstm", "rnn", "lstm"]
    for r in rows:
        assert float(r[5]) == pytest.approx(float(r[4]) / float(r[2]), rel=1e-2)  # ratio = h_1 / h_T
    assert plot.read_bytes()[:8] == PNG


def test_memory_command_small(capsys):
    code = main(["explain", "memory", "--task", "copy", "--length", "5", "--cells", "gru", "--steps", "3",
                 "--hidden", "8", "--batch-size", "4", "--quiet"])
    out = capsys.readouterr().out
    assert code == 0
    row = re.search(r"^gru +(\S+) +(\S+) +(\S+) +(\d+)", out, re.M)
    assert row is not None, out
    import math

    assert float(row.group(2)) == pytest.approx(10 * math.log(8) / 25, abs=1e-4)
    assert int(row.group(4)) == 3


def test_memory_minutes_0_is_no_limit_as_its_help_says(capsys):
    from seqlab.cli import main

    assert main(["explain", "memory", "--task", "adding", "--length", "5", "--hidden", "4", "--cells", "rnn",
                 "--steps", "2", "--minutes", "0", "--quiet", "--threads", "1"]) == 0
    out = capsys.readouterr().out
    assert "up to 2 steps per cell" in out and " min" not in out.splitlines()[0]


@pytest.mark.parametrize("cell,gates", [
    ("lstm-peephole", "i f g o"), ("lstm-ln", "i f g o"), ("gru-ln", "r z n"), ("gru-reset-before", "r z n"),
])
def test_states_gate_statistics_for_every_lstm_and_gru_variant(capsys, tmp_path, cell, gates):
    """The variants have the gates of their family (through their cells' gate_values): the report
    prints them for every layer, as for plain lstm and gru."""
    path = _text_model(tmp_path, cell)
    assert main(["explain", "states", "--model", str(path), "--text", "the cat sat.", "--top", "2",
                 "--threads", "1"]) == 0
    out = capsys.readouterr().out
    assert "gate statistics over the text" in out
    for layer in ("rnn.l0", "rnn.l1"):
        line = re.search(rf"^  {layer}: (.*)$", out, re.M).group(1)
        assert re.findall(r"(\w) mean [+-]\d\.\d\d sat \d+%", line) == gates.split()


@pytest.mark.parametrize("cell,note", [
    ("mingru", "gate statistics: not computed for mingru"), ("minlstm", "gate statistics: not computed for minlstm"),
    ("rnn", "gate statistics: none, a rnn cell has no gates"),
])
def test_states_says_when_it_prints_no_gate_statistics(capsys, tmp_path, cell, note):
    path = _text_model(tmp_path, cell)
    assert main(["explain", "states", "--model", str(path), "--text", "the cat sat.", "--threads", "1"]) == 0
    out = capsys.readouterr().out
    assert note in out and "gate statistics over the text" not in out


def test_states_heatmap_draws_every_unit_of_the_named_values(capsys, tmp_path, monkeypatch):
    """--heatmap draws what its title names (the cell state through tanh, as the table and page)
    and every unit, here 70 > the old cap of 64."""
    import numpy as np

    import seqlab.diagnostics.states as states
    from seqlab.text import LMConfig, RecurrentLM, Vocabulary, save_lm

    vocab = Vocabulary.build("hello world, the cat sat.")
    torch.manual_seed(3)
    model = RecurrentLM(LMConfig(vocab_size=len(vocab), cell="lstm", hidden_size=70, num_layers=1))
    with torch.no_grad():
        model.rnn.cells[0].bias_ih.fill_(2.0)  # drive |c| past 1, where c and tanh(c) differ
    path = tmp_path / "wide.safetensors"
    save_lm(path, model, vocab)
    drawn = {}
    real = states.plot_states

    def spy(st, file, **kw):
        drawn["states"], drawn["title"] = st, kw.get("title", "")
        fig = real(st, None, **kw)
        drawn["image"] = fig.axes[0].images[0].get_array()
        return real(st, file, **kw)

    monkeypatch.setattr(states, "plot_states", spy)
    heat = tmp_path / "h.png"
    text = "the cat sat, hello world."
    for state in ("c", "h"):
        assert main(["explain", "states", "--model", str(path), "--text", text, "--state", state,
                     "--heatmap", str(heat), "--threads", "1"]) == 0
        capsys.readouterr()
        assert heat.read_bytes()[:8] == PNG
        from seqlab.diagnostics import collect_states

        ids = torch.tensor([vocab.encode(text, "--text", skip_hint=False)])
        raw = collect_states(model, ids)["rnn.l0"][state][0]  # (T, 70)
        want = np.tanh(raw) if state == "c" else raw
        if state == "c":
            assert np.abs(raw).max() > 1.2 and "cell state c (tanh)" in drawn["title"]
        (arr,) = [d[state] for d in drawn["states"].values()]
        np.testing.assert_allclose(arr[0], want, atol=1e-6)
        assert drawn["image"].shape == (70, len(text))  # every unit, over every symbol
        np.testing.assert_allclose(np.asarray(drawn["image"]), want.T, atol=1e-6)


@pytest.mark.parametrize("argv,old,new", [
    (["explain", "gradients"], "--train-steps", "--steps"),
    (["explain", "states"], "--png", "--plot"),
    (["explain", "memory"], "--clip", "--clipnorm"),
])
def test_old_spellings_of_explain_point_to_the_new_ones(capsys, argv, old, new):
    prog = "seqlab " + " ".join(argv)
    _one_line_error(capsys, [*argv, old, "1"], f"^{prog}: error: {old} was renamed {new} ")


@pytest.mark.parametrize("argv", [
    ["gradients", "--plot", "{tmp}/g.png"], ["gradients", "--clipnorm", "1", "--clip-plot", "{tmp}/c.png"],
    ["capacity", "--plot", "{tmp}/c.png"], ["states", "--model", "{tmp}/m.safetensors", "--text", "x", "--plot",
                                            "{tmp}/s.png"],
    ["states", "--model", "{tmp}/m.safetensors", "--text", "x", "--heatmap", "{tmp}/h.png"],
])
def test_a_plot_without_matplotlib_is_refused_before_any_work(capsys, tmp_path, monkeypatch, argv):
    import sys

    monkeypatch.setitem(sys.modules, "matplotlib", None)  # import fails as if not installed
    option = next(a for a in argv if a in ("--plot", "--clip-plot", "--heatmap"))
    _one_line_error(capsys, ["explain", *[a.format(tmp=tmp_path) for a in argv]],
                    f"{option}: plotting needs matplotlib, which is not installed")
    assert list(tmp_path.iterdir()) == []


def test_memory_table_and_progress_lines_fit_long_cell_names(capsys, monkeypatch):
    """The memory table and its progress lines put the cell in a 7-wide column ({cell:7s}):
    gru-reset-before pushed every number of its row right. The column is as wide as the longest
    name now (report.name_width, as the gradient table)."""
    from seqlab.diagnostics import memory

    monkeypatch.setattr(memory, "LOG_EVERY", 1)
    assert main(["explain", "memory", "--task", "adding", "--length", "5", "--cells", "rnn,gru-reset-before",
                 "--steps", "2", "--hidden", "4", "--batch-size", "4", "--threads", "1"]) == 0
    lines = capsys.readouterr().out.splitlines()
    progress = [line for line in lines if line.startswith("  ") and " step " in line]
    assert len(progress) == 4 and len({line.index(" step ") for line in progress}) == 1, progress
    header = next(i for i, line in enumerate(lines) if line.startswith("cell "))
    rows = lines[header + 1:header + 3]
    assert [r.split()[0] for r in rows] == ["rnn", "gru-reset-before"]
    ends = [lines[header].index(n) + len(n) for n in ("final MSE", "baseline", "/ baseline", "steps", "seconds")]
    for row in rows:
        for end in ends:
            assert row[end - 1] != " " and (end == len(row) or row[end] == " "), (row, end)
