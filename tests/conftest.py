"""Shared fixtures: tiny checkpoints saved like real ones, prepared data, the shared run."""

from __future__ import annotations

import os
from itertools import islice
from pathlib import Path

import pytest
from filelock import FileLock

from workflow_helpers import RUN_TARGETS, copy_run, run_config, snakemake, write_config

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
if "PYTEST_XDIST_WORKER" in os.environ:
    # ``make test`` runs one pytest-xdist worker per core: one thread each, not cores x cores
    # (set before torch is imported; the workflow's jobs set their own from their threads)
    os.environ.setdefault("OMP_NUM_THREADS", "1")

REPO = Path(__file__).resolve().parents[1]


def save_tiny_llava(out_dir: Path, *, text_layers: int = 4, seed: int = 0) -> Path:
    """A random LLaVA with the demo model's tokenizer and processor, written by save_pretrained."""
    import torch

    from vlmprune.data.sources.easy_vqa import answer_vocabulary, iter_questions
    from vlmprune.demo.tokenizer import build_tokenizer
    from vlmprune.demo.train import build_model, build_processor

    torch.manual_seed(seed)
    texts = [row["question"] for row in islice(iter_questions("train"), 2000)]
    texts += answer_vocabulary()
    tokenizer = build_tokenizer(texts)
    processor = build_processor(tokenizer, patch_size=16)
    model = build_model(
        tokenizer,
        patch_size=16,
        vision_hidden=32,
        vision_intermediate=64,
        vision_layers=2,
        text_hidden=32,
        text_intermediate=64,
        text_layers=text_layers,
        heads=2,
    )
    model.save_pretrained(out_dir)
    processor.save_pretrained(out_dir)
    return out_dir


@pytest.fixture
def drawn_figures(monkeypatch: pytest.MonkeyPatch) -> list:
    """Every matplotlib figure saved during the test, in order, so that a test reads what was
    drawn."""
    from matplotlib.figure import Figure

    figures = []
    savefig = Figure.savefig

    def recording(self, *args, **kwargs):
        figures.append(self)
        return savefig(self, *args, **kwargs)

    monkeypatch.setattr(Figure, "savefig", recording)
    return figures


@pytest.fixture(scope="session")
def prepared_split(tmp_path_factory: pytest.TempPathFactory):
    """``prepared_split(dataset, split)``: that split written by prepare_dataset (as rule
    prepare_dataset writes it), once per session."""
    from vlmprune.data.prepare import prepare_dataset

    root = tmp_path_factory.mktemp("data")
    done: dict[tuple[str, str], Path] = {}

    def get(dataset: str, split: str) -> Path:
        if (dataset, split) not in done:
            prepare_dataset(dataset, split, root / dataset / split)
            done[dataset, split] = root / dataset / split
        return done[dataset, split]

    return get


@pytest.fixture(scope="session")
def prepared(prepared_split) -> Path:
    """easy-VQA val written by prepare_dataset, as rule prepare_dataset writes it."""
    return prepared_split("easy_vqa", "val")


@pytest.fixture(scope="session")
def seed_prepared(prepared_split):
    """``seed_prepared(workdir, dataset, split)``: a run directory gets that split's prepared
    records (copied, times kept), so that its run has no prepare_dataset job. For a run whose
    test is about something else: the shared run covers rule prepare_dataset."""

    def seed(workdir: Path, dataset: str, split: str) -> None:
        copy_run(prepared_split(dataset, split), workdir / "data" / "prepared" / dataset / split)

    return seed


def session_directory(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """This test session's temporary directory, the same in every pytest-xdist worker."""
    base = tmp_path_factory.getbasetemp()
    return base.parent if "PYTEST_XDIST_WORKER" in os.environ else base


@pytest.fixture(scope="session")
def workflow_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The shared finished run, for every end-to-end test that reads its outputs; read-only.

    ``snakemake --cores 2 all results/pruned/drop-1-3`` with ``workflow_helpers.run_config()``:
    the demo model trained by rule demo_model (``TINY_DEMO``: 4 decoder blocks), easy_vqa
    (train, val) and easy_vqa_yesno (train), ``RUN_SAMPLES`` samples, beam step 1, latency,
    trade-off, MULTIFLOW at 0.5 with its pruned evaluation and sparsity curve, and the export of
    ``RUN_EXPORT``. Outputs under ``results/``, ``data/``, ``logs/``, ``benchmarks/``. Dry runs
    of it (``snakemake(run, "-n", ...)``) are fine; to change its config take
    ``workflow_run_copy``.
    """
    workdir = session_directory(tmp_path_factory) / "workflow-run"
    done = workdir.with_name("workflow-run.done")
    with FileLock(workdir.with_name("workflow-run.lock")):  # the first worker runs it, once
        if not done.exists():
            write_config(workdir, run_config())
            snakemake(workdir, "--cores", "2", *RUN_TARGETS)
            done.touch()
    config = workdir / "config" / "config.yaml"
    written = config.read_text()
    yield workdir
    assert config.read_text() == written, (
        "a test changed the shared run's config: use workflow_run_copy"
    )


@pytest.fixture
def workflow_run_copy(workflow_run: Path, tmp_path: Path) -> Path:
    """A private copy of ``workflow_run`` (modification times and .snakemake metadata kept), to
    change the config of (``write_config(copy, run_config(...))``) and dry-run or run again."""
    return copy_run(workflow_run, tmp_path / "run")


@pytest.fixture(scope="session")
def tiny_llava(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return save_tiny_llava(tmp_path_factory.mktemp("models") / "tiny-llava")


@pytest.fixture(scope="session")
def tiny_checkpoint(tmp_path_factory: pytest.TempPathFactory):
    """``tiny_checkpoint(architecture)``: the directory of that architecture's tiny checkpoint,
    built once per session."""
    from tiny_models import BUILDERS

    root = tmp_path_factory.mktemp("architectures")
    built: dict[str, Path] = {}

    def get(architecture: str) -> Path:
        if architecture not in built:
            built[architecture] = BUILDERS[architecture](root / architecture)
        return built[architecture]

    return get
