"""Rules tradeoff and tradeoff_all: accuracy (the joint objective for all) against measured latency
per budget of removed blocks, Pareto frontier, lookup table."""

import argparse
from pathlib import Path

from vlmprune.analysis.tradeoff.pareto import joint_tradeoff, tradeoff
from vlmprune.analysis.tradeoff.plot import plot_joint_tradeoff, plot_tradeoff
from vlmprune.result_files import read_json, write_json
from vlmprune.workflow_script import run_main


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--beam", required=True, help="results/beam/{dataset}.json")
    parser.add_argument("--latency", required=True, help="results/latency/{dataset}.json")
    parser.add_argument("--json", required=True, help="results/tradeoff/{dataset}.json")
    parser.add_argument("--png", required=True, help="results/tradeoff/{dataset}.png")
    args = parser.parse_args()
    beam, latency = read_json(args.beam), read_json(args.latency)
    if "objective" in beam:  # the joint search's results/beam/all.json
        result = joint_tradeoff(beam, latency)
        plot_joint_tradeoff(result, Path(args.png))
    else:
        result = tradeoff(beam, latency)
        plot_tradeoff(result, Path(args.png))
    write_json(args.json, result)


run_main(main)
