"""The official VQA JSON layout: a questions file, an annotations file, COCO 2014 images.

Published at https://visualqa.org/download.html (VQA v2: Goyal et al., CVPR 2017) and read the
same way by the VQA API (GT-Vision-Lab/VQA ``PythonHelperTools/vqaTools/vqa.py``). Under the
local path::

    v2_OpenEnded_mscoco_{split}_questions.json    {"questions": [{"image_id", "question",
    "question_id"}, ...]}
    v2_mscoco_{split}_annotations.json            {"annotations": [{"question_id", "image_id",
                                                    "answers": [{"answer", "answer_confidence",
                                                    "answer_id"} x10],
                                                    "multiple_choice_answer", "answer_type",
                                                    "question_type"}, ...]}
    {split}/COCO_{split}_{image_id:012d}.jpg       the COCO 2014 images (train2014.zip, val2014.zip)

with ``split`` = ``train2014`` or ``val2014``. OK-VQA (Marino et al., CVPR 2019;
https://okvqa.allenai.org/download.html) uses the same layout with the file names
``OpenEnded_mscoco_{split}_questions.json`` and ``mscoco_{split}_annotations.json``; its
annotations also carry ``raw_answer`` (the unprocessed answer, which Molmo scores against).
The file names and the answer key are options of the registry entry. Each question is one record.
"""

from __future__ import annotations

from pathlib import Path

import datasets

from vlmprune.data.sources.common import (
    ImageFiles,
    LayoutError,
    Row,
    Target,
    read_json,
    require_file,
    require_keys,
    require_root,
    to_dataset,
)

VQA_V2_FILES = {
    "questions": "v2_OpenEnded_mscoco_{split}_questions.json",
    "annotations": "v2_mscoco_{split}_annotations.json",
}
OKVQA_FILES = {
    "questions": "OpenEnded_mscoco_{split}_questions.json",
    "annotations": "mscoco_{split}_annotations.json",
}
IMAGE_PATTERN = "{split}/COCO_{split}_{image_id:012d}.jpg"


def has_layout(root: str | Path, split: str, questions: str) -> bool:
    """Whether ``root`` holds this layout's questions file for ``split`` (used to tell it from a
    hub copy)."""
    return (Path(root) / questions.format(split=split)).is_file()


def load_records(
    target: Target,
    split: str,
    local_path: str | Path | None,
    *,
    questions: str = VQA_V2_FILES["questions"],
    annotations: str = VQA_V2_FILES["annotations"],
    answer_key: str = "answer",
    how_to_get: str = "",
) -> datasets.Dataset:
    root = require_root(target, local_path, how_to_get=how_to_get)
    questions_path = require_file(target, root, questions.format(split=split))
    annotations_path = require_file(target, root, annotations.format(split=split))
    question_data = read_json(target, questions_path)
    annotation_data = read_json(target, annotations_path)
    require_keys(target, questions_path, question_data, ["questions"], "the top level")
    require_keys(target, annotations_path, annotation_data, ["annotations"], "the top level")

    answers_of: dict[int, list[str]] = {}
    for annotation in annotation_data["annotations"]:
        require_keys(
            target, annotations_path, annotation, ["question_id", "answers"], "an annotation"
        )
        for answer in annotation["answers"]:
            require_keys(target, annotations_path, answer, [answer_key], "an answer")
        answers_of[annotation["question_id"]] = [a[answer_key] for a in annotation["answers"]]

    image = ImageFiles(target)

    def rows():
        for question in question_data["questions"]:
            require_keys(
                target,
                questions_path,
                question,
                ["image_id", "question", "question_id"],
                "a question",
            )
            qid = question["question_id"]
            if qid not in answers_of:
                raise LayoutError(
                    f"dataset {target.name!r}: question {qid} of {questions_path} has no "
                    f"annotation in {annotations_path}"
                )
            path = root / IMAGE_PATTERN.format(split=split, image_id=question["image_id"])
            yield Row(
                f"{target.name}/{split}/{qid}",
                image(path),
                question["question"],
                answers_of[qid],
                [],
            )

    return to_dataset(target, rows())
