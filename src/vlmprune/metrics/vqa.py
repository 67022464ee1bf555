"""VQA accuracy: the VQA v2 answer normalisation and the ways of counting annotator agreement.

Sources (behaviour re-implemented, not copied):

- Antol et al., "VQA: Visual Question Answering" (ICCV 2015) and Goyal et al., "Making the V in
  VQA Matter" (CVPR 2017): accuracy = min(#annotators who gave the answer / 3, 1), "averaged
  over all 10 choose 9 sets of human annotators".
- ``vqa_official``: the official evaluation code, GT-Vision-Lab/VQA
  ``PythonEvaluationTools/vqaEvaluation/vqaEval.py`` (``VQAEval.evaluate``, commit a013f00),
  quirks included. Prediction and references lose line breaks, tabs and outer spaces. When the
  annotators disagree, both are normalised (``processPunctuation``, ``processDigitArticle``);
  when all references are the same string they are compared as they are, so "Yes", "yes." or
  "2" score 0 against ten "yes", "yes" or "two". Its period rule removes at most 32 periods (the
  script passes ``re.UNICODE``, 32, as ``re.sub``'s count), and its contraction table is kept
  entry for entry, capitalised keys included (they never match lower-cased words).
- ``vqa_molmo``: Molmo (Deitke et al., 2024; allenai/molmo ``olmo/eval/vqa.py`` ``vqa_score``):
  the same normalisation of prediction and references, always; min(matches / 3, 1) without the
  leave-one-out average, as Molmo reports.
- ``vqa_normalised`` (a departure, never a default): the official leave-one-out average with
  prediction and references always normalised, as LLaVA prepares its submissions
  (``EvalAIAnswerProcessor``), so "Two" scores like "2" whether or not the annotators agree.
- ``count_exact_match`` (a departure, never a default): exact match of counts after number
  normalisation; TallyQA's reference, Molmo's ``em``, is ``exact_match``.
"""

from __future__ import annotations

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
PUNCTUATION = (
    ";",
    "/",
    "[",
    "]",
    '"',
    "{",
    "}",
    "(",
    ")",
    "=",
    "+",
    "\\",
    "_",
    "-",
    ">",
    "<",
    "@",
    "`",
    ",",
    "?",
    "!",
)

# The official table (``vqaEval.py``'s ``contractions``), entry for entry, as "spelling=new".
# It is applied to lower-cased words, so its capitalised keys ("Im", "Ive", "Id've") never
# match, and lower-case "im", "ive" or "shes" stay as they are; "somebody'd" maps to
# "somebodyd". Kept as published so that scores equal the official ones.
_OFFICIAL_CONTRACTIONS = """
aint=ain't arent=aren't cant=can't couldve=could've couldnt=couldn't couldn'tve=couldn't've
couldnt've=couldn't've didnt=didn't doesnt=doesn't dont=don't hadnt=hadn't hadnt've=hadn't've
hadn'tve=hadn't've hasnt=hasn't havent=haven't hed=he'd hed've=he'd've he'dve=he'd've hes=he's
howd=how'd howll=how'll hows=how's Id've=I'd've I'dve=I'd've Im=I'm Ive=I've isnt=isn't itd=it'd
itd've=it'd've it'dve=it'd've itll=it'll let's=let's maam=ma'am mightnt=mightn't
mightnt've=mightn't've mightn'tve=mightn't've mightve=might've mustnt=mustn't mustve=must've
neednt=needn't notve=not've oclock=o'clock oughtnt=oughtn't ow's'at='ow's'at 'ows'at='ow's'at
'ow'sat='ow's'at shant=shan't shed've=she'd've she'dve=she'd've she's=she's shouldve=should've
shouldnt=shouldn't shouldnt've=shouldn't've shouldn'tve=shouldn't've somebody'd=somebodyd
somebodyd've=somebody'd've somebody'dve=somebody'd've somebodyll=somebody'll somebodys=somebody's
someoned=someone'd someoned've=someone'd've someone'dve=someone'd've someonell=someone'll
someones=someone's somethingd=something'd somethingd've=something'd've something'dve=something'd've
somethingll=something'll thats=that's thered=there'd thered've=there'd've there'dve=there'd've
therere=there're theres=there's theyd=they'd theyd've=they'd've they'dve=they'd've theyll=they'll
theyre=they're theyve=they've twas='twas wasnt=wasn't wed've=we'd've we'dve=we'd've weve=we've
werent=weren't whatll=what'll whatre=what're whats=what's whatve=what've whens=when's whered=where'd
wheres=where's whereve=where've whod=who'd whod've=who'd've who'dve=who'd've wholl=who'll whos=who's
whove=who've whyll=why'll whyre=why're whys=why's wont=won't wouldve=would've wouldnt=wouldn't
wouldnt've=wouldn't've wouldn'tve=wouldn't've yall=y'all yall'll=y'all'll y'allll=y'all'll
yall'd've=y'all'd've y'alld've=y'all'd've y'all'dve=y'all'd've youd=you'd youd've=you'd've
you'dve=you'd've youll=you'll youre=you're youve=you've
"""

