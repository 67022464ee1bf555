"""Turn a registered dataset's split into records on disk, and choose evaluation samples."""

from __future__ import annotations

from pathlib import Path

import datasets
import numpy as np

from vlmprune.data.records import check_records
from vlmprune.data.registry import load_split
from vlmprune.io import atomic_path


def prepare_dataset(name: str, split: str, out_dir: str | Path, *, local_path: str | None = None) -> datasets.Dataset:
    """Write the split's records with ``save_to_disk``; the directory appears only when complete."""
    records = load_split(name, split, local_path=local_path)
    check_records(records, name)
    with atomic_path(out_dir) as tmp:
        records.save_to_disk(str(tmp))
    return records


def load_prepared(path: str | Path, name: str) -> datasets.Dataset:
    records = datasets.load_from_disk(str(path))
    check_records(records, name)
    return records


def select_samples(records: datasets.Dataset, num_samples: int, seed: int) -> tuple[datasets.Dataset, list[str]]:
    """``num_samples`` records chosen by a seeded permutation, kept in dataset order.

    A smaller request selects a subset of a larger one with the same seed. A request
    larger than the split is clamped; the returned warnings say so.
    """
    warnings = []
    n = len(records)
    if num_samples > n:
        warnings.append(f"num_samples {num_samples} is larger than the split ({n} records); clamped to {n}")
        num_samples = n
    chosen = np.sort(np.random.default_rng(seed).permutation(n)[:num_samples])
    return records.select(chosen.tolist()), warnings
