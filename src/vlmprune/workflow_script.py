"""What every workflow script shares: logging to the job log and clean failures on bad input.

The rules run their scripts with Snakemake's ``script:`` directive, which finds a script beside
the rule file (inside a module too) and records no path of it in ``.snakemake/metadata``.
"""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Callable
from typing import Any

USER_ERRORS: tuple[type[BaseException], ...] = (KeyError, ValueError, FileNotFoundError)


def run_main(main: Callable[[], None]) -> None:
    """Run ``main``; a user error prints one ``error:`` line and exits 2 instead of a traceback."""
    logging.basicConfig(
        level=logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    try:
        main()
    except USER_ERRORS as error:
        message = error.args[0] if isinstance(error, KeyError) and error.args else error
        print(f"error: {message}", file=sys.stderr)
        sys.exit(2)


def run_rule(main: Callable[[Any], None], job: Any, *, distributed: bool = False) -> None:
    """Run ``main(job)`` as a rule's ``script:``, ``job`` being the ``snakemake`` object.

    What this process and its children print goes to the job's log. With ``distributed``, a
    job whose ``gpu`` resource is above 1 restarts this script under torchrun, one process
    per GPU, the job's threads shared among them.
    """
    if not is_torchrun_worker():
        write_output_to(job.log[0])
        if distributed:
            start_processes(job)
    run_main(lambda: main(job))


def is_torchrun_worker() -> bool:
    return "LOCAL_RANK" in os.environ


def write_output_to(log: str) -> None:
    """Send this process's stdout and stderr, and its children's, to ``log`` (``> log 2>&1``)."""
    with open(log, "w", encoding="utf-8") as file:
        for stream in (sys.stdout, sys.stderr):
            stream.flush()
            os.dup2(file.fileno(), stream.fileno())
    sys.stdout.reconfigure(line_buffering=True)


def processes_and_threads(job: Any) -> tuple[int, int]:
    """One process per GPU of the job's ``gpu`` resource (one on a CPU), and each one's threads."""
    processes = max(1, int(getattr(job.resources, "gpu", 0) or 0))
    return processes, max(1, job.threads // processes)


def start_processes(job: Any) -> None:
    """Restart this script under torchrun when the job has more than one GPU; else return.

    A one-process job runs without torchrun: its launcher would import torch a second time
    (seconds on a CPU) and a world of one joins no process group.
    """
    processes, threads = processes_and_threads(job)
    if processes == 1:
        return  # Snakemake has set OMP_NUM_THREADS and MKL_NUM_THREADS to the job's threads
    os.environ["OMP_NUM_THREADS"] = os.environ["MKL_NUM_THREADS"] = str(threads)
    print(f"torchrun: {processes} processes, {threads} threads each", flush=True)
    command = ["-m", "torch.distributed.run", "--standalone", f"--nproc-per-node={processes}"]
    os.execv(sys.executable, [sys.executable, *command, sys.argv[0]])
