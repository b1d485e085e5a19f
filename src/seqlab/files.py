"""The one boundary for files: every file a command reads, and every file it writes, passes here.

Reading (:func:`check_input`, :func:`read_bytes`, :func:`read_text`, :func:`read_csv`,
:func:`loads_json`):

* the path must name a regular file: a folder, a FIFO, a device (``/dev/zero``) or a socket is
  refused from ``os.stat`` alone, before anything opens it, so a FIFO never blocks a command;
* its size must be sane for its kind (:data:`LIMITS`), and it is read with that limit (a file
  that grows while it is read cannot make a command read forever);
* JSON is parsed with limits on length and nesting depth (a deeply nested header is refused, it
  never reaches the recursive decoder);
* every library error (pandas, NumPy, gzip, JSON, UTF-8) becomes one :class:`SeqlabError` line
  naming the option, the file and what is wrong with it.

Writing (:func:`write_outputs`, :func:`atomic_write_bytes`): every output is checked before any
work (:func:`seqlab.cli_args.check_output`) and written only once the whole computation has
succeeded, each to a temporary file in the same folder that is renamed over the target. The
temporary files have a fixed form, ``.NAME.seqlab-PID-RANDOM.tmp``: never a ``.safetensors`` or
``.csv`` name, refused by every loader, and removed by the next write to the same path when the
process that made them is gone (a write killed mid-way leaves nothing behind for long).
"""

from __future__ import annotations

import contextlib
import contextvars
import errno
import gzip
import io
import json
import os
import re
import secrets
import stat
import time
import zlib
from pathlib import Path
from typing import Any, Iterator, Mapping

from .errors import SeqlabError

GiB = 1 << 30
MiB = 1 << 20

#: the largest file of each kind a command reads, in bytes
LIMITS = {
    "model": 64 * GiB,  # a safetensors model or checkpoint (its header: HEADER_LIMIT)
    "csv": 4 * GiB,  # a table, also the decompressed size of a .csv.gz
    "npz": 16 * GiB,  # arrays
    "text": 2 * GiB,  # a UTF-8 corpus or a pairs file
}
#: the largest JSON header (safetensors' own limit is 100 MB) and the deepest nesting accepted
HEADER_LIMIT = 100 * MiB
JSON_DEPTH = 64

TEMP_TAG = ".seqlab-"
TEMP_SUFFIX = ".tmp"
_TEMP_RE = re.compile(r"^\.(?P<name>.+)\.seqlab-(?P<pid>\d+)-[0-9a-f]+\.tmp$")
# mkstemp's names, written by seqlab before the fixed form: ".NAME.XXXXXXXX.tmp"
_LEGACY_RE = re.compile(r"^\.(?P<name>.+)\.[a-z0-9_]{8}\.tmp$")
_LEGACY_AGE = 600.0  # seconds: an older file of the old form is debris, not a write in progress


