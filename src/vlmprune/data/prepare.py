"""Turn a registered dataset's split into records on disk, and choose evaluation samples."""

from __future__ import annotations

import hashlib
import io
from pathlib import Path
from typing import Any

import datasets
import numpy as np
import PIL.Image

from vlmprune.data.records import check_records
from vlmprune.data.registry import LayoutError, load_split
from vlmprune.errors import DamagedFileError
from vlmprune.result_files import atomic_path


def prepare_dataset(
    name: str, split: str, out_dir: str | Path, *, local_path: str | None = None
) -> datasets.Dataset:
    """Write the split's records with ``save_to_disk``; the directory appears only when complete.

    Every image is opened first: a file that is not an image stops the preparation, named with
    its sample, rather than the evaluation later.
    """
    records = load_split(name, split, local_path=local_path)
    check_records(records, name)
    check_images(records, name)
    with atomic_path(out_dir) as tmp:
        records.save_to_disk(str(tmp))
    return records


def check_images(records: datasets.Dataset, name: str) -> None:
    """Raise a ``LayoutError`` naming the sample and the file of the first image that fails."""
    raw = records.select_columns(["sample_id", "image"]).cast_column(
        "image", datasets.Image(decode=False)
    )
    checked: set[Any] = set()
    for batch in raw.iter(batch_size=512):
        for sample_id, image in zip(batch["sample_id"], batch["image"], strict=True):
            data, path = image.get("bytes"), image.get("path")
            key = path if data is None else hashlib.sha1(data).digest()
            if key in checked:
                continue
            try:
                with PIL.Image.open(path if data is None else io.BytesIO(data)) as opened:
                    opened.verify()
            except Exception as error:  # PIL raises many kinds: all mean "not an image"
                where = f"file {path}" if path else "its image bytes"
                raise LayoutError(
                    f"dataset {name!r}: the image of sample {sample_id!r} ({where}) cannot be read "
                    f"as an image ({type(error).__name__}: {error}); replace or remove that file "
                    "in the local copy, then rerun"
                ) from None
            checked.add(key)


def load_prepared(path: str | Path, name: str) -> datasets.Dataset:
    """The prepared records of ``path``; if unreadable, the error says how to rebuild them."""
    if not Path(path).is_dir():
        raise FileNotFoundError(
            f"prepared records {path} do not exist; rule prepare_dataset writes them"
        )
    try:
        records = datasets.load_from_disk(str(path))
    except Exception as error:  # pyarrow and datasets raise OSError, ArrowInvalid, JSON errors …
        raise DamagedFileError(
            f"the prepared records in {path} cannot be read ({type(error).__name__}: {error}); "
            "delete that directory and rerun: rule prepare_dataset writes it again"
        ) from None
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
