"""Rule beam_step_1: the beam search's first step, from the single-block ablation stores.

It evaluates nothing.
"""

from pathlib import Path

from vlmprune.analysis.beam.files import step_one
from vlmprune.result_files import write_json
from vlmprune.workflow_script import run_rule


def main(job) -> None:
    record = step_one(
        Path(job.input.full),
        [Path(p) for p in job.input.dropped],
        job.params.beam_width,
        job.params.importance,
    )
    write_json(job.output[0], record)


run_rule(main, snakemake)  # noqa: F821 (the script: directive defines it)
