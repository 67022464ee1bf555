"""Rule beam_step_1: the beam search's first step, from the single-block ablation stores (evaluates nothing)."""

import argparse
import json
from pathlib import Path

from vlmprune.analysis.beam.files import step_one
from vlmprune.result_files import write_json
from vlmprune.workflow_script import run_main


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument(
        "--full", required=True, help="the baseline store (full.h5) of the analysis split"
    )
    parser.add_argument(
        "--dropped", nargs="+", required=True, help="the stores drop-0.h5 … drop-(N-1).h5"
    )
    parser.add_argument("--beam-width", type=int, required=True)
    parser.add_argument(
        "--importance",
        required=True,
        help="the config's importance section (interval settings), as JSON",
    )
    parser.add_argument("--out", required=True, help="results/beam/{dataset}/step1.json")
    args = parser.parse_args()
    record = step_one(
        Path(args.full),
        [Path(p) for p in args.dropped],
        args.beam_width,
        json.loads(args.importance),
    )
    write_json(args.out, record)


run_main(main)
