"""Rule multiflow_masks: one method's masks at one target sparsity.

From the calibration statistics and, for multiflow and magnitude, step 1's budgets.
"""

from vlmprune.multiflow.prune import make_masks
from vlmprune.workflow_script import run_rule


def main(job) -> None:
    budgets = job.input.budgets  # step 1's budgets (multiflow, magnitude); none for wanda
    make_masks(
        job.params.model,
        job.input.stats,
        job.wildcards.method,
        float(job.wildcards.sparsity),
        job.output.masks,
        job.output.summary,
        budgets_path=budgets if isinstance(budgets, str) else None,
    )


run_rule(main, snakemake)  # noqa: F821 (the script: directive defines it)
