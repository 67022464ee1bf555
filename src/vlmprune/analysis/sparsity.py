"""Accuracy against sparsity: each pruning method at each target, against the dense baseline.

Every point carries the paired bootstrap interval of its accuracy drop (the same samples
with and without pruning, resampled jointly: ``paired_difference_interval``), shown as an
interval on the accuracy ``baseline - drop``.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from vlmprune.analysis.importance.estimate import (
    check_aligned,
    paired_difference_interval,
    store_header,
)
from vlmprune.engine.store import EvalStore, read_store
from vlmprune.engine.variants import parse_width_variant
from vlmprune.result_files import read_json, write_json


def sparsity_curves(
    full: EvalStore,
    pruned: Mapping[str, EvalStore],
    summaries: Mapping[str, Mapping[str, Any]],
    *,
    confidence: float,
    bootstrap_resamples: int,
    seed: int,
) -> dict[str, Any]:
    """Per method, the points sorted by target: accuracy, drop and their paired intervals, actual
    sparsity."""
    methods: dict[str, list[dict[str, Any]]] = {}
    for variant, store in pruned.items():
        parsed = parse_width_variant(variant)
        if parsed is None:
            raise ValueError(f"{variant!r} is not a width variant (method-sparsity)")
        check_aligned(full, store, variant)
        method, target = parsed
        low, high = paired_difference_interval(
            full.scores,
            store.scores,
            confidence=confidence,
            resamples=bootstrap_resamples,
            seed=seed,
        )
        summary = summaries[variant]
        methods.setdefault(method, []).append(
            {
                "variant": variant,
                "target_sparsity": target,
                "actual_sparsity": summary["actual_sparsity"],
                "modality_sparsity": {
                    m: v["actual_sparsity"] for m, v in summary["modalities"].items()
                },
                "accuracy": store.accuracy,
                "accuracy_ci": [full.accuracy - high, full.accuracy - low],
                "drop": full.accuracy - store.accuracy,
                "drop_ci": [low, high],
            }
        )
    return {
        **store_header(full),
        "baseline_accuracy": full.accuracy,
        "confidence_level": confidence,
        "bootstrap_resamples": bootstrap_resamples,
        "methods": {
            m: sorted(points, key=lambda p: p["target_sparsity"])
            for m, points in sorted(methods.items())
        },
    }


def plot_sparsity(curves: Mapping[str, Any], path: str | os.PathLike) -> None:
    """Accuracy (y) against target sparsity (x), one line per method, the dense model at 0 and as a
    dashed line."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4.5), dpi=120)
    baseline = curves["baseline_accuracy"]
    ax.axhline(baseline, color="black", linestyle="--", linewidth=1, label=f"dense {baseline:.3f}")
    methods = curves["methods"]
    for i, (method, points) in enumerate(methods.items()):
        dodge = (
            i - (len(methods) - 1) / 2
        ) * 0.8  # side by side, so that overlapping intervals stay apart
        xs = [0.0] + [100 * p["target_sparsity"] + dodge for p in points]
        ys = [baseline] + [p["accuracy"] for p in points]
        low = [0.0] + [p["accuracy"] - p["accuracy_ci"][0] for p in points]
        high = [0.0] + [p["accuracy_ci"][1] - p["accuracy"] for p in points]
        ax.errorbar(xs, ys, yerr=[low, high], marker="o", capsize=3, label=method)
    ax.set_xlabel("target sparsity of the prunable weights (%)")
    ax.set_ylabel(f"accuracy ({curves['metric']})")
    ax.set_title(
        f"{curves['dataset']} ({curves['split']}, n = {curves['n']}): accuracy against sparsity\n"
        f"error bars: {curves['confidence_level']:.0%} paired bootstrap intervals"
    )
    ax.grid(alpha=0.3)
    ax.legend(fontsize=9)
    fig.tight_layout()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp.png")
    fig.savefig(tmp)
    plt.close(fig)
    os.replace(tmp, path)


def write_sparsity(
    full: Path,
    stores: Sequence[Path],
    summaries: Sequence[Path],
    json_path: Path,
    png_path: Path,
    **importance: Any,
) -> dict[str, Any]:
    """Read the stores (named ``{method}-{s}.h5``) and mask summaries, write the JSON and the
    plot."""
    if len(stores) != len(summaries):
        raise ValueError(f"{len(stores)} stores but {len(summaries)} mask summaries")
    pruned = {Path(s).stem: read_store(s) for s in stores}
    by_variant = {}
    for variant, summary_path in zip(pruned, summaries, strict=True):
        summary = read_json(summary_path)
        if (summary["method"], float(summary["target_sparsity"])) != parse_width_variant(variant):
            raise ValueError(
                f"mask summary {summary_path} is for {summary['method']} at "
                f"{summary['target_sparsity']}, "
                f"not for the store {variant}.h5; give the summaries in the order of the stores"
            )
        by_variant[variant] = summary
    curves = sparsity_curves(
        read_store(full),
        pruned,
        by_variant,
        **{k: importance[k] for k in ("confidence", "bootstrap_resamples", "seed")},
    )
    write_json(json_path, curves)
    plot_sparsity(curves, png_path)
    return curves
