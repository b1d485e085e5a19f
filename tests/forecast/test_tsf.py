"""The Monash .tsf reader on files the tests write, and seqlab forecast --data file.tsf."""

import os

import numpy as np
import pandas as pd
import pytest

from seqlab.cli import main
from seqlab.errors import SeqlabError
from seqlab.forecast import prepare
from seqlab.forecast.tsf import read_tsf

HEADER = """# a comment
@relation demo
@attribute series_name string
@attribute state string
@attribute start_timestamp date
@frequency monthly
@horizon 4
@missing false
@equallength false
@data
"""


def series_line(name, state, n, seed):
    t = np.arange(n)
    y = 100 * (1 + seed) + 2 * t + 10 * np.sin(2 * np.pi * t / 12)
    return f"{name}:{state}:2010-01-01 00-00-00:" + ",".join(f"{v:.3f}" for v in y)


def write_tsf(path, lines, header=HEADER):
    path.write_text(header + "\n".join(lines) + "\n")
    return str(path)


def test_read_tsf_long_table_dates_static_attributes_and_horizon(tmp_path):
    path = write_tsf(tmp_path / "d.tsf", [series_line("T1", "NSW", 30, 0), series_line("T2", "VIC", 18, 1)])
    d = read_tsf(path)
    assert d.horizon == 4 and d.frequency == "MS" and d.relation == "demo"
    assert list(d.table.columns) == ["series", "time", "value", "state"]
    assert len(d.table) == 48 and d.table["time"].iloc[29] == pd.Timestamp("2012-06-01")
    series = prepare(path, static_covariates=["state"])
    assert [s.name for s in series] == ["T1", "T2"] and len(series[1]) == 18
    assert series[1].static == {"state": "VIC"} and series[0].freq == "MS"
    np.testing.assert_allclose(series[0].target[:2], [100.0, 102.0 + 10 * np.sin(np.pi / 6)], rtol=1e-4)


@pytest.mark.parametrize("lines,header,expected", [
    (["T1:NSW:2010-01-01 00-00-00:1,2,?,4"], HEADER, "missing value ('?')"),
    (["T1:NSW:2010-01-01 00-00-00:1,2,x"], HEADER, "non-numeric value 'x'"),
    (["T1:2010-01-01 00-00-00:1,2"], HEADER, "expected 3 attribute(s)"),
    ([], HEADER, "no series after @data"),
    (["T1:NSW:2010-01-01 00-00-00:1,2"], HEADER.replace("monthly", "fortnightly"), "unknown frequency"),
    (["T1:NSW:2010-01-01 00-00-00:1,2"], HEADER.replace("@data\n", ""), "line 10: expected a header line"),
    (["T1:NSW:2010-01-01 00-00-00:1,2"], HEADER.replace("@horizon 4", "@horizon soon"), "@horizon must be an integer"),
])
def test_malformed_tsf_files_are_one_clear_error(tmp_path, lines, header, expected):
    path = write_tsf(tmp_path / "bad.tsf", lines, header)
    with pytest.raises(SeqlabError, match="line|series|frequency|@data") as e:
        read_tsf(path)
    assert expected in str(e.value) and "\n" not in str(e.value)


def test_seqlab_forecast_reads_a_tsf_file_with_its_horizon(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    path = write_tsf(tmp_path / "d.tsf", [series_line(f"T{i}", "NSW", 20 + 3 * i, i) for i in range(4)])
    code = main(["forecast", "--data", path, "--epochs", "2", "--ensemble", "1", "--hidden", "4", "--folds", "1",
                 "--no-stats", "--no-plot", "--quiet", "--out", str(tmp_path / "per_series.csv")])
    out = capsys.readouterr().out
    assert code == 0, out
    assert "4 series, 98 values (lengths 20-29); horizon 4" in out and "calendar month (sin, cos)" in out
    table = pd.read_csv(tmp_path / "per_series.csv")
    assert len(table) == 16 and set(table["series"]) == {"T0", "T1", "T2", "T3"}
    assert "holdout MASE model (hybrid)" in table.columns  # short series: the hybrid (auto) and "holdout MASE seasonal naive" in table.columns
    bad = write_tsf(tmp_path / "bad.tsf", ["T1:NSW:2010-01-01 00-00-00:1,?"])
    os.remove(tmp_path / "per_series.csv")
    assert main(["forecast", "--data", bad, "--out", str(tmp_path / "x.csv"), "--quiet"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "missing value" in err
    assert sorted(os.listdir(tmp_path)) == ["bad.tsf", "d.tsf"]
