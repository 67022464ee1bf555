"""A job killed after its first chunk resumes when rerun, and ends with the stores of an
uninterrupted run."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import time
from pathlib import Path

import h5py
import pytest

from test_distributed import VARIANTS
from vlmprune.engine import evaluate
from vlmprune.engine.run import run_evaluation
from vlmprune.engine.store import partial_path, read_store
from workflow_helpers import local_environment, rule_settings

NUM_SAMPLES = 12
CHUNK = 4


def samples_done(partial: Path, scratch: Path) -> int:
    """Rows in a store being written, read from a copy so the writer never meets a reader's lock."""
    try:
        shutil.copyfile(partial, scratch)
        with h5py.File(scratch, "r") as f:
            return int(f["score"].shape[0])
    except (OSError, KeyError):  # not there yet, or copied mid-write
        return 0


def resume_counting(model: Path, data: Path, out: Path, monkeypatch: pytest.MonkeyPatch) -> int:
    """Rerun the killed job in this process; return how many (sample, variant) answers it
    generated."""
    generated = 0
    default_predict = evaluate.default_predict

    def counting_predict(adapter, variants, sizer, around=None):
        predict = default_predict(adapter, variants, sizer, around)

        def counted(a, records, todo, max_new_tokens):
            nonlocal generated
            generated += len(records) * len(todo)
            return predict(a, records, todo, max_new_tokens)

        return counted

    monkeypatch.setattr(evaluate, "default_predict", counting_predict)
    evaluate_here(model, data, out)
    return generated


def evaluate_here(model: Path, data: Path, out: Path) -> None:
    """Evaluate easy-VQA val's ``VARIANTS`` into ``out`` in this process."""
    model_json, evaluation = rule_settings(
        {"path": str(model)}, num_samples=NUM_SAMPLES, batch_size=2, chunk_size=CHUNK
    )
    run_evaluation(
        data=data,
        dataset="easy_vqa",
        split="val",
        variants=VARIANTS,
        stores=[out / f"{v}.h5" for v in VARIANTS],
        summary=None,
        model=model_json,
        evaluation=evaluation,
    )


# The job of rules baseline and ablate, as their script runs it, in a process of its own.
JOB = """
import json, sys
from pathlib import Path
from vlmprune.engine.run import run_evaluation
job = json.loads(sys.argv[1])
run_evaluation(
    data=Path(job["data"]), dataset="easy_vqa", split="val", variants=job["variants"],
    stores=[Path(s) for s in job["stores"]], summary=None, model=job["model"],
    evaluation=job["evaluation"],
)
"""


def evaluate_command(model: Path, data: Path, out: Path) -> list[str]:
    """A Python command that evaluates easy-VQA val's ``VARIANTS`` into ``out``."""
    model_json, evaluation = rule_settings(
        {"path": str(model)}, num_samples=NUM_SAMPLES, batch_size=2, chunk_size=CHUNK
    )
    job = {
        "data": str(data),
        "variants": VARIANTS,
        "stores": [str(out / f"{v}.h5") for v in VARIANTS],
        "model": model_json,
        "evaluation": evaluation,
    }
    return [sys.executable, "-c", JOB, json.dumps(job)]


def environment() -> dict[str, str]:
    return {**local_environment(), "OMP_NUM_THREADS": "1"}


def test_killed_job_resumes_and_equals_an_uninterrupted_run(
    tiny_llava, prepared, tmp_path, monkeypatch
):
    job = subprocess.Popen(
        evaluate_command(tiny_llava, prepared, tmp_path / "killed"),
        env=environment(),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    partial = partial_path(tmp_path / "killed" / f"{VARIANTS[-1]}.h5")
    deadline = time.monotonic() + 300
    try:
        while samples_done(partial, tmp_path / "copy.h5") < CHUNK:
            assert job.poll() is None, (
                f"the job ended before it could be killed:\n{job.stderr.read()[-4000:]}"
            )
            assert time.monotonic() < deadline, "no chunk was written within 300 s"
            time.sleep(0.05)
    finally:
        job.kill()
        job.wait()
    assert not (tmp_path / "killed" / f"{VARIANTS[-1]}.h5").exists()
    assert CHUNK <= samples_done(partial, tmp_path / "copy.h5") < NUM_SAMPLES

    kept = {
        v: samples_done(partial_path(tmp_path / "killed" / f"{v}.h5"), tmp_path / "copy.h5")
        for v in VARIANTS
    }
    generated = resume_counting(tiny_llava, prepared, tmp_path / "killed", monkeypatch)
    # only what the killed job had not written is generated again: the kept chunks are not
    # recomputed
    assert (
        generated == sum(NUM_SAMPLES - done for done in kept.values()) < NUM_SAMPLES * len(VARIANTS)
    )
    evaluate_here(tiny_llava, prepared, tmp_path / "whole")
    for variant in VARIANTS:
        a, b = (
            read_store(tmp_path / "killed" / f"{variant}.h5"),
            read_store(tmp_path / "whole" / f"{variant}.h5"),
        )
        assert len(a.sample_ids) == NUM_SAMPLES
        assert (a.sample_ids, a.predictions, a.scores.tolist()) == (
            b.sample_ids,
            b.predictions,
            b.scores.tolist(),
        )
        assert {k: v for k, v in a.attrs.items() if k != "seconds"} == {
            k: v for k, v in b.attrs.items() if k != "seconds"
        }
        assert not partial_path(tmp_path / "killed" / f"{variant}.h5").exists()
