rule prepare_dataset:
    output:
        directory(prepared()),
    log:
        "logs/prepare_dataset/{dataset}/{split}.log",
    benchmark:
        "benchmarks/prepare_dataset/{dataset}/{split}.tsv"
    params:
        local_path=lambda wc: config["datasets"][wc.dataset].get("path", ""),
    resources:
        mem_mb=4000,
    shell:
        "python {SCRIPTS}/prepare_dataset.py --dataset {wildcards.dataset} --split {wildcards.split} "
        "--out {output} --local-path={params.local_path:q} > {log} 2>&1"


rule demo_model:
    output:
        directory(DEMO_MODEL),
    log:
        "logs/demo_model.log",
    benchmark:
        "benchmarks/demo_model.tsv"
    params:
        demo=json.dumps(config.get("demo_model", {})),
    threads: 2
    resources:
        mem_mb=4000,
    shell:
        "python {SCRIPTS}/demo_model.py --out {output} --params {params.demo:q} > {log} 2>&1"
