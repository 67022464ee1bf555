"""Multiple-choice metrics: ``mc`` (ScienceQA, A-OKVQA style) and ``mmmu`` (MMMU's official parsing).

Both take the record's options as ``choices=`` (a sequence of option texts, in letter order).

- ``mc`` follows Molmo's ``select_mc_option`` (allenai/molmo ``olmo/eval/vqa.py``, which matches
  the prediction against the option letters) and LLaVA-1.5's ScienceQA evaluation (answer with
  the option's letter): a prediction that is a letter alone ("b", "(c)", "B.") is that letter,
  case-insensitively; otherwise it is read as an option's text (exact, then ignoring case), then
  as a stated letter ("B. a dog", "The answer is B"), then as the one option it is part of (or
  that is part of it), and failing all of that as the option nearest in edit distance. The
  reference is the correct option's text, found exactly first and ignoring case only when no
  option matches exactly (or, failing both, its letter).
- ``mmmu`` re-implements the answer extraction of MMMU's evaluation code (Yue et al., "MMMU",
  CVPR 2024; MMMU-Benchmark/MMMU ``eval/utils/eval_utils.py``: ``parse_multi_choice_response``,
  ``parse_open_response``, ``eval_multi_choice``, ``eval_open``). A multiple-choice question
  (non-empty ``choices``) is scored by the letter found in the response against the reference
  letter (MMMU's ``answer`` field: a letter, never an option text); an open question by
  whether a normalised reference (numbers rounded to 2 decimals, text lower-cased) occurs in
  one of the key phrases or numbers extracted from the response. Numbers are whole tokens:
  "5cm" holds no number, "1,000kg" none either. Where the official code
  picks a random letter (no letter or option found), this picks one seeded by the response,
  so that a score is reproducible.
"""

from __future__ import annotations

import random
import re
import string
import zlib
from collections.abc import Sequence

from vlmprune.metrics import register
from vlmprune.metrics.text import levenshtein

LETTERS = string.ascii_uppercase

_LETTER_ALONE = re.compile(r"^\(?([A-Za-z])\)?[.:)]?$")
_LETTER_LEADING = re.compile(r"^\(?([A-Z])(?:\)|[.:])\s")
_LETTER_STATED = re.compile(
    r"\b(?:answer|option|choice)\s*(?:is|:)?\s*\(?([A-Z])\)?(?![A-Za-z])", re.IGNORECASE
)


def _clean(text: str) -> str:
    return text.strip().strip(".").strip().lower()


def _find_text(text: str, choices: Sequence[str]) -> int | None:
    """Index of the option ``text`` names: exact (outer space and full stops aside) first, then ignoring case."""
    exact = [c.strip().strip(".").strip() for c in choices]
    guess = text.strip().strip(".").strip()
    if guess in exact:
        return exact.index(guess)
    folded = [c.lower() for c in exact]
    return folded.index(guess.lower()) if guess.lower() in folded else None


def _letter(pattern: re.Pattern[str], text: str, count: int) -> int | None:
    found = pattern.search(text)
    if found and LETTERS.index(found.group(1).upper()) < count:
        return LETTERS.index(found.group(1).upper())
    return None


def select_option(prediction: str, choices: Sequence[str]) -> int:
    """Index of the option a free-text prediction names (see the module docstring for the order)."""
    if not choices:
        raise ValueError("a multiple-choice metric needs the record's choices (pass choices=...)")
    text = prediction.strip()
    for found in (_letter(_LETTER_ALONE, text, len(choices)), _find_text(text, choices)):
        if found is not None:
            return found
    for pattern in (_LETTER_LEADING, _LETTER_STATED):
        found = _letter(pattern, text, len(choices))
        if found is not None:
            return found
    options = [_clean(c) for c in choices]
    guess = _clean(prediction)
    if guess:
        containing = [i for i, option in enumerate(options) if guess in option]
        if len(containing) == 1:
            return containing[0]
        contained = [i for i, option in enumerate(options) if option and option in guess]
        if len(contained) == 1:
            return contained[0]
    distances = [levenshtein(guess, option) for option in options]
    return distances.index(min(distances))


def answer_index(answer: str, choices: Sequence[str]) -> int:
    """Index of the reference answer, given as an option's text (exact first, then ignoring case) or as its letter."""
    found = _find_text(answer, choices)
    if found is not None:
        return found
    letter = reference_letter(answer, choices)
    if letter is None:
        raise ValueError(
            f"reference answer {answer!r} is neither one of the options {list(choices)} nor their letter"
        )
    return LETTERS.index(letter)


