"""Rule compare_all: verdicts, importance and proxy agreement across every configured dataset."""

from pathlib import Path

from vlmprune.analysis.compare.datasets import compare_datasets
from vlmprune.analysis.compare.files import write_summary
from vlmprune.result_files import read_json
from vlmprune.workflow_script import run_rule


def main(job) -> None:
    comparisons = {c["dataset"]: c for c in map(read_json, job.input.comparisons)}
    importances = {Path(path).parent.name: read_json(path) for path in job.input.importance}
    summary = compare_datasets(
        comparisons,
        importances,
        threshold=job.params.threshold,
        analysis_split=job.params.analysis_split,
    )
    for proxy, info in summary["proxies"].items():
        print(f"{proxy}: {info['summary']}")
    write_summary(summary, Path(job.output.json), Path(job.output.png), Path(job.output.html))


run_rule(main, snakemake)  # noqa: F821 (the script: directive defines it)
