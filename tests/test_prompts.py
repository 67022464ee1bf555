"""Prompts per (model family, dataset): ``vlmprune.models.prompts``'s table, docs/datasets.md."""

from __future__ import annotations

import gzip
import json
from collections import Counter
from pathlib import Path

import pytest

from vlmprune.models.prompts import TEMPLATES, llava_prompt, molmo_prompt, short_answer_body

# Molmo's prompts from its published loaders and DataFormatter, run on generated records
# (the file's "source" names the commits): every seed style, empty and multi-line questions,
# ScienceQA hints with line breaks, up to nine options, COCO captions.
MOLMO = json.loads(
    gzip.decompress((Path(__file__).parent / "data" / "molmo_prompts.json.gz").read_bytes())
)


def test_llava_prompts_are_llava_15s() -> None:
    assert llava_prompt("What color?", "vqa2") == (
        "USER: <image>\nWhat color?\nAnswer the question using a single word or phrase. ASSISTANT:"
    )
    assert llava_prompt("Which?", "science_qa", ["cat", "dog"]) == (
        "USER: <image>\nWhich?\nA. cat\nB. dog\n"
        "Answer with the option's letter from the given choices directly. ASSISTANT:"
    )
    assert llava_prompt("Which?", "science_qa", ["cat"], "Look.") == (
        "USER: <image>\nContext: Look.\nWhich?\nA. cat\n"
        "Answer with the option's letter from the given choices directly. ASSISTANT:"
    )
    assert (
        llava_prompt("", "coco_captioning")
        == "USER: <image>\nProvide a one-sentence caption for the provided image. ASSISTANT:"
    )
    assert (
        short_answer_body("What color?", "vqa2")
        == "What color?\nAnswer the question using a single word or phrase."
    )


def test_molmo_prompts_equal_molmos_formatter_on_generated_records() -> None:
    cases = MOLMO["cases"]
    differ = [
        c
        for c in cases
        if molmo_prompt(c["question"], c["style"], c["choices"], c["context"]) != c["molmo"]
    ]
    # The cases are among them: empty questions, hints with a multi-line question, more
    # than seven options, COCO captions.
    kinds = Counter(c["style"] for c in cases)
    assert sum(c["question"] == "" for c in cases) >= 10
    assert sum(bool(c["context"]) and "\n" in c["question"] for c in cases) >= 5
    assert sum(len(c["choices"]) > 7 for c in cases) >= 30
    assert kinds["coco_captioning"] >= 30 and differ == []


@pytest.mark.parametrize(
    ("question", "style", "choices", "context", "prompt"),
    [
        ("What color?", "vqa2", (), "", " User: vqa2: What color? Assistant:"),
        ("", "vqa2", (), "", " User: vqa2: Assistant:"),  # no second space for an empty question
        (
            "Which organ?",
            "mmmu",
            ("heart", "lung"),
            "",
            " User: a_okvqa_mc: Which organ?\nA: heart\nB: lung\n Assistant:",
        ),
        ("How many cm?", "mmmu", (), "", " User: vqa2: How many cm? Assistant:"),
        (
            "",
            "coco_captioning",
            (),
            "",
            " User: coco_captioning: Caption the image with 1 or two sentences Assistant:",
        ),
        # ScienceQA: Molmo's published loader asks "{hint}\n{hint}" (no question) given a hint.
        (
            "Which tense does\nthe sentence use?",
            "science_qa",
            ("past", "future"),
            "Figure: a garden.\nMona will plant the seeds.",
            " User: science_qa: Figure: a garden.\nMona will plant the seeds.\nFigure: a garden.\n"
            "Mona will plant the seeds.\nA: past\nB: future\n Assistant:",
        ),
        # At most seven options: Molmo's formatter labels "ABCDEFG" and drops the rest.
        (
            "Which?",
            "science_qa",
            tuple("stuvwxyz"),
            "",
            " User: science_qa: Which?\nA: s\nB: t\nC: u\nD: v\nE: w\nF: x\nG: y\n Assistant:",
        ),
    ],
)
def test_molmo_prompt_cases(
    question: str, style: str, choices: tuple, context: str, prompt: str
) -> None:
    assert molmo_prompt(question, style, choices, context) == prompt


def test_every_family_has_a_default_for_open_and_choice_questions() -> None:
    for family in {family for family, _, _ in TEMPLATES}:
        assert (family, "*", "open") in TEMPLATES and (family, "*", "choice") in TEMPLATES
