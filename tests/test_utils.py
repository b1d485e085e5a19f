"""seqlab.utils: the one thread policy (automatic count from the machine's load), integer checks."""

import os

import pytest
import torch

from seqlab import utils


@pytest.mark.parametrize("cores, load, now, torch_threads, want", [
    (4, 0.2, 0.1, 4, 4),   # idle: all of torch's threads
    (4, 1.6, 1.8, 4, 2),   # two cores busy elsewhere: the two idle ones
    (2, 2.9, 2.0, 2, 1),   # a busy machine: one thread, never zero
    (8, 0.0, 0.0, 2, 2),   # never more than torch's own setting
    (2, 0.1, 1.0, 2, 1),   # a program that just started: the load average lags, /proc/stat sees it
    (2, 1.0, 0.0, 2, 1),   # one that sleeps now: the load average still counts it
    (2, 0.0, None, 2, 2),  # no /proc/stat: the load average alone
])
def test_auto_threads_uses_the_cores_other_programs_leave_idle(monkeypatch, cores, load, now, torch_threads, want):
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: set(range(cores)))
    monkeypatch.setattr(os, "getloadavg", lambda: (load, load, load))
    monkeypatch.setattr(utils, "busy_cores", lambda window=0.1: now)
    monkeypatch.setattr(torch, "get_num_threads", lambda: torch_threads)
    assert utils.auto_threads() == want


def test_auto_threads_without_any_view_of_the_load_keeps_torch_setting(monkeypatch):
    def no_load():
        raise OSError("not available")

    monkeypatch.setattr(os, "getloadavg", no_load)
    monkeypatch.setattr(utils, "busy_cores", lambda window=0.1: None)
    monkeypatch.setattr(torch, "get_num_threads", lambda: 3)
    assert utils.auto_threads() == 3


def test_busy_cores_sees_a_busy_process():
    import subprocess
    import sys

    if utils.busy_cores(0.05) is None:
        pytest.skip("no /proc/stat on this system")
    spin = subprocess.Popen([sys.executable, "-c", "import time\nt = time.time()\nwhile time.time() - t < 5: pass"])
    try:
        import time

        time.sleep(0.3)
        assert utils.busy_cores(0.3) >= 0.7  # at least most of the one core it spins on
    finally:
        spin.kill()
        spin.wait()


def test_one_thread_policy_respects_the_user_and_resolves_0(monkeypatch):
    from seqlab.errors import SeqlabError

    monkeypatch.setattr(utils, "auto_threads", lambda: 5)
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    assert utils.resolve_threads(0) is None  # the user chose (environment): leave torch alone
    monkeypatch.delenv("OMP_NUM_THREADS")
    monkeypatch.setattr(utils, "_THREADS_AT_IMPORT", torch.get_num_threads())
    assert utils.resolve_threads(0) == 5
    monkeypatch.setattr(utils, "_THREADS_AT_IMPORT", torch.get_num_threads() + 1)
    assert utils.resolve_threads(0) is None  # torch.set_num_threads was called: respected
    assert utils.resolve_threads(3) == 3 and utils.resolve_threads(None) is None
    for bad in (-1, True, 1.5):
        with pytest.raises(SeqlabError, match="threads: expected 0 \\(automatic\\)"):
            utils.resolve_threads(bad)
    before = torch.get_num_threads()
    with utils.thread_policy(2):
        assert torch.get_num_threads() == 2
    assert torch.get_num_threads() == before


def test_check_int_messages_name_the_argument_and_the_bound():
    from seqlab.errors import SeqlabError, check_int

    assert check_int("n", 3) == 3 and check_int("k", 0, 0) == 0 and check_int("m", None, none="no limit") is None
    cases = [
        (dict(name="n", value=0), "n: expected a positive integer, got 0"),
        (dict(name="n", value=True), "n: expected a positive integer, got True"),
        (dict(name="n", value=2.0), "n: expected a positive integer, got 2.0"),
        (dict(name="k", value=-1, minimum=0), "k: expected a non-negative integer, got -1"),
        (dict(name="m", value=1, minimum=2, none="no limit"), "m: expected an integer >= 2 (or None for no limit), got 1"),
        (dict(name="t", value=None, meaning="the span"), "t: expected a positive integer (the span), got None"),
    ]
    for kwargs, message in cases:
        with pytest.raises(SeqlabError) as err:
            check_int(**kwargs)
        assert str(err.value) == message


def test_check_float_takes_numpy_real_scalars():
    """NumPy's real scalars are numbers (np.float32 was refused; np.float64, a float subclass, was
    not), returned as Python floats; NumPy bools, NaN and infinities stay refused."""
    import numpy as np

    from seqlab.errors import SeqlabError, check_float

    for v in (np.float32(2.0), np.float16(2.0), np.int64(2), np.uint8(2), np.float64(2.0)):
        got = check_float("x", v, 0, low_open=True)
        assert got == 2.0 and type(got) is float, v
    assert check_float("x", np.float32(0.5), 0, 1) == 0.5
    for v in (np.bool_(True), np.float32("nan"), np.float32("inf"), np.float32(-1.0), np.array(2.0)):
        with pytest.raises(SeqlabError, match=r"^x: expected a number > 0, got "):
            check_float("x", v, 0, low_open=True)


