"""End to end: the beam search as stages of the DAG, on a tiny random LLaVA and a few samples.

A random model scores 0 on every sample, so every candidate ties: the run checks that ties go
to the lower block indices. The incremental behaviour is read from ``snakemake -n``; that a
step reuses a store instead of evaluating it again rests on the one fingerprint function
(``vlmprune.engine.identity``) and on ``split_reusable``'s unit test.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from conftest import save_tiny_llava
from vlmprune.analysis.beam.files import stored_fingerprint
from vlmprune.analysis.beam.search import extend, rank
from vlmprune.engine.run import run_evaluation
from vlmprune.engine.store import read_store
from vlmprune.settings import evaluation_settings, load_config, model_settings
from workflow_helpers import planned_jobs, snakemake, write_config

pytestmark = pytest.mark.e2e

BLOCKS = 5
SAMPLES = 8
TARGET = "results/beam/easy_vqa.json"


def config_for(model: Path, beam_width: int, max_blocks: int) -> dict:
    return {
        "model": {"path": str(model), "device": "cpu"},
        "datasets": {"easy_vqa": {"splits": ["train"]}},
        "evaluation": {"num_samples": SAMPLES, "batch_size": SAMPLES, "chunk_size": SAMPLES},
        "beam": {"beam_width": beam_width, "max_blocks_to_remove": max_blocks},
    }


@pytest.fixture(scope="module")
def run(tmp_path_factory, seed_prepared) -> Path:
    workdir = tmp_path_factory.mktemp("beam")
    seed_prepared(workdir, "easy_vqa", "train")
    model = save_tiny_llava(workdir / "tiny-llava", text_layers=BLOCKS)
    write_config(workdir, config_for(model, 3, 2))
    snakemake(workdir, "--cores", "2", TARGET)
    return workdir


def read(run: Path, name: str) -> dict:
    return json.loads((run / "results" / "beam" / name).read_text())


def engine_settings(run: Path) -> tuple[dict, dict]:
    """The model and evaluation settings the workflow's evaluation rules pass to run_evaluation."""
    config = load_config(config_for(run / "tiny-llava", 3, 2))
    return model_settings(config), evaluation_settings(config, "easy_vqa")


def test_step_one_reads_the_ablation_and_evaluates_nothing(run):
    step1 = read(run, "easy_vqa/step1.json")
    assert step1["evaluated"] == [] and step1["n"] == SAMPLES
    for entry in step1["candidates"]:
        assert (
            entry["accuracy"]
            == read_store(run / "results/evals/easy_vqa/train" / f"{entry['variant']}.h5").accuracy
        )
    assert "samples x variants" not in (run / "logs/beam/easy_vqa/step1.log").read_text()


def test_step_two_evaluates_each_distinct_candidate_once_and_ranks_ties_by_blocks(run):
    step1, step2 = read(run, "easy_vqa/step1.json"), read(run, "easy_vqa/step2.json")
    beams = [tuple(b) for b in step1["beams"]]
    distinct = extend(beams, BLOCKS)
    assert step2["seed_evaluations"] == len(distinct) < 3 * (BLOCKS - 1)
    assert (
        sorted(step2["evaluated"]) == sorted(e["variant"] for e in step2["candidates"])
        and step2["reused"] == []
    )
    assert len(step2["evaluated"]) == len(distinct)
    ranked = rank({tuple(e["blocks"]): e["accuracy"] for e in step2["candidates"]})
    assert [e["blocks"] for e in step2["candidates"]] == [list(b) for b in ranked]
    if len({e["accuracy"] for e in step2["candidates"]}) == 1:  # the random model: all tie
        assert step1["beams"] == [[0], [1], [2]] and step2["beams"] == [[0, 1], [0, 2], [0, 3]]
    summary = read(run, "easy_vqa.json")
    assert summary["variants"]["evaluated"] == len(distinct) and summary["variants"][
        "seed_procedure"
    ] == BLOCKS + 1 + len(distinct)
    assert [b["removed"] for b in summary["budgets"]] == [1, 2]
    assert (run / "results/beam/easy_vqa.png").stat().st_size > 0


def test_fused_step_equals_evaluating_each_candidate_alone(run, tmp_path):
    step2 = read(run, "easy_vqa/step2.json")
    evals = run / "results/evals/easy_vqa/train"
    model, evaluation = engine_settings(run)
    for variant in step2["evaluated"]:
        alone = tmp_path / f"{variant}.h5"
        run_evaluation(
            data=run / "data/prepared/easy_vqa/train",
            dataset="easy_vqa",
            split="train",
            variants=[variant],
            stores=[alone],
            summary=None,
            model=model,
            evaluation=evaluation,
        )
        fused, single = read_store(evals / f"{variant}.h5"), read_store(alone)
        assert fused.sample_ids == single.sample_ids and fused.predictions == single.predictions
        assert list(fused.scores) == list(single.scores)
        assert stored_fingerprint(evals / f"{variant}.h5") == single.attrs["fingerprint"]


def test_raising_max_blocks_plans_only_the_new_steps(run):
    write_config(run, config_for(run / "tiny-llava", 3, 4))
    jobs = planned_jobs(snakemake(run, "-n", "--cores", "2", TARGET).stdout)
    assert sorted((rule, w.get("k")) for rule, w in jobs) == [
        ("beam", None),
        ("beam_step", "3"),
        ("beam_step", "4"),
    ]


def test_changing_the_beam_width_plans_the_steps_again(run):
    write_config(run, config_for(run / "tiny-llava", 2, 2))
    jobs = planned_jobs(snakemake(run, "-n", "--cores", "2", TARGET).stdout)
    assert sorted((rule, w.get("k")) for rule, w in jobs) == [
        ("beam", None),
        ("beam_step", "2"),
        ("beam_step_1", None),
    ]
