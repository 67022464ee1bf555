"""Rule sparsity: accuracy against sparsity per pruning method.

With the dense baseline and paired bootstrap intervals.
"""

from pathlib import Path

from vlmprune.analysis.sparsity import write_sparsity
from vlmprune.workflow_script import run_rule


def main(job) -> None:
    curves = write_sparsity(
        Path(job.input.full),
        [Path(p) for p in job.input.stores],
        [Path(p) for p in job.input.summaries],
        Path(job.output.json),
        Path(job.output.png),
        **job.params.importance,
    )
    for method, points in curves["methods"].items():
        print(method, ", ".join(f"{p['target_sparsity']}: {p['accuracy']:.3f}" for p in points))


run_rule(main, snakemake)  # noqa: F821 (the script: directive defines it)