def _size(n: float) -> str:
    for unit, scale in (("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if n >= scale:
            return f"{n / scale:.1f} {unit}"
    return f"{int(n)} bytes"


# -- reading -----------------------------------------------------------------------------------
def check_input(path: str | os.PathLike, option: str, what: str = "file", kind: str | None = None,
                allow_empty: bool = False, max_bytes: int | None = None) -> Path:
    """``path`` as a Path if it names a readable regular file of a sane size; else SeqlabError.

    Only ``os.stat`` looks at the file: nothing opens it, so a FIFO or device is refused without
    blocking. ``what`` names the file in messages ("model file", "data file"), ``kind`` picks
    the size limit of :data:`LIMITS` (or ``max_bytes``)."""
    if path is None or str(path) == "":
        raise SeqlabError(f"{option}: expected a file name, got {str(path)!r}")
    p = Path(path)
    name = str(p)
    if is_temp_name(p):
        raise SeqlabError(f"{option}: {name!r} is the temporary file of an unfinished write (a run was interrupted "
                          "while saving); pass the finished file, without the .seqlab-...tmp name")
    try:
        st = os.stat(p)
    except FileNotFoundError:
        raise SeqlabError(f"{option}: {what} {name!r} does not exist; check the path") from None
    except NotADirectoryError:
        raise SeqlabError(f"{option}: {what} {name!r} does not exist (a part of the path is a file, not a "
                          "folder)") from None
    except PermissionError:
        raise SeqlabError(f"{option}: {what} {name!r} cannot be read (permission denied)") from None
    except OSError as exc:
        raise SeqlabError(f"{option}: {what} {name!r} cannot be read: {exc.strerror or exc}") from None
    mode = st.st_mode
    if stat.S_ISDIR(mode):
        raise SeqlabError(f"{option}: {what} {name!r} is a folder; pass a file")
    if not stat.S_ISREG(mode):
        sort = ("a FIFO (named pipe)" if stat.S_ISFIFO(mode) else "a device" if stat.S_ISCHR(mode) or stat.S_ISBLK(mode)
                else "a socket" if stat.S_ISSOCK(mode) else "not a regular file")
        raise SeqlabError(f"{option}: {what} {name!r} is {sort}, not a regular file; save it to a file and pass that")
    limit = max_bytes if max_bytes is not None else LIMITS.get(kind or "", None)
    if st.st_size == 0 and not allow_empty:
        raise SeqlabError(f"{option}: {what} {name!r} is empty (0 bytes)")
    if limit is not None and st.st_size > limit:
        raise SeqlabError(f"{option}: {what} {name!r} is {_size(st.st_size)}, more than the {_size(limit)} a "
                          f"{kind or 'file'} may have; pass a smaller file")
    if not os.access(p, os.R_OK):
        raise SeqlabError(f"{option}: {what} {name!r} cannot be read (permission denied)")
    return p


def read_bytes(path: str | os.PathLike, option: str, what: str = "file", kind: str | None = None,
               allow_empty: bool = False, max_bytes: int | None = None) -> bytes:
    """The bytes of a file that passed :func:`check_input`, read with its size limit."""
    p = check_input(path, option, what, kind, allow_empty, max_bytes)
    limit = max_bytes if max_bytes is not None else LIMITS.get(kind or "", None)
    try:
        fd = os.open(p, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))  # a FIFO swapped in after stat: no hang
        with os.fdopen(fd, "rb") as fh:
            st = os.fstat(fh.fileno())
            if not stat.S_ISREG(st.st_mode):
                raise SeqlabError(f"{option}: {what} {str(p)!r} is not a regular file")
            cap = (1 << 62) if limit is None else limit + 1
            data = fh.read(min(st.st_size + 1, cap))  # the size stat gave, and a byte to see growth
            while len(data) < cap and (more := fh.read(min(1 << 24, cap - len(data)))):
                data += more
    except OSError as exc:
        raise SeqlabError(f"{option}: {what} {str(p)!r} cannot be read: {exc.strerror or exc}") from None
    if limit is not None and len(data) > limit:
        raise SeqlabError(f"{option}: {what} {str(p)!r} grew past {_size(limit)} while being read")
    return data


def decompress(data: bytes, name: str, option: str, what: str, limit: int) -> bytes:
    """``data`` itself, or its gzip content when it starts with the gzip magic bytes; the
    decompressed size is limited too (a small .gz cannot expand without bound)."""
    if data[:2] != b"\x1f\x8b":
        return data
    out = bytearray()
    try:
        with gzip.GzipFile(fileobj=io.BytesIO(data)) as fh:
            while chunk := fh.read(1 << 20):
                out += chunk
                if len(out) > limit:
                    raise SeqlabError(f"{option}: {what} {name!r} expands to more than {_size(limit)} when "
                                      "decompressed")
    except (OSError, EOFError, zlib.error) as exc:
        raise SeqlabError(f"{option}: {what} {name!r} is a damaged gzip file: {one_line(exc)}") from None
    return bytes(out)


def decode_utf8(data: bytes, name: str, option: str, what: str = "file", nul: bool = False) -> str:
    """UTF-8 text (a byte-order mark dropped); SeqlabError at the first invalid byte, and at a
    NUL character unless ``nul``."""
    first = -1 if nul else data.find(b"\x00")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        if first < 0 or exc.start < first:  # the first problem in the file is named
            raise SeqlabError(f"{option}: {what} {name!r} is not UTF-8 text (invalid byte at offset {exc.start}); "
                              "convert it to UTF-8 (e.g. iconv -t utf-8)") from None
        text = ""
    if first >= 0:
        line = data.count(b"\n", 0, first) + 1
        raise SeqlabError(f"{option}: {what} {name!r} looks binary: it holds a NUL byte (line {line}, offset "
                          f"{first}); pass a UTF-8 text file")
    return text


def read_text(path: str | os.PathLike, option: str, what: str = "text file", kind: str = "text",
              nul: bool = False) -> str:
    """A UTF-8 text file (gzip-compressed too) read through :func:`read_bytes`; a file with
    nothing but white space is an error."""
    data = read_bytes(path, option, what, kind)
    limit = LIMITS.get(kind, LIMITS["text"])
    text = decode_utf8(decompress(data, str(path), option, what, limit), str(path), option, what, nul)
    if not text.strip():
        raise SeqlabError(f"{option}: {what} {str(path)!r} is empty (only white space)")
    return text


def one_line(exc: BaseException | str) -> str:
    """An exception's message on one line (pandas and torch write several)."""
    text = str(exc)
    parts = [p.strip() for p in text.splitlines() if p.strip()]
    return "; ".join(parts) if parts else type(exc).__name__


def read_csv(path: str | os.PathLike, option: str = "--data", sep: str | None = ",", what: str = "data file",
             **kwargs: Any):
    """A CSV file as a pandas DataFrame, through the read boundary: a regular file of at most
    ``LIMITS['csv']``, gzip-compressed or not, UTF-8 with or without a byte-order mark, CRLF or LF
    line ends, fields quoted or not, separated by ``sep`` (None: guessed by pandas' sniffer).
    A ragged row, a binary file, a header without rows or with a column name twice (which pandas
    would silently rename NAME.1) is one SeqlabError line."""
    import pandas as pd

    name = str(path)
    data = read_bytes(path, option, what, "csv")
    data = decompress(data, name, option, what, LIMITS["csv"])
    if not data.strip():
        raise SeqlabError(f"{option}: {what} {name!r} is empty; it needs a header row and values")
    text = decode_utf8(data, name, option, what)
    sep = check_sep(sep, option="--sep")
    if kwargs.get("header", "infer") in ("infer", 0) and kwargs.get("names") is None:
        check_header(text, name, option, what, sep)
    try:
        df = pd.read_csv(io.StringIO(text), sep=sep, engine="python" if sep is None else "c", **kwargs)
    except pd.errors.EmptyDataError:
        raise SeqlabError(f"{option}: {what} {name!r} is empty; it needs a header row and values") from None
    except (pd.errors.ParserError, ValueError, TypeError, OverflowError, MemoryError, csv_error()) as exc:
        raise SeqlabError(f"{option}: {what} {name!r} is not a readable CSV: {one_line(exc)}"
                          + (f" (is the separator {sep!r} right? see --sep)" if "fields" in str(exc) else "")) from None
    if df.shape[0] == 0:
        raise SeqlabError(f"{option}: {what} {name!r} has a header but no rows of values")
    return df


def header_names(text: str, sep: str | None) -> list[str] | None:
    """The column names of the first row of CSV ``text`` as written (quoted fields and the
    separator ``sep`` respected; None: guessed from that row as pandas' sniffer does), or None
    when the row cannot be read (pandas then says what is wrong)."""
    import csv

    lines = io.StringIO(text, newline="")  # read lazily: only the first rows are looked at
    if sep is None:
        first = next((line for line in text[:1 << 20].splitlines() if line.strip()), "")
        try:
            sep = csv.Sniffer().sniff(first).delimiter
        except csv.Error:
            return None
    try:
        for row in csv.reader(lines, delimiter=sep, quotechar='"', doublequote=True):
            if any(field.strip() for field in row):  # pandas skips blank lines before the header
                return row
    except (csv.Error, ValueError):
        return None
    return None


def check_header(text: str, name: str, option: str = "--data", what: str = "data file",
                 sep: str | None = ",") -> None:
    """SeqlabError when two columns of the header row of CSV ``text`` have the same name (pandas
    would silently read them as NAME and NAME.1); empty names are pandas' 'Unnamed' columns."""
    names = header_names(text, sep)
    if not names:
        return
    seen: dict[str, list[int]] = {}
    for i, col in enumerate(names, 1):
        if col != "":
            seen.setdefault(col, []).append(i)
    dups = {col: at for col, at in seen.items() if len(at) > 1}
    if dups:
        listed = "; ".join(f"{col!r} (columns {', '.join(map(str, at))})" for col, at in list(dups.items())[:5])
        more = f" and {len(dups) - 5} more" if len(dups) > 5 else ""
        raise SeqlabError(f"{option}: {what} {name!r} has duplicate column names: {listed}{more}; give each column "
                          "its own name in the header row")


def csv_error() -> type[Exception]:
    import csv

    return csv.Error


def check_sep(sep: str | None, option: str = "--sep") -> str | None:
    """A CSV separator: one character that is not a quote, a line end or a letter or digit
    (``\\t`` written as the two characters is taken as a tab); None: guessed."""
    if sep is None:
        return None
    if sep == "\\t":
        sep = "\t"
    if len(sep) != 1 or sep in "\"'\r\n" or sep.isalnum():
        raise SeqlabError(f"{option}: expected one separator character such as , ; | or \\t, got {sep!r}")
    return sep


def loads_json(text: str | bytes, where: str, max_bytes: int = HEADER_LIMIT, max_depth: int = JSON_DEPTH) -> Any:
    """``json.loads`` with limits: at most ``max_bytes`` long and ``max_depth`` levels of nesting
    (checked by a scan before the recursive decoder sees it); SeqlabError naming ``where``."""
    if isinstance(text, (bytes, bytearray)):
        if len(text) > max_bytes:
            raise SeqlabError(f"{where}: JSON of {_size(len(text))}, more than the {_size(max_bytes)} allowed")
        try:
            text = bytes(text).decode("utf-8")
        except UnicodeDecodeError as exc:
            raise SeqlabError(f"{where}: JSON that is not UTF-8 (invalid byte at offset {exc.start})") from None
    if len(text) > max_bytes:
        raise SeqlabError(f"{where}: JSON of {_size(len(text))}, more than the {_size(max_bytes)} allowed")
    depth = json_depth(text)
    if depth > max_depth:
        raise SeqlabError(f"{where}: JSON nested {depth} levels deep, more than the {max_depth} allowed")
    try:
        return json.loads(text)
    except (ValueError, RecursionError) as exc:
        raise SeqlabError(f"{where}: invalid JSON: {one_line(exc)}") from None


_STRING = re.compile(r'"(?:[^"\\]|\\.)*"', re.S)
_BRACKET = re.compile(r"[\[\]{}]")


def json_depth(text: str) -> int:
    """The deepest nesting of arrays and objects in JSON ``text`` (brackets inside strings do
    not count); linear time, no recursion."""
    depth = best = 0
    for m in _BRACKET.finditer(_STRING.sub('""', text)):
        if m.group() in "[{":
            depth += 1
            best = max(best, depth)
        else:
            depth -= 1
    return best


# -- writing -----------------------------------------------------------------------------------
def is_temp_name(path: str | os.PathLike) -> bool:
    """True for the name of a temporary file of :func:`atomic_write_bytes`."""
    return bool(_TEMP_RE.match(Path(path).name))


def temp_path(path: Path) -> Path:
    """A fresh temporary name next to ``path``: ``.NAME.seqlab-PID-RANDOM.tmp``."""
    folder = path.parent if str(path.parent) else Path(".")
    return folder / f".{path.name}{TEMP_TAG}{os.getpid()}-{secrets.token_hex(4)}{TEMP_SUFFIX}"


def _alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OSError):
        return True  # someone else's live process
    return True


