"""Rule findings: what the run found, read from its result files, as JSON and report tables."""

from pathlib import Path

from vlmprune.analysis.compare.tables import write_html
from vlmprune.analysis.findings import collect_findings, findings_sections
from vlmprune.result_files import read_json, write_json
from vlmprune.workflow_script import run_rule


def main(job) -> None:
    details = {Path(p).parent.name: read_json(p) for p in job.input.details}
    beams = {Path(p).stem: read_json(p) for p in job.input.beams}
    findings = collect_findings(details, beams, read_json(job.input.summary))
    write_json(job.output.json, findings)
    write_html(job.output.html, "What this run found", findings_sections(findings))


run_rule(main, snakemake)  # noqa: F821 (the script: directive defines it)
