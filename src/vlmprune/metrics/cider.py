"""CIDEr-D, the COCO captioning metric (a corpus-level metric: see ``CORPUS_METRICS``).

Vedantam, Zitnick and Parikh, "CIDEr: Consensus-based Image Description Evaluation" (CVPR
2015), in its CIDEr-D form as pycocoevalcap 1.2 computes it (PyPI ``pycocoevalcap``,
``pycocoevalcap/cider/cider_scorer.py``, ``CiderScorer.compute_score``), re-implemented here
with its quirks:

- captions are tokenised as its ``PTBTokenizer`` does (:mod:`vlmprune.metrics.ptb`), the
  references in one call and the predictions in another, then split at white space;
- n-grams of length 1 to 4, each weighted by tf-idf: its count in the caption times
  log(number of images) - log(max(1, number of images whose references contain it));
- per n, the candidate's weights clipped to the reference's (``min(c, r) * r``), divided by
  both norms when neither is 0, times the Gaussian length penalty exp(-d^2 / (2 * 6^2)), where
  the "length" of a caption is its number of *bigrams* (as the scorer counts it);
- summed over the image's references, averaged over n, divided by the number of references,
  times 10; the corpus score is the mean over images.

The document frequencies come from the references of the evaluated corpus, so a per-image
score depends on which images are scored together; compare scores of the same image set only.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence

MAX_N = 4
SIGMA = 6.0
NGrams = Counter[tuple[str, ...]]


def ngram_counts(tokens: Sequence[str]) -> NGrams:
    """n-gram counts, n = 1..4, in the order the scorer inserts them (it sums in that order)."""
    counts: NGrams = Counter()
    for n in range(1, MAX_N + 1):
        for i in range(len(tokens) - n + 1):
            counts[tuple(tokens[i : i + n])] += 1
    return counts


def _tfidf(counts: NGrams, df: Counter, log_images: float) -> tuple[list[dict], list[float], int]:
    """Per-n tf-idf vectors, their norms, and the caption's "length" (its number of bigrams)."""
    vectors: list[dict] = [{} for _ in range(MAX_N)]
    squares = [0.0] * MAX_N
    length = 0
    for gram, tf in counts.items():
        n = len(gram) - 1
        weight = float(tf) * (log_images - math.log(max(1.0, df[gram])))
        vectors[n][gram] = weight
        squares[n] += weight**2
        if n == 1:
            length += tf
    return vectors, [math.sqrt(s) for s in squares], length


def _similarity(candidate: tuple, reference: tuple) -> list[float]:
    (cvec, cnorm, clen), (rvec, rnorm, rlen) = candidate, reference
    penalty = math.e ** (-(float(clen - rlen) ** 2) / (2 * SIGMA**2))
    values = []
    for n in range(MAX_N):
        value = 0.0
        for gram, weight in cvec[n].items():
            ref = rvec[n].get(gram, 0.0)
            value += min(weight, ref) * ref
        if cnorm[n] != 0 and rnorm[n] != 0:
            value /= cnorm[n] * rnorm[n]
        values.append(value * penalty)
    return values


def cider(
    predictions: Sequence[str], references: Sequence[Sequence[str]]
) -> tuple[float, list[float]]:
    """CIDEr-D of a corpus: ``(corpus score, per-image scores)``; ``references[i]``: image i's."""
    if len(predictions) != len(references):
        raise ValueError(
            f"cider: {len(predictions)} predictions but {len(references)} reference lists"
        )
    if not predictions:
        return 0.0, []
    if any(len(refs) == 0 for refs in references):
        raise ValueError("cider: every image needs at least one reference caption")
    # imported here: building the tokenizer's character classes takes about 0.2 s, which every
    # job that imports the metrics would pay otherwise
    from vlmprune.metrics.ptb import tokenize_captions

    reference_tokens = iter(tokenize_captions([r for refs in references for r in refs]))
    reference_counts = [[ngram_counts(next(reference_tokens)) for _ in refs] for refs in references]
    df: Counter = Counter()
    for counts in reference_counts:
        df.update(set().union(*counts))
    log_images = math.log(float(len(references)))
    scores = []
    for tokens, counts in zip(tokenize_captions(predictions), reference_counts, strict=True):
        candidate = _tfidf(ngram_counts(tokens), df, log_images)
        per_n = [0.0] * MAX_N
        for ref in counts:
            sims = _similarity(candidate, _tfidf(ref, df, log_images))
            per_n = [total + s for total, s in zip(per_n, sims, strict=True)]
        scores.append(sum(per_n) / MAX_N / len(counts) * 10.0)
    return sum(scores) / len(scores), scores
