"""Compare train and validation block importance from existing result files, as in the seed::

    python -m vlmprune.analysis.compare --dataset_name coco_2014_vqa [text_vqa okvqa | all] [--results results]

Prints the comparison of each dataset (and, for several, the proxies' agreement); with
``--out DIR`` also writes ``{dataset}.json/.png/.html`` and ``all.json/.png/.html`` there.
"""

from __future__ import annotations

import argparse
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
from vlmprune.settings import schema_defaults
from vlmprune.workflow_script import run_main

SPLITS = ("train", "val")


def _fmt(value: float | None) -> str:
    return "undefined" if value is None else f"{value:.3f}"


def format_comparison(c: Mapping[str, Any]) -> str:
    s = c["spearman"]
    lines = [
        f"{c['dataset']}: n train {c['n']['train']}, val {c['n']['val']}; "
        f"baseline accuracy train {c['baseline_accuracy']['train']:.4f}, val {c['baseline_accuracy']['val']:.4f}",
        f"  Spearman rho {_fmt(s['rho'])} (p {_fmt(s['p_value'])}, {s['confidence_level']:.0%} CI [{_fmt(s['ci_low'])}, {_fmt(s['ci_high'])}]); "
        f"Kendall tau {_fmt(c['kendall']['tau'])}; Pearson r {_fmt(c['pearson']['r'])}",
        f"  {c['k_least']['k']} least important: train {c['k_least']['train']}, val {c['k_least']['val']} (overlap {c['k_least']['overlap']:.2f})",
        f"  {c['verdict'].upper()}: {c['interpretation']}",
    ]
    for split, agreement in c.get("proxies", {}).items():
        lines.append(
            f"  proxies vs ablation ({split}): "
            + ", ".join(f"{p} rho {_fmt(a['spearman_rho'])}" for p, a in agreement.items())
        )
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        description="Compare train and validation block importance (Spearman's rho against a threshold)."
    )
    parser.add_argument(
        "--dataset_name",
        nargs="+",
        required=True,
        help="dataset names, or 'all' for every dataset with both splits",
    )
    parser.add_argument(
        "--results", default=Path("results"), type=Path, help="the workflow's results directory"
    )
    defaults = schema_defaults("compare")
    parser.add_argument("--threshold", type=float, default=defaults["threshold"])
    parser.add_argument("--k_least", type=int, default=defaults["k_least"])
    parser.add_argument("--confidence", type=float, default=defaults["confidence"])
    parser.add_argument("--bootstrap_resamples", type=int, default=defaults["bootstrap_resamples"])
    parser.add_argument("--seed", type=int, default=defaults["seed"])
    parser.add_argument(
        "--analysis_split",
        choices=SPLITS,
        default=schema_defaults("evaluation")["analysis_split"],
        help="the split whose importance the summary over datasets uses",
    )
    parser.add_argument(
        "--out", type=Path, help="also write the JSON, PNG and HTML files into this directory"
    )
    args = parser.parse_args(argv)
    names = args.dataset_name
    if names == ["all"]:
        root = args.results / "importance"
        names = (
            sorted(
                p.name
                for p in root.iterdir()
                if all((p / f"{s}.details.json").is_file() for s in SPLITS)
            )
            if root.is_dir()
            else []
        )
        if not names:
            raise FileNotFoundError(f"no dataset under {root} has both train and val importance")
    comparisons = {}
    for name in names:
        train, val = (load_split(*split_paths(args.results, name, s)) for s in SPLITS)
        comparisons[name] = compare_splits(
            name,
            train,
            val,
            threshold=args.threshold,
            k_least=args.k_least,
            confidence=args.confidence,
            bootstrap_resamples=args.bootstrap_resamples,
            seed=args.seed,
        )
        print(format_comparison(comparisons[name]), end="\n\n")
        if args.out:
            write_dataset_comparison(
                comparisons[name],
                args.out / f"{name}.json",
                args.out / f"{name}.png",
                args.out / f"{name}.html",
            )
    if len(names) > 1:
        importances = {
            n: read_json(args.results / "importance" / n / f"{args.analysis_split}.details.json")
            for n in names
        }
        summary = compare_datasets(
            comparisons, importances, threshold=args.threshold, analysis_split=args.analysis_split
        )
        for proxy, info in summary["proxies"].items():
            print(f"{proxy}: {info['summary']}")
        if args.out:
            write_summary(
                summary, args.out / "all.json", args.out / "all.png", args.out / "all.html"
            )


if __name__ == "__main__":
    run_main(main)
