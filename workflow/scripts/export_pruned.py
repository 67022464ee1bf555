"""Rule export_pruned: results/pruned/{method}-{s}/, the checkpoint with pruned weights zeroed."""

from pathlib import Path

from vlmprune.export.width_variant import export_pruned
from vlmprune.result_files import read_json
from vlmprune.workflow_script import run_rule


def main(job) -> None:
    summary = read_json(job.input.summary)
    print(export_pruned(job.params.model, Path(job.input.masks), Path(job.output[0]), summary))


run_rule(main, snakemake)  # noqa: F821 (the script: directive defines it)
