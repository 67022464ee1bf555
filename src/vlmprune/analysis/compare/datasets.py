"""Block importance across datasets: verdicts, importance matrix, correlations, proxy agreement."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from vlmprune.analysis.compare import statistics as st
from vlmprune.analysis.compare.splits import PROXIES, num


def compare_datasets(
    comparisons: Mapping[str, Mapping[str, Any]],
    importances: Mapping[str, Mapping[str, Any]],
    *,
    threshold: float,
    analysis_split: str,
) -> dict[str, Any]:
    """The summary over datasets (``results/compare/all.json``).

    ``comparisons``: the per-dataset comparisons (datasets with both splits); ``importances``:
    every dataset's importance details on the analysis split, for the dataset x block matrix,
    the correlation between datasets, and the blocks whose interval lies above zero in
    every dataset or only in some.
    """
    names = list(importances)
    blocks = sorted({b for d in importances.values() for b in d["blocks"]}, key=int)
    matrix = np.array(
        [
            [importances[n]["blocks"].get(b, {}).get("importance", np.nan) for b in blocks]
            for n in names
        ]
    )
    correlation = [
        [num(st.spearman(matrix[i], matrix[j]).statistic) for j in range(len(names))]
        for i in range(len(names))
    ]
    significant = {
        b: [n for n in names if importances[n]["blocks"].get(b, {}).get("ci_low", 0.0) > 0]
        for b in blocks
    }
    return {
        "threshold": threshold,
        "analysis_split": analysis_split,
        "datasets": {name: verdict_row(comparisons.get(name)) for name in names},
        "blocks": [int(b) for b in blocks],
        "importance": {
            n: {b: num(v) for b, v in zip(blocks, row, strict=True)}
            for n, row in zip(names, matrix, strict=True)
        },
        "dataset_correlation": {"datasets": names, "spearman": correlation},
        "blocks_important_everywhere": [
            int(b) for b in blocks if names and len(significant[b]) == len(names)
        ],
        "blocks_important_somewhere": {
            b: ds for b, ds in significant.items() if 0 < len(ds) < len(names)
        },
        "proxies": proxy_summary(comparisons, threshold),
    }


def verdict_row(comparison: Mapping[str, Any] | None) -> dict[str, Any]:
    if comparison is None:
        return {"verdict": "not compared (one split configured)"}
    return {
        "verdict": comparison["verdict"],
        "spearman_rho": comparison["spearman"]["rho"],
        "spearman_ci": [comparison["spearman"]["ci_low"], comparison["spearman"]["ci_high"]],
        "kendall_tau": comparison["kendall"]["tau"],
        "pearson_r": comparison["pearson"]["r"],
        "k_least_overlap": comparison["k_least"]["overlap"],
        "n": comparison["n"],
    }


def proxy_summary(comparisons: Mapping[str, Mapping[str, Any]], threshold: float) -> dict[str, Any]:
    """Per proxy: its Spearman rho with the ablation importance on every compared dataset split.

    The summary says the proxy could stand in for the ablations only when its rho is above
    the threshold on every one of them.
    """
    out: dict[str, Any] = {}
    for proxy in PROXIES:
        rhos = {
            f"{name}/{split}": agreement[proxy]["spearman_rho"]
            for name, c in comparisons.items()
            for split, agreement in c.get("proxies", {}).items()
        }
        defined = [v for v in rhos.values() if v is not None]
        agreeing = sum(v > threshold for v in defined)
        summary = (
            f"Spearman rho with the ablation importance above {threshold} on "
            f"{agreeing} of {len(rhos)} dataset splits"
        )
        if defined:
            summary += f" (median {np.median(defined):.2f})"
        if len(defined) < len(rhos):
            summary += (
                f"; undefined on {len(rhos) - len(defined)} (importance constant over blocks)"
            )
        if rhos and agreeing == len(rhos):
            summary += "; on these data its ranking could stand in for most single-block ablations"
        out[proxy] = {"spearman_rho": rhos, "agreeing": agreeing, "summary": summary}
    return out
