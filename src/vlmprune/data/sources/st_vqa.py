"""ST-VQA, Scene Text VQA (Biten et al., ICCV 2019), Task 3 on https://rrc.cvc.uab.es/?ch=11.

Distributed by manual download (registration). The official files, as read by Molmo's
``SceneTextQa`` (allenai/molmo ``olmo/data/academic_datasets.py``), under the local path::

    train_task_3.json        {"dataset_name", "dataset_version", "dataset_split",
                              "data": [{"question_id" int, "question", "answers" list[str],
                                        "file_path", "file_name", "dataset", ...}, ...]}
    test_task_3.json         (no answers; scored by the RRC server)
    {file_path}              images, e.g. coco-text/COCO_train2014_000000000036.jpg

ST-VQA has no validation split. As Molmo does, ``val`` is 1024 questions of ``train_task_3.json``
held out: sort by ``question_id``, shuffle with ``numpy.random.RandomState(63069)``, take the
first 1024; ``train`` is the rest. Each question is one record.
"""

from __future__ import annotations

from pathlib import Path

import datasets
import numpy as np

from vlmprune.data.sources.common import (
    ImageFiles,
    Row,
    Target,
    read_json,
    require_file,
    require_keys,
    require_root,
    to_dataset,
)

HELD_OUT = 1024
HELD_OUT_SEED = 63069
FILES = {"train": "train_task_3.json", "heldout": "train_task_3.json", "test": "test_task_3.json"}


def load_records(
    target: Target, split: str, local_path: str | Path | None, *, how_to_get: str = ""
) -> datasets.Dataset:
    """``split``: ``train`` (train minus the held-out questions), ``heldout`` or ``test``."""
    root = require_root(target, local_path, how_to_get=how_to_get)
    path = require_file(target, root, FILES[split])
    data = read_json(target, path)
    require_keys(target, path, data, ["data"], "the top level")
    entries = data["data"]
    for entry in entries:
        require_keys(target, path, entry, ["question_id", "question", "file_path"], "a question")
    if split != "test":
        entries = sorted(entries, key=lambda e: e["question_id"])
        # The same order as Molmo's RandomState(63069).shuffle of the sorted list.
        order = np.random.RandomState(HELD_OUT_SEED).permutation(len(entries))
        chosen = order[:HELD_OUT] if split == "heldout" else order[HELD_OUT:]
        entries = [entries[i] for i in chosen]
    image = ImageFiles(target)
    rows = (
        Row(
            f"{target.name}/{split}/{e['question_id']}",
            image(root / e["file_path"]),
            e["question"],
            list(e.get("answers", [])),
            [],
        )
        for e in entries
    )
    return to_dataset(target, rows)
