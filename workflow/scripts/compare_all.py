"""Rule compare_all: verdicts, importance and proxy agreement across every configured dataset."""

import argparse
from pathlib import Path

from vlmprune.analysis.compare.datasets import compare_datasets
from vlmprune.analysis.compare.files import write_summary
from vlmprune.result_files import read_json
from vlmprune.workflow_script import run_main


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument(
        "--comparisons",
        nargs="*",
        default=[],
        type=Path,
        help="results/compare/{dataset}.json of the datasets with both splits",
    )
    parser.add_argument(
        "--importance",
        nargs="+",
        required=True,
        type=Path,
        help="results/importance/{dataset}/{split}.details.json, one per dataset",
    )
    parser.add_argument("--threshold", required=True, type=float)
    parser.add_argument("--analysis-split", required=True)
    parser.add_argument("--json", required=True, type=Path)
    parser.add_argument("--png", required=True, type=Path)
    parser.add_argument("--html", required=True, type=Path)
    args = parser.parse_args()
    comparisons = {c["dataset"]: c for c in map(read_json, args.comparisons)}
    importances = {path.parent.name: read_json(path) for path in args.importance}
    summary = compare_datasets(
        comparisons, importances, threshold=args.threshold, analysis_split=args.analysis_split
    )
    for proxy, info in summary["proxies"].items():
        print(f"{proxy}: {info['summary']}")
    write_summary(summary, args.json, args.png, args.html)


run_main(main)
