"""The ``seqlab`` command: parses arguments, calls library code, nothing more.

Each job keeps its own sub-command in ``seqlab/<job>/cli.py`` with a ``register(subparsers)``
function that adds its parser and sets ``func`` (called with the parsed namespace, returning an
exit code or None). Bad input raises :class:`seqlab.errors.SeqlabError`; this module prints it as
one line on stderr and exits with code 2, never a traceback.
"""

from __future__ import annotations

import argparse
import importlib
import io
import os
import re
import sys
from collections.abc import Callable

from .errors import SeqlabError

# (sub-command module, in the order shown by --help)
_COMMANDS = [
    "seqlab.forecast.cli",
    "seqlab.classify.cli",
    "seqlab.text.cli",
    "seqlab.seq2seq.cli",
    "seqlab.diagnostics.cli",
    "seqlab.export.cli",
    "seqlab.tune.cli",
]


_ARGV: list[str] = []  # the words being parsed (for the hint of _negative_value_after)


def _negative_value_after(option: str) -> str | None:
    """The number-like word after ``option`` on the command line when it starts with '-' (such
    as -inf or -1e-3, which argparse takes for an option name), else None."""
    argv = _ARGV
    for i, word in enumerate(argv[:-1]):
        if word == option and argv[i + 1].startswith("-"):
            try:
                float(argv[i + 1])
            except ValueError:
                return None
            return argv[i + 1]
    return None


class _Parser(argparse.ArgumentParser):
    """argparse, but a usage error is one line on stderr and exit code 2; an option is only its
    whole name (no prefix matching: ``--input`` is not ``--input-feeding``, and an option added
    later cannot change what an abbreviation meant); an old spelling of a renamed option
    (:data:`seqlab.cli_args.RENAMED`) is refused naming the new one; and a parser of sub-commands
    given ``words_hint`` (a function of the words) says with it what to run when its words start
    with no sub-command (the old grammar of ``seqlab translate``), or given ``default_action``
    reads such words as that sub-command's (``seqlab forecast [OPTIONS]`` is ``seqlab forecast
    train [OPTIONS]``; only the first word is looked at, so a value spelled like a sub-command
    stays a value, and ``--help`` shows that sub-command's help).

    Sub-parsers are of this class too: ``add_subparsers`` makes its parsers of the parser's own
    class unless given another ``parser_class``."""

    words_hint: Callable[[list[str]], str] | None = None
    default_action: str | None = None

    def __init__(self, *args, **kwargs) -> None:
        kwargs["allow_abbrev"] = False
        super().__init__(*args, **kwargs)

    def parse_known_args(self, args=None, namespace=None):  # type: ignore[override]
        words = list(sys.argv[1:] if args is None else args)
        if self.default_action is not None:
            actions = {n for a in self._actions if isinstance(a, argparse._SubParsersAction) for n in a.choices}
            if not words or words[0] not in actions:
                words.insert(0, self.default_action)
        self._check_words(words)
        return super().parse_known_args(words, namespace)

    def _check_words(self, words: list[str]) -> None:
        from .cli_args import renamed

        known = list(self._option_string_actions)
        commands = [a for a in self._actions if isinstance(a, argparse._SubParsersAction)]
        for word in words:
            if word == "--":
                break
            option = word.split("=", 1)[0]
            if option.startswith("--"):
                new = renamed(option, self.prog, known)
                if new:  # a new option, or (quoted) the command that now does the old option's job
                    self.error(f"{option} is gone: use {new}" if new.startswith("'") else f"{option} was renamed {new}")
                # a parser of sub-commands sees their words too: only the last parser knows them all.
                # argparse would report a missing required option instead, or a stray value. A bare
                # '--' before '=' (--=x) names no option: argparse says it is unrecognized
                near = [k for k in known if k.startswith(option)] if not commands and option not in known \
                    and option != "--" and " " not in word else []
                if near:
                    either = " or ".join([", ".join(near[:-1]), near[-1]] if len(near) > 1 else near)
                    self.error(f"unrecognized arguments: {option}; options are not abbreviated: did you mean {either}?")
        if self.words_hint and commands and words and words[0] not in commands[0].choices \
                and words[0] not in ("-h", "--help"):
            self.error(self.words_hint(words))

    def error(self, message: str) -> None:  # type: ignore[override]
        match = re.fullmatch(r"argument (--[\w-]+)(?:/\S+)?: expected one argument", message)
        if match and _negative_value_after(match.group(1)):  # argparse read -inf as an option
            message += f"; a value starting with '-' goes after '=': {match.group(1)}={_negative_value_after(match.group(1))}"
        prog = self.prog
        if message.startswith("unrecognized arguments") and prog == "seqlab":
            # argparse reports these from the top parser: name the sub-command whose options they miss
            parser: argparse.ArgumentParser = self
            for word in _ARGV[:2]:
                sub = next((a.choices.get(word) for a in parser._actions
                            if isinstance(a, argparse._SubParsersAction)), None)
                if sub is None:
                    break
                parser = sub
            prog = parser.prog
        sys.stderr.write(f"{prog}: error: {message} (see '{prog} --help')\n")
        sys.exit(2)


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="seqlab",
        description=(
            "Recurrent neural networks for real jobs. Run 'seqlab forecast' for the main job on "
            "embedded data, or 'seqlab COMMAND --help' for any command's options."
        ),
    )
    from . import __version__

    parser.add_argument("--version", action="version", version=f"seqlab {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    for name in _COMMANDS:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name == name:  # that job has no command yet
                continue
            raise
        module.register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    try:
        return _main(argv)
    except BrokenPipeError:
        # the reader of the output went away (``seqlab ... | head``): stop quietly, as Unix tools
        # do, with the status of a process ended by SIGPIPE; stdout goes to /dev/null so that the
        # interpreter's last flush does not fail again
        try:
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, sys.stdout.fileno())
        except (OSError, ValueError, AttributeError, io.UnsupportedOperation):
            pass
        return 141


