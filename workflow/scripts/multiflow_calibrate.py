"""Rule multiflow_calibrate: one pass over the calibration records, per-input-feature statistics of every prunable layer."""

import argparse
import json

from vlmprune.multiflow.config import MultiflowConfig
from vlmprune.multiflow.prune import calibrate
from vlmprune.workflow_script import run_main


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument(
        "--data",
        required=True,
        help="prepared calibration records (data/prepared/{dataset}/{split})",
    )
    parser.add_argument("--model", required=True, help="the config's model section, as JSON")
    parser.add_argument(
        "--calibration",
        required=True,
        help="multiflow.calibration (nsamples, seed, batch_size), as JSON",
    )
    parser.add_argument(
        "--multiflow", required=True, help="multiflow architecture, patterns and exclude, as JSON"
    )
    parser.add_argument("--out", required=True, help="statistics (safetensors)")
    args = parser.parse_args()
    calibration = json.loads(args.calibration)
    calibrate(
        json.loads(args.model),
        args.data,
        calibration["nsamples"],
        MultiflowConfig.from_mapping(json.loads(args.multiflow)),
        args.out,
        seed=calibration["seed"],
        batch_size=calibration["batch_size"],
    )


run_main(main)
