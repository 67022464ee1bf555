"""Rule multiflow_step1: the per-layer budgets at one target; the report goes to the job's log."""

from vlmprune.multiflow import CheckpointError, MultiflowConfig, run_step1
from vlmprune.workflow_script import run_rule


def main(job) -> None:
    try:
        run_step1(
            job.input.model,
            float(job.params.target),
            job.output.json,
            job.output.png,
            MultiflowConfig.from_mapping(job.params.multiflow),
        )
    except (CheckpointError, OSError) as error:
        raise ValueError(str(error)) from None


run_rule(main, snakemake)  # noqa: F821 (the script: directive defines it)