def _main(argv: list[str] | None) -> int:
    parser = build_parser()
    _ARGV[:] = sys.argv[1:] if argv is None else argv
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # --help, --version, or a usage error already printed as one line
        return int(exc.code or 0) if not isinstance(exc.code, str) else 2
    if not getattr(args, "func", None):
        if args.command is None:
            parser.print_help()
            return 0
        sys.stderr.write(f"seqlab {args.command}: error: expected a sub-command (see 'seqlab {args.command} --help')\n")
        return 2
    try:
        code = args.func(args)
    except SeqlabError as exc:
        sys.stderr.write(f"seqlab {args.command}: error: {_one_line(exc)}\n")
        return 2
    except KeyboardInterrupt:
        sys.stderr.write("seqlab: interrupted\n")
        return 130
    except (MemoryError, RuntimeError) as exc:
        # the last line of defence: the options are checked against the machine's memory before
        # anything is allocated (seqlab.resources), but an estimate can be short
        if not _out_of_memory(exc):
            raise
        sys.stderr.write(f"seqlab {args.command}: error: out of memory ({_one_line(exc)[:200]}); "
                         "use smaller sizes (--hidden, --layers, --batch-size, lengths)\n")
        return 2
    return int(code or 0)


def _one_line(exc: BaseException) -> str:
    """A message on one line: a library's multi-line text (pandas, torch) joined with '; '."""
    parts = [p.strip() for p in str(exc).splitlines() if p.strip()]
    return "; ".join(parts) if parts else type(exc).__name__


def _out_of_memory(exc: BaseException) -> bool:
    if isinstance(exc, MemoryError):
        return True
    text = str(exc)
    return type(exc).__name__ == "OutOfMemoryError" or "can't allocate memory" in text or "out of memory" in text


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
