"""Running the Snakemake workflow from tests, in a temporary working directory.

``snakemake(workdir, *args)`` takes Snakemake's command-line arguments and runs them in this
process by default (Snakemake's own ``parse_args`` and ``args_to_api``, the path its command
line takes): a start then costs no new interpreter and no second import of torch and
transformers, which the Snakefile's ``common.smk`` needs to count the model's blocks. Jobs
still run as processes, as they do for a user. ``in_process=False`` starts ``python -m
snakemake`` instead.

Every start here is a local one: ``local_environment()`` points ``SLURM_CONF`` at an empty file,
so that the SLURM executor plugin's ``scontrol show config`` probe, which Snakemake runs at every
start to describe its options, fails at once instead of waiting about 9 s for a controller
where SLURM's client is installed (as on CI after ``tests/test_slurm.py``). A run through SLURM
builds its own environment (``test_slurm.py``).
"""

from __future__ import annotations

import contextlib
import io
import os
import re
import shutil
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import yaml

REPO = Path(__file__).resolve().parents[1]
SNAKEFILE = REPO / "workflow" / "Snakefile"

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


# The shared run (fixture ``workflow_run`` in conftest.py): rule all on the demo model that rule
# demo_model trains with TINY_DEMO, two datasets (one with both splits, one with train only),
# plus the export of RUN_EXPORT. Tests read its outputs; a test that changes the config works
# on a copy (fixture ``workflow_run_copy``) and writes ``run_config(...)`` there.
RUN_DATASETS = {"easy_vqa": ["train", "val"], "easy_vqa_yesno": ["train"]}
RUN_SAMPLES = 64
RUN_EXPORT = "drop-1-3"
RUN_TARGETS = ["all", f"results/pruned/{RUN_EXPORT}"]


def run_config(datasets: dict[str, Any] | None = None, **sections: dict[str, Any]) -> dict:
    """The shared run's config; ``datasets`` replaces the dataset entries (a list of splits or
    a whole entry per name), each keyword section is merged into that section."""
    datasets = RUN_DATASETS if datasets is None else datasets
    config = {
        "model": {"path": "data/models/demo-llava", "device": "cpu"},
        "demo_model": TINY_DEMO,
        "datasets": {
            name: entry if isinstance(entry, dict) else {"splits": entry}
            for name, entry in datasets.items()
        },
        "evaluation": {"num_samples": RUN_SAMPLES, "batch_size": 32, "chunk_size": 32},
        "beam": {"max_blocks_to_remove": 1},  # step 1 only: the beam search has its own run
        # rule all times the trade-off list
        "latency": {"repeats": 1, "warmup": 0, "new_tokens": 2, "batch_size": 2},
        "multiflow": {  # steps 2-3 for one method, evaluated on easy_vqa
            "targets": [0.5],
            "methods": ["multiflow"],
            "evaluate_datasets": ["easy_vqa"],
            "calibration": {"nsamples": 32},
        },
    }
    for section, values in sections.items():
        config[section] = {**config.get(section, {}), **values}
    return config


def write_config(workdir: Path, config: dict[str, Any]) -> Path:
    path = workdir / "config" / "config.yaml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    return path


def local_environment() -> dict[str, str]:
    """This interpreter's environment for a local (non-SLURM) Snakemake start and its jobs."""
    return {
        **os.environ,
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
        "HF_HUB_OFFLINE": "1",
        "HF_DATASETS_OFFLINE": "1",
        "TOKENIZERS_PARALLELISM": "false",
        # an empty file: scontrol stops at once ("ClusterName needs to be specified"); a missing
        # one would make it retry for 60 s
        "SLURM_CONF": os.devnull,
    }


def snakemake(
    workdir: Path,
    *args: str,
    check: bool = True,
    snakefile: Path = SNAKEFILE,
    in_process: bool = True,
) -> subprocess.CompletedProcess:
    """Run snakemake on ``snakefile`` (the repository's) in ``workdir``.

    stdout and stderr are what the command line prints. Every test run passes --cores itself;
    the tests' runs are small, so 2 is what CI's machine has.
    """
    argv = ["-s", str(snakefile), *args]
    if in_process:
        result = _run_in_process(Path(workdir), argv)
    else:
        result = subprocess.run(
            [sys.executable, "-m", "snakemake", *argv],
            cwd=workdir,
            env=local_environment(),
            capture_output=True,
            text=True,
        )
    if check and result.returncode != 0:
        raise AssertionError(
            f"snakemake {' '.join(args)} failed:\n{result.stdout[-4000:]}\n{result.stderr[-4000:]}"
        )
    return result


def _run_in_process(workdir: Path, argv: list[str]) -> subprocess.CompletedProcess:
    """``snakemake.cli.main`` without its ``sys.exit``, in ``workdir``; what it changes restored."""
    from snakemake.cli import args_to_api, parse_args

    stdout, stderr = io.StringIO(), io.StringIO()
    saved_environ, saved_path = dict(os.environ), list(sys.path)
    saved_sigterm, saved_cwd = signal.getsignal(signal.SIGTERM), os.getcwd()
    os.environ.update(local_environment())
    os.chdir(workdir)  # as for the command line: profiles/default is looked up here
    try:
        with contextlib.redirect_stdout(stdout), contextlib.redirect_stderr(stderr):
            try:
                parser, parsed = parse_args(argv)
                returncode = 0 if args_to_api(parsed, parser) else 1
            except SystemExit as exit:  # argparse on bad arguments
                returncode = exit.code if isinstance(exit.code, int) else 1
            except Exception as error:  # raised before Snakemake's API catches and logs
                print(f"{type(error).__name__}: {error}", file=sys.stderr)
                returncode = 1
    finally:
        os.chdir(saved_cwd)
        signal.signal(signal.SIGTERM, saved_sigterm)
        sys.path[:] = saved_path
        os.environ.clear()
        os.environ.update(saved_environ)
    return subprocess.CompletedProcess(
        ["snakemake", *argv], returncode, stdout.getvalue(), stderr.getvalue()
    )


def copy_run(source: Path, destination: Path) -> Path:
    """A private copy of a finished run directory; modification times and metadata kept."""
    shutil.copytree(source, destination, symlinks=True, copy_function=shutil.copy2)
    return destination


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
