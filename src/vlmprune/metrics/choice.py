"""Multiple-choice metrics: ``mc`` (ScienceQA), ``mc_lenient`` and ``mmmu`` (MMMU's parsing).

All take the record's options as ``choices=`` (option texts, in letter order) and the correct
option's letter as the reference (``answers[0]``: "A", "B", ...).

- ``mc`` is Molmo's (allenai/molmo ``olmo/eval/evaluators.py`` ``VqaEval``, metric ``mc``, with
  ``olmo/eval/vqa.py`` ``select_mc_option``): Molmo's formatter labels the options A-G (at
  most seven: ``format_options`` zips them with "ABCDEFG") and the prediction is matched against
  those letters, not the option texts: lower-cased and stripped, first the letter it equals,
  then the one letter that contains it, then the letter nearest in edit distance (the first on
  ties). So "b" and " B " are B, "B." and "(B)" are B (one edit), "The answer is B" is the first
  letter that occurs in it, and an option's text is read by its letters alone. A reference
  beyond G scores 0 (Molmo's formatter fails on it).
- ``mc_lenient`` (a departure, never a default) reads free text as an option: a letter alone
  ("b", "(c)", "B.", any case), then an option's text (exact, then ignoring case), then a
  stated letter ("B. a dog", "The answer is B"), then the one option it is part of (or that is
  part of it), and failing all of that the option nearest in edit distance; every option counts.
- ``mmmu`` re-implements the answer extraction of MMMU's evaluation code (Yue et al., "MMMU",
  CVPR 2024; MMMU-Benchmark/MMMU ``mmmu/utils/eval_utils.py``: ``parse_multi_choice_response``,
  ``parse_open_response``, ``eval_multi_choice``, ``eval_open``) as Molmo calls it
  (``olmo/eval/vqa.py`` ``mmmu_score``: empty options dropped, one letter per remaining
  option). A multiple-choice question (non-empty ``choices``) is scored by the letter found in
  the response against the reference letters (MMMU's ``answer``, compared exactly); an open
  question by whether a normalised reference (numbers rounded to 2 decimals, text
  lower-cased) occurs in one of the key phrases or numbers extracted from the response.
  Numbers are whole tokens: "5cm" holds no number, "1,000kg" none either. The characters
  ``, . ! ? ; : '`` are stripped from the response's ends one after another, in that order, so
  "B!?" keeps its "!". Where MMMU picks a letter at random (no letter or option found), the
  score is that pick's expected value: the share of the letters that are a reference (1/n for
  n options), the same on every run and equal to MMMU's score on average.
"""

from __future__ import annotations

import re
import string
from collections.abc import Sequence

from vlmprune.metrics import register
from vlmprune.metrics.text import levenshtein

LETTERS = string.ascii_uppercase
#: Molmo's ``format_options`` labels options with "ABCDEFG": an eighth option has no letter.
MOLMO_OPTION_LETTERS = "ABCDEFG"

_LETTER_ALONE = re.compile(r"^\(?([A-Za-z])\)?[.:)]?$")
_LETTER_LEADING = re.compile(r"^\(?([A-Z])(?:\)|[.:])\s")
_LETTER_STATED = re.compile(
    r"\b(?:answer|option|choice)\s*(?:is|:)?\s*\(?([A-Z])\)?(?![A-Za-z])", re.IGNORECASE
)


def reference_index(answers: Sequence[str], choices: Sequence[str]) -> int:
    """Index of the correct option, from the reference letter ``answers[0]``."""
    if not choices:
        raise ValueError("a multiple-choice metric needs the record's choices (pass choices=...)")
    letter = answers[0] if answers else ""
    if len(letter) != 1 or letter not in LETTERS[: len(choices)]:
        raise ValueError(
            f"the reference of a multiple-choice record is the correct option's letter (A-"
            f"{LETTERS[len(choices) - 1]}), not {letter!r}; prepare the dataset again"
        )
    return LETTERS.index(letter)


def select_letter(prediction: str, names: Sequence[str]) -> int:
    """Index of the option name (a letter) a prediction picks, as ``select_mc_option`` does."""
    guess = prediction.lower().strip()
    options = [name.lower().strip() for name in names]
    if guess in options:
        return options.index(guess)
    containing = [i for i, option in enumerate(options) if guess in option]
    if len(containing) == 1:
        return containing[0]
    distances = [levenshtein(option, guess) for option in options]
    return distances.index(min(distances))


@register("mc")
def mc(prediction: str, answers: Sequence[str], choices: Sequence[str] = (), **_: object) -> float:
    """1.0 if the letter Molmo reads in the prediction is the reference letter."""
    gold = reference_index(answers, choices)
    names = MOLMO_OPTION_LETTERS[: len(choices)]
    return float(select_letter(prediction, names) == gold)


def _clean(text: str) -> str:
    return text.strip().strip(".").strip().lower()


def _find_text(text: str, choices: Sequence[str]) -> int | None:
    """Index of the option ``text`` names: exact (outer space, full stops aside), then any case."""
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
    """Index of the option a free-text prediction names (``mc_lenient``; see the module)."""
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


@register("mc_lenient")
def mc_lenient(
    prediction: str, answers: Sequence[str], choices: Sequence[str] = (), **_: object
) -> float:
    """1.0 if the option a free-text prediction names is the reference option (a departure)."""
    return float(select_option(prediction, choices) == reference_index(answers, choices))


# --- MMMU ---------------------------------------------------------------------------------


def parse_mmmu_choice(response: str, choices: Sequence[str]) -> str | None:
    """The letter an MMMU multiple-choice response picks; None where MMMU draws one at random."""
    options = [option for option in choices if option]
    letters = LETTERS[: len(options)]
    text = response
    for mark in ",.!?;:'":
        text = text.strip(mark)
    padded = f" {text} "
    candidates = [c for c in letters if f"({c})" in padded]
    bracketed = bool(candidates)
    by_text = False
    if not candidates:
        candidates = [c for c in letters if f" {c} " in padded]
    if not candidates and len(padded.split()) > 5:
        candidates = [
            c
            for c, option in zip(letters, options, strict=True)
            if option.lower() in padded.lower()
        ]
        by_text = bool(candidates)
    if not candidates:
        return None
    if len(candidates) == 1:
        return candidates[0]

    def last_position(letter: str) -> int:
        if by_text:
            return padded.lower().rfind(options[letters.index(letter)].lower())
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
    # MMMU lower-cases before splitting at ". " + capital: in effect it splits at new lines only.
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
    """Normalised candidate answers of an open MMMU response: key phrases and their numbers."""
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
    """MMMU accuracy by MMMU's parsing: multiple choice when there are ``choices``, else open."""
    if choices:
        letters = LETTERS[: sum(1 for option in choices if option)]
        picked = parse_mmmu_choice(prediction, choices)
        if picked is None:  # MMMU's random pick: its expected score
            return sum(letter in answers for letter in letters) / len(letters) if letters else 0.0
        return float(picked in answers)
    return float(_mmmu_open_correct(answers, parse_mmmu_open(prediction)))
