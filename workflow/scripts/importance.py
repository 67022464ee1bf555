"""Rule importance: per-block importance from the baseline and single-block ablation stores."""

from pathlib import Path

from vlmprune.analysis.importance.files import write_importance
from vlmprune.workflow_script import run_rule


def main(job) -> None:
    write_importance(
        Path(job.input.full),
        [Path(p) for p in job.input.dropped],
        Path(job.output.scores),
        Path(job.output.details),
        **job.params.importance,
    )


run_rule(main, snakemake)  # noqa: F821 (the script: directive defines it)
