"""``python -m seqlab.reference train``: it trains and prints losses and samples; bad input is one
line on stderr and exit code 2; the NumPy trainer's configs refuse bad values by name."""

import re
import subprocess
import sys

import numpy as np
import pytest

from seqlab.errors import SeqlabError
from seqlab.reference.__main__ import main
from seqlab.reference.net import NetConfig, init_params, loss_and_dy, net_forward, sample
from seqlab.reference.optim import Adam, SGD, clip_grad_norm, make_optimizer
from seqlab.reference.trainer import TrainConfig, streams

TEXT = "the cat sat on the mat. the dog sat on the log.\n" * 20  # 960 characters


@pytest.fixture
def text_file(tmp_path):
    path = tmp_path / "text.txt"
    path.write_text(TEXT)
    return path


def test_train_prints_losses_and_samples(text_file, capsys):
    code = main(["train", "--data", str(text_file), "--hidden", "24", "--steps", "40", "--every", "20",
                 "--batch-size", "4", "--seq-len", "10", "--sample-length", "30", "--optimizer", "adam", "--lr", "0.02"])
    out = capsys.readouterr()
    assert code == 0 and out.err == ""
    lines = out.out.splitlines()
    assert lines[0].startswith("960 characters (864 train, 96 validation), vocabulary 15; rnn 1x24, one-hot input")
    steps = [line for line in lines if line.startswith("step")]
    assert [s.split()[1] for s in steps] == ["0", "20", "40"]
    assert lines.count("----") == 4
    samples = [lines[i + 1] for i, line in enumerate(lines) if line == "----"][::2]
    assert all(set(s) <= set(TEXT) for s in samples)
    first, last = re.fullmatch(r"validation loss (\S+) -> (\S+) nats/char in 40 steps \(.*\)", lines[-1]).groups()
    assert float(last) < float(first) - 0.5


def test_default_is_the_gradient_check(capsys):
    assert main([]) == 0 and main(["check"]) == 0
    assert capsys.readouterr().out.count("max relative error") == 2


