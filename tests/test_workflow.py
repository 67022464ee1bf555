"""End to end: the workflow on a small slice, every output checked against the HDF5 stores."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from vlmprune.data.prepare import load_prepared, select_samples
from vlmprune.engine.store import read_store
from vlmprune.metrics import get_metric
from workflow_helpers import (
    RUN_DATASETS,
    RUN_SAMPLES,
    TINY_DEMO,
    snakemake,
    write_config,
)

pytestmark = pytest.mark.e2e

NUM_SAMPLES = RUN_SAMPLES
DATASETS = RUN_DATASETS


@pytest.fixture(scope="module")
def run(workflow_run: Path) -> Path:
    return workflow_run


@pytest.mark.parametrize(
    "dataset, split", [(d, s) for d, splits in DATASETS.items() for s in splits]
)
def test_importance_equals_baseline_minus_ablated_accuracy_from_the_stores(run, dataset, split):
    evals = run / "results" / "evals" / dataset / split
    full = read_store(evals / "full.h5")
    records, _ = select_samples(
        load_prepared(run / "data" / "prepared" / dataset / split, dataset), NUM_SAMPLES, 0
    )
    assert full.sample_ids == list(records["sample_id"])
    metric = get_metric(full.attrs["metric"])
    importance = json.loads(
        (run / "results" / "importance" / dataset / f"{split}.json").read_text()
    )
    details = json.loads(
        (run / "results" / "importance" / dataset / f"{split}.details.json").read_text()
    )
    num_blocks = TINY_DEMO["text_layers"]
    assert list(importance) == [str(i) for i in range(num_blocks)]
    assert details["n"] == NUM_SAMPLES and details["warnings"] == []
    assert details["baseline_accuracy"] == pytest.approx(full.scores.mean())
    for block in range(num_blocks):
        dropped = read_store(evals / f"drop-{block}.h5")
        assert dropped.sample_ids == full.sample_ids
        assert dropped.attrs["blocks_removed"] == [block]
        rescored = [metric(p, r["answers"]) for p, r in zip(dropped.predictions, records)]
        assert rescored == list(dropped.scores)
        expected = full.scores.mean() - dropped.scores.mean()
        assert importance[str(block)] == pytest.approx(expected, abs=1e-12)
        entry = details["blocks"][str(block)]
        assert (
            entry["ci_low"] <= entry["importance"] + 1e-12
            and entry["importance"] <= entry["ci_high"] + 1e-12
        )


def test_dataset_importance_is_the_analysis_split(run):
    for dataset in DATASETS:
        summary = json.loads((run / "results" / "importance" / f"{dataset}.json").read_text())
        assert summary == json.loads(
            (run / "results" / "importance" / dataset / "train.json").read_text()
        )


def test_baseline_summary_matches_its_store(run):
    summary = json.loads((run / "results" / "baseline" / "easy_vqa" / "val.json").read_text())
    store = read_store(run / "results" / "evals" / "easy_vqa" / "val" / "full.h5")
    assert summary["accuracy"] == pytest.approx(store.accuracy)
    assert (
        summary["n"] == NUM_SAMPLES
        and summary["dataset"] == "easy_vqa"
        and summary["split"] == "val"
    )


def test_a_finished_target_is_a_no_op(run):
    result = snakemake(run, "-n", "--cores", "2", "results/importance/easy_vqa.json")
    assert "Nothing to be done" in result.stdout + result.stderr


def test_beams_are_validated_on_the_other_split(run):
    validation = json.loads(
        (run / "results" / "beam" / "easy_vqa" / "validate_val.json").read_text()
    )
    step1 = json.loads((run / "results" / "beam" / "easy_vqa" / "step1.json").read_text())
    expected = sorted({tuple(b) for b in step1["beams"]} | {tuple(step1["greedy"]["blocks"])})
    assert sorted(tuple(e["blocks"]) for e in validation["sets"]) == expected
    full = read_store(run / "results" / "evals" / "easy_vqa" / "val" / "full.h5")
    for entry in validation["sets"]:
        store = read_store(
            run / "results" / "evals" / "easy_vqa" / "val" / f"{entry['variant']}.h5"
        )
        assert entry["accuracy"] == pytest.approx(store.accuracy)
        assert entry["drop"] == pytest.approx(full.accuracy - store.accuracy)
    summary = json.loads((run / "results" / "beam" / "easy_vqa.json").read_text())
    assert summary["validation"]["split"] == "val"
    assert (
        summary["budgets"][0]["validation"]["recommended"]["variant"]
        == summary["budgets"][0]["recommended"]["variant"]
    )
    # easy_vqa_yesno has no val split: no validation is planned for it
    assert not (run / "results" / "beam" / "easy_vqa_yesno" / "validate_val.json").exists()


def test_the_findings_restate_the_result_files(run):
    findings = json.loads((run / "results" / "findings.json").read_text())
    assert list(findings["datasets"]) == list(DATASETS)
    for dataset, found in findings["datasets"].items():
        baseline = json.loads((run / "results" / "baseline" / dataset / "train.json").read_text())
        assert found["baseline_accuracy"] == pytest.approx(baseline["accuracy"])
        beam = json.loads((run / "results" / "beam" / f"{dataset}.json").read_text())
        assert [r["beam"]["blocks"] for r in found["beam_against_greedy"]] == [
            b["recommended"]["blocks"] for b in beam["budgets"]
        ]
    compared = json.loads((run / "results" / "compare" / "all.json").read_text())["datasets"]
    rho = findings["datasets"]["easy_vqa"]["train_vs_val"]["spearman_rho"]
    assert rho == compared["easy_vqa"]["spearman_rho"]
    assert (
        findings["datasets"]["easy_vqa_yesno"]["train_vs_val"]["verdict"]
        == (compared["easy_vqa_yesno"]["verdict"])
    )
    assert "What this run found" in (run / "results" / "findings.html").read_text()


def test_vision_blocks_are_ablated_end_to_end(tiny_llava, seed_prepared, tmp_path):
    seed_prepared(tmp_path, "easy_vqa", "val")
    write_config(
        tmp_path,
        {
            "model": {"path": str(tiny_llava), "device": "cpu"},
            "datasets": {"easy_vqa": {"splits": ["val"]}},
            "evaluation": {
                "num_samples": 16,
                "batch_size": 16,
                "chunk_size": 16,
                "analysis_split": "val",
            },
            "ablation": {"component": "vision"},
            "beam": {"validate_on": None},
        },
    )
    snakemake(tmp_path, "--cores", "2", "results/importance/easy_vqa/val.json")
    importance = json.loads(
        (tmp_path / "results" / "importance" / "easy_vqa" / "val.json").read_text()
    )
    assert list(importance) == [
        "0",
        "1",
    ]  # the tiny LLaVA's two vision layers, not its four decoder layers
    evals = tmp_path / "results" / "evals" / "easy_vqa" / "val"
    full = read_store(evals / "full.h5")
    for block in (0, 1):
        store = read_store(evals / f"drop-{block}.h5")
        assert store.attrs["component"] == "vision" and store.attrs["blocks_removed"] == [block]
        assert importance[str(block)] == pytest.approx(full.accuracy - store.accuracy, abs=1e-12)
