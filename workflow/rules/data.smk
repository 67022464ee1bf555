rule prepare_dataset:
    output:
        directory(prepared()),
    log:
        "logs/prepare_dataset/{dataset}/{split}.log",
    benchmark:
        "benchmarks/prepare_dataset/{dataset}/{split}.tsv"
    conda:
        "../envs/vlmprune.yaml"
    resources:
        mem_mb=4000,
    params:
        local_path=lambda wc: config["datasets"][wc.dataset].get("path"),
    script:
        "../scripts/prepare_dataset.py"


rule demo_model:
    output:
        directory(DEMO_MODEL),
    log:
        "logs/demo_model.log",
    benchmark:
        "benchmarks/demo_model.tsv"
    conda:
        "../envs/vlmprune.yaml"
    threads: 2
    resources:
        mem_mb=4000,
    params:
        demo=config["demo_model"],
    script:
        "../scripts/demo_model.py"
