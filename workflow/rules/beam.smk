# Beam search over sets of removed blocks, one rule per step: step k's params carry
# beam_width but not max_blocks_to_remove, so a longer search adds steps and reruns none.


rule beam_step_1:
    input:
        full=eval_store("full", split=ANALYSIS_SPLIT),
        dropped=[eval_store(f"drop-{i}", split=ANALYSIS_SPLIT) for i in range(NUM_BLOCKS)],
    output:
        "results/beam/{dataset}/step1.json",
    log:
        "logs/beam/{dataset}/step1.log",
    benchmark:
        "benchmarks/beam/{dataset}/step1.tsv"
    priority: LONGEST_CHAIN_PRIORITY
    conda:
        "../envs/vlmprune.yaml"
    params:
        beam_width=config["beam"]["beam_width"],
        importance=config["importance"],
    script:
        "../scripts/beam_step1.py"


rule beam_step:
    input:
        previous=get_beam_previous_step,
        step1="results/beam/{dataset}/step1.json",
        full=eval_store("full", split=ANALYSIS_SPLIT),
        data=prepared(split=ANALYSIS_SPLIT),
        model=get_model(),
    output:
        "results/beam/{dataset}/step{k}.json",
    log:
        "logs/beam/{dataset}/step{k}.log",
    benchmark:
        "benchmarks/beam/{dataset}/step{k}.tsv"
    wildcard_constraints:
        k="[2-9]|[1-9][0-9]+",
    priority: LONGEST_CHAIN_PRIORITY
    conda:
        "../envs/vlmprune.yaml"
    threads: EVALUATION_THREADS
    resources:
        **GPU_RESOURCES,
    params:
        split=ANALYSIS_SPLIT,
        beam_width=config["beam"]["beam_width"],
        racing=config["beam"]["racing"],
        model=MODEL_SETTINGS,
        evaluation=get_evaluation_settings,
        importance=config["importance"],
    script:
        "../scripts/beam_step.py"


rule beam_validate:
    input:
        steps=get_beam_step_files,
        full=eval_store("full"),
        dropped=get_single_block_stores,
        data=prepared(),
        model=get_model(),
    output:
        "results/beam/{dataset}/validate_{split}.json",
    log:
        "logs/beam/{dataset}/validate_{split}.log",
    benchmark:
        "benchmarks/beam/{dataset}/validate_{split}.tsv"
    priority: LONGEST_CHAIN_PRIORITY
    conda:
        "../envs/vlmprune.yaml"
    threads: EVALUATION_THREADS
    resources:
        **GPU_RESOURCES,
    params:
        model=MODEL_SETTINGS,
        evaluation=get_evaluation_settings,
        importance=config["importance"],
    script:
        "../scripts/beam_validate.py"


rule beam:
    input:
        steps=get_beam_step_files,
        validation=get_beam_validation,
    output:
        json="results/beam/{dataset}.json",
        png=report(
            "results/beam/{dataset}.png",
            caption="../report/beam.rst",
            category="Beam search",
            subcategory="{dataset}",
            labels={"dataset": "{dataset}"},
        ),
    log:
        "logs/beam/{dataset}.log",
    benchmark:
        "benchmarks/beam/{dataset}.tsv"
    priority: LONGEST_CHAIN_PRIORITY
    conda:
        "../envs/vlmprune.yaml"
    script:
        "../scripts/beam_summary.py"