def remove_stale_temps(path: str | os.PathLike) -> list[Path]:
    """Remove the temporary files that interrupted writes to ``path`` left behind: those of
    processes no longer running, and old-form ones (before the fixed form) older than ten
    minutes. A write in progress in a live process is left alone. Returns what was removed."""
    path = Path(path)
    folder = path.parent if str(path.parent) else Path(".")
    removed = []
    try:
        entries = list(os.scandir(folder))
    except OSError:
        return removed
    now = time.time()
    for e in entries:
        m = _TEMP_RE.match(e.name)
        stale = False
        if m and m.group("name") == path.name:
            stale = not _alive(int(m.group("pid")))
        else:
            legacy = _LEGACY_RE.match(e.name)
            if legacy and legacy.group("name") == path.name:
                try:
                    stale = now - e.stat(follow_symlinks=False).st_mtime > _LEGACY_AGE
                except OSError:
                    stale = False
        if stale and e.is_file(follow_symlinks=False):
            try:
                os.unlink(e.path)
                removed.append(Path(e.path))
            except OSError:
                pass
    return removed


def _file_mode() -> int:
    """The mode a plain ``open(path, "w")`` would give a new file: 0666 less the umask."""
    umask = os.umask(0)
    os.umask(umask)
    return 0o666 & ~umask


