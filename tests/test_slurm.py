"""The workflow through Snakemake's SLURM executor on a real one-node SLURM equals a local run.

It runs only where ``VLMPRUNE_TEST_SLURM=1`` asks for it (``.ci/run`` sets it), since it changes
the machine: ``.ci/slurm-up`` installs Debian's slurm-wlm and munge when missing and starts
munged, slurmctld and slurmd on this machine (one node, partitions cpu and gpu, no accounting
storage). That needs root: elsewhere the test is skipped with the reason, never passed.
The same tiny configuration then runs twice, locally and with ``--profile profiles/slurm-test``
(``--executor slurm --slurm-no-account --slurm-status-command squeue``), from seeded prepared
data up to the importance and MULTIFLOW step 1 (a GPU rule, CPU rules and a local rule), and
the results must agree: importance JSON equal, evaluation stores equal on sample_id, prediction
and score.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest
import yaml

from vlmprune.workflow_script import processes_and_threads
from workflow_helpers import local_environment, snakemake

REPO = Path(__file__).resolve().parents[1]
SNAKEMAKE = Path(sys.executable).with_name("snakemake")
SLURM_UP = REPO / ".ci" / "slurm-up"
PROFILE = REPO / "profiles" / "slurm-test"
GPU_RULES = {
    "baseline",
    "ablate",
    "ablate_block",
    "beam_step",
    "beam_validate",
}  # one process per GPU, under torchrun above one (baseline: ablation.fused false)
RAN_GPU = {
    "ablate"
}  # the GPU rule the tiny configuration runs (ablation.fused: the baseline inside it)
RAN_CPU = {"importance", "multiflow_step1"}
SEEDED = {"prepare_dataset"}  # a CPU rule the runs skip: the profile dry runs check its tags
RAN_LOCAL = {"importance_analysis_split"}  # localrules: a file copy, not worth a submission
# what both runs build from seeded prepared data: the importance (ablate, importance and the
# local importance_analysis_split) and MULTIFLOW step 1, one job of each rule above; rule all
# would add a dozen jobs, each paying a submission, a status poll and a Snakemake start on the
# node
TARGETS = [
    "results/importance/easy_vqa_yesno.json",
    "results/multiflow/sparsity_distribution_0.5.json",
]

PROFILE_REAL = REPO / "profiles" / "slurm"


def _env() -> dict[str, str]:
    return {
        **os.environ,
        "PATH": f"{SNAKEMAKE.parent}{os.pathsep}{os.environ.get('PATH', '')}",
        "HF_HUB_OFFLINE": "1",
        "HF_DATASETS_OFFLINE": "1",
        "TOKENIZERS_PARALLELISM": "false",
    }


def _tail(path: Path, lines: int = 30) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError as err:
        return f"({err})"


@pytest.fixture(scope="module")
def slurm_cluster() -> None:
    if os.environ.get("VLMPRUNE_TEST_SLURM") != "1":
        pytest.skip(
            "VLMPRUNE_TEST_SLURM=1 runs it: .ci/slurm-up then installs slurm-wlm and munge and "
            "starts munged, slurmctld and slurmd on this machine (as root; .ci/run sets it)"
        )
    if os.geteuid() != 0:
        pytest.skip(
            "needs root: .ci/slurm-up installs slurm-wlm and munge and starts munged, "
            "slurmctld and slurmd"
        )
    proc = subprocess.run(["bash", str(SLURM_UP)], capture_output=True, text=True, timeout=900)
    if proc.returncode == 77:
        pytest.skip(f".ci/slurm-up could not start SLURM here: {proc.stderr.strip()}")
    assert proc.returncode == 0, (
        f".ci/slurm-up failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}"
    )
    print(proc.stderr, end="")


def _write_config(workdir: Path, model: Path) -> None:
    config = {
        "model": {"path": str(model), "device": "cpu"},
        "datasets": {"easy_vqa_yesno": {"splits": ["train"]}},
        "evaluation": {"num_samples": 16, "batch_size": 8, "chunk_size": 8},
        "multiflow": {"targets": [0.5]},
        "beam": {"max_blocks_to_remove": 1},  # step 1 only: it reuses the ablation
        "latency": {
            "repeats": 1,
            "warmup": 0,
            "new_tokens": 2,
            "batch_size": 2,
        },  # rule all times the trade-off list
    }
    (workdir / "config").mkdir(parents=True)
    (workdir / "config" / "config.yaml").write_text(yaml.safe_dump(config, sort_keys=False))


def _slurm_diagnostics(workdir: Path) -> str:
    logs = sorted((workdir / ".snakemake" / "slurm_logs").rglob("*.log"))
    parts = [f"--- {log}\n{_tail(log)}" for log in logs[-4:]]
    squeue = subprocess.run(
        ["squeue", "-t", "all", "-o", "%i %P %j %T %r"], capture_output=True, text=True
    )
    parts.append(f"--- squeue\n{squeue.stdout}{squeue.stderr}")
    parts += [
        f"--- {p}\n{_tail(Path(p))}"
        for p in ("/var/log/slurm/slurmctld.log", "/var/log/slurm/slurmd.log")
    ]
    return "\n".join(parts)


def _submitted_jobs(output: str) -> dict[str, str]:
    """SLURM job id -> rule, from the executor's "submitted with SLURM jobid" lines."""
    jobs = {}
    for match in re.finditer(r"SLURM jobid (\d+) \(log: (\S+)\)", output):
        rule = re.search(r"/rule_([A-Za-z0-9_]+)/", match.group(2))
        jobs[match.group(1)] = rule.group(1) if rule else "?"
    return jobs


