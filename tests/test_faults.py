"""Faults and bad input on copies of finished runs: each ends as an uninterrupted run did.

Bad input is tried on the shared run (``workflow_run``, a copy where the config changes). The
faults that rerun jobs need chunks small enough to kill a job between two of them, so they
use a run of their own (tiny random LLaVA, easy-VQA train, 8 samples in chunks of 2, prepared
data seeded), made once: each test works on a copy of it (modification times kept), breaks
something the way a user or a machine does, recovers the way ``docs/troubleshooting.md`` says,
and compares every result with the finished run's: stores, baseline summaries, proxies,
importance and beam files. Timings (latency, trade-off, the stores' ``seconds``) and figures
are left out of the comparison. The faults of the ablation job follow one another on one copy,
as they can on a user's machine, so that their recoveries share the final rerun.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import h5py
import pytest

from vlmprune.engine.store import CHUNK_END, partial_path, read_store
from workflow_helpers import (
    REPO,
    RUN_DATASETS,
    RUN_EXPORT,
    RUN_TARGETS,
    SNAKEFILE,
    copy_run,
    local_environment,
    run_config,
    snakemake,
    write_config,
)

# this module's own run and two reruns of a job and what follows it take 0.5-1.5 min each on
# a 2-core machine; each fault test that reruns jobs is also marked slow
pytestmark = pytest.mark.e2e

TRAIN = Path("results/evals/easy_vqa/train")
STORES = [TRAIN / f"{v}.h5" for v in ("full", "drop-0", "drop-1", "drop-2", "drop-3")]
COMPARED = ("results/baseline", "results/importance", "results/beam")


def config_for(model: Path) -> dict:
    return {
        "model": {"path": str(model), "device": "cpu"},
        "datasets": {"easy_vqa": {"splits": ["train"]}},  # compare has the shared run
        "evaluation": {"num_samples": 8, "batch_size": 2, "chunk_size": 2},
        "beam": {"max_blocks_to_remove": 1, "validate_on": None},
        "multiflow": {"targets": []},  # no MULTIFLOW job: nothing here reads one
        "latency": {"repeats": 1, "warmup": 0, "new_tokens": 2, "batch_size": 2},
    }


@pytest.fixture(scope="module")
def finished(tmp_path_factory: pytest.TempPathFactory, tiny_llava: Path, seed_prepared) -> Path:
    workdir = tmp_path_factory.mktemp("finished")
    write_config(workdir, config_for(tiny_llava))
    seed_prepared(workdir, "easy_vqa", "train")
    snakemake(workdir, "--cores", "2")
    return workdir


@pytest.fixture
def run(finished: Path, tmp_path: Path) -> Path:
    return copy_run(finished, tmp_path / "run")


def results(workdir: Path) -> dict[str, object]:
    """What a run computed, comparable across runs: stores read back, JSON files parsed."""
    found: dict[str, object] = {}
    for path in sorted((workdir / "results/evals").rglob("*.h5")):
        store = read_store(path)
        attrs = {k: v for k, v in store.attrs.items() if k != "seconds"}
        key = str(path.relative_to(workdir))
        found[key] = (store.sample_ids, store.predictions, store.raw, store.scores.tolist(), attrs)
    for folder in COMPARED:
        for path in sorted((workdir / folder).rglob("*.json")):
            data = json.loads(path.read_text())
            if isinstance(data, dict):
                data.pop("seconds", None)
            found[str(path.relative_to(workdir))] = data
    return found


def assert_same_results(workdir: Path, finished: Path) -> None:
    got, expected = results(workdir), results(finished)
    assert sorted(got) == sorted(expected)
    for key in expected:
        assert got[key] == expected[key], key
    assert not list((workdir / "results").rglob("*.partial"))


def start(workdir: Path, *args: str) -> subprocess.Popen:
    """Snakemake as a process of its own, to be killed, with Ctrl-C's default action: a shell
    that starts pytest in the background (``nohup make test &``) ignores SIGINT, and an ignored
    signal stays ignored in every process started below it, so no Ctrl-C would reach the job."""
    return subprocess.Popen(
        [sys.executable, "-m", "snakemake", "-s", str(SNAKEFILE), *args],
        cwd=workdir,
        env=local_environment(),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,  # its own process group: the kill reaches every job
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )


def committed(partial: Path) -> int:
    """Samples in a partial store's complete chunks, read from a copy (the writer holds it open)."""
    probe = partial.with_name("probe.h5")
    try:
        shutil.copyfile(partial, probe)
        with h5py.File(probe, "r") as f:
            ends = f[CHUNK_END][:]
        return int(ends[-1]) if len(ends) else 0
    except (OSError, KeyError):  # not there yet, or copied mid-write
        return 0
    finally:
        probe.unlink(missing_ok=True)