def _write_temp(path: Path, data: bytes) -> Path:
    folder = path.parent if str(path.parent) else Path(".")
    if not folder.exists():
        raise SeqlabError(f"path: folder {str(folder)!r} does not exist; create it first or choose another path")
    if path.is_dir():
        raise SeqlabError(f"path: {str(path)!r} is a folder; give a file name")
    remove_stale_temps(path)
    tmp = temp_path(path)
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, _file_mode())
    except OSError as exc:
        raise SeqlabError(f"path: cannot write in folder {str(folder)!r}: {exc.strerror or exc}") from None
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
    except BaseException as exc:
        _unlink(tmp)
        if isinstance(exc, OSError) and exc.errno in (errno.ENOSPC, errno.EDQUOT, errno.EFBIG):
            raise SeqlabError(f"path: no room to write {str(path)!r} ({exc.strerror}); nothing was changed") from None
        raise
    return tmp


def _unlink(p: Path) -> None:
    try:
        os.unlink(p)
    except FileNotFoundError:
        pass


_held: contextvars.ContextVar[dict[Path, bytes] | None] = contextvars.ContextVar("seqlab_held_writes", default=None)


def atomic_write_bytes(path: str | os.PathLike, data: bytes) -> None:
    """Write ``data`` to ``path`` atomically: a temporary file in the same folder, fsync, rename.
    A crash at any moment leaves either the old file or the new one, never a mix. Inside
    :func:`held_writes` the write waits for the end of the block."""
    held = _held.get()
    if held is not None:
        held[Path(path)] = bytes(data)
        return
    write_outputs({path: data})