def _partition(job_id: str) -> str:
    out = subprocess.run(["scontrol", "show", "job", job_id], capture_output=True, text=True).stdout
    match = re.search(r"\bPartition=(\S+)", out)
    assert match, f"scontrol show job {job_id}: {out}"
    return match.group(1)


def _results(workdir: Path) -> tuple[dict[str, object], dict[str, tuple]]:
    from vlmprune.engine.store import read_store

    importance = {
        str(p.relative_to(workdir)): json.loads(p.read_text())
        for p in (workdir / "results" / "importance").rglob("*.json")
        if not p.name.endswith(".details.json")
    }
    stores = {}
    for path in (workdir / "results" / "evals").rglob("*.h5"):
        store = read_store(path)
        stores[str(path.relative_to(workdir))] = (
            store.sample_ids,
            store.predictions,
            store.scores.tolist(),
        )
    return importance, stores


@pytest.mark.slurm
@pytest.mark.slow
@pytest.mark.e2e
def test_slurm_run_equals_local_run(slurm_cluster, tiny_llava: Path, tmp_path: Path, seed_prepared):
    local, cluster = tmp_path / "local", tmp_path / "slurm"
    for workdir in (local, cluster):
        _write_config(workdir, tiny_llava)
        seed_prepared(workdir, "easy_vqa_yesno", "train")
    snakefile = str(REPO / "workflow" / "Snakefile")

    # the local run shares the machine with the SLURM jobs, which wait on polling most of the time
    local_run = subprocess.Popen(
        [str(SNAKEMAKE), "-s", snakefile, "--cores", "1", *TARGETS],
        cwd=local,
        env=local_environment(),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        proc = subprocess.run(
            [str(SNAKEMAKE), "-s", snakefile, "--profile", str(PROFILE), *TARGETS],
            cwd=cluster,
            env=_env(),
            capture_output=True,
            text=True,
            timeout=900,
        )
    finally:
        local_out, _ = local_run.communicate(timeout=900)
    output = proc.stdout + proc.stderr
    assert proc.returncode == 0, (
        f"SLURM run failed:\n{output[-5000:]}\n{_slurm_diagnostics(cluster)}"
    )
    assert local_run.returncode == 0, f"local run failed:\n{local_out[-5000:]}"

    # every job but the local rules went through SLURM, GPU rules on the gpu partition, the others
    # on cpu
    jobs = _submitted_jobs(output)
    assert RAN_GPU | RAN_CPU <= set(jobs.values()), output[-5000:]
    assert not RAN_LOCAL & set(jobs.values())
    assert all(f"localrule {rule}:" in output for rule in RAN_LOCAL), output[-5000:]
    for job_id, rule in jobs.items():
        expected = "gpu" if rule in GPU_RULES else "cpu"
        assert _partition(job_id) == expected, f"rule {rule} ran on the wrong partition"
    ablate_log = cluster / "logs" / "ablate" / "easy_vqa_yesno" / "train.log"
    assert "world of 1" in ablate_log.read_text()

    local_importance, local_stores = _results(local)
    cluster_importance, cluster_stores = _results(cluster)
    assert local_importance and local_stores
    assert cluster_importance == local_importance
    assert cluster_stores.keys() == local_stores.keys()
    for name, expected in local_stores.items():
        assert cluster_stores[name] == expected, name


def _job(resources: dict[str, str], threads: int) -> SimpleNamespace:
    """What a job's script reads of its resources and threads (fields of ``snakemake``)."""
    gpu = int(resources.get("gpu", 0))
    return SimpleNamespace(resources=SimpleNamespace(gpu=gpu), threads=threads)


def _dry_run_jobs(workdir: Path, *args: str) -> dict[str, tuple[dict[str, str], int]]:
    """rule -> (resources, threads) of one job per rule, from ``snakemake -n`` with ``args``."""
    proc = snakemake(workdir, "-n", *args, check=False)
    output = proc.stdout + proc.stderr
    assert proc.returncode == 0, output[-4000:]
    jobs = {}
    for block in re.split(r"\n(?=(?:local)?rule \w+:)", output):
        head = re.match(r"(?:local)?rule (\w+):", block.lstrip())
        resources = re.findall(r"^\s*resources: (.*)$", block, flags=re.MULTILINE)
        if head is None or not resources:
            continue
        threads = re.search(r"^\s*threads: (\d+)$", block, flags=re.MULTILINE)
        parsed = dict(item.split("=", 1) for item in resources[-1].split(", ") if "=" in item)
        jobs[head.group(1)] = (parsed, int(threads.group(1)) if threads else 1)
    return jobs


@pytest.mark.e2e
def test_cluster_profile_tags_gpu_and_cpu_rules(tiny_llava: Path, tmp_path: Path):
    """profiles/slurm: GPU rules on the gpu partition with 1 GPU, and as many processes start."""
    _write_config(tmp_path, tiny_llava)
    # --cores 8: on the submitting machine Snakemake caps a job's threads at its own cores (on the
    # node, at the job's)
    jobs = _dry_run_jobs(tmp_path, "--profile", str(PROFILE_REAL), "--cores", "8")
    assert RAN_GPU | RAN_CPU | SEEDED <= jobs.keys(), jobs.keys()
    for rule in RAN_GPU:
        resources, threads = jobs[rule]
        assert resources["slurm_partition"] == "gpu" and resources["gpu"] == "1", (rule, resources)
        assert {"cpus_per_gpu", "mem_mb", "runtime"} <= resources.keys(), (rule, resources)
        # the job's threads are its cpus_per_gpu (set-threads), shared among its processes
        assert resources["cpus_per_gpu"] == "8" and threads == 8, (rule, resources, threads)
        assert processes_and_threads(_job(resources, threads)) == (1, 8)
    for rule in RAN_CPU | SEEDED:
        resources, _ = jobs[rule]
        assert resources["slurm_partition"] == "cpu" and "gpu" not in resources, (rule, resources)
        assert {"mem_mb", "runtime"} <= resources.keys(), (rule, resources)

    jobs = _dry_run_jobs(
        tmp_path, "--profile", str(PROFILE_REAL), "--cores", "8", "--set-resources", "ablate:gpu=4"
    )
    assert processes_and_threads(_job(*jobs["ablate"])) == (4, 2)


@pytest.mark.e2e
def test_test_profile_asks_slurm_for_no_gpu(tiny_llava: Path, tmp_path: Path):
    _write_config(tmp_path, tiny_llava)
    jobs = _dry_run_jobs(tmp_path, "--profile", str(PROFILE))
    for rule in RAN_GPU:
        resources, threads = jobs[rule]
        assert resources["slurm_partition"] == "gpu" and resources.get("gpu", "0") == "0", (
            rule,
            resources,
        )
        assert processes_and_threads(_job(resources, threads)) == (1, 1)
