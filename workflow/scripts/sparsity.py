"""Rule sparsity: accuracy against sparsity per pruning method, with the dense baseline and paired bootstrap intervals."""

import argparse
import json
from pathlib import Path

from vlmprune.analysis.sparsity import write_sparsity
from vlmprune.workflow_script import run_main


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument(
        "--full", required=True, type=Path, help="the dense baseline store (full.h5)"
    )
    parser.add_argument(
        "--stores", nargs="+", required=True, type=Path, help="stores {method}-{s}.h5"
    )
    parser.add_argument(
        "--summaries",
        nargs="+",
        required=True,
        type=Path,
        help="mask summaries, in the order of the stores",
    )
    parser.add_argument(
        "--params",
        required=True,
        help="the config's importance section (confidence, resamples, seed), as JSON",
    )
    parser.add_argument("--json", required=True, type=Path)
    parser.add_argument("--png", required=True, type=Path)
    args = parser.parse_args()
    curves = write_sparsity(
        args.full, args.stores, args.summaries, args.json, args.png, **json.loads(args.params)
    )
    for method, points in curves["methods"].items():
        print(method, ", ".join(f"{p['target_sparsity']}: {p['accuracy']:.3f}" for p in points))


run_main(main)
