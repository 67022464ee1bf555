"""A job with two GPUs runs two torchrun processes (gloo on CPU) that write the stores of one."""

from __future__ import annotations

import pytest

from vlmprune.engine.run import run_evaluation
from vlmprune.engine.store import read_store
from workflow_helpers import rule_settings, snakemake, write_config

BLOCKS = 4
VARIANTS = ["full", *(f"drop-{i}" for i in range(BLOCKS))]
# 10 samples in chunks of 4: the last chunk gives the two ranks unequal shares
EVALUATION = {"num_samples": 10, "batch_size": 2, "chunk_size": 4, "analysis_split": "val"}


@pytest.mark.e2e
def test_two_processes_write_the_same_stores_as_one(tiny_llava, prepared, seed_prepared, tmp_path):
    model = {"path": str(tiny_llava), "device": "cpu", "dtype": "float32"}
    seed_prepared(tmp_path, "easy_vqa", "val")
    write_config(
        tmp_path,
        {
            "model": model,
            "datasets": {"easy_vqa": {"splits": ["val"]}},
            "evaluation": EVALUATION,
            "resources": {"gpus_per_job": 2},  # on a CPU: two processes, joined by gloo
        },
    )
    snakemake(tmp_path, "--cores", "2", "results/evals/easy_vqa/val/full.h5")
    log = (tmp_path / "logs" / "ablate" / "easy_vqa" / "val.log").read_text()
    assert "torchrun: 2 processes, 1 threads each" in log and "world of 2" in log, log[-3000:]

    model_settings, evaluation = rule_settings(model, **EVALUATION)
    one = tmp_path / "one"
    run_evaluation(
        data=prepared,
        dataset="easy_vqa",
        split="val",
        variants=VARIANTS,
        stores=[one / f"{v}.h5" for v in VARIANTS],
        summary=None,
        model=model_settings,
        evaluation=evaluation,
    )
    for variant in VARIANTS:
        a = read_store(one / f"{variant}.h5")
        b = read_store(tmp_path / "results" / "evals" / "easy_vqa" / "val" / f"{variant}.h5")
        assert len(a.sample_ids) == 10
        assert a.sample_ids == b.sample_ids
        assert a.predictions == b.predictions
        assert a.scores.tolist() == b.scores.tolist()
        assert {k: v for k, v in a.attrs.items() if k != "seconds"} == {
            k: v for k, v in b.attrs.items() if k != "seconds"
        }
