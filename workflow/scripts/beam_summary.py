"""Rule beam: the beam search summary per budget of removed blocks, and its figure."""

from pathlib import Path

from vlmprune.analysis.beam.files import summarize
from vlmprune.analysis.beam.plot import plot_beam
from vlmprune.result_files import read_json, write_json
from vlmprune.workflow_script import run_rule


def main(job) -> None:
    validation = [read_json(p) for p in job.input.validation]
    summary = summarize(
        [read_json(p) for p in job.input.steps], validation[0] if validation else None
    )
    plot_beam(summary, Path(job.output.png))
    write_json(job.output.json, summary)


run_rule(main, snakemake)  # noqa: F821 (the script: directive defines it)
