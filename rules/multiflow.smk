# MULTIFLOW step 1: per-layer sparsity budgets from the checkpoint's weight magnitudes.
# Weights only (no data, no GPU); one job per target sparsity in config["multiflow"]["targets"].


rule multiflow_step1:
    input:
        model=get_model(),
    output:
        json="results/multiflow/sparsity_distribution_{sparsity}.json",
        png="results/multiflow/sparsity_distribution_{sparsity}.png",
    conda:
        "../envs/vlmprune.yaml"
    log:
        "logs/multiflow/sparsity_distribution_{sparsity}.log",
    benchmark:
        "benchmarks/multiflow/sparsity_distribution_{sparsity}.tsv"
    wildcard_constraints:
        sparsity=r"[0-9]*\.?[0-9]+",
    params:
        # the section without its list of targets, so adding a target reruns nothing that exists
        multiflow={k: v for k, v in config["multiflow"].items() if k != "targets"},
        target=lambda wildcards: float(wildcards.sparsity),
    resources:
        mem_mb=4000,
    script:
        "../workflow/scripts/multiflow_step1.py"
