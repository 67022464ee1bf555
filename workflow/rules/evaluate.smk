if config["ablation"]["fused"]:

    # One job evaluates the full model and every single-block variant as one tree: the image
    # encoding and each prefill prefix run once per batch. It also writes the baseline summary
    # and the one-pass proxies (recorded over the full model's pass only), so no rule baseline.
    rule ablate:
        input:
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
            variants=["full", *(f"drop-{i}" for i in range(NUM_BLOCKS))],
        script:
            "../scripts/evaluate.py"

else:

    # ablation.fused: false: the baseline in its own job and one job per removed block, to
    # spread over a cluster; same files.
    rule baseline:
        input:
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
            variants=["full"],
        script:
            "../scripts/evaluate.py"

    rule ablate_block:
        input:
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
            variants=lambda wildcards: [f"drop-{wildcards.block}"],
        script:
            "../scripts/evaluate.py"
