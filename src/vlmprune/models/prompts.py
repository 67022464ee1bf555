"""Prompt templates per model family and dataset style.

LLaVA-1.5's evaluation prompts (Liu et al., 2023, "Improved Baselines with Visual
Instruction Tuning", appendix): a short-answer instruction for open questions and an
option-letter instruction for multiple choice, in the ``USER: … ASSISTANT:`` chat format.
"""

from __future__ import annotations

from collections.abc import Sequence

LLAVA_IMAGE_TOKEN = "<image>"
LLAVA_SHORT_ANSWER = "Answer the question using a single word or phrase."
LLAVA_MULTIPLE_CHOICE = "Answer with the option's letter from the given choices directly."
LLAVA_CAPTION = "Provide a one-sentence caption for the provided image."


def llava_prompt(question: str, style: str, choices: Sequence[str] = ()) -> str:
    """The LLaVA-1.5 prompt for one record (the image token is expanded by the processor)."""
    if style == "coco_captioning":
        body = LLAVA_CAPTION
    elif choices:
        options = "\n".join(f"{chr(ord('A') + i)}. {c}" for i, c in enumerate(choices))
        body = f"{question}\n{options}\n{LLAVA_MULTIPLE_CHOICE}"
    else:
        body = f"{question}\n{LLAVA_SHORT_ANSWER}"
    return f"USER: {LLAVA_IMAGE_TOKEN}\n{body} ASSISTANT:"