CONTRACTIONS: dict[str, str] = dict(pair.split("=") for pair in _OFFICIAL_CONTRACTIONS.split())

_DIGIT_COMMA_DIGIT = re.compile(r"\d,\d")
_PERIOD_NOT_BEFORE_DIGIT = re.compile(r"\.(?!\d)")
#: The official script hands ``re.UNICODE`` (32) to ``re.sub`` as its count: at most 32 periods go.
_PERIODS_REMOVED = 32


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
    return _PERIOD_NOT_BEFORE_DIGIT.sub("", out, count=_PERIODS_REMOVED)


def _one_line(text: str) -> str:
    """Line breaks and tabs as spaces, outer white space gone: what both references do first."""
    return text.replace("\n", " ").replace("\t", " ").strip()


@lru_cache(maxsize=65536)
def normalize_answer(answer: str) -> str:
    """The VQA v2 normalisation: punctuation, lower case, number words, articles, contractions."""
    words = []
    for word in _strip_punctuation(_one_line(answer)).lower().split():
        word = NUMBER_WORDS.get(word, word)
        if word not in ARTICLES:
            words.append(CONTRACTIONS.get(word, word))
    return " ".join(words)


def _leave_one_out(guess: str, refs: Sequence[str]) -> float:
    """min(matches among the other references / 3, 1), averaged over leaving each reference out.

    Summed in reference order, as the official script sums, so the float is the same.
    """
    matches = sum(ref == guess for ref in refs)
    total = 0.0
    for ref in refs:
        total += min(1.0, (matches - (ref == guess)) / 3)
    return total / len(refs)


@register("vqa_official")
def vqa_official(prediction: str, answers: Sequence[str], **_: object) -> float:
    """VQA v2 accuracy as the official ``vqaEval.py`` computes it (module docstring: its quirks).

    With ten references and k of them equal to the prediction this is 0.3 for k=1, 0.6 for
    k=2, 0.9 for k=3 and 1 from k=4. A single reference has no other annotator: 0. No
    reference at all: 0 (the official script divides by zero there).
    """
    if not answers:
        return 0.0
    guess = _one_line(prediction)
    refs = [_one_line(a) for a in answers]
    if len(set(refs)) > 1:
        guess = normalize_answer(guess)
        refs = [normalize_answer(ref) for ref in refs]
    return _leave_one_out(guess, refs)


@register("vqa_normalised")
def vqa_normalised(prediction: str, answers: Sequence[str], **_: object) -> float:
    """The official leave-one-out average, prediction and answers always normalised (a departure).

    A single reference has no leave-one-out subset; it scores as normalised exact match.
    """
    if not answers:
        return 0.0
    guess = normalize_answer(prediction)
    refs = [normalize_answer(a) for a in answers]
    if len(refs) == 1:
        return float(guess == refs[0])
    return _leave_one_out(guess, refs)


@register("vqa_molmo")
def vqa_molmo(prediction: str, answers: Sequence[str], **_: object) -> float:
    """Molmo's VQA score: min(references equal to the prediction / 3, 1), both normalised."""
    counts = Counter(normalize_answer(a) for a in answers)
    return min(counts[normalize_answer(prediction)] / 3.0, 1.0)


_COUNT_WORDS = {
    **NUMBER_WORDS,
    "no": "0",
    "eleven": "11",
    "twelve": "12",
    "thirteen": "13",
    "fourteen": "14",
    "fifteen": "15",
}


def normalize_count(text: str) -> str:
    """A count as digits (number words, "none", "no", articles, marks); else the normalised text."""
    normal = normalize_answer(text)
    words = normal.split()
    if len(words) == 1:
        return _COUNT_WORDS.get(words[0], words[0])
    numbers = [w for w in (_COUNT_WORDS.get(w, w) for w in words) if w.isdigit()]
    return numbers[0] if len(numbers) == 1 else normal


@register("count_exact_match")
def count_exact_match(prediction: str, answers: Sequence[str], **_: object) -> float:
    """Exact match on counts (a departure): "two", "2", "2." and "There are 2." all equal "2"."""
    guess = normalize_count(prediction)
    return float(any(guess == normalize_count(a) for a in answers))
