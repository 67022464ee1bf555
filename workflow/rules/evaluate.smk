if config["ablation"]["fused"]:

    # One job evaluates the full model and every single-block variant as one tree: the image
    # encoding and each prefill prefix run once per batch. It also writes the baseline summary
    # and the one-pass proxies (recorded over the full model's pass only), so no rule baseline.
    rule ablate:
        input:
            script=f"{SCRIPTS}/evaluate.py",
            data=prepared(),
            model=get_model(),
        output:
            store=eval_store("full"),
            stores=single_block_stores(),
            summary="results/baseline/{dataset}/{split}.json",
            proxies="results/baseline/{dataset}/{split}.proxies.json",
        log:
            "logs/ablate/{dataset}/{split}.log",
        benchmark:
            "benchmarks/ablate/{dataset}/{split}.tsv"
        priority: LONGEST_CHAIN_PRIORITY
        conda:
            "../envs/vlmprune.yaml"
        threads: EVALUATION_THREADS
        resources:
            **GPU_RESOURCES,
        params:
            model=MODEL_SETTINGS,
            evaluation=get_evaluation_settings,
            variants=" ".join(["full", *(f"drop-{i}" for i in range(NUM_BLOCKS))]),
        shell:
            evaluation_shell(
                "--data {input.data} --dataset {wildcards.dataset} --split {wildcards.split} "
                "--variants {params.variants} --stores {output.store} {output.stores} --summary {output.summary} "
                "--model {params.model:q} --evaluation {params.evaluation:q} > {log} 2>&1"
            )

else:

    # ablation.fused: false: the baseline in its own job and one job per removed block, to
    # spread over a cluster; same files.
    rule baseline:
        input:
            script=f"{SCRIPTS}/evaluate.py",
            data=prepared(),
            model=get_model(),
        output:
            store=eval_store("full"),
            summary="results/baseline/{dataset}/{split}.json",
            proxies="results/baseline/{dataset}/{split}.proxies.json",
        log:
            "logs/baseline/{dataset}/{split}.log",
        benchmark:
            "benchmarks/baseline/{dataset}/{split}.tsv"
        conda:
            "../envs/vlmprune.yaml"
        threads: EVALUATION_THREADS
        resources:
            **GPU_RESOURCES,
        params:
            model=MODEL_SETTINGS,
            evaluation=get_evaluation_settings,
        shell:
            evaluation_shell(
                "--data {input.data} --dataset {wildcards.dataset} --split {wildcards.split} "
                "--variants full --stores {output.store} --summary {output.summary} "
                "--model {params.model:q} --evaluation {params.evaluation:q} > {log} 2>&1"
            )

    rule ablate_block:
        input:
            script=f"{SCRIPTS}/evaluate.py",
            data=prepared(),
            model=get_model(),
        output:
            store=eval_store("drop-{block}"),
        log:
            "logs/ablate/{dataset}/{split}/drop-{block}.log",
        benchmark:
            "benchmarks/ablate/{dataset}/{split}/drop-{block}.tsv"
        wildcard_constraints:
            block="[0-9]+",
        conda:
            "../envs/vlmprune.yaml"
        threads: EVALUATION_THREADS
        resources:
            **GPU_RESOURCES,
        params:
            model=MODEL_SETTINGS,
            evaluation=get_evaluation_settings,
        shell:
            evaluation_shell(
                "--data {input.data} --dataset {wildcards.dataset} --split {wildcards.split} "
                "--variants drop-{wildcards.block} --stores {output.store} "
                "--model {params.model:q} --evaluation {params.evaluation:q} > {log} 2>&1"
            )
