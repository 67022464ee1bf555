"""Incremental runs: a finished run plus a config change plans only the jobs that change touches.

One small run of the workflow (tiny random LLaVA, two easy-VQA datasets, both splits) is made
once; each test then dry-runs a modified config in a copy of it and reads the plan from
``snakemake -n`` (the jobs) or ``snakemake --summary`` (one row per output file with its plan:
``no update`` or a reason).
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from workflow_helpers import planned_jobs, snakemake, write_config

FINISHED = ["easy_vqa_yesno", "easy_vqa_shape"]
ADDED = "easy_vqa_color"
SPLITS = ["train", "val"]

pytestmark = pytest.mark.e2e


def _config(model: Path, datasets: dict[str, dict]) -> dict:
    return {
        "model": {"path": str(model), "device": "cpu"},
        "datasets": datasets,
        "evaluation": {"num_samples": 8, "batch_size": 8, "chunk_size": 8},
        "multiflow": {"targets": [0.5]},  # an aggregate: no dataset in its path
        "beam": {"max_blocks_to_remove": 1},  # step 1 only: it reuses the ablation
        "latency": {
            "repeats": 1,
            "warmup": 0,
            "new_tokens": 2,
            "batch_size": 2,
        },  # rule all times the trade-off list
    }


def planned_outputs(workdir: Path) -> dict[str, tuple[str, str]]:
    """Output files the plan would (re)build: path -> (rule, status), from ``snakemake --summary``."""
    result = snakemake(workdir, "--summary")
    output = result.stdout + result.stderr
    lines = output.splitlines()
    header = next(i for i, line in enumerate(lines) if line.startswith("output_file\t"))
    columns = lines[header].split("\t")
    planned = {}
    for line in lines[header + 1 :]:
        fields = line.split("\t")
        if len(fields) != len(columns):
            continue
        row = dict(zip(columns, fields))
        if row["plan"] != "no update":
            planned[row["output_file"]] = (row["rule"], row["status"])
    return planned


def dataset_of(path: str, names: list[str]) -> str | None:
    """The dataset an output belongs to (a path component, or a file named after it), or None: an aggregate."""
    for part in Path(path).parts:
        stem = part.split(".", 1)[0]
        if part in names or stem in names:
            return part if part in names else stem
    return None


@pytest.fixture(scope="module")
def finished_run(tmp_path_factory: pytest.TempPathFactory, tiny_llava: Path) -> tuple[Path, Path]:
    """A finished run of two datasets; each test works on a copy."""
    workdir = tmp_path_factory.mktemp("incremental")
    write_config(workdir, _config(tiny_llava, {name: {"splits": SPLITS} for name in FINISHED}))
    snakemake(workdir, "--cores", "2")
    assert planned_outputs(workdir) == {}, "a finished run plans nothing"
    return workdir, tiny_llava


@pytest.fixture
def run_copy(finished_run: tuple[Path, Path], tmp_path: Path) -> tuple[Path, Path]:
    source, model = finished_run
    copy = tmp_path / "run"
    shutil.copytree(
        source, copy, symlinks=True, copy_function=shutil.copy2
    )  # keeps modification times
    return copy, model


def test_adding_a_dataset_plans_exactly_its_own_jobs_and_compare_all(run_copy):
    workdir, model = run_copy
    write_config(workdir, _config(model, {name: {"splits": SPLITS} for name in [*FINISHED, ADDED]}))

    jobs = planned_jobs(snakemake(workdir, "-n", "--cores", "2").stdout)

    key = lambda job: tuple(str(part) for part in job)  # noqa: E731 (None sorts with the names)
    planned = sorted(
        ((rule, w.get("dataset"), w.get("split")) for rule, w in jobs if rule != "all"), key=key
    )
    per_split = [
        (rule, ADDED, split)
        for rule in ("prepare_dataset", "ablate", "importance")
        for split in SPLITS
    ]  # ablate holds the baseline
    per_dataset = [
        (rule, ADDED, None)
        for rule in (
            "importance_analysis_split",
            "compare",
            "beam_step_1",
            "beam",
            "latency",
            "tradeoff",
        )
    ]
    expected = [
        *per_split,
        *per_dataset,
        ("beam_validate", ADDED, "val"),
        ("compare_all", None, None),
        ("findings", None, None),  # like compare_all, a summary over every dataset
    ]
    assert planned == sorted(expected, key=key), planned


def test_changing_one_datasets_num_samples_reruns_only_that_dataset(run_copy):
    workdir, model = run_copy
    changed, kept = FINISHED[1], FINISHED[0]
    write_config(
        workdir,
        _config(model, {kept: {"splits": SPLITS}, changed: {"splits": SPLITS, "num_samples": 12}}),
    )

    planned = planned_outputs(workdir)

    owners = {path: dataset_of(path, FINISHED) for path in planned}
    assert not [p for p, owner in owners.items() if owner == kept], f"{kept} replanned: {planned}"
    assert all(owner in (changed, None) for owner in owners.values()), planned
    stores = {p for p in planned if p.startswith(f"results/evals/{changed}/train/")}
    assert f"results/evals/{changed}/train/full.h5" in stores and any(
        "/drop-" in p for p in stores
    ), planned
    assert planned[f"results/evals/{changed}/train/full.h5"][1].startswith("params changed"), (
        planned
    )
    # the prepared data does not depend on num_samples
    assert f"data/prepared/{changed}/train" not in planned


def test_moving_a_setting_into_a_dataset_entry_with_the_same_value_reruns_nothing(run_copy):
    workdir, model = run_copy
    datasets = {name: {"splits": SPLITS, "num_samples": 8} for name in FINISHED}
    write_config(workdir, _config(model, datasets))

    assert planned_outputs(workdir) == {}
