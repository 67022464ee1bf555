"""Rule tradeoff: accuracy against measured latency per budget of removed blocks.

With the Pareto frontier and the latency-budget lookup table.
"""

from pathlib import Path

from vlmprune.analysis.tradeoff.pareto import tradeoff
from vlmprune.analysis.tradeoff.plot import plot_tradeoff
from vlmprune.result_files import read_json, write_json
from vlmprune.workflow_script import run_rule


def main(job) -> None:
    result = tradeoff(read_json(job.input.beam), read_json(job.input.latency))
    plot_tradeoff(result, Path(job.output.png))
    write_json(job.output.json, result)


run_rule(main, snakemake)  # noqa: F821 (the script: directive defines it)
