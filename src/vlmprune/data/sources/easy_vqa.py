"""easy-VQA, shipped inside the ``easy-vqa`` PyPI package: the embedded default dataset.

Split ``train`` is easy-VQA's train (38,575 questions on 4,000 images), split ``val`` its
test (9,673 questions on 1,000 images). The ``question_type`` filter gives the derived
datasets ``easy_vqa_color``, ``easy_vqa_shape`` and ``easy_vqa_yesno``; a question's type is
read off its answer, since every easy-VQA answer names a colour, a shape, or yes/no.
"""

from __future__ import annotations

from collections.abc import Iterator
from functools import cache
from pathlib import Path

import datasets
import easy_vqa

from vlmprune.data.records import RECORD_FEATURES

SPLITS = {"train": "train", "val": "test"}

ANSWER_TYPES = {
    "color": frozenset({"red", "green", "blue", "black", "gray", "teal", "brown", "yellow"}),
    "shape": frozenset({"circle", "rectangle", "triangle"}),
    "yesno": frozenset({"yes", "no"}),
}


def answer_type(answer: str) -> str:
    for name, members in ANSWER_TYPES.items():
        if answer in members:
            return name
    raise ValueError(f"easy-VQA answer {answer!r} is neither a colour, a shape nor yes/no")


def _questions(split: str) -> tuple[list[str], list[str], list[int], list[str]]:
    if split not in SPLITS:
        raise ValueError(f"easy-VQA has splits {sorted(SPLITS)}, not {split!r}")
    if SPLITS[split] == "train":
        questions, answers, image_ids = easy_vqa.get_train_questions()
        paths = easy_vqa.get_train_image_paths()
    else:
        questions, answers, image_ids = easy_vqa.get_test_questions()
        paths = easy_vqa.get_test_image_paths()
    return questions, answers, image_ids, paths


@cache
def _image_bytes(path: str) -> bytes:
    return Path(path).read_bytes()


def iter_questions(split: str, question_type: str | None = None) -> Iterator[dict]:
    """Yield ``(index, question, answer, image path)`` dicts of one split in the package's order."""
    questions, answers, image_ids, paths = _questions(split)
    if question_type is not None and question_type not in ANSWER_TYPES:
        raise ValueError(
            f"easy-VQA question_type must be one of {sorted(ANSWER_TYPES)}, not {question_type!r}"
        )
    for index, (question, answer, image_id) in enumerate(zip(questions, answers, image_ids)):
        if question_type is None or answer_type(answer) == question_type:
            yield {
                "index": index,
                "question": question,
                "answer": answer,
                "image_path": paths[image_id],
            }


def answer_vocabulary() -> list[str]:
    return list(easy_vqa.get_answers())


def load_records(
    split: str, *, question_type: str | None = None, metric: str, style: str
) -> datasets.Dataset:
    """The split as records; ``sample_id`` is the question's index in the package, shared by the filtered datasets."""

    def generate() -> Iterator[dict]:
        for row in iter_questions(split, question_type):
            yield {
                "sample_id": f"easy_vqa/{split}/{row['index']}",
                "image": {"bytes": _image_bytes(row["image_path"]), "path": None},
                "question": row["question"],
                "context": "",
                "answers": [row["answer"]],
                "choices": [],
                "metric": metric,
                "style": style,
            }

    return datasets.Dataset.from_list(list(generate()), features=RECORD_FEATURES)
