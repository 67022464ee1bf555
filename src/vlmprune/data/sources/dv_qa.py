"""DVQA (Kafle et al., CVPR 2018): questions over synthetic bar charts.

Published at https://github.com/kushalkafle/DVQA_dataset (Google Drive links), as read by
Molmo's ``DvQaBuilder`` (allenai/molmo ``olmo/hf_datasets/dv_qa.py``). Under the local path::

    qa/{split}_qa.json        [{"image": "bar_train_00000000.png", "question", "answer" str,
                                "question_id" int, "template_id", "answer_bbox", ...}, ...]
                              ({split}_qa.json directly under the path is read too)
    images/bar_{split}_{image_id:08d}.png

with ``split`` = ``train``, ``val_easy`` or ``val_hard`` (the paper's Test-Familiar and
Test-Novel). Each question is one record.
"""

from __future__ import annotations

from pathlib import Path

import datasets

from vlmprune.data.sources.common import Target, question_list_records


def load_records(
    target: Target, split: str, local_path: str | Path | None, *, how_to_get: str = ""
) -> datasets.Dataset:
    return question_list_records(
        target,
        split,
        local_path,
        how_to_get=how_to_get,
        files=[f"qa/{split}_qa.json", f"{split}_qa.json"],
        image_dir="images",
    )
