"""Reading the stores of one dataset split and writing its importance files."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from vlmprune.analysis.importance.estimate import block_importance
from vlmprune.engine.store import read_store
from vlmprune.engine.variants import parse_variant
from vlmprune.result_files import write_json


def write_importance(
    full: Path,
    dropped: Sequence[Path],
    out: Path,
    details: Path,
    *,
    confidence: float,
    bootstrap_resamples: int,
    seed: int,
) -> None:
    stores = {}
    for path in dropped:
        (block,) = parse_variant(path.stem)
        stores[block] = read_store(path)
    flat, info = block_importance(
        read_store(full), stores, confidence=confidence, resamples=bootstrap_resamples, seed=seed
    )
    write_json(details, info)
    write_json(out, flat)
