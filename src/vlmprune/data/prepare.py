"""Turn a registered dataset's split into records on disk, and choose evaluation samples."""

from __future__ import annotations

from pathlib import Path

import datasets
import numpy as np

from vlmprune.data.records import check_records
from vlmprune.data.registry import load_split
from vlmprune.result_files import atomic_path


def prepare_dataset(
    name: str, split: str, out_dir: str | Path, *, local_path: str | None = None
) -> datasets.Dataset:
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


SELECTIONS = ("random", "first")


def select_samples(
    records: datasets.Dataset, num_samples: int, seed: int, selection: str = "random"
) -> tuple[datasets.Dataset, list[str]]:
    """``num_samples`` records, kept in dataset order: by a seeded permutation, or the first ones.

    ``random`` (``evaluation.selection``'s default): a smaller request selects a subset of a
    larger one with the same seed. ``first``: the first ``num_samples`` records in dataset
    order, as the seed experiments took them (``seed`` is unused). A request larger than the
    split is clamped; the returned warnings say so.
    """
    if selection not in SELECTIONS:
        raise ValueError(
            f"evaluation.selection must be one of {list(SELECTIONS)}, not {selection!r}"
        )
    warnings = []
    n = len(records)
    if num_samples > n:
        warnings.append(
            f"num_samples {num_samples} is larger than the split ({n} records); clamped to {n}"
        )
        num_samples = n
    if selection == "first":
        return records.select(range(num_samples)), warnings
    chosen = np.sort(np.random.default_rng(seed).permutation(n)[:num_samples])
    return records.select(chosen.tolist()), warnings
