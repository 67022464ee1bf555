"""Incremental runs: a finished run plus a config change plans only the jobs that change touches.

Each test dry-runs a modified config in a copy of the shared finished run (conftest's
``workflow_run``: the tiny demo model, easy_vqa with both splits, easy_vqa_yesno with train
only) and reads the plan from
``snakemake -n`` (the jobs) or ``snakemake --summary`` (one row per output file with its plan:
``no update`` or a reason).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from workflow_helpers import (
    RUN_DATASETS,
    RUN_SAMPLES,
    planned_jobs,
    run_config,
    snakemake,
    write_config,
)

FINISHED = list(RUN_DATASETS)  # easy_vqa (train, val) and easy_vqa_yesno (train)
ADDED = "easy_vqa_color"
SPLITS = ["train", "val"]

pytestmark = pytest.mark.e2e


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


def test_a_finished_run_plans_nothing(workflow_run):
    assert planned_outputs(workflow_run) == {}


def test_adding_a_dataset_plans_only_its_own_jobs(workflow_run_copy):
    """Rule all plans the new dataset's jobs and compare_all; the dataset's importance and the
    comparison of all datasets plan only their part of it."""
    workdir = workflow_run_copy
    write_config(workdir, run_config({**RUN_DATASETS, ADDED: SPLITS}))

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

    # the dataset's importance: its analysis split's jobs only
    result = snakemake(workdir, "-n", "--cores", "2", f"results/importance/{ADDED}.json")
    jobs = planned_jobs(result.stdout)
    assert sorted(rule for rule, _ in jobs) == sorted(
        ["prepare_dataset", "ablate", "importance", "importance_analysis_split"]
    )  # ablate holds the baseline
    assert {w.get("dataset") for _, w in jobs} == {ADDED}

    # the comparison of all datasets: the new dataset's comparison, then compare_all
    jobs = planned_jobs(
        snakemake(workdir, "--cores", "2", "--dry-run", "results/compare/all.json").stdout
    )
    assert ("compare_all", {}) in jobs, jobs
    others = [job for job in jobs if job[0] != "compare_all"]
    assert all(wildcards.get("dataset") == ADDED for _, wildcards in others), jobs
    assert sorted((rule, w.get("split")) for rule, w in others) == sorted(
        [*((rule, split) for rule, _, split in per_split), ("compare", None)]
    ), jobs


def test_changing_one_datasets_num_samples_reruns_only_that_dataset(workflow_run_copy):
    workdir = workflow_run_copy
    changed, kept = FINISHED[1], FINISHED[0]
    datasets = {
        kept: RUN_DATASETS[kept],
        changed: {"splits": RUN_DATASETS[changed], "num_samples": RUN_SAMPLES // 2},
    }
    write_config(workdir, run_config(datasets))

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


def test_moving_a_setting_into_a_dataset_entry_with_the_same_value_reruns_nothing(
    workflow_run_copy,
):
    workdir = workflow_run_copy
    datasets = {
        name: {"splits": splits, "num_samples": RUN_SAMPLES}
        for name, splits in RUN_DATASETS.items()
    }
    write_config(workdir, run_config(datasets))

    assert planned_outputs(workdir) == {}
