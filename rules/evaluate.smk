rule baseline:
    input:
        script=f"{SCRIPTS}/evaluate.py",
        data=prepared(),
        model=model_input(),
    output:
        store=eval_store("full"),
        summary="results/baseline/{dataset}/{split}.json",
        proxies="results/baseline/{dataset}/{split}.proxies.json",
    conda:
        "../envs/vlmprune.yaml"
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
        "torchrun --standalone --nproc-per-node=$(( {resources.gpu} > 0 ? {resources.gpu} : 1 )) {input.script} "
        "--data {input.data} --dataset {wildcards.dataset} --split {wildcards.split} "
        "--variants full --stores {output.store} --summary {output.summary} "
        "--model {params.model:q} --evaluation {params.evaluation:q} > {log} 2>&1"


if config["ablation"]["fused"]:

    # One job evaluates every single-block variant, sharing encoder and prefill (DESIGN §4).
    rule ablate:
        input:
            script=f"{SCRIPTS}/evaluate.py",
            data=prepared(),
            model=model_input(),
        output:
            stores=[eval_store(f"drop-{i}") for i in range(num_blocks())],
        conda:
            "../envs/vlmprune.yaml"
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
            "torchrun --standalone --nproc-per-node=$(( {resources.gpu} > 0 ? {resources.gpu} : 1 )) {input.script} "
            "--data {input.data} --dataset {wildcards.dataset} --split {wildcards.split} "
            "--variants {params.variants} --stores {output.stores} "
            "--model {params.model:q} --evaluation {params.evaluation:q} > {log} 2>&1"

else:

    # ablation.fused: false: one job per removed block, to spread over a cluster; same files.
    rule ablate_block:
        input:
            script=f"{SCRIPTS}/evaluate.py",
            data=prepared(),
            model=model_input(),
        output:
            store=eval_store("drop-{block}"),
        conda:
            "../envs/vlmprune.yaml"
        log:
            "logs/ablate/{dataset}/{split}/drop-{block}.log",
        benchmark:
            "benchmarks/ablate/{dataset}/{split}/drop-{block}.tsv"
        wildcard_constraints:
            block="[0-9]+",
        params:
            model=model_params(),
            evaluation=evaluation_params,
        threads: 2
        resources:
            gpu=config["resources"]["gpus_per_job"],
            mem_mb=8000,
        shell:
            "torchrun --standalone --nproc-per-node=$(( {resources.gpu} > 0 ? {resources.gpu} : 1 )) {input.script} "
            "--data {input.data} --dataset {wildcards.dataset} --split {wildcards.split} "
            "--variants drop-{wildcards.block} --stores {output.store} "
            "--model {params.model:q} --evaluation {params.evaluation:q} > {log} 2>&1"
