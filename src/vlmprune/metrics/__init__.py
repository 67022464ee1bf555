"""Metrics: per-sample functions in ``METRICS`` and corpus-level ones in ``CORPUS_METRICS``.

A per-sample metric is ``METRICS[name](prediction, answers, **kw) -> float`` in [0, 1];
consumers pass the record's options as ``choices=`` (metrics that do not use them ignore
them). A dataset's score is the mean over its samples.

A corpus metric (CIDEr for ``coco_caption``) cannot score one sample alone: its weights come
from all references scored together. ``CORPUS_METRICS[name](predictions, references)``
returns ``(corpus score, per-sample scores)``; consumers call it once on every prediction of
a split (or of a chunk they then re-score as a whole) and store the per-sample scores like
any other. ``score_all`` hides the difference.

Registered: ``exact_match`` (here), ``vqa_official``, ``vqa_molmo``, ``vqa_normalised``,
``count_exact_match`` (``metrics.vqa``), ``anls``, ``anls_rrc``, ``relaxed_correctness``
(``metrics.text``), ``mc``, ``mc_lenient``, ``mmmu`` (``metrics.choice``); corpus: ``cider``
(``metrics.cider``, tokenising with ``metrics.ptb``). Each dataset's default metric equals the
reference ``docs/datasets.md`` names for it; ``vqa_normalised``, ``count_exact_match``,
``anls_rrc`` and ``mc_lenient`` are deliberate departures, used only when a config names them.
``known_metrics()`` is the one list of names a config (``datasets.<name>.metric``) may use.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

Metric = Callable[..., float]
CorpusMetric = Callable[[Sequence[str], Sequence[Sequence[str]]], tuple[float, list[float]]]

METRICS: dict[str, Metric] = {}


def register(name: str) -> Callable[[Metric], Metric]:
    def add(fn: Metric) -> Metric:
        METRICS[name] = fn
        return fn

    return add


def get_metric(name: str) -> Metric:
    try:
        return METRICS[name]
    except KeyError:
        if name in CORPUS_METRICS:
            raise KeyError(
                f"metric {name!r} is corpus-level: use CORPUS_METRICS[{name!r}] or score_all"
            ) from None
        raise KeyError(f"unknown metric {name!r}; known metrics: {known_metrics()}") from None


def is_known(name: str) -> bool:
    return name in METRICS or name in CORPUS_METRICS


def known_metrics() -> list[str]:
    return sorted([*METRICS, *CORPUS_METRICS])


@register("exact_match")
def exact_match(prediction: str, answers: Sequence[str], **_: object) -> float:
    """1.0 if the lower-cased prediction is one of the lower-cased references (Molmo's ``em``).

    allenai/molmo ``olmo/eval/evaluators.py`` ``VqaEval``, metric ``em``: white space counts.
    """
    guess = prediction.lower()
    return float(any(guess == a.lower() for a in answers))


def score_all(
    name: str,
    predictions: Sequence[str],
    references: Sequence[Sequence[str]],
    choices: Sequence[Sequence[str]] | None = None,
) -> tuple[float, list[float]]:
    """``(dataset score, per-sample scores)`` under metric ``name``, per-sample or corpus-level."""
    if len(predictions) != len(references):
        raise ValueError(f"{len(predictions)} predictions but {len(references)} reference lists")
    if name in CORPUS_METRICS:
        return CORPUS_METRICS[name](predictions, references)
    metric = get_metric(name)
    options = choices if choices is not None else [()] * len(predictions)
    scores = [
        metric(p, refs, choices=opts)
        for p, refs, opts in zip(predictions, references, options, strict=True)
    ]
    return (sum(scores) / len(scores) if scores else 0.0), scores


from vlmprune.metrics import choice, text, vqa  # noqa: E402  (modules register their metrics on import)
from vlmprune.metrics.cider import cider  # noqa: E402

CORPUS_METRICS: dict[str, CorpusMetric] = {"cider": cider}

__all__ = [
    "CORPUS_METRICS",
    "METRICS",
    "choice",
    "exact_match",
    "get_metric",
    "is_known",
    "known_metrics",
    "register",
    "score_all",
    "text",
    "vqa",
]
