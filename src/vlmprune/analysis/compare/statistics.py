"""Statistics of the train-versus-validation comparison, as plain functions over arrays.

Every statistic comes from ``scipy.stats``. A correlation is undefined (``nan``) when either
vector is constant, for example when a model scores zero with and without every block;
the functions then return ``nan`` without warnings and the verdict is ``undetermined``.
"""

from __future__ import annotations

import warnings
from typing import NamedTuple

import numpy as np
from scipy import stats

CONSISTENT = "consistent"
INCONSISTENT = "inconsistent"
UNDETERMINED = "undetermined"


class Correlation(NamedTuple):
    statistic: float
    p_value: float


def _defined(a: np.ndarray, b: np.ndarray) -> bool:
    """Whether a correlation of ``a`` and ``b`` exists: two or more points, neither constant."""
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    if a.shape != b.shape:
        raise ValueError(f"vectors of different lengths: {a.shape} and {b.shape}")
    return len(a) >= 2 and np.ptp(a) > 0 and np.ptp(b) > 0


def spearman(a: np.ndarray, b: np.ndarray) -> Correlation:
    """Spearman's rho and its two-sided p-value (ties get average ranks)."""
    if not _defined(a, b):
        return Correlation(float("nan"), float("nan"))
    result = stats.spearmanr(a, b)
    return Correlation(float(result.statistic), float(result.pvalue))


def kendall(a: np.ndarray, b: np.ndarray) -> Correlation:
    """Kendall's tau-b and its two-sided p-value."""
    if not _defined(a, b):
        return Correlation(float("nan"), float("nan"))
    result = stats.kendalltau(a, b)
    return Correlation(float(result.statistic), float(result.pvalue))


def pearson(a: np.ndarray, b: np.ndarray) -> Correlation:
    """Pearson's r and its two-sided p-value."""
    if not _defined(a, b):
        return Correlation(float("nan"), float("nan"))
    result = stats.pearsonr(a, b)
    return Correlation(float(result.statistic), float(result.pvalue))


def _rho_of_mean_differences(a: np.ndarray, b: np.ndarray, axis: int = -1) -> np.ndarray:
    """Spearman's rho between the block importances ``a.mean(axis)`` and ``b.mean(axis)``.

    ``a`` and ``b`` hold per-sample differences score(full) - score(drop-i) with blocks on the
    first axis (``scipy.stats.bootstrap`` moves the sample axis last and puts its resamples
    just before it); rho is the Pearson correlation of the average ranks over blocks.
    """
    ranks_a = stats.rankdata(np.mean(a, axis=axis), axis=0)
    ranks_b = stats.rankdata(np.mean(b, axis=axis), axis=0)
    with warnings.catch_warnings(), np.errstate(invalid="ignore", divide="ignore"):
        warnings.simplefilter("ignore", stats.ConstantInputWarning)
        return stats.pearsonr(ranks_a, ranks_b, axis=0).statistic


def spearman_interval(
    train_differences: np.ndarray,
    val_differences: np.ndarray,
    *,
    confidence: float,
    resamples: int,
    seed: int,
) -> tuple[float, float]:
    """Percentile bootstrap interval of Spearman's rho between train and validation importance.

    The sampling noise is in the evaluated samples, not in the blocks (the blocks are the
    whole population), so the bootstrap resamples samples: each split's rows of per-sample
    differences (``n_split x blocks``, score(full) - score(drop-i)) are resampled
    independently, importance is recomputed per block as the mean difference, and rho is
    recomputed, by ``scipy.stats.bootstrap``.

    Resampling adds a second layer of sampling noise to both importance vectors, so the
    resampled rho sits below the observed one when blocks differ by little compared with that
    noise; the interval can then lie below the observed rho, which says that the ranking is
    limited by the number of samples. (A BCa interval, tried instead, moves to the extreme
    upper tail of the resamples in that case and becomes unstable.) ``(nan, nan)`` when rho is
    undefined for the data or for some resample (a constant importance vector).
    """
    train_differences = np.asarray(train_differences, dtype=float)
    val_differences = np.asarray(val_differences, dtype=float)
    if train_differences.shape[1] != val_differences.shape[1]:
        raise ValueError(
            f"train has {train_differences.shape[1]} blocks and validation "
            f"{val_differences.shape[1]}"
        )
    if (
        np.isnan(_rho_of_mean_differences(train_differences.T, val_differences.T))
        or min(len(train_differences), len(val_differences)) < 2
    ):
        return float("nan"), float("nan")
    with warnings.catch_warnings():
        warnings.simplefilter(
            "ignore", stats.DegenerateDataWarning
        )  # a resample without a rho: (nan, nan) below
        result = stats.bootstrap(
            (train_differences, val_differences),
            _rho_of_mean_differences,
            vectorized=True,
            paired=False,
            axis=0,
            confidence_level=confidence,
            n_resamples=resamples,
            batch=max(1, 2**24 // train_differences.size),
            method="percentile",
            rng=np.random.default_rng(seed),
        )
    low, high = result.confidence_interval
    if np.isnan(result.bootstrap_distribution).any() or np.isnan([low, high]).any():
        return float("nan"), float("nan")
    return float(low), float(high)


def least_important(importance: np.ndarray, k: int) -> list[int]:
    """Indices of the ``k`` least important blocks (ties broken by the lower index)."""
    order = np.lexsort((np.arange(len(importance)), np.asarray(importance, dtype=float)))
    return sorted(int(i) for i in order[:k])


def least_important_overlap(a: np.ndarray, b: np.ndarray, k: int) -> float:
    """Fraction of the ``k`` least important blocks of ``a`` that are among those of ``b``."""
    k = min(k, len(a))
    if k < 1:
        raise ValueError("k_least must be at least 1")
    return len(set(least_important(a, k)) & set(least_important(b, k))) / k


def verdict(rho: float, threshold: float) -> str:
    """The seed's rule: rho above the threshold is consistent, at or below it inconsistent."""
    if np.isnan(rho):
        return UNDETERMINED
    return CONSISTENT if rho > threshold else INCONSISTENT
