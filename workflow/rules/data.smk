rule prepare_dataset:
    input:
        script=f"{SCRIPTS}/prepare_dataset.py",
    output:
        directory(prepared()),
    conda:
        "../envs/vlmprune.yaml"
    log:
        "logs/prepare_dataset/{dataset}/{split}.log",
    benchmark:
        "benchmarks/prepare_dataset/{dataset}/{split}.tsv"
    params:
        local_path=lambda wc: config["datasets"][wc.dataset].get("path", ""),
    resources:
        mem_mb=4000,
    shell:
        "python {input.script} --dataset {wildcards.dataset} --split {wildcards.split} "
        "--out {output} --local-path={params.local_path:q} > {log} 2>&1"


rule demo_model:
    input:
        script=f"{SCRIPTS}/demo_model.py",
    output:
        directory(DEMO_MODEL),
    conda:
        "../envs/vlmprune.yaml"
    log:
        "logs/demo_model.log",
    benchmark:
        "benchmarks/demo_model.tsv"
    params:
        demo=json.dumps(config["demo_model"]),
    threads: 2
    resources:
        mem_mb=4000,
    shell:
        "python {input.script} --out {output} --params {params.demo:q} > {log} 2>&1"
