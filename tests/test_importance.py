import numpy as np
import pytest

from vlmprune.analysis.importance.estimate import (
    accuracy_row,
    block_importance,
    paired_difference_interval,
)
from vlmprune.engine.store import EvalStore


def store(scores, ids=None, **attrs):
    scores = np.asarray(scores, dtype=float)
    ids = ids or [str(i) for i in range(len(scores))]
    return EvalStore(
        ids,
        ["p"] * len(scores),
        scores,
        {"model": "m", "dataset": "d", "split": "train", "metric": "exact_match", **attrs},
    )


def test_importance_is_baseline_minus_ablated_accuracy():
    full = store([1, 1, 1, 0])
    flat, details = block_importance(
        full,
        {0: store([0, 0, 1, 0]), 1: store([1, 1, 1, 1])},
        confidence=0.95,
        resamples=200,
        seed=0,
    )
    assert flat == {"0": pytest.approx(0.5), "1": pytest.approx(-0.25)}
    assert details["baseline_accuracy"] == 0.75
    assert details["blocks"]["0"]["accuracy"] == 0.25
    assert details["n"] == 4


def test_details_record_the_secondary_metric_when_the_stores_hold_it():
    secondary = {"secondary_metric": "exact_match"}
    full = store([1, 1, 1, 0], secondary_accuracy=0.5, **secondary)
    _, details = block_importance(
        full,
        {0: store([0, 0, 1, 0], secondary_accuracy=0.125, **secondary)},
        confidence=0.95,
        resamples=200,
        seed=0,
    )
    assert (
        details["secondary_metric"] == "exact_match"
        and details["baseline_secondary_accuracy"] == 0.5
    )
    assert details["blocks"]["0"]["secondary_accuracy"] == 0.125
    assert details["blocks"]["0"]["secondary_importance"] == pytest.approx(0.375)
    _, plain = block_importance(
        store([1, 0]), {0: store([0, 0])}, confidence=0.95, resamples=200, seed=0
    )
    assert "secondary_metric" not in plain and "secondary_accuracy" not in plain["blocks"]["0"]


def test_paired_interval_contains_the_difference_and_is_narrower_than_unpaired():
    rng = np.random.default_rng(1)
    full = (rng.random(400) < 0.8).astype(float)
    flips = rng.random(400) < 0.1
    other = np.where(flips, 0.0, full)
    low, high = paired_difference_interval(full, other, confidence=0.95, resamples=2000, seed=0)
    diff = full.mean() - other.mean()
    assert low <= diff <= high
    assert low > 0  # the ablation only ever loses answers: a paired interval excludes 0
    assert high - low < 0.1


def test_identical_scores_give_a_zero_width_interval():
    assert paired_difference_interval(
        np.ones(10), np.ones(10), confidence=0.95, resamples=1000, seed=0
    ) == (0.0, 0.0)


def test_misaligned_stores_are_rejected():
    with pytest.raises(ValueError, match="other samples"):
        block_importance(
            store([1, 0], ["a", "b"]),
            {0: store([1, 0], ["a", "c"])},
            confidence=0.95,
            resamples=1000,
            seed=0,
        )


def test_a_model_card_row_gives_the_variants_accuracy_its_interval_and_the_full_models():
    full, variant = (
        store([1, 1, 1, 1, 0, 0, 1, 1]),
        store([1, 0, 1, 1, 0, 0, 1, 1], variant="drop-3"),
    )
    row = accuracy_row(full, variant, confidence=0.9, resamples=500, seed=0)
    assert {k: row[k] for k in ("dataset", "split", "metric", "n")} == {
        "dataset": "d",
        "split": "train",
        "metric": "exact_match",
        "n": 8,
    }
    assert (
        row["accuracy"] == 0.625 and row["baseline_accuracy"] == 0.75 and row["confidence"] == 0.9
    )
    assert 0 <= row["ci_low"] < 0.625 < row["ci_high"] <= 1
    with pytest.raises(ValueError, match="drop-3 was evaluated on other samples"):
        accuracy_row(
            full,
            store([1] * 8, ids=[f"x{i}" for i in range(8)], variant="drop-3"),
            confidence=0.9,
            resamples=500,
            seed=0,
        )
