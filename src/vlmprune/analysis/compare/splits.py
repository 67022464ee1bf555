"""Train-versus-validation consistency of one dataset's block importance.

The seed's check: measure importance on the training split and trust it when its ranking
agrees with the validation split's (Spearman's rho above ``compare.threshold``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from vlmprune.analysis.compare import statistics as st

PROXIES = (
    "block_influence",
    "angular_distance",
)  # the keys of the proxies files (vlmprune.engine.proxies)


@dataclass(frozen=True)
class SplitImportance:
    """One dataset split: its importance details, per-sample differences and proxies."""

    details: dict[str, Any]
    differences: np.ndarray  # samples x blocks: score(full) - score(drop-i)
    proxies: dict[str, Any] | None

    @property
    def blocks(self) -> list[str]:
        return sorted(self.details["blocks"], key=int)

    def importance(self) -> np.ndarray:
        return np.array([self.details["blocks"][b]["importance"] for b in self.blocks])


def num(value: float | None) -> float | None:
    """JSON has no NaN: an undefined statistic is written as null."""
    return None if value is None or np.isnan(value) else float(value)


def proxy_agreement(split: SplitImportance) -> dict[str, dict[str, Any]]:
    """Spearman's rho between each one-pass proxy and the ablation importance of one split."""
    if split.proxies is None:
        return {}
    importance = split.importance()
    out = {}
    for name in PROXIES:
        values = np.array([split.proxies[name][b] for b in split.blocks])
        rho = st.spearman(values, importance)
        out[name] = {
            "values": dict(zip(split.blocks, values.tolist(), strict=True)),
            "spearman_rho": num(rho.statistic),
            "p_value": num(rho.p_value),
        }
    return out


def interpret(rho: float, threshold: float) -> str:
    label = st.verdict(rho, threshold)
    if label == st.UNDETERMINED:
        return (
            "rho is undefined: importance is the same for every block in a split (nothing to rank)"
        )
    if label == st.CONSISTENT:
        return (
            f"rho {rho:.3f} > {threshold}: consistent, the training split's importance can be used"
        )
    return (
        f"rho {rho:.3f} <= {threshold}: inconsistent, measure importance on the "
        "validation split too"
    )


def compare_splits(
    dataset: str,
    train: SplitImportance,
    val: SplitImportance,
    *,
    threshold: float,
    k_least: int,
    confidence: float,
    bootstrap_resamples: int,
    seed: int,
) -> dict[str, Any]:
    """The comparison of one dataset's train and validation importance
    (``results/compare/{dataset}.json``)."""
    if train.blocks != val.blocks:
        raise ValueError(f"{dataset}: train has blocks {train.blocks} but validation {val.blocks}")
    a, b = train.importance(), val.importance()
    rho, tau, r = st.spearman(a, b), st.kendall(a, b), st.pearson(a, b)
    low, high = st.spearman_interval(
        train.differences,
        val.differences,
        confidence=confidence,
        resamples=bootstrap_resamples,
        seed=seed,
    )
    k = min(k_least, len(a))
    splits = {"train": train, "val": val}
    return {
        "dataset": dataset,
        "model": train.details.get("model"),
        "metric": train.details.get("metric"),
        "blocks": [int(x) for x in train.blocks],
        "n": {s: int(d.details["n"]) for s, d in splits.items()},
        "baseline_accuracy": {s: d.details["baseline_accuracy"] for s, d in splits.items()},
        "importance": {
            s: {blk: d.details["blocks"][blk]["importance"] for blk in d.blocks}
            for s, d in splits.items()
        },
        "importance_ci": {
            s: {
                blk: [d.details["blocks"][blk]["ci_low"], d.details["blocks"][blk]["ci_high"]]
                for blk in d.blocks
            }
            for s, d in splits.items()
        },
        "spearman": {
            "rho": num(rho.statistic),
            "p_value": num(rho.p_value),
            "ci_low": num(low),
            "ci_high": num(high),
            "confidence_level": confidence,
            "bootstrap_resamples": bootstrap_resamples,
            "bootstrap": "percentile; samples resampled within each split, importance and "
            "rho recomputed (below rho when the ranking is limited by the number of samples)",
        },
        "kendall": {"tau": num(tau.statistic), "p_value": num(tau.p_value)},
        "pearson": {"r": num(r.statistic), "p_value": num(r.p_value)},
        "k_least": {
            "k": k,
            "train": st.least_important(a, k),
            "val": st.least_important(b, k),
            "overlap": st.least_important_overlap(a, b, k),
        },
        "threshold": threshold,
        "verdict": st.verdict(rho.statistic, threshold),
        "interpretation": interpret(rho.statistic, threshold),
        "proxies": {s: proxy_agreement(d) for s, d in splits.items() if d.proxies is not None},
    }
