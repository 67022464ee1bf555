"""TallyQA (Acharya, Kafle and Kanan, AAAI 2019): counting questions on COCO and Visual Genome
images.

Published at https://github.com/manoja328/tallyqa (``tallyqa.zip``), as read by Molmo's
``TallyQaBuilder`` (allenai/molmo ``olmo/hf_datasets/tally_qa.py``). Under the local path::

    train.json, test.json    [{"image": "train2014/COCO_train2014_000000000009.jpg" |
    "VG_100K_2/1.jpg",
                               "answer" int, "question", "image_id" int, "question_id" int,
                               "data_source" str, "issimple" bool (test only)}, ...]
    train2014/, val2014/     COCO 2014 images
    VG_100K/, VG_100K_2/     Visual Genome images

TallyQA has no validation split: ``test`` (simple and complex questions) stands in for it.
Each question is one record; the answer (an int) becomes its decimal string.
"""

from __future__ import annotations

from pathlib import Path

import datasets

from vlmprune.data.sources.common import Target, question_list_records


def load_records(
    target: Target, split: str, local_path: str | Path | None, *, how_to_get: str = ""
) -> datasets.Dataset:
    return question_list_records(
        target, split, local_path, how_to_get=how_to_get, files=[f"{split}.json"], image_dir=""
    )
