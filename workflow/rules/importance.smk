rule importance:
    input:
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
        importance=config["importance"],
    script:
        "../scripts/importance.py"


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