@pytest.mark.parametrize("content, args, message", [
    (None, [], "--data: text file '{path}' does not exist"),
    (b"", [], "--data: text file '{path}' is empty"),
    (b"  \n\t\n", [], "--data: text file '{path}' is empty"),
    (b"ab\x00cd" * 10, [], "--data: text file '{path}' looks binary: it holds a NUL byte"),
    (b"caf\xe9 au lait" * 5, [], "--data: text file '{path}' is not UTF-8 text (invalid byte at offset 3)"),
    (b"abc", ["--batch-size", "4"], "--data: expected at least 8 training characters for --batch-size 4, got 3"),
    (TEXT.encode(), ["--lr", "nan"], "argument --lr: expected a finite number > 0 and <= 10, got 'nan'"),
    (TEXT.encode(), ["--lr", "inf"], "argument --lr: expected a finite number > 0 and <= 10, got 'inf'"),
    (TEXT.encode(), ["--lr", "-0.1"], "argument --lr: expected a finite number > 0 and <= 10, got '-0.1'"),
    (TEXT.encode(), ["--clipnorm", "-1"], "argument --clipnorm: expected a finite number >= 0, got '-1'"),
    (TEXT.encode(), ["--weight-decay", "1e300"], ("argument --weight-decay: expected a finite number >= 0 and "
                                                  "<= 1, got '1e300'")),
    (TEXT.encode(), ["--weight-decay", "nan"], "argument --weight-decay: expected a finite number >= 0 and <= 1"),
    (TEXT.encode(), ["--weight-decay=-1e-3"], "argument --weight-decay: expected a finite number >= 0 and <= 1"),
    (TEXT.encode(), ["--momentum", "1"], "argument --momentum: expected a finite number >= 0 and < 1, got '1'"),
    (TEXT.encode(), ["--temperature", "0"], "argument --temperature: expected a finite number > 0, got '0'"),
    (TEXT.encode(), ["--val-fraction", "-0.5"], "argument --val-fraction: expected a finite number >= 0 and < 1"),
    (TEXT.encode(), ["--steps", "0"], "argument --steps: expected an integer in [1, 1000000000], got '0'"),
    (TEXT.encode(), ["--hidden", "-3"], "argument --hidden: expected an integer in [1, 100000], got '-3'"),
    (TEXT.encode(), ["--cell", "lstm-ln"], "argument --cell: invalid choice: 'lstm-ln'"),
    (TEXT.encode(), ["--optimizer", "rmsprop"], "argument --optimizer: invalid choice: 'rmsprop'"),
])
def test_bad_input_is_one_line_and_exit_2(tmp_path, capsys, content, args, message):
    path = tmp_path / "in.txt"
    if content is not None:
        path.write_bytes(content)
    assert main(["train", "--data", str(path), "--steps", "1", *args]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.endswith("\n")
    assert message.format(path=path) in err, err


def test_the_module_runs_as_a_command_without_torch(text_file):
    run = subprocess.run([sys.executable, "-m", "seqlab.reference", "train", "--data", str(text_file), "--steps", "3",
                          "--hidden", "8", "--sample-length", "5"], capture_output=True, text=True, timeout=60)
    assert run.returncode == 0 and run.stderr == "" and "validation loss" in run.stdout
    bad = subprocess.run([sys.executable, "-m", "seqlab.reference", "train", "--data", str(text_file) + ".missing"],
                         capture_output=True, text=True, timeout=60)
    assert bad.returncode == 2 and bad.stdout == "" and bad.stderr.count("\n") == 1
    code = ("import sys, seqlab.reference, seqlab.reference.__main__, seqlab.reference.trainer; "
            "assert 'torch' not in sys.modules")
    assert subprocess.run([sys.executable, "-c", code], timeout=60).returncode == 0


def test_sizes_that_cannot_fit_are_refused_before_allocating(text_file, capsys, monkeypatch):
    """--hidden 100000 is in the accepted range but asks for 1e10 float64 weights (74.5 GiB each
    for the weights, the gradients and Adagrad's sums): refused before anything is allocated by
    the estimate every job uses, naming the options, the estimate and the memory available (it
    was a numpy MemoryError traceback)."""
    import seqlab.resources

    monkeypatch.setattr(seqlab.resources, "available_memory", lambda device=None: 2 * 10**9)
    assert main(["train", "--data", str(text_file), "--hidden", "100000", "--steps", "1"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err
    assert err.startswith("python -m seqlab.reference train: error: --hidden/--layers/--embed/--batch-size/--seq-len: "
                          "these sizes need about 240.2 GB of memory (1e+10 parameters"), err
    assert "more than the 2.0 GB this machine has available" in err
    # the same sizes on a machine with the memory pass the check (the estimate counts float64 and
    # the optimizer's state: plain SGD keeps none)
    from seqlab.reference.__main__ import build_parser, check_memory

    args = build_parser().parse_args(["train", "--data", "x", "--hidden", "100000", "--optimizer", "sgd"])
    monkeypatch.setattr(seqlab.resources, "available_memory", lambda device=None: 161 * 10**9)
    check_memory(args, vocab=8, train_chars=1000)
    monkeypatch.setattr(seqlab.resources, "available_memory", lambda device=None: 160 * 10**9)
    with pytest.raises(SeqlabError, match="these sizes need about 160.1 GB"):
        check_memory(args, vocab=8, train_chars=1000)


def test_the_memory_check_runs_with_torch_blocked(text_file):
    """The estimate is seqlab.resources's, which imports no torch: the refusal works in a process
    where ``import torch`` fails."""
    code = ("import sys; sys.modules['torch'] = None\n"
            "import seqlab.resources\n"
            "seqlab.resources.available_memory = lambda device=None: 2 * 10**9\n"
            "from seqlab.reference.__main__ import main\n"
            f"sys.exit(main(['train', '--data', {str(text_file)!r}, '--hidden', '100000']))\n")
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=False)
    assert run.returncode == 2 and run.stdout == "", run.stderr[-2000:]
    assert run.stderr.count("\n") == 1 and "these sizes need about 240.2 GB" in run.stderr, run.stderr


def test_the_reference_imports_and_runs_with_torch_blocked():
    """``import torch`` fails in the subprocess: the reference, its command, the cell table and the
    gate facts they read (seqlab.nn.registry) still import, and a gradient check runs."""
    code = ("import sys; sys.modules['torch'] = None\n"
            "import numpy as np, seqlab.reference as r, seqlab.reference.__main__\n"
            "from seqlab.nn.registry import GATE_NAMES, gate_count\n"
            "rng = np.random.default_rng(0)\n"
            "p = {n: rng.normal(size=s) for n, s in [('weight_ih', (12, 2)), ('weight_hh', (12, 3))]}\n"
            "out, _, cache = r.stacked_forward('lstm', rng.normal(size=(2, 3, 2)), [p], lengths=[3, 2])\n"
            "assert out.shape == (2, 3, 3) and gate_count('lstm') == len(GATE_NAMES['lstm']) == 4\n"
            "assert sorted(r.CELLS) == ['gru', 'lstm', 'rnn']\n")
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=False)
    assert run.returncode == 0, run.stderr[-2000:]


@pytest.mark.parametrize("call, message", [
    (lambda: TrainConfig(optimizer="rmsprop"), "optimizer: expected one of sgd, momentum, adagrad, adam, got 'rmsprop'"),
    (lambda: TrainConfig(lr=float("nan")), "lr: expected a number > 0, got nan"),
    (lambda: TrainConfig(clip=-1.0), "clip: expected a number > 0 (or None for no clipping), got -1.0"),
    (lambda: TrainConfig(seq_len=0), "seq_len: expected a positive integer, got 0"),
    (lambda: NetConfig(10, cell="lstm-ln"), "cell: expected one of lstm, gru, rnn, rnn-relu, lstm-peephole, gru-reset-before, got 'lstm-ln'"),
    (lambda: NetConfig(10, input="bytes"), "input: expected one of onehot, embedding, real, got 'bytes'"),
    (lambda: NetConfig(0), "input_size: expected a positive integer, got 0"),
    (lambda: make_optimizer("lbfgs", 0.1), "optimizer: expected one of sgd, momentum, adagrad, adam, got 'lbfgs'"),
    (lambda: SGD(0.1, momentum=1.5), "momentum: expected a number in [0, 1), got 1.5"),
    (lambda: Adam(0.1, betas=(0.9,)), "betas: expected a pair (beta1, beta2) in [0, 1), got (0.9,)"),
    (lambda: Adam(float("inf")), "lr: expected a number > 0, got inf"),
    (lambda: SGD(0.1).update({"w": np.zeros(2)}, {}), "grads: expected a gradient for every parameter, got none for ['w']"),
    (lambda: clip_grad_norm({"w": np.ones(2)}, 0.0), "max_norm: expected a number > 0, got 0.0"),
    (lambda: streams(np.arange(5), 4), "ids: expected at least 2 tokens per stream (8 for batch_size 4), got 5"),
    (lambda: loss_and_dy(NetConfig(3), np.zeros((1, 2, 3)), np.array([[0, 3]])),
     "targets: expected integer ids in [0, 3) of shape (1, 2), got int64 (1, 2)"),
    (lambda: sample(init_params(NetConfig(2, 2, input="real", output="linear")), NetConfig(2, 2, input="real", output="linear"),
                    0, 3, np.random.default_rng(0)), "config: sampling needs ids in and a softmax out"),
])
def test_config_errors_name_the_argument(call, message):
    with pytest.raises(SeqlabError, match=re.escape(message)):
        call()


def test_a_tiny_temperature_samples_the_arg_max():
    """1e-310 is a valid temperature (the command's --temperature accepts it and passes it here):
    y / T overflowed to inf and inf - inf gave NaN probabilities, a ValueError from the sampler;
    (y - max y) / T puts all the mass on the arg max, so the sample is the greedy one."""
    config = NetConfig(5, 6)
    params = init_params(config, seed=3)
    greedy, ident, state = [], 2, None
    for _ in range(8):  # the arg max of each step's logits, fed back
        y, state, _ = net_forward(params, config, np.array([[ident]]), state)
        ident = int(np.argmax(y[0, -1]))
        greedy.append(ident)
    for t in (1e-310, 5e-324, 1e-12):
        assert sample(params, config, 2, 8, np.random.default_rng(0), temperature=t) == greedy
    assert sample(params, config, 2, 8, np.random.default_rng(0), temperature=np.float32(1e3)) == \
        sample(params, config, 2, 8, np.random.default_rng(0), temperature=1e3)  # numpy numbers are numbers


@pytest.mark.parametrize("temperature", [0, 0.0, -1.0, float("nan"), float("inf"), "1", None, True])
def test_sample_refuses_a_bad_temperature(temperature):
    config = NetConfig(4, 3)
    with pytest.raises(SeqlabError, match=r"^temperature: expected a number > 0 \(the sampling temperature.*\), "
                                          + re.escape(f"got {temperature!r}") + "$"):
        sample(init_params(config), config, 0, 3, np.random.default_rng(0), temperature=temperature)


def test_a_fifo_as_text_is_refused_without_blocking(tmp_path, capsys):
    import os

    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    assert main(["train", "--data", str(fifo), "--steps", "1"]) == 2  # would block forever if opened
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "--data" in err and "pipe" in err


@pytest.mark.parametrize("old,new", [("--text", "--data"), ("--clip", "--clipnorm"), ("--sample-len", "--sample-length"),
                                     ("--hidden-size", "--hidden")])
def test_old_spellings_of_train_point_to_the_new_ones(capsys, old, new):
    """The spellings of 'seqlab generate train': --data FILE, --clipnorm, --sample-length, --hidden."""
    assert main(["train", old, "1"]) == 2
    prog = "python -m seqlab.reference train"
    assert capsys.readouterr().err == f"{prog}: error: {old} was renamed {new} (see '{prog} --help')\n"
