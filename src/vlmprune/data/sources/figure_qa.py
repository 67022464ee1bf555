"""FigureQA (Kahou et al., ICLR 2018 workshop): yes/no questions over synthetic figures.

Published by Microsoft Research
(``figureqa-{train1,validation1,validation2,test1,test2}-v1.tar.gz``),
as read by Molmo's ``FigureQaBuilder`` (allenai/molmo ``olmo/hf_datasets/figure_qa.py``). Under
the local path, one folder per split as the archives extract::

    {split}/qa_pairs.json     {"qa_pairs": [{"image_index" int, "question_id" int,
    "question_string",
                               "answer" 0|1, "color1_name", "color2_name", ...}, ...]}
    {split}/png/{image_index}.png

with ``split`` = ``train1`` or ``validation1`` (``validation2`` swaps the colour scheme; the
test splits have no answers). An answer 1 becomes the references ``["yes", "1"]`` and 0
``["no", "0"]``: the word for models asked in words (LLaVA), the digit Molmo was trained on.
Each question is one record.
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

ANSWERS = {1: ["yes", "1"], 0: ["no", "0"]}


def load_records(
    target: Target, split: str, local_path: str | Path | None, *, how_to_get: str = ""
) -> datasets.Dataset:
    root = require_root(target, local_path, how_to_get=how_to_get)
    path = require_file(target, root, f"{split}/qa_pairs.json")
    data = read_json(target, path)
    require_keys(target, path, data, ["qa_pairs"], "the top level")
    image = ImageFiles(target)

    def rows():
        for qa in data["qa_pairs"]:
            require_keys(
                target,
                path,
                qa,
                ["image_index", "question_id", "question_string", "answer"],
                "a question",
            )
            yield Row(
                f"{target.name}/{split}/{qa['question_id']}",
                image(root / split / "png" / f"{qa['image_index']}.png"),
                qa["question_string"],
                ANSWERS[int(qa["answer"])],
                [],
            )

    return to_dataset(target, rows())
