"""States over time, heatmaps and the text-unit pictures."""

import re

import numpy as np
import pytest
import torch

import seqlab.nn as snn
from seqlab.diagnostics import collect_states, plot_states, plot_text_activations, text_activation_html
from seqlab.errors import SeqlabError

PNG = b"\x89PNG\r\n\x1a\n"


def test_collect_states_match_layer_outputs():
    torch.manual_seed(8)
    m = snn.LSTM(3, 4, num_layers=2, bidirectional=True)
    x = torch.randn(2, 6, 3)
    lengths = torch.tensor([6, 4])
    st = collect_states(m, x, lengths=lengths)
    assert list(st) == ["l0", "l0_reverse", "l1", "l1_reverse"]
    out, (h, c) = m(x, lengths=lengths)  # the fused path
    top = np.concatenate([st["l1"]["h"], st["l1_reverse"]["h"]], -1)  # (B, T, 2H)
    for b, L in enumerate(lengths.tolist()):
        np.testing.assert_allclose(top[b, :L], out[b, :L].detach().numpy(), atol=1e-6)
        # final states: forward at its last valid step, reverse at time 0
        np.testing.assert_allclose(st["l1"]["h"][b, L - 1], h[2, b].detach().numpy(), atol=1e-6)
        np.testing.assert_allclose(st["l1"]["c"][b, L - 1], c[2, b].detach().numpy(), atol=1e-6)
        np.testing.assert_allclose(st["l1_reverse"]["c"][b, 0], c[3, b].detach().numpy(), atol=1e-6)
    gru = collect_states(snn.GRU(3, 4), x)
    assert set(gru["l0"]) == {"h"} and gru["l0"]["h"].shape == (2, 6, 4)


def test_plot_states_writes_png(tmp_path):
    st = collect_states(snn.LSTM(2, 5), torch.randn(3, 10, 2))
    path = tmp_path / "states.png"
    plot_states(st, path, sample=2)
    assert path.read_bytes()[:8] == PNG
    with pytest.raises(SeqlabError, match=r"sample: expected an index in \[0, 3\)"):
        plot_states(st, tmp_path / "x.png", sample=3)
    assert not (tmp_path / "x.png").exists()


def test_text_activation_html_colours_and_escapes():
    symbols = list("a<b\n &")
    acts = np.zeros((6, 3))
    acts[:, 1] = [1.0, -1.0, 0.0, 0.5, 2.0, -0.5]
    page = text_activation_html(symbols, acts, [1], title="t")
    assert page.startswith("<!DOCTYPE html>") and "<script" not in page and "http" not in page
    spans = re.findall(r'<span style="background:(rgb\([^)]*\))" title="([^"]*)">(.*?)</span>', page)
    assert [s[2] for s in spans] == ["a", "&lt;", "b", "↵<br>", "&nbsp;", "&amp;"]
    assert [s[0] for s in spans] == ["rgb(255,0,0)", "rgb(0,0,255)", "rgb(255,255,255)", "rgb(255,128,128)",
                                     "rgb(255,0,0)", "rgb(128,128,255)"]
    assert spans[4][1] == "+2.000"  # the tooltip keeps the exact value; the colour is clipped


def test_text_pictures_bad_input(tmp_path):
    with pytest.raises(SeqlabError, match=r"activations: expected shape \(symbols, units\) = \(3, H\)"):
        text_activation_html("abc", np.zeros((4, 2)), [0])
    with pytest.raises(SeqlabError, match=r"units: expected indices in \[0, 2\)"):
        text_activation_html("abc", np.zeros((3, 2)), [2])
    path = tmp_path / "t.png"
    plot_text_activations(list("hello world"), np.random.default_rng(0).uniform(-1, 1, (11, 4)), [0, 3], path,
                          width=5)
    assert path.read_bytes()[:8] == PNG


def test_plot_states_draws_every_unit_unless_capped(tmp_path):
    st = collect_states(snn.GRU(2, 100), torch.randn(1, 7, 2))
    fig = plot_states(st)
    assert fig.axes[0].images[0].get_array().shape == (100, 7)
    assert plot_states(st, max_units=64).axes[0].images[0].get_array().shape == (64, 7)
    with pytest.raises(SeqlabError, match=r"max_units: expected a positive integer or None"):
        plot_states(st, max_units=0)
