# make demo: set up the environment and run the embedded default; make test: run the tests;
# make test-fast: the tests without workflow runs and SLURM (markers e2e and slurm), for the inner loop;
# both run a pytest-xdist worker per core (at most 4), each test file in one worker (its module's
# fixtures built once), the workers sharing one shared run (tests/conftest.py);
# make lint: the linters and formatters' checks (the same as .pre-commit-config.yaml).
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
CORES ?= $(shell nproc)
XDIST := -n auto --maxprocesses 4 --dist loadfile
export PATH := $(abspath $(BIN)):$(PATH)
export HF_HUB_OFFLINE := 1
export HF_DATASETS_OFFLINE := 1

.PHONY: env demo test test-fast lint clean

env: $(STAMP)

# torch first: its pinned CPU wheel then satisfies everything that depends on it. pip
# byte-compiles one file at a time; compileall afterwards uses every core, and leaves out the
# packages' own test suites (a fifth of the files), which nothing here imports. Like pip, it
# skips the few files that are not Python 3.11, hence the `|| true`.
$(STAMP): requirements/torch.txt requirements/base.txt requirements/dev.txt pyproject.toml
	python3 -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet --no-compile -r requirements/torch.txt
	$(BIN)/python -m pip install --quiet --no-compile -r requirements/base.txt
	$(BIN)/python -m pip install --quiet --no-compile -r requirements/dev.txt
	$(BIN)/python -m pip install --quiet --no-deps -e .
	$(BIN)/python -m compileall -qq -j 0 -x '/tests?/' $(VENV)/lib || true
	touch $@

demo: $(STAMP)
	snakemake --cores $(CORES)

test: $(STAMP)
	python -m pytest -ra $(XDIST)

test-fast: $(STAMP)
	python -m pytest -ra $(XDIST) -m "not e2e and not slurm"

lint: $(STAMP)
	ruff check .
	ruff format --check .
	snakefmt --check workflow
	snakemake --lint

clean:
	rm -rf results logs benchmarks data/prepared data/models .snakemake
