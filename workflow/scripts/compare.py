"""Rule compare: train-versus-validation consistency of one dataset's block importance."""

import argparse
import json
from pathlib import Path

from vlmprune.analysis.compare.files import load_split, write_dataset_comparison
from vlmprune.analysis.compare.splits import compare_splits
from vlmprune.workflow_script import run_main


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--dataset", required=True)
    for split in ("train", "val"):
        parser.add_argument(
            f"--{split}-details", required=True, type=Path, help=f"{split} importance details JSON"
        )
        parser.add_argument(
            f"--{split}-full", required=True, type=Path, help=f"{split} baseline store (full.h5)"
        )
        parser.add_argument(
            f"--{split}-dropped",
            nargs="+",
            required=True,
            type=Path,
            help=f"{split} stores drop-0.h5 … drop-(N-1).h5",
        )
        parser.add_argument(
            f"--{split}-proxies", required=True, type=Path, help=f"{split} one-pass proxies JSON"
        )
    parser.add_argument("--json", required=True, type=Path)
    parser.add_argument("--png", required=True, type=Path)
    parser.add_argument("--html", required=True, type=Path)
    parser.add_argument("--params", required=True, help="the config's compare section, as JSON")
    args = parser.parse_args()
    train, val = (
        load_split(
            getattr(args, f"{s}_details"),
            getattr(args, f"{s}_full"),
            getattr(args, f"{s}_dropped"),
            getattr(args, f"{s}_proxies"),
        )
        for s in ("train", "val")
    )
    comparison = compare_splits(args.dataset, train, val, **json.loads(args.params))
    print(f"{args.dataset}: {comparison['verdict']} ({comparison['interpretation']})")
    write_dataset_comparison(comparison, args.json, args.png, args.html)


run_main(main)
