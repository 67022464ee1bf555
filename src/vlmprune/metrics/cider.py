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

Captions are tokenised as the COCO evaluation does before scoring (``pycocoevalcap``'s
``PTBTokenizer``: Stanford's PTB tokenizer with ``-preserveLines -lowerCase``, then its
punctuation tokens dropped), re-implemented for what occurs in captions: clitics split off
("man's" -> "man 's", "can't" -> "ca n't"), hyphenated words, decimals and numbers with
thousands separators kept whole ("black-and-white", "3.5", "1,000"), "$", "#" and "%" split off,
abbreviations such as "p.m." kept, brackets as ``-lrb-``/``-rrb-`` tokens (the official
punctuation list names them in upper case, so lower-cased they stay), and the marks
``. , ? ! : ; - -- ...`` and quotes dropped. Tests compare it with the Java tokenizer on a few
hundred captions.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Sequence

MAX_N = 4
SIGMA = 6.0
NGrams = Counter[tuple[str, ...]]

_BRACKETS = {
    "(": " -lrb- ",
    ")": " -rrb- ",
    "[": " -lsb- ",
    "]": " -rsb- ",
    "{": " -lcb- ",
    "}": " -rcb- ",
}
_DROPPED = frozenset({"'", "`", "''", "``", ".", "?", "!", ",", ":", ";", "-", "--", "..."})
_ABBREVIATION = re.compile(r"^(?:[a-z]\.){2,}$")
_TRAILING = re.compile(r"(?:\.\.\.|[?!]+|[.,;:'`]|--?)$")
_LEADING = re.compile(r"^(?:['`]|--?)")
_CLITIC = re.compile(r"^(.+?)(n't|'s|'re|'ve|'ll|'d|'m)$")
_WHOLE = frozenset(
    {*(token.strip() for token in _BRACKETS.values()), "n't", "'s", "'re", "'ve", "'ll", "'d", "'m"}
)


def _split_word(word: str) -> list[str]:
    """One white-space separated piece, lower-cased, as PTB tokens (punctuation not yet dropped)."""
    if word in _DROPPED or word in _WHOLE or _ABBREVIATION.match(word):
        return [word]
    lead = _LEADING.match(word)
    if lead and len(word) > len(lead.group()):
        return [lead.group(), *_split_word(word[len(lead.group()) :])]
    trail = _TRAILING.search(word)
    if trail and trail.start() > 0:
        return [*_split_word(word[: trail.start()]), trail.group()]
    if word[0] in "$#" and len(word) > 1:
        return [word[0], *_split_word(word[1:])]
    if word.endswith("%") and len(word) > 1:
        return [*_split_word(word[:-1]), "%"]
    if word == "cannot":
        return ["can", "not"]
    clitic = _CLITIC.match(word)
    if clitic:
        return [clitic.group(1), clitic.group(2)]
    return [word]


def tokenize(text: str) -> list[str]:
    """A caption as the COCO evaluation tokenises it (PTB tokens, lower case, punctuation dropped)."""
    text = text.lower().replace('"', " ")
    for bracket, token in _BRACKETS.items():
        text = text.replace(bracket, token)
    return [token for word in text.split() for token in _split_word(word) if token not in _DROPPED]


def ngram_counts(text: str) -> NGrams:
    tokens = tokenize(text)
    return Counter(
        tuple(tokens[i : i + n]) for n in range(1, MAX_N + 1) for i in range(len(tokens) - n + 1)
    )


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
        overlap = sum(
            min(value, rvec[n].get(gram, 0.0)) * rvec[n].get(gram, 0.0)
            for gram, value in cvec[n].items()
        )
        if cnorm[n] and rnorm[n]:
            overlap /= cnorm[n] * rnorm[n]
        total += overlap * penalty
    return total / MAX_N


def cider(
    predictions: Sequence[str], references: Sequence[Sequence[str]]
) -> tuple[float, list[float]]:
    """CIDEr-D of a corpus: ``(corpus score, per-image scores)``; ``references[i]`` are image i's captions."""
    if len(predictions) != len(references):
        raise ValueError(
            f"cider: {len(predictions)} predictions but {len(references)} reference lists"
        )
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
