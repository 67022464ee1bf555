"""Rule beam_joint: the joint search's summary per budget of removed blocks, and its figure."""

import argparse
from pathlib import Path

from vlmprune.analysis.beam.joint import summarize_joint
from vlmprune.analysis.beam.plot import plot_joint_beam
from vlmprune.result_files import read_json, write_json
from vlmprune.workflow_script import run_main


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--steps", nargs="+", required=True, help="results/beam/all/step*.json")
    parser.add_argument(
        "--validations",
        nargs="*",
        default=[],
        help="results/beam/all/validate_{split}/{dataset}.json, when beam.validate_on is set",
    )
    parser.add_argument("--json", required=True, help="results/beam/all.json")
    parser.add_argument("--png", required=True, help="results/beam/all.png")
    args = parser.parse_args()
    validations = {(v := read_json(p))["dataset"]: v for p in args.validations}
    summary = summarize_joint([read_json(p) for p in args.steps], validations)
    plot_joint_beam(summary, Path(args.png))
    write_json(args.json, summary)


run_main(main)
