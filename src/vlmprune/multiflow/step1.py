"""MULTIFLOW step 1 run to files: budgets computed, reported and written.

:mod:`vlmprune.multiflow.distribution` computes the per-layer budgets; this writes
``sparsity_distribution_{s}.json`` (and ``.png``) and prints the report, as the original
MULTIFLOW step-1 script does. ``vlmprune multiflow step1`` and the workflow's rule
``multiflow_step1`` run it.
"""

from __future__ import annotations

import logging
import os
import time
from pathlib import Path
from typing import TextIO

from vlmprune.multiflow.config import MultiflowConfig
from vlmprune.multiflow.distribution import Distribution, compute_distribution
from vlmprune.result_files import write_json

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


def write_step1(
    *,
    model_path: str,
    target_sparsity: float = 0.5,
    output_dir: Path = Path("."),
    architecture: str | None = None,
    vision_tower_path: str | None = None,
    config_file: Path | None = None,
    plot: bool = True,
    device: str = "cpu",
) -> Distribution:
    """Step 1 into ``output_dir``; ``architecture``, ``vision_tower_path`` override the file's."""
    if device != "cpu":
        log.info("device %s ignored: weights are streamed and ranked on the CPU", device)
    config = MultiflowConfig.from_file(
        config_file, architecture=architecture, vision_tower_path=vision_tower_path
    )
    stem = Path(output_dir) / f"sparsity_distribution_{target_sparsity}"
    return run_step1(
        model_path, target_sparsity, f"{stem}.json", f"{stem}.png" if plot else None, config
    )
