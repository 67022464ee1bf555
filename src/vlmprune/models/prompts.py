"""Prompts per model family and dataset: one table, ``TEMPLATES`` (``docs/datasets.md`` shows it).

A record's prompt is looked up by (family, dataset style, kind), ``kind`` being ``choice``
when the record has options and ``open`` otherwise; a style with no row of its own uses the
family's ``*`` row. Templates fill ``{question}``, ``{options}`` (one option a line, in the
family's letter format) and ``{style}``.

- ``llava``: LLaVA-1.5's evaluation prompts (Liu et al., 2023, "Improved Baselines with Visual
  Instruction Tuning", appendix): a short-answer instruction for open questions, an
  option-letter instruction for multiple choice, a one-sentence caption request; options as
  "A. text". The adapters whose format is the processor's chat template (Qwen2-VL, Idefics3,
  Molmo2, generic) put the same text in the user's turn.
- ``molmo``: Molmo's data formatter (allenai/molmo ``olmo/data/data_formatter.py``, evaluation
  with ``system_prompt="style"``): the dataset's style as a task prefix, ``"{style}: …"``;
  options as ``format_options`` writes them ("A: text", one a line, the question first and a
  new line last). MMMU has no style of its own: Molmo's MMMU loader
  (``academic_datasets.py``) gives multiple-choice questions ``a_okvqa_mc`` and open ones
  ``vqa2``. COCO captions use the first of Molmo's short-caption prompts (the one its
  formatter picks when it does not sample). ScienceQA with a hint is asked as Molmo's
  published loader asks it, ``hint + "\n" + hint``: the hint twice and no question. That reads
  like a slip in Molmo's code, but the seed's runs were measured with it, so it is reproduced
  for comparability.

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

#: (family, style, kind) -> the user's turn; "*" is every style without a row of its own.
TEMPLATES: dict[tuple[str, str, str], str] = {
    ("llava", "*", "open"): "{question}\n" + LLAVA_SHORT_ANSWER,
    ("llava", "*", "choice"): "{question}\n{options}\n" + LLAVA_MULTIPLE_CHOICE,
    ("llava", "coco_captioning", "open"): LLAVA_CAPTION,
    ("molmo", "*", "open"): "{style}: {question}",
    ("molmo", "*", "choice"): "{style}: {question}\n{options}\n",
    ("molmo", "mmmu", "open"): "vqa2: {question}",
    ("molmo", "mmmu", "choice"): "a_okvqa_mc: {question}\n{options}\n",
    ("molmo", "coco_captioning", "open"): "coco_captioning: " + MOLMO_SHORT_CAPTION,
}

#: The ScienceQA source's question is "Context: {hint}\n{question}" (LLaVA's); Molmo's is "{hint}\n{hint}".
SCIENCE_QA_CONTEXT = "Context: "

#: How each family writes the option with letter ``{letter}`` and text ``{text}``.
OPTION_FORMATS = {"llava": "{letter}. {text}", "molmo": "{letter}: {text}"}


def user_turn(family: str, question: str, style: str, choices: Sequence[str] = ()) -> str:
    """The text of the user's turn for one record, from ``TEMPLATES``, without any chat markup."""
    kind = "choice" if choices else "open"
    template = TEMPLATES.get((family, style, kind)) or TEMPLATES[(family, "*", kind)]
    options = "\n".join(
        OPTION_FORMATS[family].format(letter=chr(ord("A") + i), text=c)
        for i, c in enumerate(choices)
    )
    if family == "molmo" and style == "science_qa" and question.startswith(SCIENCE_QA_CONTEXT):
        question = molmo_science_qa_question(question)
    return template.format(question=question, options=options, style=style)


def molmo_science_qa_question(record_question: str) -> str:
    """Molmo's ScienceQA question from the record's ``Context: {hint}\n{question}``: ``{hint}\n{hint}``.

    The hint is everything up to the last line break (ScienceQA's questions are one line; hints
    may have several).
    """
    hint = record_question[len(SCIENCE_QA_CONTEXT) :].rpartition("\n")[0]
    return hint + "\n" + hint


def llava_prompt(question: str, style: str, choices: Sequence[str] = ()) -> str:
    """The LLaVA-1.5 prompt for one record (the image token is expanded by the processor)."""
    return f"USER: {LLAVA_IMAGE_TOKEN}\n{user_turn('llava', question, style, choices)} ASSISTANT:"


def short_answer_body(question: str, style: str, choices: Sequence[str] = ()) -> str:
    """The user's turn in LLaVA-1.5's evaluation wording, for the adapters whose markup comes from a chat template."""
    return user_turn("llava", question, style, choices)


def molmo_prompt(question: str, style: str, choices: Sequence[str] = ()) -> str:
    """Molmo's evaluation prompt: the user's turn in Molmo's role format (``" User: … Assistant:"``)."""
    return f" User: {user_turn('molmo', question, style, choices)} Assistant:"


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
