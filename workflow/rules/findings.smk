# What the run found, in the HTML report: read from the result files, nothing computed anew.


localrules:
    findings,


rule findings:
    input:
        details=get_findings_details,
        beams=get_beam_targets(),
        summary="results/compare/all.json",
    output:
        json="results/findings.json",
        html=report(
            "results/findings.html",
            caption="../report/findings.rst",
            category="Findings",
        ),
    log:
        "logs/findings.log",
    benchmark:
        "benchmarks/findings.tsv"
    conda:
        "../envs/vlmprune.yaml"
    script:
        "../scripts/findings.py"
