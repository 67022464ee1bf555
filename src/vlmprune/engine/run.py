"""One evaluation job: load the prepared records and the model, evaluate, write stores and summary."""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Mapping, Sequence
from contextlib import nullcontext
from pathlib import Path
from typing import Any

from vlmprune.analysis.proxies import proxies_path, record_proxies, write_proxies
from vlmprune.data.prepare import load_prepared, select_samples
from vlmprune.engine.distributed import World
from vlmprune.engine.evaluate import evaluate_variants
from vlmprune.engine.variants import parse_variant, parse_width_variant
from vlmprune.io import write_json
from vlmprune.models.masking import apply_masks
from vlmprune.models.loading import load_adapter, resolve_model_path

log = logging.getLogger(__name__)


def model_identity(path: str | Path) -> dict[str, Any]:
    """What identifies the weights for resuming: path, and size and mtime of each weight file."""
    path = resolve_model_path(path)
    files = sorted(path.glob("*.safetensors")) + sorted(path.glob("*.bin"))
    return {"model": str(path), "weights": [(f.name, f.stat().st_size, f.stat().st_mtime_ns) for f in files]}


def file_digest(path: str | Path) -> str:
    """SHA-256 of a file's content: a rewritten but equal mask file still resumes."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(2**24), b""):
            digest.update(block)
    return digest.hexdigest()


def run_evaluation(
    *,
    data: Path,
    dataset: str,
    split: str,
    variants: Sequence[str],
    stores: Sequence[Path],
    summary: Path | None,
    model: Mapping[str, Any],
    evaluation: Mapping[str, Any],
    world: World = World(),
    masks: Path | None = None,
) -> None:
    """Evaluate ``variants`` into ``stores``; a width variant (one per job) needs its ``masks`` file."""
    removed = [parse_variant(v) for v in variants]
    width = [v for v in variants if parse_width_variant(v) is not None]
    if width and (len(variants) != 1 or masks is None):
        raise ValueError(f"width variants {width} are evaluated one per job, each with its mask file (--masks)")
    records, warnings = select_samples(load_prepared(data, dataset), evaluation["num_samples"], evaluation["seed"])
    for warning in warnings:
        log.warning("%s: %s", dataset, warning)
    adapter = load_adapter(
        model["path"],
        adapter=model.get("adapter", "auto"),
        dtype=model.get("dtype", "auto"),
        device=world.device(model.get("device", "auto")),
        component=model.get("component", "language"),
        block_path=model.get("block_path"),
        trust_remote_code=bool(model.get("trust_remote_code", False)),
        allow_pickle=bool(model.get("allow_pickle", False)),
    )
    identity = {**model_identity(model["path"]), "dataset": dataset, "split": split, "component": model.get("component", "language"), "block_path": model.get("block_path")}
    if width:
        zeroed = apply_masks(adapter.model, masks)  # in place: no second copy of the weights
        identity["masks"] = file_digest(masks)
        log.info("%s: %d weights zeroed by %s", variants[0], zeroed, masks)
    log.info("%s/%s: %d samples, %d variants, %d blocks, world of %d", dataset, split, len(records), len(variants), len(adapter.blocks), world.size)
    attrs = {
        "model": str(model["path"]),
        "dataset": dataset,
        "split": split,
        "metric": evaluation["metric"],
        "num_blocks": len(adapter.blocks),
        "component": adapter.component,
        "warnings": json.dumps(warnings),
        **({"masks": str(masks)} if width else {}),
    }
    baseline = list(variants) == ["full"]  # the baseline pass also records the one-pass proxies
    with record_proxies(adapter.model, adapter.blocks) if baseline else nullcontext() as proxies:
        finished = evaluate_variants(
            adapter,
            records,
            removed,
            stores,
            metric=evaluation["metric"],
            max_new_tokens=evaluation["max_new_tokens"],
            batch_size=evaluation["batch_size"],
            chunk_size=evaluation["chunk_size"],
            attrs=attrs,
            identity=identity,
            world=world,
            names=list(variants),
        )
    if baseline and summary is not None:
        parts = world.gather(proxies.totals())
        if world.is_main:
            write_proxies(proxies_path(summary), parts, attrs)
    for name, store in finished.items():
        log.info("%s: accuracy %.4f on %d samples", name, store.accuracy, len(store.scores))
    if summary is not None and world.is_main:
        first = finished[variants[0]]
        write_json(summary, {**{k: v for k, v in first.attrs.items() if k != "fingerprint"}, "warnings": warnings})
