"""Rule compare: train-versus-validation consistency of one dataset's block importance."""

from pathlib import Path

from vlmprune.analysis.compare.files import load_split, write_dataset_comparison
from vlmprune.analysis.compare.splits import compare_splits
from vlmprune.workflow_script import run_rule


def main(job) -> None:
    train, val = (
        load_split(
            Path(job.input[f"{split}_details"]),
            Path(job.input[f"{split}_full"]),
            [Path(p) for p in job.input[f"{split}_dropped"]],
            Path(job.input[f"{split}_proxies"]),
        )
        for split in ("train", "val")
    )
    dataset = job.wildcards.dataset
    comparison = compare_splits(dataset, train, val, **job.params.compare)
    print(f"{dataset}: {comparison['verdict']} ({comparison['interpretation']})")
    write_dataset_comparison(
        comparison, Path(job.output.json), Path(job.output.png), Path(job.output.html)
    )


run_rule(main, snakemake)  # noqa: F821 (the script: directive defines it)
