"""VQA accuracy: the VQA v2 answer normalisation and the two ways of counting annotator agreement.

Sources (behaviour re-implemented, not copied):

- Antol et al., "VQA: Visual Question Answering" (ICCV 2015) and Goyal et al., "Making the V in
  VQA Matter" (CVPR 2017): accuracy = min(#annotators who gave the answer / 3, 1), "averaged
  over all 10 choose 9 sets of human annotators".
- The official evaluation code, GT-Vision-Lab/VQA ``PythonEvaluationTools/vqaEvaluation/vqaEval.py``
  (``processPunctuation``, ``processDigitArticle``): the normalisation below. Deliberate
  differences: the official script normalises only when the ten annotators disagree (its
  references are already normalised); here the prediction is always normalised, as LLaVA does
  before submitting (its ``EvalAIAnswerProcessor``), so "Two" scores like "2". The contraction
  table is generated from canonical spellings instead of listed, and its lower-case keys fix
  the official ``"Im"``/``"Ive"`` entries that never match lower-cased text.
- Molmo (Deitke et al., 2024; allenai/molmo ``olmo/eval/vqa.py`` ``vqa_score``): the same
  normalisation of prediction and references, score min(matches / 3, 1) without the
  leave-one-out average — what Molmo reports on validation splits.
"""

from __future__ import annotations

import itertools
import re
from collections import Counter
from collections.abc import Sequence
from functools import lru_cache

from vlmprune.metrics import register

NUMBER_WORDS = {
    "none": "0",
    "zero": "0",
    "one": "1",
    "two": "2",
    "three": "3",
    "four": "4",
    "five": "5",
    "six": "6",
    "seven": "7",
    "eight": "8",
    "nine": "9",
    "ten": "10",
}
ARTICLES = frozenset({"a", "an", "the"})
PUNCTUATION = (";", "/", "[", "]", '"', "{", "}", "(", ")", "=", "+", "\\", "_", "-", ">", "<", "@", "`", ",", "?", "!")

# Contractions whose apostrophe-free spelling is not itself an English word ("its", "well",
# "were", "ill", "shed", "wed", "id", "lets" are left alone, as in the official table).
_CONTRACTIONS = """
ain't aren't can't could've couldn't couldn't've didn't doesn't don't hadn't hadn't've hasn't
haven't he'd he'd've he's how'd how'll how's i'd've i'm i've isn't it'd it'd've it'll ma'am
mightn't mightn't've might've mustn't must've needn't not've o'clock oughtn't 'ow's'at shan't
she'd've she's should've shouldn't shouldn't've somebody'd somebody'd've somebody'll somebody's
someone'd someone'd've someone'll someone's something'd something'd've something'll that's
there'd there'd've there're there's they'd they'd've they'll they're they've 'twas wasn't we'd've
we've weren't what'll what're what's what've when's where'd where's where've who'd who'd've
who'll who's who've why'll why're why's won't would've wouldn't wouldn't've y'all y'all'll
y'all'd've you'd you'd've you'll you're you've
""".split()


def _contraction_table() -> dict[str, str]:
    """Every spelling of a contraction with some of its apostrophes dropped -> the canonical one."""
    table: dict[str, str] = {}
    for canonical in _CONTRACTIONS:
        positions = [i for i, ch in enumerate(canonical) if ch == "'"]
        for k in range(1, len(positions) + 1):
            for dropped in itertools.combinations(positions, k):
                table["".join(ch for i, ch in enumerate(canonical) if i not in dropped)] = canonical
    return table


CONTRACTIONS = _contraction_table()

_DIGIT_COMMA_DIGIT = re.compile(r"\d,\d")
_PERIOD_NOT_BEFORE_DIGIT = re.compile(r"\.(?!\d)")


def _strip_punctuation(text: str) -> str:
    # Official rule: a mark next to a space (or any mark, when the text holds a number like
    # "1,000") is deleted; otherwise it becomes a space ("yes/no" -> "yes no").
    glue = _DIGIT_COMMA_DIGIT.search(text) is not None
    out = text
    for mark in PUNCTUATION:
        if glue or f"{mark} " in text or f" {mark}" in text:
            out = out.replace(mark, "")
        else:
            out = out.replace(mark, " ")
    return _PERIOD_NOT_BEFORE_DIGIT.sub("", out)


@lru_cache(maxsize=65536)
def normalize_answer(answer: str) -> str:
    """The VQA v2 normalisation: punctuation, lower case, number words, articles, contractions."""
    text = answer.replace("\n", " ").replace("\t", " ").strip()
    words = []
    for word in _strip_punctuation(text).lower().split():
        word = NUMBER_WORDS.get(word, word)
        if word not in ARTICLES:
            words.append(CONTRACTIONS.get(word, word))
    return " ".join(words)


@register("vqa_official")
def vqa_official(prediction: str, answers: Sequence[str], **_: object) -> float:
    """VQA v2 accuracy: min(matches among the other annotators / 3, 1), averaged over leaving each one out.

    With ten references and k of them equal to the prediction this is 0.3 for k=1, 0.6 for
    k=2, 0.9 for k=3 and 1 from k=4. A single reference has no leave-one-out subset; it scores
    as normalised exact match.
    """
    if not answers:
        return 0.0
    guess = normalize_answer(prediction)
    refs = [normalize_answer(a) for a in answers]
    if len(refs) == 1:
        return float(guess == refs[0])
    matches = sum(ref == guess for ref in refs)
    total = 0.0
    for ref in refs:
        others = matches - (ref == guess)
        total += min(others / 3.0, 1.0)
    return total / len(refs)


@register("vqa_molmo")
def vqa_molmo(prediction: str, answers: Sequence[str], **_: object) -> float:
    """Molmo's VQA score: min(references equal to the prediction / 3, 1), both normalised."""
    counts = Counter(normalize_answer(a) for a in answers)
    return min(counts[normalize_answer(prediction)] / 3.0, 1.0)


_COUNT_WORDS = {**NUMBER_WORDS, "no": "0", "eleven": "11", "twelve": "12", "thirteen": "13", "fourteen": "14", "fifteen": "15"}


def normalize_count(text: str) -> str:
    """A count answer as digits: number words, "none"/"no", articles and punctuation handled; else the normalised text."""
    normal = normalize_answer(text)
    words = normal.split()
    if len(words) == 1:
        return _COUNT_WORDS.get(words[0], words[0])
    numbers = [w for w in (_COUNT_WORDS.get(w, w) for w in words) if w.isdigit()]
    return numbers[0] if len(numbers) == 1 else normal


@register("count_exact_match")
def count_exact_match(prediction: str, answers: Sequence[str], **_: object) -> float:
    """Exact match on counts (TallyQA): "two", "2", "2." and "There are 2." all equal "2"; "none" equals "0"."""
    guess = normalize_count(prediction)
    return float(any(guess == normalize_count(a) for a in answers))
