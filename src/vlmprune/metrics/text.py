"""String-similarity metrics for document and chart QA: ANLS and relaxed correctness.

- ANLS: Biten et al., "Scene Text Visual Question Answering" (ICCV 2019), Eq. 1, the metric
  of ST-VQA, DocVQA (Mathew et al., WACV 2021) and InfographicVQA (Mathew et al., WACV 2022):
  per reference 1 - NL(prediction, reference) when the normalised Levenshtein distance NL is
  below 0.5, else 0; the best reference counts. As the RRC evaluation scripts do, answers are
  compared case-insensitively, with outer whitespace stripped and inner runs collapsed.
- Relaxed correctness: Methani et al., "PlotQA" (WACV 2020) and Masry et al., "ChartQA"
  (ACL Findings 2022, §5.1): a numeric answer within 5% of the reference is correct, anything
  else needs an exact (case-insensitive) match. Numbers are parsed as in pix2struct's
  ``metrics.py`` and Molmo's ``olmo/eval/vqa.py``: a trailing ``%`` divides by 100, and a
  reference of 0 needs an exact match. So "45%" matches "0.45" but not "45", as in the
  numbers those projects report.
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


def _anls_text(text: str) -> str:
    return " ".join(text.strip().lower().split())


def anls_single(prediction: str, reference: str, threshold: float = 0.5) -> float:
    pred, ref = _anls_text(prediction), _anls_text(reference)
    longest = max(len(pred), len(ref))
    if longest == 0:
        return 1.0
    distance = levenshtein(pred, ref) / longest
    return 1.0 - distance if distance < threshold else 0.0


@register("anls")
def anls(prediction: str, answers: Sequence[str], threshold: float = 0.5, **_: object) -> float:
    """Average Normalized Levenshtein Similarity of one answer: the best reference's, 0 at NL >= 0.5."""
    return max((anls_single(prediction, a, threshold) for a in answers), default=0.0)


def _to_float(text: str) -> float | None:
    text = text.strip()
    try:
        if text.endswith("%"):
            return float(text[:-1]) / 100.0
        return float(text)
    except ValueError:
        return None


def relaxed_match(prediction: str, reference: str, tolerance: float = 0.05) -> bool:
    pred, ref = _to_float(prediction), _to_float(reference)
    if pred is not None and ref:
        return abs(pred - ref) / abs(ref) <= tolerance
    return prediction.strip().lower() == reference.strip().lower()


@register("relaxed_correctness")
def relaxed_correctness(
    prediction: str, answers: Sequence[str], tolerance: float = 0.05, **_: object
) -> float:
    """1.0 if the prediction is within 5% of a numeric reference, or equals a textual one."""
    return float(any(relaxed_match(prediction, a, tolerance) for a in answers))
