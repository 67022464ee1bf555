"""Block importance: accuracy(full) - accuracy(drop-i), with a paired bootstrap interval."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import numpy as np
from scipy import stats

from vlmprune.engine.store import EvalStore


def paired_difference_interval(
    full: np.ndarray, other: np.ndarray, *, confidence: float, resamples: int, seed: int
) -> tuple[float, float]:
    """Percentile bootstrap interval of mean(full) - mean(other), resampling samples jointly."""
    if len(full) < 2 or np.array_equal(full, other):
        diff = float(np.mean(full - other)) if len(full) else float("nan")
        return diff, diff
    result = stats.bootstrap(
        (full, other),
        lambda a, b, axis=-1: np.mean(a, axis=axis) - np.mean(b, axis=axis),
        paired=True,
        vectorized=True,
        confidence_level=confidence,
        n_resamples=resamples,
        method="percentile",
        rng=np.random.default_rng(seed),
    )
    return float(result.confidence_interval.low), float(result.confidence_interval.high)


def store_header(full: EvalStore) -> dict[str, Any]:
    """What every result file says of the evaluation it summarises: model, dataset, split, metric,
    samples."""
    return {
        "model": full.attrs.get("model"),
        "dataset": full.attrs.get("dataset"),
        "split": full.attrs.get("split"),
        "metric": full.attrs.get("metric"),
        "n": len(full.scores),
    }


def check_aligned(full: EvalStore, other: EvalStore, name: str) -> None:
    """Refuse to compare stores without the same samples in the same order, naming their ``n``."""
    if full.sample_ids == other.sample_ids:
        return
    if other.raced or len(other.sample_ids) != len(full.sample_ids):
        raced = " (a raced store: its beam step stopped evaluating it)" if other.raced else ""
        raise ValueError(
            f"the store of {name} holds n={len(other.sample_ids)} samples{raced}, the baseline's "
            f"n={len(full.sample_ids)}; stores of unequal n are not compared. Complete it on every "
            f"sample (snakemake results/evals/<dataset>/<split>/{name}.h5) or rerun it"
        )
    raise ValueError(f"store of {name} was evaluated on other samples than the baseline; rerun it")


def paired_with_baseline(full: EvalStore, other: EvalStore, name: str) -> np.ndarray:
    """The baseline's scores on the samples ``other`` holds, in its order: all for a complete
    store, those evaluated so far for a raced one (whose rows follow the racing order)."""
    if not other.raced:
        check_aligned(full, other, name)
        return full.scores
    position = {sample_id: i for i, sample_id in enumerate(full.sample_ids)}
    missing = [s for s in other.sample_ids if s not in position]
    if missing:
        raise ValueError(
            f"the raced store of {name} holds samples the baseline lacks: {missing[:3]}"
        )
    return full.scores[[position[s] for s in other.sample_ids]]


def block_importance(
    full: EvalStore,
    dropped: Mapping[int, EvalStore],
    *,
    confidence: float,
    resamples: int,
    seed: int,
    warnings: list[str] | None = None,
) -> tuple[dict[str, float], dict[str, Any]]:
    """The flat importance map (``{"0": 0.6015, …}``) and its details."""
    blocks: dict[str, dict[str, float]] = {}
    for block in sorted(dropped):
        store = dropped[block]
        check_aligned(full, store, f"drop-{block}")
        low, high = paired_difference_interval(
            full.scores, store.scores, confidence=confidence, resamples=resamples, seed=seed
        )
        blocks[str(block)] = {
            "accuracy": store.accuracy,
            "importance": full.accuracy - store.accuracy,
            "ci_low": low,
            "ci_high": high,
            **_secondary(full, store),
        }
    flat = {b: v["importance"] for b, v in blocks.items()}
    details = {
        **store_header(full),
        "baseline_accuracy": full.accuracy,
        **_baseline_secondary(full),
        "confidence_level": confidence,
        "bootstrap_resamples": resamples,
        "blocks": blocks,
        "warnings": list(warnings or []) + _store_warnings(full),
    }
    return flat, details


def _baseline_secondary(full: EvalStore) -> dict[str, Any]:
    """The dataset's secondary metric and its baseline accuracy, when the store records one."""
    if "secondary_accuracy" not in full.attrs:
        return {}
    return {
        "secondary_metric": full.attrs["secondary_metric"],
        "baseline_secondary_accuracy": float(full.attrs["secondary_accuracy"]),
    }


def _secondary(full: EvalStore, store: EvalStore) -> dict[str, float]:
    """The block's secondary-metric accuracy and importance, when both stores hold them."""
    if "secondary_accuracy" not in full.attrs or "secondary_accuracy" not in store.attrs:
        return {}
    accuracy = float(store.attrs["secondary_accuracy"])
    return {
        "secondary_accuracy": accuracy,
        "secondary_importance": float(full.attrs["secondary_accuracy"]) - accuracy,
    }


def _store_warnings(store: EvalStore) -> list[str]:
    raw = store.attrs.get("warnings", "[]")
    return json.loads(raw) if isinstance(raw, str) else list(raw)


def mean_interval(
    scores: np.ndarray, *, confidence: float, resamples: int, seed: int
) -> tuple[float, float]:
    """Percentile bootstrap interval of mean(scores) (a variant's accuracy)."""
    scores = np.asarray(scores, dtype=float)
    if len(scores) < 2 or np.all(scores == scores[0]):
        mean = float(np.mean(scores)) if len(scores) else float("nan")
        return mean, mean
    result = stats.bootstrap(
        (scores,),
        lambda a, axis=-1: np.mean(a, axis=axis),
        vectorized=True,
        confidence_level=confidence,
        n_resamples=resamples,
        method="percentile",
        rng=np.random.default_rng(seed),
    )
    return float(result.confidence_interval.low), float(result.confidence_interval.high)


def accuracy_row(
    full: EvalStore, store: EvalStore, *, confidence: float, resamples: int, seed: int
) -> dict[str, Any]:
    """A variant's accuracy on one dataset split with its bootstrap interval, beside the full
    model's (a model card row)."""
    check_aligned(full, store, store.attrs.get("variant", "the variant"))
    low, high = mean_interval(store.scores, confidence=confidence, resamples=resamples, seed=seed)
    header = store_header(store)
    return {
        **{key: header[key] for key in ("dataset", "split", "metric", "n")},
        "accuracy": store.accuracy,
        "ci_low": low,
        "ci_high": high,
        "confidence": confidence,
        "baseline_accuracy": full.accuracy,
    }
