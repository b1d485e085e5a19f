"""The shared command-line helpers (seqlab.cli_args): the one table of renamed options, checked by
the shared parser in every command it applies to, and the argparse types."""

import argparse

import pytest

from seqlab.cli import build_parser, main
from seqlab.cli_args import MAX_SEED, RENAMED, float_type, int_type, renamed
from seqlab.reference.__main__ import build_parser as reference_parser
from seqlab.reference.__main__ import main as reference_main


def _parsers(parser, words=()):
    """(words before the options, parser) for ``parser`` and every sub-command under it."""
    yield list(words), parser
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                yield from _parsers(sub, (*words, name))


PARSERS = [("seqlab", w, p) for w, p in _parsers(build_parser())] + \
          [("reference", w, p) for w, p in _parsers(reference_parser())]


def _applies(key):
    """The commands where the table's ``key`` is refused with its pointer: (runner, words, prog)."""
    old = key.split()[-1]
    return [(runner, words, p.prog) for runner, words, p in PARSERS
            if renamed(old, p.prog, list(p._option_string_actions)) == RENAMED[key]]


@pytest.mark.parametrize("key", list(RENAMED))
def test_every_old_spelling_points_to_its_new_one_wherever_it_applies(key, capsys):
    """Each entry applies somewhere (none is dead), and there the old spelling, alone or as
    OLD=VALUE, exits 2 with one line naming the new spelling, before anything runs."""
    old, new = key.split()[-1], RENAMED[key]
    where = _applies(key)
    assert where, f"{key!r} applies to no command: the old spelling is still an option, or the new one is gone"
    for runner, words, prog in where:
        for given in ([old, "1"], [f"{old}=1"]):
            code = (main if runner == "seqlab" else reference_main)([*words, *given])
            out, err = capsys.readouterr()
            assert code == 2 and out == "", (prog, err)
            said = f"is gone: use {new}" if new.startswith("'") else f"was renamed {new}"  # a command, or an option
            assert err == f"{prog}: error: {old} {said} (see '{prog} --help')\n", err


def test_a_scoped_old_spelling_keeps_its_meaning_elsewhere():
    """--out, --text and --length still mean a results file, literal text and a sequence length
    in the commands that have them: the table refuses them only where they were renamed."""
    def refused(option):
        return {prog for key in RENAMED if key.split()[-1] == option for _, _, prog in _applies(key)}

    assert refused("--length") == {"seqlab generate sample"}
    assert refused("--text") == {"seqlab generate train", "seqlab tune generate", "python -m seqlab.reference train"}
    assert refused("--out") == {"seqlab classify train", "seqlab generate train", "seqlab translate train",
                                "seqlab tune forecast", "seqlab tune classify", "seqlab tune generate"}
    assert refused("--model") == {"seqlab forecast train"}  # the network kind there; the model file read elsewhere
    assert refused("--load") == {"seqlab forecast train", "seqlab forecast predict"}
    for prog in ("seqlab classify predict", "seqlab translate predict", "seqlab export", "seqlab forecast train",
                 "seqlab forecast predict", "seqlab explain states"):
        p = next(p for _, _, p in PARSERS if p.prog == prog)
        known = list(p._option_string_actions)
        assert all(renamed(o, prog, known) is None for o in ("--out", "--text", "--length", "--model") if o in known)


def test_no_parser_reads_an_abbreviation():
    """Every parser and sub-parser, the ones add_subparsers makes included, is the shared parser
    with argparse's prefix matching off."""
    from seqlab.cli import _Parser

    assert len(PARSERS) > 20
    for _, words, p in PARSERS:
        assert isinstance(p, _Parser) and p.allow_abbrev is False, (words, type(p), p.allow_abbrev)


def _leaves():
    """(runner, words, prog, an option with its last letter cut) for every parser without sub-commands."""
    for runner, words, p in PARSERS:
        if any(isinstance(a, argparse._SubParsersAction) for a in p._actions):
            continue
        known = [o for o in p._option_string_actions if o.startswith("--") and o != "--help"]
        if known:
            yield runner, words, p.prog, max(known, key=len)[:-1]


@pytest.mark.parametrize("runner, words, prog, cut", [pytest.param(*leaf, id=f"{leaf[2]} {leaf[3]}")
                                                      for leaf in _leaves()])
def test_an_abbreviated_option_is_refused_naming_it(runner, words, prog, cut, capsys):
    """argparse took an option's prefix for it (``translate train --input X`` was --input-feeding and a
    stray X): now a cut option, alone or as OPTION=VALUE, is one line naming it and the option meant."""
    for given in ([cut, "1"], [f"{cut}=1"]):
        code = (main if runner == "seqlab" else reference_main)([*words, *given])
        out, err = capsys.readouterr()
        assert code == 2 and out == "" and err.count("\n") == 1, (prog, err)
        assert err.startswith(f"{prog}: error: unrecognized arguments: {cut}; options are not abbreviated: "
                              f"did you mean {cut}"), err


def test_a_prefix_of_an_option_is_not_that_option(capsys):
    assert main(["translate", "train", "--input", "X"]) == 2
    assert capsys.readouterr().err == (
        "seqlab translate train: error: unrecognized arguments: --input; options are not abbreviated: did you "
        "mean --input-feeding? (see 'seqlab translate train --help')\n")
    assert main(["explain", "gradients", "--cl", "3"]) == 2
    assert "did you mean --clipnorm, --clip-steps or --clip-plot?" in capsys.readouterr().err
    assert main(["explain", "states", "--mod", "m.safetensors", "--text", "a"]) == 2  # not '--model is required'
    assert "unrecognized arguments: --mod; options are not abbreviated: did you mean --model?" in \
        capsys.readouterr().err
    assert main(["explain", "states", "--text", "a b", "--model", "--mo del"]) == 2  # a value with a space is a value
    assert "does not exist" in capsys.readouterr().err


def test_words_after_a_double_dash_are_not_options(capsys):
    """A text that looks like an old option, after '--', is text."""
    assert main(["translate", "predict", "--model", "/nonexistent.safetensors", "--", "--hidden-size"]) == 2
    assert "does not exist" in capsys.readouterr().err


def test_int_and_float_types():
    assert int_type(0, 5)("5") == 5 and int_type()("1") == 1
    with pytest.raises(argparse.ArgumentTypeError, match=r"expected an integer in \[0, 5\], got '6'"):
        int_type(0, 5)("6")
    with pytest.raises(argparse.ArgumentTypeError, match="expected an integer >= 1, got '0'"):
        int_type()("0")
    assert float_type(0, 1, high_open=True)("0.5") == 0.5
    with pytest.raises(argparse.ArgumentTypeError, match="expected a finite number > 0 and <= 10, got 'nan'"):
        float_type(0, 10, low_open=True)("nan")
    assert int_type(0, MAX_SEED)(str(MAX_SEED)) == MAX_SEED