def reference_letter(answer: str, choices: Sequence[str]) -> str | None:
    """The upper-case letter a reference such as "B" or "(b)" names, when it names one of ``choices``."""
    letter = answer.strip().strip("()").upper()
    return letter if len(letter) == 1 and letter in LETTERS[: len(choices)] else None


@register("mc")
def mc(prediction: str, answers: Sequence[str], choices: Sequence[str] = (), **_: object) -> float:
    """1.0 if the option the prediction names is the reference option (``answers[0]``)."""
    if not answers:
        return 0.0
    return float(select_option(prediction, choices) == answer_index(answers[0], choices))


# --- MMMU ---------------------------------------------------------------------------------


def parse_mmmu_choice(response: str, choices: Sequence[str]) -> str:
    """The letter an MMMU multiple-choice response picks, by the official rules."""
    letters = LETTERS[: len(choices)]
    padded = " " + response.strip(",.!?;:'") + " "
    candidates = [c for c in letters if f"({c})" in padded]
    bracketed = bool(candidates)
    by_text = False
    if not candidates:
        candidates = [c for c in letters if f" {c} " in padded]
    if not candidates and len(padded.split()) > 5:
        candidates = [c for c, option in zip(letters, choices) if option.lower() in padded.lower()]
        by_text = bool(candidates)
    if not candidates:
        return random.Random(zlib.crc32(response.encode())).choice(letters)
    if len(candidates) == 1:
        return candidates[0]

    def last_position(letter: str) -> int:
        if by_text:
            return padded.lower().rfind(choices[letters.index(letter)].lower())
        return padded.rfind(f"({letter})" if bracketed else f" {letter} ")

    return max(candidates, key=last_position)


_KEY_INDICATORS = ("could be ", "so ", "is ", "thus ", "therefore ", "final ", "answer ", "result ")
_NUMBER_PATTERNS = (
    re.compile(r"-?\b\d{1,3}(?:,\d{3})+\b"),
    re.compile(r"-?\d+(?:\.\d+)?[eE][+-]?\d+"),
    re.compile(r"-?(?:\d+\.\d+|\.\d+|\d+\b)(?![eE][+-]?\d+)(?![,\d])"),
)


def _normalize_mmmu(text: str) -> list[str | float]:
    text = text.strip()
    try:
        return [round(float(text.replace(",", "")), 2)]
    except ValueError:
        text = text.lower()
        # A one-character answer is padded so it matches as a word, not inside one.
        return [f" {text}", f"{text} "] if len(text) == 1 else [text]


def _key_phrases(response: str) -> list[str]:
    # The official code lower-cases before splitting on ". " + capital, so in effect it splits on new lines only.
    text = response.strip().strip(".").lower()
    parts = text.split("\n")
    phrases = []
    for index, part in enumerate(parts):
        indicators = _KEY_INDICATORS + (("=",) if index == len(parts) - 1 else ())
        shortest = ""
        for indicator in indicators:
            if indicator in part:
                tail = part.split(indicator)[-1].strip()
                # As the official loop: an empty tail found so far is replaced by the next one.
                if not shortest or len(tail) < len(shortest):
                    shortest = tail
        if shortest and shortest not in {":", ",", ".", "!", "?", ";", "'"}:
            phrases.append(shortest)
    return phrases or [text]


def parse_mmmu_open(response: str) -> list[str | float]:
    """Normalised candidate answers of an open MMMU response: key phrases and the numbers in them."""
    phrases = _key_phrases(response)
    pieces = list(phrases)
    for phrase in phrases:
        for pattern in _NUMBER_PATTERNS:
            pieces.extend(pattern.findall(phrase))
    parsed: list[str | float] = []
    for piece in pieces:
        for value in _normalize_mmmu(piece):
            if value not in parsed:
                parsed.append(value)
    return parsed


def _mmmu_open_correct(references: Sequence[str], parsed: Sequence[str | float]) -> bool:
    normal = [value for ref in references for value in _normalize_mmmu(ref)]
    for pred in parsed:
        if isinstance(pred, str):
            if any(isinstance(ref, str) and ref in pred for ref in normal):
                return True
        elif pred in normal:
            return True
    return False


@register("mmmu")
def mmmu(
    prediction: str, answers: Sequence[str], choices: Sequence[str] = (), **_: object
) -> float:
    """MMMU accuracy: official answer parsing; multiple choice when ``choices`` is non-empty, else open."""
    if not answers:
        return 0.0
    if choices:
        gold = reference_letter(answers[0], choices)
        if gold is None:
            raise ValueError(
                f"MMMU reference {answers[0]!r} is not the letter of one of {len(choices)} options"
            )
        return float(parse_mmmu_choice(prediction, choices) == gold)
    return float(_mmmu_open_correct(answers, parse_mmmu_open(prediction)))
