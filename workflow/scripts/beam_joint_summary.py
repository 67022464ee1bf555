"""Rule beam_joint: the joint search's summary per budget of removed blocks, and its figure."""

from pathlib import Path

from vlmprune.analysis.beam.joint import summarize_joint
from vlmprune.analysis.beam.plot import plot_joint_beam
from vlmprune.result_files import read_json, write_json
from vlmprune.workflow_script import run_rule


def main(job) -> None:
    validations = {(v := read_json(p))["dataset"]: v for p in job.input.validations}
    summary = summarize_joint([read_json(p) for p in job.input.steps], validations)
    plot_joint_beam(summary, Path(job.output.png))
    write_json(job.output.json, summary)


run_rule(main, snakemake)  # noqa: F821 (the script: directive defines it)
