"""Per-step importance: gradient x input against finite differences, integrated gradients' completeness."""

import numpy as np
import pytest
import torch

from seqlab.classify import ClassifierConfig, ClassifierNet, SequenceClassifier, attribute, plot, render
from seqlab.errors import SeqlabError


def _net(cell="lstm", pooling="mean", bidirectional=True):
    torch.manual_seed(3)
    return ClassifierNet(ClassifierConfig(num_classes=3, input_size=2, cell=cell, hidden_size=5, pooling=pooling,
                                          bidirectional=bidirectional)).double()


def _prob(net, x, target):
    with torch.no_grad():
        return torch.softmax(net.forward_embedded(x[None], torch.tensor([len(x)])), -1)[0, target].item()


@pytest.mark.parametrize("cell", ["lstm", "gru"])
def test_gradient_times_input_matches_finite_differences(cell):
    net = _net(cell)
    x = torch.randn(6, 2, dtype=torch.float64)
    a = attribute(net, x, target=1, method="grad")  # (T, I)
    eps = 1e-6
    numeric = torch.zeros_like(x)
    for t in range(6):
        for i in range(2):
            xp, xm = x.clone(), x.clone()
            xp[t, i] += eps
            xm[t, i] -= eps
            numeric[t, i] = (_prob(net, xp, 1) - _prob(net, xm, 1)) / (2 * eps)
    torch.testing.assert_close(a, x * numeric, rtol=1e-6, atol=1e-9)


@pytest.mark.parametrize("pooling", ["last", "max"])
def test_integrated_gradients_completeness(pooling):
    net = _net("gru", pooling)
    x = torch.randn(7, 2, dtype=torch.float64)
    a = attribute(net, x, target=2, method="ig", steps=256)
    gap = _prob(net, x, 2) - _prob(net, torch.zeros_like(x), 2)
    assert a.sum().item() == pytest.approx(gap, rel=1e-2, abs=1e-4)
    # and gradient x input is not the same thing (a test that would pass for a mixed-up method fails here)
    assert not torch.allclose(a, attribute(net, x, target=2, method="grad"), atol=1e-4)


def test_explain_points_at_the_step_that_decides():
    # label = sign of step 2's value; other steps are noise
    rng = np.random.default_rng(0)
    X = rng.normal(0, 0.3, (300, 6, 1)).astype(np.float32)
    y = rng.integers(0, 2, 300)
    X[:, 2, 0] = np.where(y == 1, 2.0, -2.0)
    clf = SequenceClassifier(cell="gru", hidden_size=8, pooling="mean", bidirectional=True, epochs=10, lr=1e-2,
                             verbose=0).fit(X, y)
    for method in ("grad", "ig"):
        e = clf.explain(X[0], method=method)
        assert e.label == y[0] and e.target == y[0]
        assert int(np.argmax(np.abs(e.scores))) == 2
        assert e.scores[2] > 0  # the deciding step pushes towards the predicted class
        assert e.values.shape == (6, 1) and e.attributions.shape == (6, 1)
    with pytest.raises(SeqlabError, match="target"):
        clf.explain(X[0], target="nope")
    with pytest.raises(SeqlabError, match="method"):
        clf.explain(X[0], method="shap")


def test_render_and_plot_text(tmp_path):
    clf = SequenceClassifier(hidden_size=4, embedding_dim=4, epochs=1, verbose=0).fit(["good day", "bad day"], ["p", "n"])
    e = clf.explain("good strange day", method="grad")
    assert e.steps == ["good", "strange", "day"] and e.unknown == [1]
    plain = render(e, color=False)
    assert "strange?[" in plain and "<unk>" in plain and "\x1b[" not in plain
    for tok, s in zip(e.steps, e.scores):
        assert f"{s:+.3f}" in plain
    colored = render(e, color=True)
    assert colored.count("\x1b[48;5;") == 3
    out = tmp_path / "imp.png"
    plot(e, out)
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    with pytest.raises(SeqlabError, match="does not exist"):
        plot(e, tmp_path / "missing" / "x.png")


def test_render_numeric_bars():
    clf = SequenceClassifier(hidden_size=4, epochs=1, verbose=0).fit([np.ones((3, 1)), -np.ones((3, 1))], [0, 1])
    e = clf.explain(np.array([1.0, -1.0, 0.5]), method="ig", steps=16)
    lines = render(e).splitlines()
    assert len(lines) == 1 + 3 and lines[1].split()[0] == "t=0"
    longest = int(np.argmax(np.abs(e.scores)))
    assert lines[1 + longest].count("+") + lines[1 + longest].count("-") >= 30  # full-width bar, sign included