def atomic_write_text(path: str | os.PathLike, text: str) -> None:
    """:func:`atomic_write_bytes` of ``text`` in UTF-8."""
    atomic_write_bytes(path, text.encode("utf-8"))


@contextlib.contextmanager
def held_writes() -> Iterator[dict[Path, bytes]]:
    """Within the block, every :func:`atomic_write_bytes` (model files, plots, CSV files) is held
    in memory; when the block ends without an exception they are all written by
    :func:`write_outputs`, and when it raises none is: a command that fails half-way through
    producing its outputs changes no earlier file."""
    if _held.get() is not None:  # nested: the outer block writes
        yield _held.get()
        return
    held: dict[Path, bytes] = {}
    token = _held.set(held)
    try:
        yield held
    finally:
        _held.reset(token)
    write_outputs(held)


def write_outputs(outputs: Mapping[str | os.PathLike, bytes]) -> list[Path]:
    """Write every output of a command at once, after the whole computation succeeded: first
    each to its temporary file (fsynced), then every rename. A failure before the renames
    changes no earlier file. Returns the paths written."""
    temps: list[tuple[Path, Path]] = []
    try:
        for path, data in outputs.items():
            p = Path(path)
            temps.append((_write_temp(p, data), p))
        for tmp, p in temps:
            os.replace(tmp, p)
    except BaseException:
        for tmp, _ in temps:
            _unlink(tmp)
        raise
    return [p for _, p in temps]


__all__ = ["HEADER_LIMIT", "JSON_DEPTH", "LIMITS", "atomic_write_bytes", "atomic_write_text", "check_header", "check_input", "check_sep",
           "decode_utf8", "decompress", "held_writes", "is_temp_name", "json_depth", "loads_json", "one_line", "read_bytes",
           "read_csv", "read_text", "remove_stale_temps", "temp_path", "write_outputs"]