def job_running(workdir: Path) -> bool:
    """A job of the run in ``workdir`` is running: a process runs a script Snakemake wrote to
    its ``.snakemake/scripts``."""
    scripts = str(workdir / ".snakemake" / "scripts")
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            if scripts in Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace"):
                return True
        except OSError:  # ended meanwhile
            continue
    return False


def kill_when(job: subprocess.Popen, ready, sig: int, timeout: float = 600) -> None:
    deadline = time.monotonic() + timeout
    try:
        while not ready():
            assert job.poll() is None, "the run ended before it could be killed"
            assert time.monotonic() < deadline, f"not ready to kill within {timeout} s"
            time.sleep(0.02)
    finally:
        os.killpg(job.pid, sig)
        job.wait()


def rerun_after_kill(workdir: Path) -> None:
    """A SIGKILLed Snakemake leaves its lock: the next run says --unlock, as the docs say."""
    refused = snakemake(workdir, "--cores", "2", check=False)
    assert refused.returncode != 0 and "--unlock" in refused.stdout + refused.stderr
    snakemake(workdir, "--unlock")
    snakemake(workdir, "--cores", "2")


@pytest.mark.slow
def test_a_damaged_store_then_two_killed_ablations_recover_as_the_docs_say(run, finished):
    """Three faults of the ablation job in a row, each recovered as the docs say:

    1. Scores overwritten in a finished store: the importance job stops, naming the file and
       saying to delete it and rerun.
    2. The rerun that follows, Ctrl-C'd before its first chunk: Snakemake has deleted the job's
       outputs; the dataset's importance, computed from them, still exists, and a dry run of it
       as a named target warns that they are missing.
    3. The next plain rerun, SIGKILLed (power loss, the OOM killer) after a complete chunk, and
       one of its partial stores damaged afterwards.

    The last rerun (after ``--unlock``) resumes the intact partial stores after their complete
    chunks, warns about the damaged one and evaluates its samples again; stores, baseline
    summary, proxies (all 8 samples) and everything after them equal the uninterrupted run's.
    """
    damaged_store = run / STORES[3]
    with h5py.File(damaged_store, "a") as f:
        scores = f["score"][:]
        scores[:4] = 1.238
        f["score"][...] = scores
    failed = snakemake(run, "--cores", "2", check=False)
    assert failed.returncode != 0
    message = (run / "logs/importance/easy_vqa/train.log").read_text()
    assert f"evaluation store {STORES[3]} is inconsistent" in message
    assert "delete it and rerun" in message
    damaged_store.unlink()

    job = start(run, "--cores", "2")
    # Snakemake removes the job's outputs, then starts it from a thread: Ctrl-C once the job's
    # process runs (and receives it), not in between, where the job would start after it
    kill_when(
        job,
        lambda: not any((run / s).exists() for s in STORES) and job_running(run),
        signal.SIGINT,
    )
    assert all(committed(partial_path(run / s)) == 0 for s in STORES)
    assert not any((run / s).exists() for s in STORES)
    assert (run / "results/importance/easy_vqa.json").exists()
    named = snakemake(run, "-n", "results/importance/easy_vqa.json")
    warning = f"missing, while results computed from them exist: {STORES[0]}"
    assert warning in named.stdout + named.stderr

    job = start(run, "--cores", "2")
    full, damaged = partial_path(run / STORES[0]), partial_path(run / STORES[-1])
    kill_when(job, lambda: committed(full) >= 2 and committed(damaged) >= 2, signal.SIGKILL)
    assert 2 <= committed(full) < 8
    data = bytearray(damaged.read_bytes())
    data[len(data) // 4 :] = os.urandom(len(data) - len(data) // 4)
    damaged.write_bytes(bytes(data))
    rerun_after_kill(run)
    log = (run / "logs/ablate/easy_vqa/train.log").read_text()
    assert f"discarding the damaged partial store {damaged.relative_to(run)}" in log, log
    assert "kept from an earlier run" in log
    proxies = json.loads((run / "results/baseline/easy_vqa/train.proxies.json").read_text())
    assert proxies["sequences"] == 8
    assert_same_results(run, finished)


@pytest.mark.slow
def test_a_full_disk_during_a_store_write_is_named_and_a_rerun_after_freeing_space_recovers(
    run, finished
):
    if os.geteuid() != 0:
        pytest.skip("a full disk is simulated by mounting a small tmpfs, which needs root")
    evals = run / TRAIN
    shutil.rmtree(evals)
    evals.mkdir()
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=160k", "tmpfs", str(evals)], capture_output=True
    )
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {mounted.stderr.decode().strip()}")
    try:
        failed = snakemake(run, "--cores", "2", check=False)
        assert failed.returncode != 0
        last = (run / "logs/ablate/easy_vqa/train.log").read_text().strip().splitlines()[-1]
        assert last.startswith("error: cannot write the evaluation store")
        assert f"the disk holding {TRAIN} is full. Free some space there and rerun" in last
        subprocess.run(["mount", "-o", "remount,size=16m", str(evals)], check=True)
        snakemake(run, "--cores", "2")
        assert_same_results(run, finished)
    finally:
        subprocess.run(["umount", "-l", str(evals)], check=True)


