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


def short_answer_body(question: str, style: str, choices: Sequence[str] = ()) -> str:
    """The text of the user's turn in LLaVA-1.5's evaluation wording, without any chat markup.

    Used by the adapters whose prompt format comes from the processor's chat template.
    """
    if style == "coco_captioning":
        return LLAVA_CAPTION
    if choices:
        options = "\n".join(f"{chr(ord('A') + i)}. {c}" for i, c in enumerate(choices))
        return f"{question}\n{options}\n{LLAVA_MULTIPLE_CHOICE}"
    return f"{question}\n{LLAVA_SHORT_ANSWER}"


def molmo_prompt(question: str, style: str, choices: Sequence[str] = ()) -> str:
    """Molmo's evaluation prompt: the dataset's style as a task prefix, in Molmo's role format.

    Molmo was trained with ``"{style}: {question}"`` for its academic datasets (``vqa2``,
    ``text_vqa``, ``chart_qa``, ...); multiple-choice options follow the question one per
    line, each with its letter.
    """
    if choices:
        options = "\n".join(f"{chr(ord('A') + i)}. {c}" for i, c in enumerate(choices))
        question = f"{question}\n{options}"
    return f" User: {style}: {question} Assistant:"


def chat_prompt(processor: object, body: str, *, image_placeholder: str, fallback: str) -> str:
    """The user's turn with one image, through the processor's chat template when it has one.

    ``fallback`` (with ``{image}`` and ``{body}`` fields) is the family's documented format,
    used when the checkpoint ships no template (as tiny test checkpoints do).
    """
    template = getattr(processor, "chat_template", None)
    if template:
        messages = [{"role": "user", "content": [{"type": "image"}, {"type": "text", "text": body}]}]
        return processor.apply_chat_template(messages, add_generation_prompt=True, tokenize=False)
    return fallback.format(image=image_placeholder, body=body)
