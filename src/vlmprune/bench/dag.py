"""Benchmark how long Snakemake takes to plan the workflow at full scale (``snakemake -n``).

Writes a config with every registered dataset (:data:`vlmprune.data.registry.DATASETS`) and
both splits into a temporary working directory, then times ``snakemake -n`` there a few
times and prints each run, the number of jobs in the plan, and the median. The model is the
embedded default (``data/models/demo-llava``, counted without being built), and each dataset
gets a ``path`` to an empty stand-in folder so that datasets that need local data count as
available. Nothing runs: this is the time a user waits before the first job is submitted.

    vlmprune bench dag [--repeats 5] [--extra 'beam: {max_blocks_to_remove: 4}']

It also times the plan of one dataset and one split: the difference is what the DAG's size
costs, the rest is Snakemake's and the rules' fixed start-up (imports at parse time).

``--extra`` merges a YAML mapping into the config (for sections such as beam search). The last
line is ``dag plan seconds (median of N): X.XX, jobs: J`` (wall time); CPU seconds are printed too.
"""

from __future__ import annotations

import json
import os
import re
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import yaml

from vlmprune.data.registry import DATASETS

REPO = Path(__file__).resolve().parents[3]


def _merge(base: dict[str, Any], extra: dict[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for key, value in extra.items():
        out[key] = (
            _merge(out[key], value)
            if isinstance(value, dict) and isinstance(out.get(key), dict)
            else value
        )
    return out


def full_scale_config(
    stub_dir: Path, splits: list[str], extra: dict[str, Any] | None = None
) -> dict[str, Any]:
    """Every registered dataset with ``splits``; datasets point at empty stand-in folders under ``stub_dir``."""
    datasets = {}
    for name in DATASETS:
        stub = stub_dir / name
        stub.mkdir(parents=True, exist_ok=True)
        datasets[name] = {"splits": list(splits), "path": str(stub)}
    config = {
        "model": {"path": "data/models/demo-llava"},
        "datasets": datasets,
        "evaluation": {"num_samples": 500},
    }
    return _merge(config, extra or {})


def snakemake_command() -> list[str]:
    exe = Path(sys.executable).with_name("snakemake")
    return [str(exe)] if exe.exists() else [sys.executable, "-m", "snakemake"]


def count_jobs(output: str) -> int:
    """The ``total`` row of Snakemake's "Job stats" table."""
    match = re.search(r"^total\s+(\d+)\s*$", output, flags=re.MULTILINE)
    if match is None:
        raise RuntimeError(f"no job stats in snakemake's output:\n{output[-3000:]}")
    return int(match.group(1))


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def time_dry_run(
    workdir: Path, snakefile: Path, extra_args: list[str]
) -> tuple[float, float, int, dict[str, int]]:
    """Wall and CPU seconds of one ``snakemake -n`` in ``workdir``, the number of jobs and the jobs per rule.

    The CPU seconds (user + system of the child) hardly depend on what else the machine runs.
    """
    cmd = [*snakemake_command(), "-s", str(snakefile), "-n", "--cores", "1", *extra_args]
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1"}
    cpu_start, start = _children_cpu(), time.perf_counter()
    proc = subprocess.run(cmd, cwd=workdir, env=env, capture_output=True, text=True)
    seconds, cpu = time.perf_counter() - start, _children_cpu() - cpu_start
    output = proc.stdout + proc.stderr
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed ({proc.returncode}):\n{output[-3000:]}")
    per_rule = {
        m.group(1): int(m.group(2))
        for m in re.finditer(
            r"^(\w+)\s+(\d+)\s*$", output.split("Job stats:", 1)[-1], flags=re.MULTILINE
        )
        if m.group(1) != "total"
    }
    return seconds, cpu, count_jobs(output), per_rule


def measure(
    workdir: Path,
    config: dict[str, Any],
    snakefile: Path,
    snakemake_args: list[str],
    repeats: int,
    label: str,
) -> dict[str, Any]:
    """Write ``config`` into ``workdir`` and time ``repeats`` dry runs there."""
    (workdir / "config").mkdir(parents=True, exist_ok=True)
    (workdir / "config" / "config.yaml").write_text(yaml.safe_dump(config, sort_keys=False))
    runs, cpus, jobs, per_rule = [], [], 0, {}
    for i in range(repeats):
        seconds, cpu, jobs, per_rule = time_dry_run(workdir, snakefile.resolve(), snakemake_args)
        runs.append(seconds)
        cpus.append(cpu)
        print(
            f"{label} run {i + 1}: {seconds:.2f} s wall, {cpu:.2f} s CPU, {jobs} jobs", flush=True
        )
    return {
        "seconds": runs,
        "median_seconds": statistics.median(runs),
        "cpu_seconds": cpus,
        "median_cpu_seconds": statistics.median(cpus),
        "jobs": jobs,
        "jobs_per_rule": per_rule,
    }


def run(
    *,
    repeats: int = 5,
    splits: Sequence[str] = ("train", "val"),
    extra: str = "",
    snakefile: Path = REPO / "workflow" / "Snakefile",
    small: bool = True,
    json_file: Path | None = None,
    snakemake_args: Sequence[str] = (),
) -> int:
    """Time the plan at full scale (and, with ``small``, of one dataset and one split)."""
    splits = list(splits)
    extra_config = yaml.safe_load(extra) if extra else {}
    if not isinstance(extra_config, dict):
        raise ValueError(f"--extra {extra!r} must be a YAML mapping")
    dry_run = dict(snakefile=snakefile, snakemake_args=list(snakemake_args), repeats=repeats)
    root = Path(tempfile.mkdtemp(prefix="vlmprune-dag-"))
    try:
        config = full_scale_config(root / "stub-data", splits, extra_config)
        print(
            f"config: {len(config['datasets'])} datasets x {len(splits)} splits "
            f"({' '.join(splits)})"
            + (f", extra {json.dumps(extra_config)}" if extra_config else ""),
            flush=True,
        )
        figures: dict[str, Any] = {
            "datasets": len(config["datasets"]),
            "splits": splits,
            "extra": extra_config,
        }
        if small:
            first = next(iter(config["datasets"]))
            one = {
                **config,
                "datasets": {first: {**config["datasets"][first], "splits": splits[:1]}},
            }
            figures["small"] = measure(root / "small", one, **dry_run, label="1 dataset x 1 split")
        figures["full"] = full = measure(root / "full", config, **dry_run, label="full scale")
        print(
            "jobs per rule: "
            + ", ".join(f"{rule} {n}" for rule, n in full["jobs_per_rule"].items())
        )
        if json_file:
            json_file.write_text(json.dumps(figures, indent=2))
        if "small" in figures:
            one = figures["small"]
            print(
                f"start-up (1 dataset x 1 split, {one['jobs']} jobs): "
                f"{one['median_seconds']:.2f} s wall, "
                f"{one['median_cpu_seconds']:.2f} s CPU"
            )
        print(f"full scale CPU seconds (median): {full['median_cpu_seconds']:.2f}")
        print(
            f"dag plan seconds (median of {len(full['seconds'])}): {full['median_seconds']:.2f}, jobs: {full['jobs']}"
        )
    finally:
        shutil.rmtree(root, ignore_errors=True)
    return 0
