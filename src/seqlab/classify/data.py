"""Data for sequence classification: checks, padding, files, the embedded digits, splits.

Numeric sequences come as any of

* a list of arrays, each (T_i, F) or (T_i,) (one feature), of different lengths;
* a 3-D array (N, T, F) of equal-length sequences, or a 2-D array (N, T) with one feature;
* a padded 3-D array with ``lengths`` (N,): steps at or past ``lengths[i]`` are ignored.

Text comes as a list of strings. Files: a CSV with a text and a label column, a folder with one
sub-folder per class holding one text file per example, or an ``.npz`` with arrays ``X``
(N, T, F) or (N, T), ``y`` (N,) and optionally ``lengths`` (N,) for numeric sequences.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from ..errors import SeqlabError



#: the largest magnitude of a feature value: the features are float32, whose squares (the
#: scaler's variance, summed over up to millions of steps) overflow not far above this
MAX_FEATURE = 1e15

def is_text(X: Any) -> bool:
    """True for a list (or 1-D array) of strings."""
    if isinstance(X, str):
        raise SeqlabError("X: expected a list of texts or of sequences, got a single string; wrap it in a list: [text]")
    if isinstance(X, np.ndarray):
        return X.dtype.kind in "UO" and X.ndim == 1 and len(X) > 0 and isinstance(X[0], str)
    return isinstance(X, (list, tuple)) and len(X) > 0 and all(isinstance(x, str) for x in X)


def as_padded(X: Any, lengths: Any = None, num_features: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Numeric sequences in any accepted form -> ``(x (N, T_max, F) float32, lengths (N,) int64)``.

    Padding steps are set to 0. Raises SeqlabError for no sequences, an empty sequence, NaN or
    infinite values, or a number of features other than ``num_features``.
    """
    if isinstance(X, str):
        raise SeqlabError("X: expected a list of sequences, got a single string; wrap it in a list: [text]")
    if isinstance(X, np.ndarray) and X.dtype.kind in "biuf" and X.ndim in (2, 3):
        x = X.astype(np.float32)
        if x.ndim == 2:
            x = x[:, :, None]  # (N, T) -> (N, T, 1)
        N, T = x.shape[0], x.shape[1]
        if lengths is None:
            lens = np.full(N, T, dtype=np.int64)
        else:
            lens = np.asarray(lengths)
            if lens.shape != (N,) or lens.dtype.kind not in "iu":
                raise SeqlabError(
                    f"lengths: expected {N} integers (one per sequence), got shape {lens.shape} and dtype {lens.dtype}"
                )
            lens = lens.astype(np.int64)
            if N and int(lens.max()) > T:
                raise SeqlabError(f"lengths: values must be at most the padded length {T}, got {int(lens.max())}")
        x = x.copy()
        x[np.arange(T)[None, :] >= lens[:, None]] = 0.0  # padding steps never count
    elif isinstance(X, (list, tuple)) or (isinstance(X, np.ndarray) and X.dtype == object):
        if lengths is not None:
            raise SeqlabError("lengths: only for a padded 3-D array; a list of sequences carries its own lengths")
        seqs = []
        for i, s in enumerate(X):
            try:
                a = np.asarray(s, dtype=np.float32)
            except (TypeError, ValueError) as exc:
                raise SeqlabError(f"X[{i}]: expected an array of numbers (T, F) or (T,), got {type(s).__name__}: {exc}") from exc
            if a.ndim == 1:
                a = a[:, None]  # (T,) -> (T, 1)
            if a.ndim != 2:
                raise SeqlabError(f"X[{i}]: expected shape (time, features) or (time,), got {a.shape}")
            seqs.append(a)
        if seqs and len({a.shape[1] for a in seqs}) > 1:
            got = sorted({a.shape[1] for a in seqs})
            raise SeqlabError(f"X: every sequence must have the same number of features, got {got}")
        lens = np.array([a.shape[0] for a in seqs], dtype=np.int64)
        T = int(lens.max()) if len(seqs) else 0
        F = seqs[0].shape[1] if seqs else 0
        x = np.zeros((len(seqs), T, F), dtype=np.float32)  # (N, T_max, F)
        for i, a in enumerate(seqs):
            x[i, : len(a)] = a
    else:
        raise SeqlabError(
            "X: expected a list of arrays (T_i, F), a 3-D array (N, T, F), a padded array with lengths, "
            f"or a list of strings; got {type(X).__name__}"
            + (f" with shape {X.shape}" if isinstance(X, np.ndarray) else "")
        )
    if len(x) == 0:
        raise SeqlabError("X: no sequences were given; pass at least one")
    empty = np.flatnonzero(lens < 1)
    if len(empty):
        raise SeqlabError(f"X: sequence {int(empty[0])} is empty (0 steps); remove empty sequences or give them at least one step")
    if x.shape[2] == 0:
        raise SeqlabError("X: sequences have 0 features; each step needs at least one number")
    bad = ~np.isfinite(x)
    if bad.any():
        i, t, f = (int(v) for v in np.argwhere(bad)[0])
        raise SeqlabError(
            f"X: sequence {i} has a NaN or infinite value at step {t}, feature {f}; fill or drop missing values first"
        )
    huge = np.abs(x) > MAX_FEATURE
    if huge.any():  # float32 squares of it overflow the feature's variance: the scaler would zero the feature
        i, t, f = (int(v) for v in np.argwhere(huge)[0])
        raise SeqlabError(f"X: sequence {i} has the value {float(x[i, t, f]):g} at step {t}, feature {f}, beyond "
                          f"{MAX_FEATURE:g} in size; rescale the data (e.g. to other units)")
    if num_features is not None and x.shape[2] != num_features:
        raise SeqlabError(f"X: the model expects {num_features} feature(s) per step, got {x.shape[2]}")
    return x, lens


