"""Prompts per model family and dataset: one table, ``TEMPLATES`` (``docs/datasets.md`` shows it).

A record's prompt is looked up by (family, dataset style, kind), ``kind`` being ``choice``
when the record has options and ``open`` otherwise; a style with no row of its own uses the
family's ``*`` row. Templates fill ``{question}`` and ``{options}`` (one option a line, in the
family's letter format).

- ``llava``: LLaVA-1.5's evaluation prompts (Liu et al., 2023, "Improved Baselines with Visual
  Instruction Tuning", appendix): a short-answer instruction for open questions, an
  option-letter instruction for multiple choice, a one-sentence caption request; options as
  "A. text", all of them; a record's context (ScienceQA's hint) as "Context: {context}" on the
  line before the question. The adapters whose format is the processor's chat template
  (Qwen2-VL, Idefics3, Molmo2, generic) put the same text in the user's turn.
- ``molmo``: Molmo's data formatter (allenai/molmo ``olmo/data/data_formatter.py``,
  ``DataFormatter`` with the style as system prompt, evaluated as ``uber_model``): the task
  prefix ``"{task}:"`` (``MOLMO_TASKS``: the dataset's style, but MMMU asks multiple choice as
  ``a_okvqa_mc`` and open questions as ``vqa2``, as Molmo's MMMU loader does), then a space and
  the template's text, or nothing when that text is empty (an empty question gives ``vqa2:``).
  Options as ``format_options`` writes them ("A: text", one a line, the question first and a
  new line last), at most seven: its labels are "ABCDEFG" and it drops the options beyond G.
  ScienceQA with a hint is asked as Molmo's published loader asks it (``ScienceQAImageOnly``):
  ``hint + "\\n" + hint``, the hint twice and no question. That reads like a slip in Molmo's
  code, but the seed's runs were measured with it, so it is reproduced. COCO captions use
  "Caption the image with 1 or two sentences", the first of Molmo's short-caption prompts: the
  seed's copy of the formatter (``ChulanZhang/molmo_hf``) draws one of its ten at random per
  example (``RandomState(seed + index)``), which depends on the evaluation's seed and sample
  order; the first is the one the formatter gives in its deterministic (``debug``) mode, and
  every variant of a model is asked the same.

MMMU questions whose options are images: Molmo's loader (like MMMU's reference
``process_single_sample``) drops the image only when more than one option is an
``<img='path'>`` string. The hub's MMMU writes image options as ``<image N>``, which that rule
never matches, so both references show ``image_1``, as the records here do.
"""

from __future__ import annotations

from collections.abc import Sequence

LLAVA_IMAGE_TOKEN = "<image>"
LLAVA_SHORT_ANSWER = "Answer the question using a single word or phrase."
LLAVA_MULTIPLE_CHOICE = "Answer with the option's letter from the given choices directly."
LLAVA_CAPTION = "Provide a one-sentence caption for the provided image."
MOLMO_SHORT_CAPTION = "Caption the image with 1 or two sentences"

#: (family, style, kind) -> the user's turn (Molmo: after its task prefix); "*": every other style.
TEMPLATES: dict[tuple[str, str, str], str] = {
    ("llava", "*", "open"): "{question}\n" + LLAVA_SHORT_ANSWER,
    ("llava", "*", "choice"): "{question}\n{options}\n" + LLAVA_MULTIPLE_CHOICE,
    ("llava", "coco_captioning", "open"): LLAVA_CAPTION,
    ("molmo", "*", "open"): "{question}",
    ("molmo", "*", "choice"): "{question}\n{options}\n",
    ("molmo", "coco_captioning", "open"): MOLMO_SHORT_CAPTION,
}

#: Molmo's task prefix per (style, kind) where it is not the style itself.
MOLMO_TASKS = {("mmmu", "choice"): "a_okvqa_mc", ("mmmu", "open"): "vqa2"}

#: How each family writes the option with letter ``{letter}`` and text ``{text}``.
OPTION_FORMATS = {"llava": "{letter}. {text}", "molmo": "{letter}: {text}"}

#: Molmo's ``format_options`` labels options with these letters and drops the rest.
MOLMO_OPTION_LETTERS = "ABCDEFG"


def user_turn(
    family: str, question: str, style: str, choices: Sequence[str] = (), context: str = ""
) -> str:
    """The text of the user's turn for one record, from ``TEMPLATES``, without any chat markup."""
    kind = "choice" if choices else "open"
    template = TEMPLATES.get((family, style, kind)) or TEMPLATES[(family, "*", kind)]
    if family == "molmo":
        choices = choices[: len(MOLMO_OPTION_LETTERS)]
        if context:
            question = context + "\n" + context
    elif context:
        question = f"Context: {context}\n{question}"
    options = "\n".join(
        OPTION_FORMATS[family].format(letter=chr(ord("A") + i), text=c)
        for i, c in enumerate(choices)
    )
    text = template.format(question=question, options=options)
    if family != "molmo":
        return text
    task = MOLMO_TASKS.get((style, kind), style)
    return f"{task}: {text}" if text else f"{task}:"


def llava_prompt(question: str, style: str, choices: Sequence[str] = (), context: str = "") -> str:
    """The LLaVA-1.5 prompt for one record (the image token is expanded by the processor)."""
    turn = user_turn("llava", question, style, choices, context)
    return f"USER: {LLAVA_IMAGE_TOKEN}\n{turn} ASSISTANT:"


def short_answer_body(
    question: str, style: str, choices: Sequence[str] = (), context: str = ""
) -> str:
    """The user's turn in LLaVA-1.5's wording, for adapters whose markup is a chat template's."""
    return user_turn("llava", question, style, choices, context)


def molmo_prompt(question: str, style: str, choices: Sequence[str] = (), context: str = "") -> str:
    """Molmo's evaluation prompt: the user's turn in its role format (``" User: … Assistant:"``)."""
    return f" User: {user_turn('molmo', question, style, choices, context)} Assistant:"


def chat_prompt(processor: object, body: str, *, image_placeholder: str, fallback: str) -> str:
    """The user's turn with one image, through the processor's chat template when it has one.

    ``fallback`` (with ``{image}`` and ``{body}`` fields) is the family's documented format,
    used when the checkpoint ships no template (as tiny test checkpoints do).
    """
    template = getattr(processor, "chat_template", None)
    if template:
        messages = [
            {"role": "user", "content": [{"type": "image"}, {"type": "text", "text": body}]}
        ]
        return processor.apply_chat_template(messages, add_generation_prompt=True, tokenize=False)
    return fallback.format(image=image_placeholder, body=body)
