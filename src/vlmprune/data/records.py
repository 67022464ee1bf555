"""The common record schema every dataset source produces."""

from __future__ import annotations

import datasets

RECORD_FEATURES = datasets.Features(
    {
        "sample_id": datasets.Value("string"),
        "image": datasets.Image(),
        "question": datasets.Value("string"),
        # Text given with the question (ScienceQA's hint), empty when there is none.
        "context": datasets.Value("string"),
        "answers": datasets.Sequence(datasets.Value("string")),
        "choices": datasets.Sequence(datasets.Value("string")),
        "metric": datasets.Value("string"),
        "style": datasets.Value("string"),
    }
)

RECORD_COLUMNS = tuple(RECORD_FEATURES)


def check_records(ds: datasets.Dataset, name: str) -> None:
    """Raise a ValueError naming the dataset and the columns missing from ``ds``."""
    missing = [c for c in RECORD_COLUMNS if c not in ds.column_names]
    if missing:
        raise ValueError(
            f"dataset {name!r}: prepared records lack column(s) {missing}; expected "
            f"{list(RECORD_COLUMNS)} (records prepared by an older version: delete them so that "
            "they are prepared again)"
        )