def znormalize(x: np.ndarray, lengths: np.ndarray) -> np.ndarray:
    """Each series z-normalised per channel over its own valid steps: ``(x - mean_t) / std_t``
    for padded ``x`` (N, T, F) with ``lengths`` (N,); a constant channel becomes 0; padding
    stays 0. The archive's univariate sets come z-normalised this way."""
    valid = (np.arange(x.shape[1])[None, :] < lengths[:, None])[..., None]  # (N, T, 1)
    n = lengths[:, None, None].astype(np.float64)  # (N, 1, 1)
    xv = np.where(valid, x, 0.0).astype(np.float64)
    mean = xv.sum(1, keepdims=True) / n  # (N, 1, F)
    var = (np.where(valid, xv - mean, 0.0) ** 2).sum(1, keepdims=True) / n
    std = np.sqrt(var)
    z = np.where(std > 1e-8, (xv - mean) / np.where(std > 1e-8, std, 1.0), 0.0)
    return np.where(valid, z, 0.0).astype(np.float32)


def check_labels(y: Any, n: int, fitting: bool = True) -> list:
    """Labels as a list of plain Python values; ``n`` must match; at least 2 classes when fitting."""
    if y is None:
        raise SeqlabError("y: labels are required")
    if isinstance(y, str):
        raise SeqlabError("y: expected one label per sequence (a list or array), got a single string")
    labels = [v.item() if isinstance(v, np.generic) else v for v in (y.tolist() if isinstance(y, np.ndarray) else y)]
    if len(labels) != n:
        raise SeqlabError(f"y: got {len(labels)} labels for {n} sequences; give exactly one label per sequence")
    for i, v in enumerate(labels):
        if isinstance(v, float) and not np.isfinite(v):
            raise SeqlabError(f"y: label {i} is NaN or infinite; every sequence needs a label")
        if not isinstance(v, (str, int, float, bool)):
            raise SeqlabError(f"y: label {i} must be a string or a number, got {type(v).__name__}")
    if fitting and len(set(labels)) < 2:
        only = labels[0] if labels else None
        raise SeqlabError(f"y: found a single class ({only!r}); a classifier needs at least 2 classes")
    return labels


