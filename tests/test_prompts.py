"""Prompts per (model family, dataset): the table in ``vlmprune.models.prompts`` and docs/datasets.md."""

from __future__ import annotations

import pytest

from vlmprune.models.prompts import TEMPLATES, llava_prompt, molmo_prompt, short_answer_body


def test_llava_prompts_are_llava_15s() -> None:
    assert llava_prompt("What color?", "vqa2") == (
        "USER: <image>\nWhat color?\nAnswer the question using a single word or phrase. ASSISTANT:"
    )
    assert llava_prompt("Which?", "science_qa", ["cat", "dog"]) == (
        "USER: <image>\nWhich?\nA. cat\nB. dog\nAnswer with the option's letter from the given choices directly. ASSISTANT:"
    )
    assert (
        llava_prompt("", "coco_captioning")
        == "USER: <image>\nProvide a one-sentence caption for the provided image. ASSISTANT:"
    )
    assert (
        short_answer_body("What color?", "vqa2")
        == "What color?\nAnswer the question using a single word or phrase."
    )


@pytest.mark.parametrize(
    ("question", "style", "choices", "prompt"),
    [
        # Open questions: the dataset's style as Molmo's task prefix.
        ("What color?", "vqa2", (), " User: vqa2: What color? Assistant:"),
        ("What is the total?", "chart_qa", (), " User: chart_qa: What is the total? Assistant:"),
        # MMMU: a_okvqa_mc for multiple choice, vqa2 for open questions; options as format_options writes them.
        (
            "Which organ?",
            "mmmu",
            ("heart", "lung"),
            " User: a_okvqa_mc: Which organ?\nA: heart\nB: lung\n Assistant:",
        ),
        ("How many cm?", "mmmu", (), " User: vqa2: How many cm? Assistant:"),
        # COCO captions: Molmo's short-caption prompt, not an empty question.
        (
            "",
            "coco_captioning",
            (),
            " User: coco_captioning: Caption the image with 1 or two sentences Assistant:",
        ),
        # ScienceQA: Molmo's published loader asks "{hint}\n{hint}" (no question) when there is a hint.
        # Expected strings: the loader's ScienceQAImageOnly.get and its DataFormatter, run on these rows.
        (
            "Context: Look at the map.\nWhich state is farthest north?",
            "science_qa",
            ("Ohio", "Maine"),
            " User: science_qa: Look at the map.\nLook at the map.\nA: Ohio\nB: Maine\n Assistant:",
        ),
        (
            "Context: Figure: a garden.\nMona will plant the seeds.\nWhich tense does the sentence use?",
            "science_qa",
            ("past", "future"),
            " User: science_qa: Figure: a garden.\nMona will plant the seeds.\nFigure: a garden.\nMona will plant the seeds."
            "\nA: past\nB: future\n Assistant:",
        ),
        (
            "Which is a solid?",
            "science_qa",
            ("milk", "rock"),
            " User: science_qa: Which is a solid?\nA: milk\nB: rock\n Assistant:",
        ),
    ],
)
def test_molmo_prompts_follow_molmos_data_formatter(
    question: str, style: str, choices: tuple, prompt: str
) -> None:
    assert molmo_prompt(question, style, choices) == prompt


def test_every_family_has_a_default_for_open_and_choice_questions() -> None:
    for family in {family for family, _, _ in TEMPLATES}:
        assert (family, "*", "open") in TEMPLATES and (family, "*", "choice") in TEMPLATES
