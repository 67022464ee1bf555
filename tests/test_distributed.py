"""A torchrun world of two processes (gloo on CPU) writes the same stores as one process."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from vlmprune.engine.store import read_store
from vlmprune.settings import evaluation_settings, load_config, model_settings

SCRIPT = Path(__file__).resolve().parents[1] / "workflow" / "scripts" / "evaluate.py"
VARIANTS = ["full", "drop-0", "drop-3"]


def rule_settings(model: Path, *, num_samples: int, chunk_size: int) -> tuple[dict, dict]:
    """The model and evaluation settings rules baseline and ablate pass, for easy-VQA val."""
    config = load_config(
        {
            "model": {"path": str(model), "device": "cpu", "dtype": "float32"},
            "datasets": {"easy_vqa": {"splits": ["val"]}},
            "evaluation": {
                "num_samples": num_samples,
                "batch_size": 2,
                "chunk_size": chunk_size,
                "analysis_split": "val",
            },
            "beam": {"validate_on": None},
        }
    )
    return model_settings(config), evaluation_settings(config, "easy_vqa")


def evaluate_command(
    model: Path, data: Path, out: Path, *, num_samples: int, chunk_size: int
) -> list[str]:
    """The arguments of workflow/scripts/evaluate.py, as rules baseline and ablate pass them."""
    model_json, evaluation = rule_settings(model, num_samples=num_samples, chunk_size=chunk_size)
    return [
        str(SCRIPT),
        "--data",
        str(data),
        "--dataset",
        "easy_vqa",
        "--split",
        "val",
        "--variants",
        *VARIANTS,
        "--stores",
        *[str(out / f"{v}.h5") for v in VARIANTS],
        "--model",
        json.dumps(model_json),
        "--evaluation",
        json.dumps(evaluation),
    ]


def environment() -> dict[str, str]:
    return {**os.environ, "HF_HUB_OFFLINE": "1", "OMP_NUM_THREADS": "1"}


def torchrun(processes: int, args: list[str]) -> subprocess.CompletedProcess:
    command = [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--standalone",
        f"--nproc-per-node={processes}",
        *args,
    ]
    result = subprocess.run(command, env=environment(), capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-4000:]
    return result


def test_two_processes_write_the_same_stores_as_one(tiny_llava, prepared, tmp_path):
    # 10 samples in chunks of 4: the last chunk gives the two ranks unequal shares
    one = torchrun(
        1, evaluate_command(tiny_llava, prepared, tmp_path / "one", num_samples=10, chunk_size=4)
    )
    two = torchrun(
        2, evaluate_command(tiny_llava, prepared, tmp_path / "two", num_samples=10, chunk_size=4)
    )
    assert "world of 1" in one.stderr and "world of 2" in two.stderr
    for variant in VARIANTS:
        a, b = (
            read_store(tmp_path / "one" / f"{variant}.h5"),
            read_store(tmp_path / "two" / f"{variant}.h5"),
        )
        assert len(a.sample_ids) == 10
        assert a.sample_ids == b.sample_ids
        assert a.predictions == b.predictions
        assert a.scores.tolist() == b.scores.tolist()
        assert {k: v for k, v in a.attrs.items() if k != "seconds"} == {
            k: v for k, v in b.attrs.items() if k != "seconds"
        }
