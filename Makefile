# make demo: set up the environment and run the embedded default; make test: run the tests.
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
CORES ?= $(shell nproc)
export PATH := $(abspath $(BIN)):$(PATH)
export HF_HUB_OFFLINE := 1
export HF_DATASETS_OFFLINE := 1

.PHONY: env demo test lint clean

env: $(STAMP)

# torch first: its pinned CPU wheel then satisfies everything that depends on it.
$(STAMP): requirements/torch.txt requirements/base.txt pyproject.toml
	python3 -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements/torch.txt
	$(BIN)/python -m pip install --quiet -r requirements/base.txt
	$(BIN)/python -m pip install --quiet --no-deps -e .
	touch $@

demo: $(STAMP)
	snakemake --cores $(CORES)

test: $(STAMP)
	python -m pytest -ra

lint: $(STAMP)
	snakemake --lint

clean:
	rm -rf results logs benchmarks data/prepared data/models .snakemake
