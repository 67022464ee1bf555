"""Running the Snakemake workflow from tests, in a temporary working directory."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import yaml

REPO = Path(__file__).resolve().parents[1]

# A demo model small enough to train in seconds: the workflow's own demo_model rule runs.
TINY_DEMO = {
    "vision_steps": 2,
    "llava_steps": 2,
    "batch_size": 8,
    "vision_hidden": 32,
    "vision_intermediate": 64,
    "vision_layers": 1,
    "text_hidden": 32,
    "text_intermediate": 64,
    "text_layers": 4,
    "heads": 2,
}


def write_config(workdir: Path, config: dict[str, Any]) -> Path:
    path = workdir / "config" / "config.yaml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    return path


def snakemake(
    workdir: Path,
    *args: str,
    check: bool = True,
    snakefile: Path = REPO / "workflow" / "Snakefile",
) -> subprocess.CompletedProcess:
    # Every test run passes --cores itself; the tests' runs are small, so 2 is what CI's machine has.
    """Run snakemake on ``snakefile`` in ``workdir`` with this interpreter's environment."""
    env = {
        **os.environ,
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
        "HF_HUB_OFFLINE": "1",
    }
    result = subprocess.run(
        [sys.executable, "-m", "snakemake", "-s", str(snakefile), *args],
        cwd=workdir,
        env=env,
        capture_output=True,
        text=True,
    )
    if check and result.returncode != 0:
        raise AssertionError(
            f"snakemake {' '.join(args)} failed:\n{result.stdout[-4000:]}\n{result.stderr[-4000:]}"
        )
    return result


def planned_jobs(dry_run_output: str) -> list[tuple[str, dict[str, str]]]:
    """(rule, wildcards) of every job a ``snakemake -n`` output lists."""
    jobs = []
    for block in re.split(r"\n(?=(?:local)?rule \w+:)", dry_run_output):
        match = re.match(r"(?:local)?rule (\w+):", block.strip())
        if not match:
            continue
        wildcards = re.search(r"wildcards: (.*)", block)
        pairs = dict(p.split("=", 1) for p in wildcards.group(1).split(", ")) if wildcards else {}
        jobs.append((match.group(1), pairs))
    return jobs


def rule_settings(
    model: dict[str, Any], *, component: str = "language", **evaluation: Any
) -> tuple[dict, dict]:
    """The model and evaluation settings an evaluation rule passes for easy-VQA val, from the library."""
    from vlmprune.settings import evaluation_settings, load_config, model_settings

    config = load_config(
        {
            "model": {"device": "cpu", "dtype": "float32", **model},
            "datasets": {"easy_vqa": {"splits": ["val"]}},
            "evaluation": {"analysis_split": "val", **evaluation},
            "ablation": {"component": component},
            "beam": {"validate_on": None},
        }
    )
    return model_settings(config), evaluation_settings(config, "easy_vqa")
