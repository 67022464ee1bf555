rule importance:
    input:
        script=f"{SCRIPTS}/importance.py",
        full=eval_store("full"),
        dropped=get_single_block_stores,
    output:
        scores="results/importance/{dataset}/{split}.json",
        details="results/importance/{dataset}/{split}.details.json",
    log:
        "logs/importance/{dataset}/{split}.log",
    benchmark:
        "benchmarks/importance/{dataset}/{split}.tsv"
    conda:
        "../envs/vlmprune.yaml"
    params:
        importance=json.dumps(config["importance"]),
    shell:
        "python {input.script} --full {input.full} --dropped {input.dropped} "
        "--out {output.scores} --details {output.details} --params {params.importance:q} > {log} 2>&1"


localrules:
    importance_analysis_split,


rule importance_analysis_split:
    input:
        f"results/importance/{{dataset}}/{ANALYSIS_SPLIT}.json",
    output:
        "results/importance/{dataset}.json",
    log:
        "logs/importance/{dataset}.log",
    benchmark:
        "benchmarks/importance/{dataset}.tsv"
    conda:
        "../envs/vlmprune.yaml"
    shell:
        "cp {input} {output} 2> {log}"
