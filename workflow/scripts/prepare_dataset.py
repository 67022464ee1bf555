"""Rule prepare_dataset: one split of a registered dataset as records on disk."""

import argparse

from vlmprune.data.prepare import prepare_dataset
from vlmprune.workflow_script import run_main


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--dataset", required=True)
    parser.add_argument("--split", required=True)
    parser.add_argument("--out", required=True)
    parser.add_argument("--local-path", default=None)
    args = parser.parse_args()
    records = prepare_dataset(
        args.dataset, args.split, args.out, local_path=args.local_path or None
    )
    print(f"{args.dataset}/{args.split}: {len(records)} records written to {args.out}")


run_main(main)
