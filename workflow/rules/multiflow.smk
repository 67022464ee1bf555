# MULTIFLOW step 1: per-layer sparsity budgets from the checkpoint's weight magnitudes.
# Weights only (no data, no GPU); one job per target sparsity in config["multiflow"]["targets"].


rule multiflow_step1:
    input:
        model=get_model(),
    output:
        json="results/multiflow/sparsity_distribution_{sparsity}.json",
        png=report(
            "results/multiflow/sparsity_distribution_{sparsity}.png",
            caption="../report/multiflow_step1.rst",
            category="Pruning (MULTIFLOW)",
            subcategory="Step 1: per-layer budgets",
            labels={"target": "{sparsity}"},
        ),
    log:
        "logs/multiflow/sparsity_distribution_{sparsity}.log",
    benchmark:
        "benchmarks/multiflow/sparsity_distribution_{sparsity}.tsv"
    wildcard_constraints:
        sparsity=r"[0-9]*\.?[0-9]+",
    conda:
        "../envs/vlmprune.yaml"
    resources:
        mem_mb=4000,
    params:
        # only step 1's keys, so adding a target, a method or a calibration setting reruns nothing that exists
        multiflow={k: config["multiflow"][k] for k in ("architecture", "patterns", "exclude")},
        target=lambda wildcards: float(wildcards.sparsity),
    script:
        "../scripts/multiflow_step1.py"


# MULTIFLOW steps 2-3: one calibration pass (statistics shared by every method and target), then
# masks per method and target, evaluated like every other variant (store {method}-{s}.h5).


rule multiflow_calibrate:
    input:
        data=get_calibration_data,
        model=get_model(),
    output:
        "results/multiflow/calibration.safetensors",
    log:
        "logs/multiflow/calibration.log",
    benchmark:
        "benchmarks/multiflow/calibration.tsv"
    conda:
        "../envs/vlmprune.yaml"
    threads: EVALUATION_THREADS
    resources:
        **GPU_RESOURCES,
    params:
        model=MODEL_SETTINGS,
        calibration={
            k: v
            for k, v in config["multiflow"]["calibration"].items()
            if k not in ("dataset", "split")
        },
        multiflow={k: config["multiflow"][k] for k in ("architecture", "patterns", "exclude")},
    script:
        "../scripts/multiflow_calibrate.py"


rule multiflow_masks:
    input:
        stats="results/multiflow/calibration.safetensors",
        budgets=get_mask_budgets,
        model=get_model(),
    output:
        masks="results/multiflow/masks_{method}_{sparsity}.safetensors",
        summary="results/multiflow/masks_{method}_{sparsity}.json",
    log:
        "logs/multiflow/masks_{method}_{sparsity}.log",
    benchmark:
        "benchmarks/multiflow/masks_{method}_{sparsity}.tsv"
    wildcard_constraints:
        method="multiflow|wanda|magnitude",
        sparsity=r"0\.[0-9]*[1-9]",
    conda:
        "../envs/vlmprune.yaml"
    resources:
        mem_mb=8000,
    params:
        model=MODEL_SETTINGS,
    script:
        "../scripts/multiflow_masks.py"


rule evaluate_pruned:
    input:
        data=prepared(),
        model=get_model(),
        masks="results/multiflow/masks_{method}_{sparsity}.safetensors",
    output:
        store=eval_store("{method}-{sparsity}"),
    log:
        "logs/evaluate_pruned/{dataset}/{split}/{method}-{sparsity}.log",
    benchmark:
        "benchmarks/evaluate_pruned/{dataset}/{split}/{method}-{sparsity}.tsv"
    wildcard_constraints:
        method="multiflow|wanda|magnitude",
        sparsity=r"0\.[0-9]*[1-9]",
    conda:
        "../envs/vlmprune.yaml"
    threads: EVALUATION_THREADS
    resources:
        **GPU_RESOURCES,
    params:
        model=MODEL_SETTINGS,
        evaluation=get_evaluation_settings,
        variants=lambda wildcards: [f"{wildcards.method}-{wildcards.sparsity}"],
    script:
        "../scripts/evaluate.py"


rule sparsity:
    input:
        full=eval_store("full", split=ANALYSIS_SPLIT),
        stores=get_sparsity_stores,
        summaries=get_sparsity_summaries,
    output:
        json="results/sparsity/{dataset}.json",
        png=report(
            "results/sparsity/{dataset}.png",
            caption="../report/sparsity.rst",
            category="Pruning (MULTIFLOW)",
            subcategory="{dataset}",
            labels={"dataset": "{dataset}"},
        ),
    log:
        "logs/sparsity/{dataset}.log",
    benchmark:
        "benchmarks/sparsity/{dataset}.tsv"
    conda:
        "../envs/vlmprune.yaml"
    params:
        importance=config["importance"],
    script:
        "../scripts/sparsity.py"


rule export_pruned:
    input:
        masks="results/multiflow/masks_{method}_{sparsity}.safetensors",
        summary="results/multiflow/masks_{method}_{sparsity}.json",
        model=get_model(),
    output:
        directory("results/pruned/{method}-{sparsity}"),
    log:
        "logs/export_pruned/{method}-{sparsity}.log",
    benchmark:
        "benchmarks/export_pruned/{method}-{sparsity}.tsv"
    wildcard_constraints:
        method="multiflow|wanda|magnitude",
        sparsity=r"0\.[0-9]*[1-9]",
    conda:
        "../envs/vlmprune.yaml"
    resources:
        mem_mb=8000,
    params:
        model=MODEL_SETTINGS,
    script:
        "../scripts/export_pruned.py"
