"""The .ts reader against sktime's own loader on archive files its wheel ships (the archive extra)."""

import importlib.util
from pathlib import Path

import numpy as np
import pytest

from seqlab.formats import read_ts

DATA = Path(importlib.util.find_spec("sktime").submodule_search_locations[0]) / "datasets" / "data"


@pytest.mark.parametrize("name", ["JapaneseVowels_TRAIN", "BasicMotions_TEST", "GunPoint_TRAIN"])
def test_reads_archive_files_as_sktime_does(name):
    from sktime.datasets import load_from_tsfile

    path = DATA / name.split("_")[0] / f"{name}.ts"
    X, y = load_from_tsfile(str(path), return_data_type="nested_univ")  # a DataFrame: one Series per case and channel
    d = read_ts(path)
    assert len(d.X) == len(X) and d.channels == X.shape[1]
    for i in range(len(X)):
        want = np.stack([X.iloc[i, c].to_numpy() for c in range(X.shape[1])], 1)  # (T_i, C)
        np.testing.assert_array_equal(d.X[i], want)
    assert [v.lower() for v in d.y] == [str(v).lower() for v in y]
    assert set(d.y) <= set(d.class_labels)
