rule prepare_dataset:
    input:
        script=f"{SCRIPTS}/prepare_dataset.py",
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
        local_path=lambda wc: config["datasets"][wc.dataset].get("path", ""),
    shell:
        "python {input.script} --dataset {wildcards.dataset} --split {wildcards.split} "
        "--out {output} --local-path={params.local_path:q} > {log} 2>&1"


rule demo_model:
    input:
        script=f"{SCRIPTS}/demo_model.py",
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
        demo=json.dumps(config["demo_model"]),
    shell:
        "python {input.script} --out {output} --params {params.demo:q} > {log} 2>&1"