def test_a_config_that_cannot_work_stops_before_any_job_and_deletes_nothing(workflow_run_copy):
    """A misspelt metric, and another model than the one results/ holds: both refused by
    ``snakemake -n`` and ``snakemake`` alike, naming key, value and fix; no file is touched."""
    run = workflow_run_copy
    finished_files = {p: p.stat().st_mtime_ns for p in (run / "results").rglob("*") if p.is_file()}
    model = run_config()["model"]["path"]
    other = shutil.copytree(run / model, run / "other-model")
    misspelt = {**RUN_DATASETS, "easy_vqa": {"splits": ["train", "val"], "metric": "accuracyy"}}
    for config, message in (
        (
            run_config(misspelt),
            "datasets.easy_vqa.metric is 'accuracyy', which is not a metric; use one of",
        ),
        (
            run_config(model={"path": str(other)}),
            f"model.path is '{other}', but results/ holds the results of model '{model}'",
        ),
    ):
        write_config(run, config)
        for args in (["-n"], ["--cores", "2"]):
            refused = snakemake(run, *args, check=False)
            output = refused.stdout + refused.stderr
            assert refused.returncode == 1 and message in output, output[-2000:]
    files = {p: p.stat().st_mtime_ns for p in (run / "results").rglob("*") if p.is_file()}
    assert files == finished_files


def test_a_moved_project_with_its_workflow_plans_nothing(workflow_run_copy, workflow_run, tmp_path):
    """``mv`` of a project that holds the workflow: the run records name no path of either, so
    ``snakemake -n`` in the new place plans nothing and every result is the finished run's."""
    moved = workflow_run_copy.rename(tmp_path / "moved")
    copy_run(REPO / "workflow", moved / "workflow")
    nothing = snakemake(moved, "-n", *RUN_TARGETS, snakefile=moved / "workflow" / "Snakefile")
    assert "Nothing to be done" in nothing.stdout + nothing.stderr, nothing.stdout[-3000:]
    assert_same_results(moved, workflow_run)


def test_an_export_id_that_names_no_variant_says_which_do(workflow_run):
    refused = snakemake(workflow_run, "-n", "results/pruned/drop-x", check=False)
    assert refused.returncode == 1
    output = refused.stdout + refused.stderr
    assert "'drop-x' is not a variant id" in output and "blocks are 0..3" in output


def test_an_export_is_an_ordinary_directory(workflow_run):
    export = workflow_run / f"results/pruned/{RUN_EXPORT}"
    assert not (export / ".snakemake_timestamp").exists()
    umask = os.umask(0)
    os.umask(umask)
    modes = {p.name: p.stat().st_mode & 0o777 for p in export.iterdir()}
    assert "model.safetensors" in modes
    assert set(modes.values()) == {0o666 & ~umask}, modes
    nothing = snakemake(workflow_run, "-n", f"results/pruned/{RUN_EXPORT}")
    assert "Nothing to be done" in nothing.stdout + nothing.stderr
