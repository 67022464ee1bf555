"""PlotQA (Methani et al., WACV 2020): questions over scientific plots.

Published at https://github.com/NiteshMethani/PlotQA (Google Drive links), as read by Molmo's
``PlotQaBuilder`` (allenai/molmo ``olmo/hf_datasets/plot_qa.py``). Under the local path, one
folder per split (``train``, ``val``, ``test``)::

    {split}/qa_pairs_V2.json      {"qa_pairs": [{"image_index" int, "question_string", "answer"
                                   (number or string), "question_id", "template", "type", ...},
                                   ...]}
                                  (qa_pairs_V1.json, the smaller first release, is read if V2 is
                                  absent)
    {split}/png/{image_index}.png

Each question is one record; its id is its position in the file, numeric answers become
text without a trailing ".0". The train file is large (tens of millions of questions): it is
read whole, so prefer ``val`` for the analysis unless memory allows.
"""

from __future__ import annotations

from pathlib import Path

import datasets

from vlmprune.data.sources.common import (
    ImageFiles,
    Row,
    Target,
    answer_text,
    read_json,
    require_file,
    require_keys,
    require_root,
    to_dataset,
)


def load_records(
    target: Target, split: str, local_path: str | Path | None, *, how_to_get: str = ""
) -> datasets.Dataset:
    root = require_root(target, local_path, how_to_get=how_to_get)
    path = require_file(target, root, f"{split}/qa_pairs_V2.json", f"{split}/qa_pairs_V1.json")
    data = read_json(target, path)
    require_keys(target, path, data, ["qa_pairs"], "the top level")
    image = ImageFiles(target)

    def rows():
        for position, qa in enumerate(data["qa_pairs"]):
            require_keys(
                target, path, qa, ["image_index", "question_string", "answer"], "a question"
            )
            yield Row(
                f"{target.name}/{split}/{position}",
                image(root / split / "png" / f"{qa['image_index']}.png"),
                qa["question_string"],
                [answer_text(qa["answer"])],
                [],
            )

    return to_dataset(target, rows())