def continuous_label(labels: Sequence) -> float | None:
    """A label that shows ``labels`` are continuous numbers, not classes: the first float that is
    not a whole number, when every label is a float (0.0, 1.0, 2.0 are classes); else None."""
    if not labels or not all(isinstance(v, float) for v in labels):
        return None
    return next((v for v in labels if not float(v).is_integer()), None)


def stratified_split(labels: Sequence, test_size: float, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Indices ``(train, test)``: about ``test_size`` of every class goes to test (at least 1 where
    the class has 2+ examples)."""
    if not 0 < test_size < 1:
        raise SeqlabError(f"test_size: expected a fraction in (0, 1), got {test_size!r}")
    rng = np.random.default_rng(seed)
    labels = np.asarray([str(v) for v in labels])
    train, test = [], []
    for c in np.unique(labels):
        idx = rng.permutation(np.flatnonzero(labels == c))
        k = int(round(test_size * len(idx)))
        k = min(max(k, 1 if len(idx) > 1 else 0), len(idx) - 1)
        test.extend(idx[:k])
        train.extend(idx[k:])
    return rng.permutation(np.array(train, dtype=np.int64)), np.sort(np.array(test, dtype=np.int64))


# -- files -------------------------------------------------------------------------------------

def load_csv(path: str | os.PathLike, text_column: str = "text", label_column: str | None = "label",
             sep: str | None = ","):
    """Texts and labels from a CSV (through :func:`seqlab.files.read_csv`: a byte-order mark,
    CRLF line ends, quoted fields, gzip and another separator ``sep`` are fine). Returns
    ``(texts, labels or None)``; label_column may be absent at prediction time."""
    from ..files import read_csv

    df = read_csv(path, "--data", sep, dtype=str, keep_default_na=False)
    if text_column not in df.columns:
        raise SeqlabError(
            f"text_column: {text_column!r} is not a column of {str(path)!r} (columns: {list(df.columns)}); "
            "pass --text-column NAME" + ("" if len(df.columns) > 1 else " (or --sep for another separator)")
        )
    labels = None
    if label_column is not None and label_column in df.columns:
        labels = [v.strip() for v in df[label_column].tolist()]  # ' 1' and '1' are one class, as a reader sees them
        missing = [i for i, v in enumerate(labels) if v == ""]
        if missing:
            raise SeqlabError(f"data: row {missing[0] + 1} of {str(path)!r} has no label in column {label_column!r}")
    texts = df[text_column].tolist()
    nul = [i for i, t in enumerate(texts) if "\x00" in t]
    if nul:
        raise SeqlabError(f"data: row {nul[0] + 1} of {str(path)!r} holds a NUL character; pass UTF-8 text")
    empty = [i for i, t in enumerate(texts) if not t.strip()]
    if empty:  # here, where its row is known (the estimator would only know its place after the split)
        raise SeqlabError(f"data: row {empty[0] + 1} of {str(path)!r} has no text in column {text_column!r}"
                          + (f" ({len(empty)} rows in all)" if len(empty) > 1 else "") + "; remove or fill it")
    return texts, labels


def folder_files(path: str | os.PathLike) -> list[tuple[Path, str, str]]:
    """The examples of a folder of classes: ``(file, path relative to the folder with '/', class)``
    for every regular file below each class folder (``DATA/<class>/...``, sub-folders of a class
    folder included, at any depth), in the order of sorted class folders, then sorted relative
    paths. Names starting with '.' (hidden files and folders) are left out. Anything else is
    refused, naming it: a file at the top level (beside the class folders), something below a
    class folder that is neither a regular file nor a folder (a FIFO, a device, a socket, a link
    to one of those or to a folder, a broken link), and a folder without a class folder. Nothing
    is opened here: a FIFO never blocks."""
    import stat

    root = Path(path)
    name = str(root)

    def entries(folder: Path) -> list[os.DirEntry]:
        try:
            with os.scandir(folder) as it:
                return sorted((e for e in it if not e.name.startswith(".")), key=lambda e: e.name)
        except OSError as exc:
            raise SeqlabError(f"--data: cannot list folder {str(folder)!r}: {exc.strerror or exc}") from None

    def kind(e: os.DirEntry) -> str:
        """'file', 'folder' (a real one, not a link), or what it is instead."""
        try:
            if e.is_dir(follow_symlinks=False):
                return "folder"
            mode = os.stat(e.path).st_mode  # a link is judged by what it points to
        except OSError:
            return "a broken link"
        if stat.S_ISREG(mode):
            return "file"
        if stat.S_ISDIR(mode):
            return "a link to a folder"
        return ("a FIFO (named pipe)" if stat.S_ISFIFO(mode) else "a device" if stat.S_ISCHR(mode) or stat.S_ISBLK(mode)
                else "a socket" if stat.S_ISSOCK(mode) else "not a regular file")

    top = entries(root)
    loose = [e for e in top if kind(e) not in ("folder", "a link to a folder")]
    if loose:
        more = f" and {len(loose) - 1} more" if len(loose) > 1 else ""
        raise SeqlabError(f"--data: folder {name!r} holds {str(Path(loose[0].path))!r}{more} beside its class "
                          "folders; expected DATA/<class>/<file>: move each file into the folder of its class, or "
                          "remove it")
    found: list[tuple[Path, str, str]] = []
    for c in top:  # a class folder may be a link to a folder; below it, links to folders are refused
        label = c.name
        todo = [Path(c.path)]
        files: list[Path] = []
        while todo:
            folder = todo.pop()
            for e in entries(folder):
                k = kind(e)
                if k == "file":
                    files.append(Path(e.path))
                elif k == "folder":
                    todo.append(Path(e.path))
                else:
                    raise SeqlabError(f"--data: {str(Path(e.path))!r} in class folder {label!r} is {k}, not a regular "
                                      "file; replace it with the file itself, or remove it")
        base = Path(c.path)
        rel = sorted((f.relative_to(base).parts, f) for f in files)
        found += [(f, Path(label, *parts).as_posix(), label) for parts, f in rel]
    if not found:
        raise SeqlabError(f"--data: folder {name!r} has no class sub-folders with text files; expected "
                          "DATA/<class>/<file>")
    return found


def load_folder(path: str | os.PathLike) -> tuple[list[str], list[str]]:
    """One sub-folder per class, one UTF-8 text file per example, at any depth below its class
    folder (:func:`folder_files`: hidden files are skipped; a file beside the class folders and
    anything that is not a regular file are refused). A file that is not UTF-8 text, or holds
    nothing but white space, is refused, naming it."""
    from ..files import decode_utf8, read_bytes

    texts, labels = [], []
    for f, rel, label in folder_files(path):
        data = read_bytes(f, "--data", "text file", "text", allow_empty=True)
        text = decode_utf8(data, str(f), "--data", "text file")
        if not text.strip():
            raise SeqlabError(f"--data: text file {str(f)!r} is empty{' (only white space)' if data else ''}; "
                              "put its text in, or remove it")
        texts.append(text)
        labels.append(label)
    return texts, labels


def load_npz(path: str | os.PathLike):
    """Numeric sequences from an ``.npz``: ``X``, optional ``y`` and ``lengths``. Returns
    ``(X, lengths, y)``. Read through the read boundary; no pickled objects; X must hold numbers
    and lengths integers."""
    import io
    import zipfile

    from ..files import read_bytes

    name = str(path)
    data = read_bytes(path, "--data", "data file", "npz")
    try:
        with np.load(io.BytesIO(data), allow_pickle=False) as z:
            arrays = {k: z[k] for k in z.files}
    except (OSError, ValueError, EOFError, KeyError, zipfile.BadZipFile, zipfile.LargeZipFile, MemoryError) as exc:
        raise SeqlabError(f"data: cannot read {name!r} as an .npz of arrays (truncated or another format?): "
                          f"{str(exc).splitlines()[0] if str(exc) else type(exc).__name__}") from None
    if "X" not in arrays:
        raise SeqlabError(f"data: {name!r} has no array 'X' (found {sorted(arrays)}); save with np.savez(path, X=..., y=...)")
    X, lengths, y = arrays["X"], arrays.get("lengths"), arrays.get("y")
    if X.dtype.kind not in "biuf":
        raise SeqlabError(f"data: array 'X' of {name!r} holds {X.dtype} values; an .npz holds numeric sequences "
                          "(for texts use a .csv with text and label columns)")
    if lengths is not None and lengths.dtype.kind not in "iu":
        raise SeqlabError(f"data: array 'lengths' of {name!r} holds {lengths.dtype} values; expected integers")
    if y is not None and y.dtype.kind not in "biufU":
        raise SeqlabError(f"data: array 'y' of {name!r} holds {y.dtype} values; expected numbers or strings")
    return X, lengths, y


def load_ts(path: str | os.PathLike):
    """Numeric sequences from a ``.ts`` file of the time-series archive (:mod:`seqlab.formats.ts`).
    Returns ``(X, None, y)``: X a list of (T_i, C) arrays with missing values filled
    (:func:`seqlab.formats.ts.fill_missing`), y the class labels (strings) or None."""
    from ..formats.ts import fill_missing, read_ts

    d = read_ts(path, "--data")
    if d.target:
        raise SeqlabError(f"data: {str(path)!r} is a regression problem (@targetLabel true); classify needs class "
                          "labels (@classLabel true ...)")
    return [fill_missing(x) if np.isnan(x).any() else x for x in d.X], None, d.y


def load_data(path: str | os.PathLike, text_column: str = "text", label_column: str = "label", sep: str | None = ","):
    """Any supported data file. Returns ``(X, lengths, y)``; X is a list of strings for text."""
    from ..files import check_input

    p = Path(path)
    if p.is_dir():
        texts, labels = load_folder(p)
        return texts, None, labels
    check_input(p, "--data", "data file")  # a regular file: not a FIFO, device or missing
    suffixes = [s.lower() for s in p.suffixes[-2:]]
    if suffixes[-1:] == [".npz"]:
        return load_npz(p)
    if suffixes[-1:] == [".ts"] or suffixes == [".ts", ".gz"]:
        return load_ts(p)
    if suffixes[-1:] in ([".csv"], [".tsv"], [".txt"]) or suffixes in ([".csv", ".gz"], [".tsv", ".gz"]):
        sep = "\t" if ".tsv" in suffixes and sep == "," else sep
        texts, labels = load_csv(p, text_column, label_column, sep)
        return texts, None, labels
    raise SeqlabError(f"data: unsupported file {str(p)!r}; use a .csv (text, label; .csv.gz too), a folder per "
                      "class, an .npz (X, y) or a .ts file of the time-series archive")


def load_digits_sequences() -> tuple[np.ndarray, np.ndarray]:
    """scikit-learn's 8x8 digits read row by row: ``X`` (1797, 8, 8) (8 steps of 8 pixels), ``y`` (1797,).

    The data ships inside scikit-learn (no download). Without it, raises SeqlabError telling to
    install the extra.
    """
    try:
        from sklearn.datasets import load_digits
    except ImportError as exc:
        raise SeqlabError(
            "the embedded digits dataset needs scikit-learn: pip install 'seqlab[sklearn]', or pass --data FILE"
        ) from exc
    d = load_digits()
    X = d.images.astype(np.float32)  # (1797, 8, 8): rows are time steps, pixels are features
    return X, d.target.astype(np.int64)
