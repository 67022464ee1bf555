"""InfographicVQA (Mathew et al., WACV 2022), Task 3 of the DocVQA challenge on https://rrc.cvc.uab.es/?ch=17.

Distributed by manual download (registration). The official annotation files, as read by
Molmo's ``InfoQa`` (allenai/molmo ``olmo/data/academic_datasets.py``), under the local path::

    infographicsVQA_train_v1.0.json
    infographicsVQA_val_v1.0_withQT.json
    infographicsVQA_test_v1.0.json                 (no answers)
    images/{image_local_name}                      (or infographicsvqa_images/, the archive's
    folder name)

each ``{"dataset_name", "dataset_version", "dataset_split", "data": [{"questionId" int,
"question", "image_local_name", "image_url", "ocr_output_file", "answers" list[str],
"answer_type", "evidence", "operation/reasoning", ...}, ...]}``. Each question is one record.
"""

from __future__ import annotations

from pathlib import Path

import datasets

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

FILES = {
    "train": "infographicsVQA_train_v1.0.json",
    "val": "infographicsVQA_val_v1.0_withQT.json",
    "test": "infographicsVQA_test_v1.0.json",
}
IMAGE_DIRS = ("images", "infographicsvqa_images")


def load_records(
    target: Target, split: str, local_path: str | Path | None, *, how_to_get: str = ""
) -> datasets.Dataset:
    root = require_root(target, local_path, how_to_get=how_to_get)
    path = require_file(target, root, FILES[split])
    data = read_json(target, path)
    require_keys(target, path, data, ["data"], "the top level")
    image_dir = next((root / d for d in IMAGE_DIRS if (root / d).is_dir()), root / IMAGE_DIRS[0])
    image = ImageFiles(target)

    def rows():
        for entry in data["data"]:
            require_keys(
                target, path, entry, ["questionId", "question", "image_local_name"], "a question"
            )
            yield Row(
                f"{target.name}/{split}/{entry['questionId']}",
                image(image_dir / entry["image_local_name"]),
                entry["question"],
                list(entry.get("answers", [])),
                [],
            )

    return to_dataset(target, rows())
