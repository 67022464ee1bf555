"""Rule prepare_dataset: one split of a registered dataset as records on disk."""

from vlmprune.data.prepare import prepare_dataset
from vlmprune.workflow_script import run_rule


def main(job) -> None:
    dataset, split, out = job.wildcards.dataset, job.wildcards.split, job.output[0]
    records = prepare_dataset(dataset, split, out, local_path=job.params.local_path)
    print(f"{dataset}/{split}: {len(records)} records written to {out}")


run_rule(main, snakemake)  # noqa: F821 (the script: directive defines it)
