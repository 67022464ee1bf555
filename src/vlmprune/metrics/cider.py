"""CIDEr-D, the COCO captioning metric (a corpus-level metric: see ``CORPUS_METRICS``).

Vedantam, Zitnick and Parikh, "CIDEr: Consensus-based Image Description Evaluation" (CVPR
2015), in its CIDEr-D form as computed by the COCO caption evaluation code (tylin/coco-caption,
``pycocoevalcap/cider/cider_scorer.py``), re-implemented here:

- n-grams of length 1 to 4, each weighted by tf-idf: its count in the sentence times
  log(number of images) - log(number of images whose references contain it);
- per n, the cosine-like similarity of candidate and reference, with the candidate's counts
  clipped to the reference's (``min(c, r) * r``) and a Gaussian length penalty
  exp(-(len(c) - len(r))^2 / (2 * 6^2));
- averaged over n and over the image's references, times 10; the corpus score is the mean
  over images.

The document frequencies come from the references of the evaluated corpus, so a per-image
score depends on which images are scored together; compare scores of the same image set only.
The tokenizer lower-cases and drops punctuation instead of running the Stanford PTB tokenizer
(not available offline), so scores can differ slightly from the official ones.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Sequence

MAX_N = 4
SIGMA = 6.0

_NON_WORD = re.compile(r"[^\w\s]")

NGrams = Counter[tuple[str, ...]]


def tokenize(text: str) -> list[str]:
    """Lower case, punctuation removed, split on white space."""
    return _NON_WORD.sub(" ", text.lower()).split()


def ngram_counts(text: str) -> NGrams:
    tokens = tokenize(text)
    return Counter(tuple(tokens[i : i + n]) for n in range(1, MAX_N + 1) for i in range(len(tokens) - n + 1))


def _tfidf(counts: NGrams, df: Counter, log_images: float) -> tuple[list[dict], list[float], int]:
    """Per-n tf-idf vectors, their norms, and the sentence length (its unigram count)."""
    vectors: list[dict] = [{} for _ in range(MAX_N)]
    for gram, tf in counts.items():
        vectors[len(gram) - 1][gram] = tf * (log_images - math.log(max(1.0, df[gram])))
    norms = [math.sqrt(sum(v * v for v in vec.values())) for vec in vectors]
    length = sum(tf for gram, tf in counts.items() if len(gram) == 1)
    return vectors, norms, length


def _similarity(candidate: tuple, reference: tuple) -> float:
    (cvec, cnorm, clen), (rvec, rnorm, rlen) = candidate, reference
    penalty = math.exp(-((clen - rlen) ** 2) / (2 * SIGMA**2))
    total = 0.0
    for n in range(MAX_N):
        overlap = sum(min(value, rvec[n].get(gram, 0.0)) * rvec[n].get(gram, 0.0) for gram, value in cvec[n].items())
        if cnorm[n] and rnorm[n]:
            overlap /= cnorm[n] * rnorm[n]
        total += overlap * penalty
    return total / MAX_N


def cider(predictions: Sequence[str], references: Sequence[Sequence[str]]) -> tuple[float, list[float]]:
    """CIDEr-D of a corpus: ``(corpus score, per-image scores)``; ``references[i]`` are image i's captions."""
    if len(predictions) != len(references):
        raise ValueError(f"cider: {len(predictions)} predictions but {len(references)} reference lists")
    if not predictions:
        return 0.0, []
    if any(len(refs) == 0 for refs in references):
        raise ValueError("cider: every image needs at least one reference caption")
    reference_counts = [[ngram_counts(r) for r in refs] for refs in references]
    df: Counter = Counter()
    for counts in reference_counts:
        df.update(set().union(*counts))
    log_images = math.log(len(references))
    scores = []
    for prediction, counts in zip(predictions, reference_counts):
        candidate = _tfidf(ngram_counts(prediction), df, log_images)
        sims = [_similarity(candidate, _tfidf(ref, df, log_images)) for ref in counts]
        scores.append(10.0 * sum(sims) / len(sims))
    return sum(scores) / len(scores), scores
