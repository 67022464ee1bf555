"""String-similarity metrics for document and chart QA: ANLS and relaxed correctness.

- ``anls``: Biten et al., "Scene Text Visual Question Answering" (ICCV 2019), Eq. 1, the metric
  of ST-VQA, DocVQA (Mathew et al., WACV 2021) and InfographicVQA (Mathew et al., WACV 2022):
  per reference 1 - NL(prediction, reference) when the normalised Levenshtein distance NL is
  below 0.5, else 0; the best reference counts. As Molmo computes it (allenai/molmo
  ``olmo/eval/vqa.py`` ``anls_metric``, pix2struct's with lower-casing added): the distance is
  taken between the lower-cased strings and divided by the longer of the strings *before*
  lower-casing (so an "İ", two characters once lower-cased, can push NL past 1); white space
  counts as it is. Both strings empty: 1 (they are equal; Molmo's division raises there).
- ``anls_rrc`` (a departure, never a default): the RRC's InfographicVQA scorer
  (rrc.cvc.uab.es, Task 3; ``evaluate_method``): the distance between the strings stripped,
  lower-cased and with inner white space collapsed, divided by the longer of the upper-cased
  original strings; the score is 1 - (smallest NL), set to 0 when below 0.5 (so NL = 0.5 scores
  0.5 here and 0 in ``anls``); two empty strings have NL 0.
- ``relaxed_correctness``: Methani et al., "PlotQA" (WACV 2020) and Masry et al., "ChartQA"
  (ACL Findings 2022, §5.1): a numeric answer within 5% of the reference is correct, anything
  else needs a case-insensitive exact match. As pix2struct's ``metrics.py`` and Molmo's
  ``olmo/eval/vqa.py`` compute it: numbers are read with Python's ``float`` (so outer white
  space, "1_000", "1e3", "nan" and "inf" parse, "1,000" does not), a text ending in "%" has all
  its trailing "%" removed and is divided by 100 ("45%" matches "0.45", not "45"), a reference
  of 0 (or one that is no number) needs the exact match, and that match keeps white space.
"""

from __future__ import annotations

from collections.abc import Sequence

from vlmprune.metrics import register


def levenshtein(a: str, b: str) -> int:
    """Edit distance (insertions, deletions, substitutions of one character each)."""
    if len(a) < len(b):
        a, b = b, a
    previous = list(range(len(b) + 1))
    for i, ca in enumerate(a, start=1):
        current = [i]
        for j, cb in enumerate(b, start=1):
            current.append(min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (ca != cb)))
        previous = current
    return previous[-1]


def anls_single(prediction: str, reference: str, threshold: float = 0.5) -> float:
    """Molmo's ANLS of one reference: lower-cased strings' distance over the longer original."""
    longest = max(len(reference), len(prediction))
    if longest == 0:
        return 1.0
    distance = levenshtein(reference.lower(), prediction.lower()) / longest
    return 1 - distance if distance < threshold else 0.0


@register("anls")
def anls(prediction: str, answers: Sequence[str], threshold: float = 0.5, **_: object) -> float:
    """Average Normalized Levenshtein Similarity as Molmo scores it: the best reference's."""
    return max((anls_single(prediction, a, threshold) for a in answers), default=0.0)


def _rrc_text(text: str) -> str:
    return " ".join(text.strip().lower().split())


@register("anls_rrc")
def anls_rrc(prediction: str, answers: Sequence[str], threshold: float = 0.5, **_: object) -> float:
    """ANLS as the RRC's InfographicVQA scorer computes it (white space normalised; a departure)."""
    if not answers:
        return 0.0
    guess = _rrc_text(prediction)
    distances = []
    for answer in answers:
        longest = max(len(answer.upper()), len(prediction.upper()))
        distance = levenshtein(_rrc_text(answer), guess)
        distances.append(0.0 if longest == 0 else float(distance) / float(longest))
    score = 1 - min(distances)
    return 0.0 if score < threshold else score


def _to_float(text: str) -> float | None:
    try:
        if text.endswith("%"):
            return float(text.rstrip("%")) / 100.0
        return float(text)
    except ValueError:
        return None


def relaxed_match(prediction: str, reference: str, tolerance: float = 0.05) -> bool:
    pred, ref = _to_float(prediction), _to_float(reference)
    if pred is not None and ref:
        return abs(pred - ref) / abs(ref) <= tolerance
    return prediction.lower() == reference.lower()


@register("relaxed_correctness")
def relaxed_correctness(
    prediction: str, answers: Sequence[str], tolerance: float = 0.05, **_: object
) -> float:
    """1.0 if the prediction is within 5% of a numeric reference, or equals a textual one."""
    return float(any(relaxed_match(prediction, a, tolerance) for a in answers))
