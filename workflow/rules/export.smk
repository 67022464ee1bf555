# From the chosen blocks to a faster model: any variant's store and export, the latency of the
# trade-off list's variants (physically deleted, timed alone on the machine), and the trade-off.


# A set of several removed blocks, evaluated on its own (beam steps write these too, and are reused).
rule evaluate_variant:
    input:
        data=prepared(),
        model=get_model(),
    output:
        store=eval_store("{variant}"),
    log:
        "logs/evaluate/{dataset}/{split}/{variant}.log",
    benchmark:
        "benchmarks/evaluate/{dataset}/{split}/{variant}.tsv"
    wildcard_constraints:
        variant="drop-[0-9]+(-[0-9]+)+",
    conda:
        "../envs/vlmprune.yaml"
    threads: EVALUATION_THREADS
    resources:
        **GPU_RESOURCES,
    params:
        model=MODEL_SETTINGS,
        evaluation=get_evaluation_settings,
        variants=lambda wildcards: [wildcards.variant],
    script:
        "../scripts/evaluate.py"


rule export:
    input:
        unpack(get_export_inputs),
        model=get_model(),
    output:
        directory("results/pruned/{variant}"),
    log:
        "logs/export/{variant}.log",
    benchmark:
        "benchmarks/export/{variant}.tsv"
    wildcard_constraints:
        variant="full|drop(-[0-9]+)+",
    conda:
        "../envs/vlmprune.yaml"
    resources:
        mem_mb=16000,
    params:
        model=MODEL_SETTINGS,
        importance=config["importance"],
    script:
        "../scripts/export.py"


rule latency:
    input:
        beam="results/beam/{dataset}.json",
        data=prepared(split=ANALYSIS_SPLIT),
        model=get_model(),
    output:
        "results/latency/{dataset}.json",
    log:
        "logs/latency/{dataset}.log",
    benchmark:
        "benchmarks/latency/{dataset}.tsv"
    conda:
        "../envs/vlmprune.yaml"
    threads: ALL_CORES  # timed alone: no other job shares the machine
    resources:
        gpu=min(1, config["resources"]["gpus_per_job"]),
        mem_mb=8000,
    params:
        model=MODEL_SETTINGS,
        evaluation=get_evaluation_settings,
        latency=config["latency"],
    script:
        "../scripts/latency.py"


rule tradeoff:
    input:
        beam="results/beam/{dataset}.json",
        latency="results/latency/{dataset}.json",
    output:
        json="results/tradeoff/{dataset}.json",
        png=report(
            "results/tradeoff/{dataset}.png",
            caption="../report/tradeoff.rst",
            category="Accuracy-latency trade-off",
            subcategory="{dataset}",
            labels={"dataset": "{dataset}"},
        ),
    log:
        "logs/tradeoff/{dataset}.log",
    benchmark:
        "benchmarks/tradeoff/{dataset}.tsv"
    conda:
        "../envs/vlmprune.yaml"
    script:
        "../scripts/tradeoff.py"