def test_check_float_refuses_numbers_beyond_float_range():
    """A real number too large for a float (a Python int, NumPy's long double) is refused as a
    SeqlabError, not returned as inf nor raised as an OverflowError."""
    import numpy as np

    from seqlab.errors import SeqlabError, check_float

    for v in (10**400, -(10**400), np.longdouble("1e400")):
        with pytest.raises(SeqlabError, match=r"^x: expected a number > 0, got "):
            check_float("x", v, 0, low_open=True)


def test_cpu_has_bf16_reads_the_flags(tmp_path):
    from seqlab.utils import cpu_has_bf16

    with_bf16 = tmp_path / "a"
    with_bf16.write_text("processor\t: 0\nflags\t\t: fpu sse2 avx512f avx512_bf16 avx512_vnni\n\nprocessor\t: 1\n")
    without = tmp_path / "b"
    without.write_text("processor\t: 0\nflags\t\t: fpu sse2 avx2 avx512f avx512bw\n")
    amx = tmp_path / "c"
    amx.write_text("flags\t\t: fpu amx_tile amx_bf16\n")
    assert cpu_has_bf16(str(with_bf16)) is torch.backends.mkldnn.is_available()
    assert cpu_has_bf16(str(amx)) is torch.backends.mkldnn.is_available()
    assert cpu_has_bf16(str(without)) is False
    assert cpu_has_bf16(str(tmp_path / "missing")) is False


def test_auto_precision_is_bfloat16_only_on_a_cpu_with_native_bfloat16(monkeypatch):
    import seqlab.text.task as task
    from seqlab.utils import cpu_has_bf16

    assert task.resolve_precision("auto", "cpu") == ("bfloat16" if cpu_has_bf16() else "float32")
    monkeypatch.setattr(task, "cpu_has_bf16", lambda: True)
    assert task.resolve_precision("auto", "cpu") == "bfloat16"
    assert task.resolve_precision("auto", "cuda") == "float32"
    assert task.resolve_precision("float32", "cpu") == "float32"
    monkeypatch.setattr(task, "cpu_has_bf16", lambda: False)
    assert task.resolve_precision("auto", "cpu") == "float32"
    assert task.resolve_precision("bfloat16", "cpu") == "bfloat16"


def test_an_output_folder_is_refused_with_an_example_of_the_right_kind(tmp_path):
    from seqlab.cli_args import check_output
    from seqlab.errors import SeqlabError

    with pytest.raises(SeqlabError, match=r"--out: .* is a folder; give a file name such as .*model\.onnx'"):
        check_output(tmp_path, "--out", (".onnx",))
    with pytest.raises(SeqlabError, match=r"--save: .* is a folder; give a file name such as .*model\.safetensors'"):
        check_output(tmp_path, "--save")
    assert check_output(tmp_path / "m.onnx", "--out", (".onnx",)) == tmp_path / "m.onnx"


def test_an_output_folder_that_cannot_be_written_is_refused_before_any_work(tmp_path, monkeypatch):
    # os.access says yes to root everywhere, /proc included: a file made and removed there decides
    import os

    from seqlab.cli_args import check_output
    from seqlab.errors import SeqlabError

    with pytest.raises(SeqlabError, match=r"^--out: cannot write in folder '/proc' \("):
        check_output("/proc/forecast.csv", "--out")
    monkeypatch.setattr(os, "access", lambda *a, **k: True)  # as for root
    ro = tmp_path / "ro"
    ro.mkdir()
    real = __import__("tempfile").mkstemp

    def refuse(*a, dir=None, **k):
        if str(dir) == str(ro):
            raise PermissionError(13, "Permission denied")
        return real(*a, dir=dir, **k)

    monkeypatch.setattr("tempfile.mkstemp", refuse)
    with pytest.raises(SeqlabError, match=r"--save: cannot write in folder .*ro' \(Permission denied\); choose another"):
        check_output(ro / "m.safetensors", "--save")
    assert check_output(tmp_path / "m.safetensors", "--save") == tmp_path / "m.safetensors"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ro"]  # the probe file is gone


def test_cli_says_how_to_pass_a_value_starting_with_a_dash(cli):
    """argparse reads ``--epochs -inf`` as two options; the one line says to write --epochs=-inf."""
    from tests.cli_helpers import assert_one_line_error

    code, _, err = cli("forecast", "--epochs", "-inf")
    assert_one_line_error(code, err, "--epochs=-inf")
    code, _, err = cli("generate", "sample", "--temperature", "-1e-3")
    assert_one_line_error(code, err, "--temperature=-1e-3")
    code, _, err = cli("forecast", "--epochs", "--quiet")  # a missing value: no hint about '='
    assert_one_line_error(code, err, "expected one argument")
    assert "=" not in err
    code, _, err = cli("forecast", "--epochs=-inf")
    assert_one_line_error(code, err, "expected an integer")


def test_an_unknown_option_names_the_sub_command_whose_help_lists_the_options(cli):
    from tests.cli_helpers import assert_one_line_error

    for args, prog in ((("generate", "train", "--steps", "3"), "seqlab generate train"),
                       (("forecast", "--steps", "3"), "seqlab forecast"),
                       (("translate", "predict", "--model", "m", "3/3/15", "--bogus"), "seqlab translate predict"),
                       (("--bogus",), "seqlab")):
        code, _, err = cli(*args)
        assert_one_line_error(code, err, "unrecognized arguments")
        assert err.startswith(f"{prog}: error:") and err.endswith(f"(see '{prog} --help')\n"), err
