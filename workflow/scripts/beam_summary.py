"""Rule beam: the beam search summary per budget of removed blocks, and its figure."""

import argparse
from pathlib import Path

from vlmprune.analysis.beam.files import summarize
from vlmprune.analysis.beam.plot import plot_beam
from vlmprune.result_files import read_json, write_json
from vlmprune.workflow_script import run_main


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--steps", nargs="+", required=True, help="the JSON of steps 1..max")
    parser.add_argument(
        "--validation",
        nargs="?",
        default=None,
        help="the final beams on the validation split, when configured",
    )
    parser.add_argument("--json", required=True, help="results/beam/{dataset}.json")
    parser.add_argument("--png", required=True, help="results/beam/{dataset}.png")
    args = parser.parse_args()
    summary = summarize(
        [read_json(p) for p in args.steps], read_json(args.validation) if args.validation else None
    )
    plot_beam(summary, Path(args.png))
    write_json(args.json, summary)


run_main(main)
