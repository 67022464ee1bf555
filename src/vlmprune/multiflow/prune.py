"""MULTIFLOW steps 2 and 3 run from files: calibration statistics, then masks to the budgets.

:func:`calibrate` (step 2's data pass) and :func:`make_masks` (step 3) are what the workflow's
rules ``multiflow_calibrate`` and ``multiflow_masks`` run; :func:`compute_masks` runs steps 1-3
for one model, method and target, as ``vlmprune multiflow prune`` does: the step-1 budgets,
one calibration pass over prepared records (a folder written by rule ``prepare_dataset``),
scores, and ``masks_{method}_{s}.safetensors`` with its ``.json`` summary.
"""

from __future__ import annotations

import hashlib
import logging
import os
import sys
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from vlmprune.data.prepare import load_prepared, select_samples
from vlmprune.engine.variants import check_sparsity
from vlmprune.models.loading import load_adapter, resolve_model_path
from vlmprune.multiflow.calibration import collect_statistics, load_statistics, save_statistics
from vlmprune.multiflow.config import MultiflowConfig
from vlmprune.multiflow.distribution import compute_distribution
from vlmprune.multiflow.layers import prunable_modules
from vlmprune.multiflow.masks import (
    BUDGETED,
    budgets_of,
    check_method,
    describe,
    layer_weights,
    read_budgets,
    write_masks,
)
from vlmprune.settings import schema_defaults

log = logging.getLogger(__name__)


def calibration_records(
    data: str | os.PathLike, nsamples: int, seed: int = 0
) -> tuple[Any, list[str]]:
    """``nsamples`` prepared records drawn as evaluation draws them; more than the split is clamped with a warning."""
    data = Path(data)
    if nsamples < 1:
        raise ValueError(f"calibration nsamples must be at least 1, not {nsamples}")
    if not data.is_dir():
        raise FileNotFoundError(
            f"prepared records {str(data)!r} do not exist; prepare them first "
            "(snakemake --cores 1 data/prepared/<dataset>/<split>)"
        )
    records, warnings = select_samples(load_prepared(data, data.parent.name), nsamples, seed)
    for warning in warnings:
        log.warning("calibration: %s", warning)
    return records, warnings


def load_model(model: Mapping[str, Any]) -> Any:
    """The adapter for a model section (the schema's defaults for what it leaves out), language blocks."""
    model = {**schema_defaults("model"), **model}
    return load_adapter(
        model["path"],
        adapter=model["adapter"],
        dtype=model["dtype"],
        device=model["device"],
        trust_remote_code=bool(model["trust_remote_code"]),
        allow_pickle=bool(model["allow_pickle"]),
    )


def calibrate(
    model: Mapping[str, Any],
    data: str | os.PathLike,
    nsamples: int,
    multiflow: MultiflowConfig,
    stats_path: str | os.PathLike,
    *,
    seed: int = 0,
    batch_size: int = 8,
    adapter: Any = None,
) -> dict[str, Any]:
    """Step 2's data pass: statistics of every prunable layer's inputs, written to ``stats_path``."""
    records, warnings = calibration_records(data, nsamples, seed)
    adapter = adapter or load_model(model)
    layers = prunable_modules(adapter.model, resolve_model_path(model["path"]), multiflow)
    started = time.perf_counter()
    collector = collect_statistics(
        adapter, records, {n: layer.modality for n, layer in layers.items()}, batch_size
    )
    for name, layer in layers.items():
        collector.stats[name].checkpoint_name = layer.checkpoint_name
    provenance = {
        "data": str(data),
        "nsamples": len(records),
        "seed": seed,
        "warnings": warnings,
        "selection": hashlib.sha256("\n".join(records["sample_id"]).encode()).hexdigest(),
        "seconds": round(time.perf_counter() - started, 3),
    }
    save_statistics(stats_path, collector.stats, provenance)
    log.info(
        "calibration: %d samples, %d layers, statistics %.1f KiB",
        len(records),
        len(layers),
        collector.stats_bytes() / 2**10,
    )
    return provenance


def make_masks(
    model: Mapping[str, Any],
    stats_path: str | os.PathLike,
    method: str,
    target: float,
    masks_path: str | os.PathLike,
    summary_path: str | os.PathLike,
    *,
    budgets_path: str | os.PathLike | None = None,
    budgets: Mapping[str, int] | None = None,
    adapter: Any = None,
) -> dict[str, Any]:
    """Step 3: scores from the statistics and the loaded weights, masks to the budgets (or per row for wanda)."""
    check_method(method)
    check_sparsity(target)
    stats, provenance = load_statistics(stats_path)
    adapter = adapter or load_model(model)
    weights = layer_weights(adapter.model, stats)
    if method in BUDGETED and budgets is None:
        if budgets_path is None:
            raise ValueError(
                f"method {method} needs the step-1 budgets (sparsity_distribution_{target}.json)"
            )
        budgets = read_budgets(
            budgets_path, {stats[n].checkpoint_name: w.numel() for n, w in weights.items()}
        )
    if method in BUDGETED:
        budgets = {
            n: budgets[stats[n].checkpoint_name] for n in weights
        }  # step 1 names -> module names
    summary = write_masks(
        masks_path,
        summary_path,
        weights,
        stats,
        method,
        target,
        budgets if method in BUDGETED else None,
        provenance,
    )
    log.info("%s", describe(summary))
    return summary


def compute_masks(
    *,
    model_path: str,
    data: Path,
    target_sparsity: float = 0.5,
    samples: int = 128,
    method: str = "multiflow",
    output_dir: Path = Path("."),
    seed: int = 0,
    batch_size: int = 8,
    device: str = "auto",
    config_file: Path | None = None,
) -> Path:
    """Steps 1-3 into ``output_dir``; returns the masks file. Nothing is left there on failure."""
    check_sparsity(target_sparsity)
    check_method(method)
    config = MultiflowConfig.from_file(config_file)
    model = {"path": model_path, "device": device}
    stem = Path(output_dir) / f"masks_{method}_{target_sparsity!r}"
    budgets = None
    if method in BUDGETED:
        budgets = budgets_of(compute_distribution(model_path, target_sparsity, config))
    adapter = load_model(model)
    stats_path = Path(output_dir) / f".calibration_{os.getpid()}.safetensors"
    try:
        calibrate(
            model,
            data,
            samples,
            config,
            stats_path,
            seed=seed,
            batch_size=batch_size,
            adapter=adapter,
        )
        make_masks(
            model,
            stats_path,
            method,
            target_sparsity,
            f"{stem}.safetensors",
            f"{stem}.json",
            budgets=budgets,
            adapter=adapter,
        )
    finally:
        stats_path.unlink(missing_ok=True)
    log.info("wrote %s.safetensors and %s.json", stem, stem)
    return Path(f"{stem}.safetensors")


def main(argv: Sequence[str] | None = None) -> int:
    """Deprecated: ``python -m vlmprune.multiflow.prune`` is ``vlmprune multiflow prune``."""
    from vlmprune.cli import run_old_entry_point

    return run_old_entry_point("python -m vlmprune.multiflow.prune", ["multiflow", "prune"], argv)


if __name__ == "__main__":
    sys.exit(main())
