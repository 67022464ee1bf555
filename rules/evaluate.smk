rule baseline:
    input:
        data=prepared(),
        model=model_input(),
    output:
        store=eval_store("full"),
        summary="results/baseline/{dataset}/{split}.json",
    log:
        "logs/baseline/{dataset}/{split}.log",
    benchmark:
        "benchmarks/baseline/{dataset}/{split}.tsv"
    params:
        model=model_params(),
        evaluation=evaluation_params,
    threads: 2
    resources:
        gpu=config["resources"]["gpus_per_job"],
        mem_mb=8000,
    shell:
        "torchrun --standalone --nproc-per-node=$(( {resources.gpu} > 0 ? {resources.gpu} : 1 )) {SCRIPTS}/evaluate.py "
        "--data {input.data} --dataset {wildcards.dataset} --split {wildcards.split} "
        "--variants full --stores {output.store} --summary {output.summary} "
        "--model {params.model:q} --evaluation {params.evaluation:q} > {log} 2>&1"


rule ablate:
    input:
        data=prepared(),
        model=model_input(),
    output:
        stores=[eval_store(f"drop-{i}") for i in range(num_blocks())],
    log:
        "logs/ablate/{dataset}/{split}.log",
    benchmark:
        "benchmarks/ablate/{dataset}/{split}.tsv"
    params:
        model=model_params(),
        evaluation=evaluation_params,
        variants=" ".join(f"drop-{i}" for i in range(num_blocks())),
    threads: 2
    resources:
        gpu=config["resources"]["gpus_per_job"],
        mem_mb=8000,
    shell:
        "torchrun --standalone --nproc-per-node=$(( {resources.gpu} > 0 ? {resources.gpu} : 1 )) {SCRIPTS}/evaluate.py "
        "--data {input.data} --dataset {wildcards.dataset} --split {wildcards.split} "
        "--variants {params.variants} --stores {output.stores} "
        "--model {params.model:q} --evaluation {params.evaluation:q} > {log} 2>&1"
