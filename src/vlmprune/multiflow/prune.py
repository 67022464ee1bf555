"""MULTIFLOW steps 2 and 3 from the command line, for users of the seed scripts.

    python -m vlmprune.multiflow.prune --model_path DIR --data data/prepared/easy_vqa/train \\
        --target_sparsity 0.5 --nsamples 128 [--method multiflow|wanda|magnitude]

computes the step-1 budgets, runs one calibration pass over ``--nsamples`` prepared records
(``--data``: a directory written by rule ``prepare_dataset``), scores every prunable weight and
writes ``masks_{method}_{s}.safetensors`` and ``masks_{method}_{s}.json`` into ``--output_dir``.
The workflow runs the same functions as rules ``multiflow_calibrate`` and ``multiflow_masks``.
"""

from __future__ import annotations

import argparse
import hashlib
import logging
import os
import sys
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

from vlmprune.data.prepare import load_prepared, select_samples
from vlmprune.engine.variants import PRUNING_METHODS, check_sparsity
from vlmprune.errors import ModelError
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
from vlmprune.multiflow.weight_stream import CheckpointError
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


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m vlmprune.multiflow.prune", description=__doc__.split("\n")[0]
    )
    parser.add_argument(
        "--model_path", required=True, help="model directory written by save_pretrained"
    )
    parser.add_argument(
        "--data", required=True, help="prepared records, e.g. data/prepared/easy_vqa/train"
    )
    parser.add_argument(
        "--target_sparsity", type=float, default=0.5, help="target sparsity in (0, 1) (default 0.5)"
    )
    parser.add_argument(
        "--nsamples", type=int, default=128, help="calibration samples (default 128)"
    )
    parser.add_argument("--method", choices=PRUNING_METHODS, default="multiflow")
    parser.add_argument(
        "--output_dir", default=".", help="where masks_{method}_{s}.safetensors/.json go"
    )
    parser.add_argument("--seed", type=int, default=0, help="which calibration samples are drawn")
    parser.add_argument("--batch_size", type=int, default=8, help="calibration batch size")
    parser.add_argument("--device", default="auto", help="auto | cpu | cuda")
    parser.add_argument(
        "--config", help="YAML file whose 'multiflow' section sets patterns and exclusions"
    )
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    try:
        check_sparsity(args.target_sparsity)
        section = {}
        if args.config:
            section = (yaml.safe_load(Path(args.config).read_text()) or {}).get("multiflow") or {}
        config = MultiflowConfig.from_mapping(section)
        model = {"path": args.model_path, "device": args.device}
        out = Path(args.output_dir)
        stem = out / f"masks_{args.method}_{args.target_sparsity!r}"
        budgets = None
        if args.method in BUDGETED:
            budgets = budgets_of(
                compute_distribution(args.model_path, args.target_sparsity, config)
            )
        adapter = load_model(model)
        stats_path = out / f".calibration_{os.getpid()}.safetensors"
        try:
            calibrate(
                model,
                args.data,
                args.nsamples,
                config,
                stats_path,
                seed=args.seed,
                batch_size=args.batch_size,
                adapter=adapter,
            )
            make_masks(
                model,
                stats_path,
                args.method,
                args.target_sparsity,
                f"{stem}.safetensors",
                f"{stem}.json",
                budgets=budgets,
                adapter=adapter,
            )
        finally:
            stats_path.unlink(missing_ok=True)
    except (CheckpointError, ModelError, ValueError, FileNotFoundError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    print(f"wrote {stem}.safetensors and {stem}.json")
    return 0


if __name__ == "__main__":
    sys.exit(main())
