"""End to end: the beam search as stages of the DAG, on a tiny random LLaVA and a few samples.

A random model scores 0 on every sample, so every candidate ties: the run checks that ties go
to the lower block indices. The joint search over both datasets (``beam.objective: mean``) runs
on the same stores. The incremental behaviour is read from ``snakemake -n``; that a
step reuses a store instead of evaluating it again rests on the one fingerprint function
(``vlmprune.engine.identity``) and on ``split_reusable``'s unit test.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from conftest import save_tiny_llava
from vlmprune.analysis.beam.files import stored_fingerprint
from vlmprune.analysis.beam.search import extend, rank
from vlmprune.engine.run import run_evaluation
from vlmprune.engine.store import read_raced, read_store
from vlmprune.settings import evaluation_settings, load_config, model_settings
from workflow_helpers import copy_run, planned_jobs, snakemake, write_config

pytestmark = pytest.mark.e2e

BLOCKS = 5
SAMPLES = 16
# two chunks: the raced search (below) looks after each; it starts from this run's ablation
EVALUATION = {"num_samples": SAMPLES, "batch_size": 8, "chunk_size": 8}
TARGET = "results/beam/easy_vqa.json"


def config_for(model: Path, beam_width: int, max_blocks: int, *extra: str) -> dict:
    """easy_vqa (the per-dataset tests' target) and easy_vqa_shape, with the joint search on."""
    datasets = ["easy_vqa", "easy_vqa_shape", *extra]
    return {
        "model": {"path": str(model), "device": "cpu"},
        "datasets": {d: {"splits": ["train"]} for d in datasets},
        "evaluation": EVALUATION,
        "beam": {"beam_width": beam_width, "max_blocks_to_remove": max_blocks, "objective": "mean"},
        "latency": {"repeats": 1, "warmup": 0, "new_tokens": 2, "batch_size": 2},
    }


@pytest.fixture(scope="module")
def run(tmp_path_factory, seed_prepared) -> Path:
    workdir = tmp_path_factory.mktemp("beam")
    for dataset in ("easy_vqa", "easy_vqa_shape"):
        seed_prepared(workdir, dataset, "train")
    model = save_tiny_llava(workdir / "tiny-llava", text_layers=BLOCKS)
    write_config(workdir, config_for(model, 3, 2))
    snakemake(workdir, "--cores", "2", TARGET)
    return workdir


def read(run: Path, name: str) -> dict:
    return json.loads((run / "results" / "beam" / name).read_text())


def engine_settings(model: Path) -> tuple[dict, dict]:
    """The model and evaluation settings the workflow's evaluation rules pass to run_evaluation."""
    config = load_config(config_for(model, 3, 2))
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
    model, evaluation = engine_settings(run / "tiny-llava")
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


JOINT_TARGET = "results/tradeoff/all.json"
JOINT_RULES = {
    "beam_joint_step_1",
    "beam_joint_evaluate",
    "beam_joint_step",
    "beam_joint",
    "latency_all",
    "tradeoff_all",
}


@pytest.fixture(scope="module")
def joint(run) -> Path:
    """The joint search and trade-off on the per-dataset run's stores."""
    write_config(run, config_for(run / "tiny-llava", 3, 2))
    snakemake(run, "--cores", "2", JOINT_TARGET)
    return run


def test_the_joint_search_reads_every_datasets_stores_and_trades_off(joint):
    for k in (1, 2):
        step = read(joint, f"all/step{k}.json")
        assert step["datasets"] == ["easy_vqa", "easy_vqa_shape"] and step["objective"] == "mean"
        for entry in [*step["candidates"], step["greedy"], *step["per_dataset"].values()]:
            for dataset, per in entry["datasets"].items():
                store = read_store(joint / f"results/evals/{dataset}/train/{entry['variant']}.h5")
                assert per["accuracy"] == store.accuracy
    summary = read(joint, "all.json")
    assert [b["removed"] for b in summary["budgets"]] == [1, 2]
    tradeoff = json.loads((joint / JOINT_TARGET).read_text())
    joint_sets = {b["recommended"]["variant"] for b in summary["budgets"]}
    assert {b["joint"] for b in tradeoff["budgets"][1:]} == joint_sets
    assert {row["variant"] for row in tradeoff["lookup"]} <= joint_sets | {"full"}
    latency = json.loads((joint / "results/latency/all.json").read_text())
    assert latency["dataset"] == "all" and set(latency["variants"]) >= joint_sets
    for name in ("results/beam/all.png", "results/tradeoff/all.png"):
        assert (joint / name).stat().st_size > 0
    planned = snakemake(joint, "-n", "--cores", "1", "results/pruned/drop-0-1").stdout
    export = planned[planned.index("rule export:") :]
    assert "results/beam/all.json" in export.split("output:")[0]  # the card says how chosen


def test_no_store_is_evaluated_twice_counted_from_the_jobs_run(joint):
    evaluated = []
    for dataset in ("easy_vqa", "easy_vqa_shape"):
        evaluated += [(dataset, v) for v in ["full", *(f"drop-{i}" for i in range(BLOCKS))]]
        evaluated += [(dataset, v) for v in read(joint, f"{dataset}/step2.json")["evaluated"]]
        evaluated += [(dataset, v) for v in read(joint, f"all/step2/{dataset}.json")["evaluated"]]
    assert len(evaluated) == len(set(evaluated))
    stores = {
        (p.parent.parent.name, p.stem) for p in (joint / "results/evals").glob("*/train/*.h5")
    }
    assert stores == set(evaluated)  # every store was written by one of these jobs


def test_adding_a_third_dataset_reruns_only_the_joint_steps_and_its_jobs(joint):
    write_config(joint, config_for(joint / "tiny-llava", 3, 2, "easy_vqa_color"))
    try:
        jobs = planned_jobs(snakemake(joint, "-n", "--cores", "2", JOINT_TARGET).stdout)
    finally:
        write_config(joint, config_for(joint / "tiny-llava", 3, 2))
    assert jobs
    for rule, wildcards in jobs:
        assert rule in JOINT_RULES or wildcards.get("dataset") == "easy_vqa_color", (
            rule,
            wildcards,
        )
    assert ("ablate", {"dataset": "easy_vqa_color", "split": "train"}) in jobs


RACING = {"epsilon": 0.5, "delta": 0.5, "min_samples": 4}


def raced_config(model: Path, **ablation) -> dict:
    return {
        "model": {"path": str(model), "device": "cpu"},
        "datasets": {"easy_vqa": {"splits": ["train"]}, "easy_vqa_shape": {"splits": ["train"]}},
        "evaluation": EVALUATION,
        "ablation": ablation,
        "beam": {
            "beam_width": 2,
            "max_blocks_to_remove": 3,
            "racing": RACING,
            "objective": "worst",
        },
    }


@pytest.fixture(scope="module")
def raced(run, tmp_path_factory) -> Path:
    """A raced search: epsilon and delta large enough to decide 16 samples before the last look.

    It starts from the per-dataset run's ablation (prepared data, stores, baseline summaries and
    Snakemake's records of them, copied with their times; the same model and settings), so only
    the raced steps run. The sets the per-dataset run evaluated at step 2 are left behind: a
    step reuses a finished store instead of racing its set.
    """
    workdir = tmp_path_factory.mktemp("raced")
    for kept in ("data", "results/baseline", ".snakemake"):
        copy_run(run / kept, workdir / kept)
    for dataset in ("easy_vqa", "easy_vqa_shape"):
        evals = Path("results/evals") / dataset / "train"
        (workdir / evals).mkdir(parents=True)
        for variant in ["full", *(f"drop-{i}" for i in range(BLOCKS))]:
            shutil.copy2(run / evals / f"{variant}.h5", workdir / evals / f"{variant}.h5")
    write_config(workdir, raced_config(run / "tiny-llava"))
    finished = snakemake(workdir, "--cores", "2", TARGET, "results/beam/all.json")
    assert "rule ablate:" not in finished.stdout + finished.stderr  # the copied ablation is kept
    return workdir


def test_a_raced_joint_step_races_every_dataset_at_once(raced):
    for k in (2, 3):
        step = read(raced, f"all/step{k}.json")
        racing = step["racing"]
        assert set(racing["decided_at"]) == {"easy_vqa", "easy_vqa_shape"}
        assert racing["samples"] < racing["exact_samples"]
        for entry in step["candidates"]:
            assert set(entry["racing"]["samples"]) == {"easy_vqa", "easy_vqa_shape"}
    assert read(raced, "all.json")["racing"]["ratio"] < 1
    log = (raced / "logs/beam/all/step2.log").read_text()
    assert "joint racing, round 1 (easy_vqa 4, easy_vqa_shape 4)" in log


def test_a_raced_step_records_the_race_and_leaves_raced_stores(raced):
    evals = raced / "results/evals/easy_vqa/train"
    for k in (2, 3):
        step = read(raced, f"easy_vqa/step{k}.json")
        racing = step["racing"]
        assert racing["decided_at"] < SAMPLES and racing["samples"] < racing["exact_samples"]
        complete = {"drop-" + "-".join(map(str, step["beams"][0])), step["greedy"]["variant"]}
        assert set(racing["completed"]) <= complete
        for entry in step["candidates"]:
            assert set(entry["racing"]) == {"samples", "dropped_at", "worse_than", "interval"}
            store = evals / f"{entry['variant']}.h5"
            if entry["variant"] in complete:
                assert read_store(store).attrs["n"] == SAMPLES and "raced" not in entry
                continue
            raced_store = read_raced(store)
            assert not store.exists() and raced_store.raced
            assert raced_store.attrs["n"] == entry["n"] == entry["racing"]["samples"] < SAMPLES
    summary = read(raced, "easy_vqa.json")
    assert summary["racing"]["ratio"] < 1 and [
        s["step"] for s in summary["racing"]["per_step"]
    ] == [2, 3]
    for budget in summary["budgets"]:
        assert "raced" not in budget["recommended"] and "raced" not in budget["greedy"]


def test_kept_sets_completed_later_extend_their_raced_store_and_satisfy_the_guarantee(
    raced, run, tmp_path
):
    step = read(raced, "easy_vqa/step2.json")
    evals = raced / "results/evals/easy_vqa/train"
    kept = "drop-" + "-".join(map(str, step["beams"][1]))
    assert read_raced(evals / f"{kept}.h5") is not None
    snakemake(raced, "--cores", "1", f"results/evals/easy_vqa/train/{kept}.h5")
    log = (raced / f"logs/evaluate/easy_vqa/train/{kept}.log").read_text()
    assert f"resuming after {step['racing']['decided_at']} of {SAMPLES} samples" in log
    extended = read_store(evals / f"{kept}.h5")
    # every candidate on every sample, evaluated apart: the exact step it is compared with
    model, evaluation = engine_settings(run / "tiny-llava")
    candidates = [e["variant"] for e in step["candidates"]]
    run_evaluation(
        data=raced / "data/prepared/easy_vqa/train",
        dataset="easy_vqa",
        split="train",
        variants=candidates,
        stores=[tmp_path / f"{v}.h5" for v in candidates],
        summary=None,
        model=model,
        evaluation=evaluation,
    )
    exact = {v: read_store(tmp_path / f"{v}.h5") for v in candidates}
    assert extended.sample_ids == exact[kept].sample_ids
    assert list(extended.scores) == list(exact[kept].scores)
    wth_best = sorted((s.accuracy for s in exact.values()), reverse=True)[1]
    for blocks in step["beams"]:
        variant = "drop-" + "-".join(map(str, blocks))
        assert exact[variant].accuracy >= wth_best - RACING["epsilon"]


def test_racing_with_ablation_apart_plans_the_same_steps(raced, run):
    write_config(raced, raced_config(run / "tiny-llava", fused=False))
    try:
        jobs = planned_jobs(
            snakemake(
                raced, "-n", "--cores", "2", "--forceall", TARGET, "results/beam/all.json"
            ).stdout
        )
    finally:
        write_config(raced, raced_config(run / "tiny-llava"))
    rules = {rule for rule, _ in jobs}
    assert {"baseline", "ablate_block", "beam_step", "beam_joint_step"} <= rules
    assert "ablate" not in rules
