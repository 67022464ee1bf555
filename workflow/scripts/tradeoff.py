"""Rules tradeoff and tradeoff_all: accuracy against measured latency per budget of removed blocks.

With the Pareto frontier and the latency-budget lookup table; for ``all``, the accuracy is the
joint objective's.
"""

from pathlib import Path

from vlmprune.analysis.tradeoff.pareto import joint_tradeoff, tradeoff
from vlmprune.analysis.tradeoff.plot import plot_joint_tradeoff, plot_tradeoff
from vlmprune.result_files import read_json, write_json
from vlmprune.workflow_script import run_rule


def main(job) -> None:
    beam, latency = read_json(job.input.beam), read_json(job.input.latency)
    if "objective" in beam:  # the joint search's results/beam/all.json
        result = joint_tradeoff(beam, latency)
        plot_joint_tradeoff(result, Path(job.output.png))
    else:
        result = tradeoff(beam, latency)
        plot_tradeoff(result, Path(job.output.png))
    write_json(job.output.json, result)


run_rule(main, snakemake)  # noqa: F821 (the script: directive defines it)
