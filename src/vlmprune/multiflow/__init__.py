"""MULTIFLOW step 1: per-layer sparsity budgets from a per-modality |W| ranking, streamed.

Steps 2-3 live beside it: ``calibration`` (activation statistics), ``scores``, ``selection``
and ``pruning`` (masks to the budgets), ``prune`` (their command line and workflow entry
points) and ``export`` (the pruned checkpoint).
"""

from __future__ import annotations

import logging
import os
import time
from typing import TextIO

from vlmprune.multiflow.config import MultiflowConfig
from vlmprune.multiflow.distribution import Distribution, compute_distribution
from vlmprune.multiflow.weight_stream import CheckpointError
from vlmprune.result_files import write_json

__all__ = [
    "CheckpointError",
    "Distribution",
    "MultiflowConfig",
    "compute_distribution",
    "run_step1",
]

log = logging.getLogger(__name__)


def run_step1(
    model_path: str | os.PathLike,
    target: float,
    json_path: str | os.PathLike,
    png_path: str | os.PathLike | None = None,
    config: MultiflowConfig | None = None,
    out: TextIO | None = None,
) -> Distribution:
    """Compute the distribution, print the report to ``out``, write the JSON (and the plot)."""
    from vlmprune.multiflow.report import print_report

    started = time.perf_counter()
    dist = compute_distribution(model_path, target, config)
    log.info("step 1 computed in %.1f s", time.perf_counter() - started)
    print_report(dist, out)
    write_json(json_path, dist.to_json())
    log.info("wrote %s", json_path)
    if png_path is not None:
        from vlmprune.multiflow.plot import plot_distribution

        plot_distribution(dist, png_path)
        log.info("wrote %s", png_path)
    return dist
