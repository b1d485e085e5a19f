"""The .ts reader on files the tests write: labels, missing values, equal and unequal lengths,
several channels, targets, and one-line errors naming the file and line."""

import gzip

import numpy as np
import pytest

from seqlab.errors import SeqlabError
from seqlab.formats import fill_missing, parse_ts, read_ts


def _line(channels, label=None):
    """One case as the archive writes it: channels joined by ':', values by ',', then the label."""
    body = ":".join(",".join("?" if np.isnan(v) else repr(float(v)) for v in ch) for ch in channels)
    return body if label is None else f"{body}:{label}"


def test_univariate_equal_length_with_labels_comments_and_any_case(tmp_path):
    rng = np.random.default_rng(0)
    X = rng.normal(size=(5, 7))
    y = ["b", "a", "b", "b", "a"]
    text = "\n".join([
        "# a comment", "% another kind of comment", "",
        "@ProblemName Toy", "@TIMESTAMPS false", "@missing false", "@univariate true", "@equalLength true",
        "@seriesLength 7", "@classLabel true a b", "@data",
        *[_line([x], lab) for x, lab in zip(X, y)], "",
    ])
    path = tmp_path / "Toy_TRAIN.ts"
    path.write_text(text)
    d = read_ts(path)
    assert d.problem == "Toy" and d.class_labels == ["a", "b"] and d.y == y and d.channels == 1
    assert len(d.X) == 5 and all(x.shape == (7, 1) for x in d.X)
    np.testing.assert_array_equal(np.stack([x[:, 0] for x in d.X]), X)  # repr round-trips exactly
    # the same file gzip-compressed
    gz = tmp_path / "Toy_TRAIN.ts.gz"
    gz.write_bytes(gzip.compress(text.encode()))
    np.testing.assert_array_equal(np.stack(read_ts(gz).X), np.stack(d.X))


def test_multivariate_unequal_length_with_missing_values(tmp_path):
    rng = np.random.default_rng(1)
    cases = [rng.normal(size=(3, n)) for n in (4, 9, 1, 6)]  # (channels, time)
    cases[1][0, 2] = np.nan
    cases[1][2, 0] = np.nan
    cases[3][1, 5] = np.nan
    labels = ["walk", "Run", "walk", "run"]  # 'Run' is declared 'run': takes the declared spelling
    text = "\n".join(["@problemName M", "@missing true", "@univariate false", "@dimensions 3", "@equalLength false",
                      "@classLabel true walk run", "@data", *[_line(c, lab) for c, lab in zip(cases, labels)]])
    d = parse_ts(text, "m.ts")
    assert d.y == ["walk", "run", "walk", "run"] and d.channels == 3
    np.testing.assert_array_equal(d.lengths, [4, 9, 1, 6])
    for got, want in zip(d.X, cases):
        np.testing.assert_array_equal(got, want.T)  # (T, C); NaN where '?' was written
    assert d.missing == 3
    # missing values filled: linear between neighbours, the nearest value at the ends
    f = fill_missing(d.X[1])
    assert f[2, 0] == pytest.approx((cases[1][0, 1] + cases[1][0, 3]) / 2)
    assert f[0, 2] == cases[1][2, 1]
    assert fill_missing(d.X[3])[5, 1] == cases[3][1, 4]
    np.testing.assert_array_equal(np.delete(f, [2], axis=0)[:, 0], np.delete(cases[1][0], [2]))
    assert not np.isnan(f).any()


def test_no_labels_and_regression_targets():
    d = parse_ts("@univariate true\n@classLabel false\n@data\n1,2,3\n4,5,6\n")
    assert d.y is None and d.class_labels is None
    np.testing.assert_array_equal(d.X[1][:, 0], [4, 5, 6])
    r = parse_ts("@univariate true\n@targetLabel true\n@data\n1,2,3:0.5\n4,5,6:-2e3\n")
    assert r.target and r.y == [0.5, -2000.0]


@pytest.mark.parametrize("text, match", [
    ("@univariate true\n1,2:1\n", "line 2: expected a header line"),
    ("@univariate true\n@classLabel true 1 2\n", "no '@data' line"),
    ("@classLabel true 1 2\n@data\n1,2,3:3\n", "line 3: class label '3' is not one declared by @classLabel (1 2)"),
    ("@classLabel true\n@data\n1,2:1\n", "must list the class labels"),
    ("@classLabel true 1 2\n@data\n1,2,3\n", "line 3: expected the values, ':' and the class label"),
    ("@univariate false\n@classLabel true 1\n@data\n1,2,3:4,5:1\n", "channels have different lengths [3, 2]"),
    ("@dimensions 2\n@classLabel true 1\n@data\n1,2,3:1\n", "1 channel(s), but the header says 2"),
    ("@univariate true\n@classLabel false\n@data\n1,2:1\n", "(a label after ':' with '@classLabel false'?)"),
    ("@equalLength true\n@seriesLength 3\n@classLabel true 1\n@data\n1,2:1\n", "@seriesLength 3"),
    ("@classLabel true 1\n@data\n1,x,3:1\n", "line 3, channel 0: 'x' is not a number"),
    ("@classLabel true 1\n@data\n1,inf,3:1\n", "'inf' is not a finite number"),
    ("@missing false\n@classLabel true 1\n@data\n1,?,3:1\n", "case 0 has missing values"),
    ("@classLabel true 1\n@data\n?,?,?:1\n", "channel 0 has only missing values"),
    ("@timeStamps true\n@classLabel true 1\n@data\n(1,2.0):1\n", "@timeStamps true"),
    ("@missing maybe\n@data\n1\n", "@missing: expected true or false"),
    ("@classLabel true 1\n@data\n", "no cases after '@data'"),
    ("@classLabel true 1\n@data\n1,2:1\n1,2:3,4:1\n", "line 4: 2 channel(s), but the first case has 1"),
])
def test_errors_name_the_file_and_line(text, match):
    with pytest.raises(SeqlabError) as e:
        parse_ts(text, "bad.ts")
    assert match in str(e.value) and "bad.ts" in str(e.value)


def test_unreadable_files_are_one_line_errors(tmp_path):
    with pytest.raises(SeqlabError, match="does not exist"):
        read_ts(tmp_path / "none.ts")
    (tmp_path / "empty.ts").write_text("")
    with pytest.raises(SeqlabError, match="empty"):
        read_ts(tmp_path / "empty.ts")
