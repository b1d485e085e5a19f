# Two commands do all the set-up on a fresh machine:
#   make run    create .venv, install seqlab, run the main job (forecasting on embedded data)
#   make test   create .venv, install seqlab with test tools, run the whole test suite
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
# Where a local wheel directory exists (these machines keep the CPU build of torch there), use it.
FIND_LINKS := $(if $(wildcard /opt/wheels),--find-links /opt/wheels,)
PIP := $(BIN)/python -m pip install -q $(FIND_LINKS) -c constraints.txt

.PHONY: run test bench clean

$(BIN)/.installed: pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(PIP) -e ".[all,dev]"
	touch $@

run: $(BIN)/.installed
	$(BIN)/seqlab forecast

test: $(BIN)/.installed
	$(BIN)/python -m pytest -q

# Speed benchmarks (scripts, not tests): each prints the machine and ratios measured in one run.
bench: $(BIN)/.installed
	$(BIN)/python benchmarks/bench_nn.py
	$(BIN)/python benchmarks/bench_fit.py
	$(BIN)/python benchmarks/bench_speed.py
	$(BIN)/python benchmarks/bench_suite.py

clean:
	rm -rf $(VENV) .pytest_cache
