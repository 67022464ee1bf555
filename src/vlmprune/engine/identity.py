"""What identifies an evaluation store: the one fingerprint that resume and beam reuse compare.

A store is reused (or resumed) only when it was written from the same weights, data split,
sample selection, variant, metric and generation length; every caller builds that fingerprint
here, so the copies cannot drift apart.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from vlmprune.models.loading import resolve_model_path


def model_identity(path: str | Path) -> dict[str, Any]:
    """What identifies the weights: path, and size and mtime of each weight file."""
    path = resolve_model_path(path)
    files = sorted(path.glob("*.safetensors")) + sorted(path.glob("*.bin"))
    return {
        "model": str(path),
        "weights": [(f.name, f.stat().st_size, f.stat().st_mtime_ns) for f in files],
    }


def evaluation_inputs(model: Mapping[str, Any], dataset: str, split: str) -> dict[str, Any]:
    """The inputs of an evaluation job that every one of its stores depends on."""
    return {
        **model_identity(model["path"]),
        "dataset": dataset,
        "split": split,
        "component": model["component"],
        "block_path": model.get("block_path"),
    }


def store_fingerprint(
    inputs: Mapping[str, Any],
    sample_ids: Sequence[str],
    variant: str,
    metric: str,
    max_new_tokens: int,
) -> str:
    """The ``fingerprint`` attribute of a variant's store evaluated on ``sample_ids``."""
    selection = hashlib.sha256("\n".join(sample_ids).encode()).hexdigest()
    parts = {
        **inputs,
        "selection": selection,
        "variant": variant,
        "metric": metric,
        "max_new_tokens": max_new_tokens,
    }
    return hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()


def file_digest(path: str | Path) -> str:
    """SHA-256 of a file's content: a rewritten but equal mask file still resumes."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(2**24), b""):
            digest.update(block)
    return digest.hexdigest()
