"""The comparison statistics against scipy.stats on known vectors, and the verdict at its edges."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest
from scipy import stats

from vlmprune.analysis.compare import statistics as st

A = np.array([0.60, 0.04, 0.02, 0.10, 0.10, 0.30, -0.01, 0.05])
B = np.array([0.55, 0.01, 0.03, 0.12, 0.02, 0.25, 0.00, 0.09])


def test_correlations_equal_scipy_on_known_vectors():
    assert st.spearman(A, B) == pytest.approx(tuple(stats.spearmanr(A, B)))
    assert st.kendall(A, B) == pytest.approx(tuple(stats.kendalltau(A, B)))
    assert st.pearson(A, B) == pytest.approx(tuple(stats.pearsonr(A, B)))
    # scipy's documented example, and exact values by hand
    assert st.spearman([1, 2, 3, 4, 5], [5, 6, 7, 8, 7]).statistic == pytest.approx(
        0.8207826816681233
    )
    assert st.spearman([1, 2, 3, 4], [40, 30, 20, 10]).statistic == pytest.approx(-1.0)
    assert st.kendall([1, 2, 3], [1, 3, 2]).statistic == pytest.approx(1 / 3)


def test_constant_importance_gives_nan_without_warnings():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for fn in (st.spearman, st.kendall, st.pearson):
            assert all(math.isnan(v) for v in fn(np.zeros(5), np.arange(5.0)))
        assert all(
            math.isnan(v)
            for v in st.spearman_interval(
                np.zeros((20, 4)), np.ones((10, 4)), confidence=0.95, resamples=1000, seed=0
            )
        )
        # rho exists for the data but not for every resample (few samples): no interval
        sparse = np.array([[1, 0, 0], [0, 0, 0], [0, 0, 0]], dtype=float)
        assert all(
            math.isnan(v)
            for v in st.spearman_interval(
                sparse, np.eye(3)[[0, 1, 1]], confidence=0.95, resamples=200, seed=0
            )
        )
    with pytest.raises(ValueError, match="different lengths"):
        st.spearman(np.arange(3.0), np.arange(4.0))


def _differences(profile: np.ndarray, n: int, rng: np.random.Generator) -> np.ndarray:
    """Per-sample score(full) - score(drop-i) of a model right on every sample, block i breaking
    p_i of them."""
    return (rng.random((n, len(profile))) < profile).astype(float)


def test_spearman_interval_equals_a_plain_scipy_bootstrap():
    rng = np.random.default_rng(3)
    profile = np.array([0.5, 0.05, 0.1, 0.12, 0.3, 0.02, 0.2, 0.08])
    train, val = _differences(profile, 120, rng), _differences(profile, 80, rng)
    low, high = st.spearman_interval(train, val, confidence=0.9, resamples=300, seed=7)

    def rho(a, b, axis=-1):  # blocks first, resamples (if any) next: spearmanr resample by resample
        mean_a, mean_b = np.broadcast_arrays(a.mean(axis=axis), b.mean(axis=axis))
        if mean_a.ndim == 1:
            return stats.spearmanr(mean_a, mean_b).statistic
        return np.array(
            [stats.spearmanr(mean_a[:, k], mean_b[:, k]).statistic for k in range(mean_a.shape[1])]
        )

    reference = stats.bootstrap(
        (train, val),
        rho,
        vectorized=True,
        paired=False,
        axis=0,
        confidence_level=0.9,
        n_resamples=300,
        batch=max(1, 2**24 // train.size),
        method="percentile",
        rng=np.random.default_rng(7),
    )
    assert (low, high) == pytest.approx(tuple(reference.confidence_interval))
    observed = st.spearman(train.mean(axis=0), val.mean(axis=0)).statistic
    assert low <= observed <= high
    assert low > 0.5  # same profile on both splits: clearly positive


def test_spearman_interval_is_wider_for_fewer_samples_and_reproducible():
    rng = np.random.default_rng(0)
    profile = np.linspace(0.05, 0.4, 8)
    small = st.spearman_interval(
        _differences(profile, 30, rng),
        _differences(profile, 30, rng),
        confidence=0.95,
        resamples=200,
        seed=0,
    )
    large = st.spearman_interval(
        _differences(profile, 600, rng),
        _differences(profile, 600, rng),
        confidence=0.95,
        resamples=200,
        seed=0,
    )
    assert large[1] - large[0] < small[1] - small[0]
    a, b = _differences(profile, 50, rng), _differences(profile, 40, rng)
    assert st.spearman_interval(
        a, b, confidence=0.95, resamples=200, seed=1
    ) == st.spearman_interval(a, b, confidence=0.95, resamples=200, seed=1)


def test_least_important_blocks_and_their_overlap():
    assert st.least_important(A, 3) == [1, 2, 6]
    assert st.least_important([0.1, 0.0, 0.0, 0.0], 2) == [1, 2]  # ties: lower index first
    assert st.least_important(B, 3) == [1, 4, 6]
    assert st.least_important_overlap(A, B, 3) == pytest.approx(2 / 3)
    assert st.least_important_overlap([1, 2, 3, 4], [4, 3, 2, 1], 2) == 0.0
    assert (
        st.least_important_overlap([1, 2, 3], [1, 2, 3], 10) == 1.0
    )  # k capped at the number of blocks
    with pytest.raises(ValueError, match="at least 1"):
        st.least_important_overlap([1, 2], [1, 2], 0)


@pytest.mark.parametrize(
    ("rho", "threshold", "expected"),
    [
        (0.9, 0.9, st.INCONSISTENT),  # at the threshold: inconsistent (the seed's "<= 0.9")
        (np.nextafter(0.9, 1.0), 0.9, st.CONSISTENT),
        (np.nextafter(0.9, 0.0), 0.9, st.INCONSISTENT),
        (1.0, 0.9, st.CONSISTENT),
        (-1.0, 0.9, st.INCONSISTENT),
        (0.8, 0.75, st.CONSISTENT),
        (0.75, 0.75, st.INCONSISTENT),
        (float("nan"), 0.9, st.UNDETERMINED),
    ],
)
def test_verdict_at_the_edges_of_the_threshold(rho, threshold, expected):
    assert st.verdict(rho, threshold) == expected
