"""The comparison from existing result files, printed (and written) for ``vlmprune compare``.

Reads ``results/importance/{dataset}/{split}.details.json`` and the evaluation stores of every
named dataset, compares train and validation importance per dataset and, for several
datasets, the proxies' agreement across them; prints each comparison, and with
``output_dir`` also writes ``{dataset}.json/.png/.html`` and ``all.json/.png/.html`` there.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from vlmprune.analysis.compare.datasets import compare_datasets
from vlmprune.analysis.compare.files import (
    load_split,
    split_paths,
    write_dataset_comparison,
    write_summary,
)
from vlmprune.analysis.compare.splits import compare_splits
from vlmprune.result_files import read_json

SPLITS = ("train", "val")


def _fmt(value: float | None) -> str:
    return "undefined" if value is None else f"{value:.3f}"


def format_comparison(c: Mapping[str, Any]) -> str:
    s, accuracy, k_least = c["spearman"], c["baseline_accuracy"], c["k_least"]
    lines = [
        f"{c['dataset']}: n train {c['n']['train']}, val {c['n']['val']}; "
        f"baseline accuracy train {accuracy['train']:.4f}, val {accuracy['val']:.4f}",
        f"  Spearman rho {_fmt(s['rho'])} (p {_fmt(s['p_value'])}, "
        f"{s['confidence_level']:.0%} CI [{_fmt(s['ci_low'])}, {_fmt(s['ci_high'])}]); "
        f"Kendall tau {_fmt(c['kendall']['tau'])}; Pearson r {_fmt(c['pearson']['r'])}",
        f"  {k_least['k']} least important: train {k_least['train']}, val {k_least['val']} "
        f"(overlap {k_least['overlap']:.2f})",
        f"  {c['verdict'].upper()}: {c['interpretation']}",
    ]
    for split, agreement in c.get("proxies", {}).items():
        lines.append(
            f"  proxies vs ablation ({split}): "
            + ", ".join(f"{p} rho {_fmt(a['spearman_rho'])}" for p, a in agreement.items())
        )
    return "\n".join(lines)


def dataset_names(names: Sequence[str], results: Path) -> list[str]:
    """``names``; for ``["all"]``, each dataset with both splits under ``results``."""
    if list(names) != ["all"]:
        return list(names)
    root = results / "importance"
    found = (
        sorted(
            p.name
            for p in root.iterdir()
            if all((p / f"{s}.details.json").is_file() for s in SPLITS)
        )
        if root.is_dir()
        else []
    )
    if not found:
        raise FileNotFoundError(f"no dataset under {root} has both train and val importance")
    return found


def compare_results(
    *,
    datasets: Sequence[str],
    results: Path = Path("results"),
    threshold: float,
    k_least: int,
    confidence: float,
    bootstrap_resamples: int,
    seed: int,
    analysis_split: str,
    output_dir: Path | None = None,
) -> dict[str, Any]:
    """Compare the splits of each dataset (and the datasets, if several); return the former."""
    names = dataset_names(datasets, results)
    comparisons = {}
    for name in names:
        train, val = (load_split(*split_paths(results, name, s)) for s in SPLITS)
        comparisons[name] = compare_splits(
            name,
            train,
            val,
            threshold=threshold,
            k_least=k_least,
            confidence=confidence,
            bootstrap_resamples=bootstrap_resamples,
            seed=seed,
        )
        print(format_comparison(comparisons[name]), end="\n\n")
        if output_dir:
            write_dataset_comparison(
                comparisons[name],
                output_dir / f"{name}.json",
                output_dir / f"{name}.png",
                output_dir / f"{name}.html",
            )
    if len(names) > 1:
        importances = {
            n: read_json(results / "importance" / n / f"{analysis_split}.details.json")
            for n in names
        }
        summary = compare_datasets(
            comparisons, importances, threshold=threshold, analysis_split=analysis_split
        )
        for proxy, info in summary["proxies"].items():
            print(f"{proxy}: {info['summary']}")
        if output_dir:
            write_summary(
                summary,
                output_dir / "all.json",
                output_dir / "all.png",
                output_dir / "all.html",
            )
    return comparisons
