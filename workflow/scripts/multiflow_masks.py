"""Rule multiflow_masks: one method's masks at one target sparsity, from the calibration statistics and step-1 budgets."""

import argparse
import json

from vlmprune.multiflow.prune import make_masks
from vlmprune.workflow_script import run_main


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--model", required=True, help="the config's model section, as JSON")
    parser.add_argument(
        "--stats", required=True, help="calibration statistics from rule multiflow_calibrate"
    )
    parser.add_argument(
        "--budgets",
        default=None,
        help="step-1 sparsity_distribution_{s}.json (multiflow, magnitude)",
    )
    parser.add_argument("--method", required=True)
    parser.add_argument("--target", required=True, type=float)
    parser.add_argument("--masks", required=True, help="bit-packed masks (safetensors)")
    parser.add_argument(
        "--summary",
        required=True,
        help="JSON summary: target and actual sparsity per layer and modality",
    )
    args = parser.parse_args()
    make_masks(
        json.loads(args.model),
        args.stats,
        args.method,
        args.target,
        args.masks,
        args.summary,
        budgets_path=args.budgets or None,
    )


run_main(main)
