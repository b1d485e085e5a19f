"""seqlab.plotting: the one way to plot (lazy pyplot on Agg, the up-front matplotlib check, atomic writes)."""

import sys

import pytest

from seqlab.errors import SeqlabError
from seqlab.files import held_writes
from seqlab.plotting import pyplot, require_matplotlib, save_figure


def test_without_matplotlib_the_check_and_pyplot_say_how_to_install_it(monkeypatch):
    require_matplotlib("--plot")  # installed here: no error
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # import fails as if not installed
    with pytest.raises(SeqlabError, match=r"^--plot: plotting needs matplotlib, which is not installed: pip install "
                                          r"'seqlab\[plot\]' \(or leave --plot out\)$"):
        require_matplotlib("--plot")
    with pytest.raises(SeqlabError, match=r"--plot '' for no plot\)$"):
        require_matplotlib("--plot", "--plot '' for no plot")
    with pytest.raises(SeqlabError, match=r"pip install 'seqlab\[plot\]'"):
        pyplot()


def test_the_check_refuses_a_plot_path_in_a_format_matplotlib_cannot_write():
    for ok in ("g.png", "out/G.PDF", "g.svg"):
        require_matplotlib("--plot", path=ok)
    with pytest.raises(SeqlabError, match=r"^--plot: cannot write an image in format 'xyz': expected a file ending "
                                          r"in \.png, .*got 'g\.xyz'$"):
        require_matplotlib("--plot", path="g.xyz")
    with pytest.raises(SeqlabError, match=r"^--backtest-plot: cannot write an image in format '\(none\)'"):
        require_matplotlib("--backtest-plot", path="plot")


@pytest.mark.parametrize("name,magic", [("a.png", b"\x89PNG"), ("a.svg", b"<?xml"), ("a.pdf", b"%PDF")])
def test_save_figure_writes_the_format_of_the_extension_with_the_other_outputs(tmp_path, name, magic):
    fig, ax = pyplot().subplots()
    ax.plot([0, 1], [1, 0])
    with held_writes():  # held until the block ends, as a command's other outputs are
        save_figure(fig, tmp_path / name)
        assert not (tmp_path / name).exists()
    assert (tmp_path / name).read_bytes().startswith(magic)
    assert [p.name for p in tmp_path.iterdir()] == [name]  # no temporary file left


def test_save_figure_refuses_a_missing_folder_and_an_unknown_format(tmp_path):
    fig, _ = pyplot().subplots()
    with pytest.raises(SeqlabError, match="does not exist"):
        save_figure(fig, tmp_path / "no" / "a.png")
    fig, _ = pyplot().subplots()
    with pytest.raises(SeqlabError, match="cannot write format 'xyz'"):
        save_figure(fig, tmp_path / "a.xyz")
    assert list(tmp_path.iterdir()) == []
