# The joint search (beam.objective mean or worst): one beam search over every configured dataset,
# results/beam/all/. Its step k follows every dataset's own step k, whose stores it reuses and
# whose recommended sets it holds too; its trade-off times each of those sets once.


rule beam_joint_step_1:
    input:
        full=[eval_store("full", d, ANALYSIS_SPLIT) for d in DATASETS],
        dropped=[s for d in DATASETS for s in single_block_stores(d, ANALYSIS_SPLIT)],
        own=[f"results/beam/{d}/step1.json" for d in DATASETS],
    output:
        "results/beam/all/step1.json",
    log:
        "logs/beam/all/step1.log",
    benchmark:
        "benchmarks/beam/all/step1.tsv"
    conda:
        "../envs/vlmprune.yaml"
    params:
        evals_dirs=ANALYSIS_STORES,
        beam_width=config["beam"]["beam_width"],
        objective=config["beam"]["objective"],
        importance=config["importance"],
    script:
        "../scripts/beam_joint_step1.py"


if config["beam"]["racing"]:

    # Racing decides on every dataset's samples at once: one job races the step on all of them.
    rule beam_joint_step:
        input:
            previous=get_joint_previous_step,
            step1="results/beam/all/step1.json",
            own=get_own_steps,
            full=[eval_store("full", d, ANALYSIS_SPLIT) for d in DATASETS],
            data=[prepared(d, ANALYSIS_SPLIT) for d in DATASETS],
            model=get_model(),
        output:
            "results/beam/all/step{k}.json",
        log:
            "logs/beam/all/step{k}.log",
        benchmark:
            "benchmarks/beam/all/step{k}.tsv"
        wildcard_constraints:
            k="[2-9]|[1-9][0-9]+",
        conda:
            "../envs/vlmprune.yaml"
        threads: EVALUATION_THREADS
        resources:
            **GPU_RESOURCES,
        params:
            evals_dirs=ANALYSIS_STORES,
            beam_width=config["beam"]["beam_width"],
            objective=config["beam"]["objective"],
            racing=config["beam"]["racing"],
            model=MODEL_SETTINGS,
            evaluations=get_evaluations_settings(),
            importance=config["importance"],
        script:
            "../scripts/beam_joint_step.py"

else:

    # One job per dataset evaluates what joint step k lacks there, then one job ranks the sets.
    rule beam_joint_evaluate:
        input:
            previous=get_joint_previous_step,
            step1="results/beam/all/step1.json",
            own=get_own_steps,
            full=eval_store("full", split=ANALYSIS_SPLIT),
            data=prepared(split=ANALYSIS_SPLIT),
            model=get_model(),
        output:
            "results/beam/all/step{k}/{dataset}.json",
        log:
            "logs/beam/all/step{k}/{dataset}.log",
        benchmark:
            "benchmarks/beam/all/step{k}/{dataset}.tsv"
        wildcard_constraints:
            k="[2-9]|[1-9][0-9]+",
        conda:
            "../envs/vlmprune.yaml"
        threads: EVALUATION_THREADS
        resources:
            **GPU_RESOURCES,
        params:
            split=ANALYSIS_SPLIT,
            model=MODEL_SETTINGS,
            evaluation=get_evaluation_settings,
        script:
            "../scripts/beam_joint_evaluate.py"

    rule beam_joint_step:
        input:
            previous=get_joint_previous_step,
            step1="results/beam/all/step1.json",
            own=get_own_steps,
            evaluated=get_joint_evaluated,
        output:
            "results/beam/all/step{k}.json",
        log:
            "logs/beam/all/step{k}.log",
        benchmark:
            "benchmarks/beam/all/step{k}.tsv"
        wildcard_constraints:
            k="[2-9]|[1-9][0-9]+",
        conda:
            "../envs/vlmprune.yaml"
        params:
            evals_dirs=ANALYSIS_STORES,
            beam_width=config["beam"]["beam_width"],
            objective=config["beam"]["objective"],
            importance=config["importance"],
        script:
            "../scripts/beam_joint_step.py"


rule beam_joint_validate:
    input:
        steps=get_joint_step_files,
        own=get_beam_validation,
        full=eval_store("full"),
        dropped=get_single_block_stores,
        data=prepared(),
        model=get_model(),
    output:
        "results/beam/all/validate_{split}/{dataset}.json",
    log:
        "logs/beam/all/validate_{split}/{dataset}.log",
    benchmark:
        "benchmarks/beam/all/validate_{split}/{dataset}.tsv"
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


rule beam_joint:
    input:
        steps=get_joint_step_files,
        validations=get_joint_validations,
    output:
        json="results/beam/all.json",
        png=report(
            "results/beam/all.png",
            caption="../report/beam_joint.rst",
            category="Beam search",
            subcategory="all datasets",
            labels={"dataset": "all datasets"},
        ),
    log:
        "logs/beam/all.log",
    benchmark:
        "benchmarks/beam/all.tsv"
    conda:
        "../envs/vlmprune.yaml"
    script:
        "../scripts/beam_joint_summary.py"


rule latency_all:
    input:
        beam="results/beam/all.json",
        data=prepared(DATASETS[0], ANALYSIS_SPLIT),
        model=get_model(),
    output:
        "results/latency/all.json",
    log:
        "logs/latency/all.log",
    benchmark:
        "benchmarks/latency/all.tsv"
    conda:
        "../envs/vlmprune.yaml"
    threads: ALL_CORES  # timed alone: no other job shares the machine
    resources:
        gpu=min(1, config["resources"]["gpus_per_job"]),
        mem_mb=8000,
    params:
        prompts=DATASETS[0],
        model=MODEL_SETTINGS,
        evaluation=evaluation_settings(config, DATASETS[0]),
        latency=config["latency"],
    script:
        "../scripts/latency.py"


rule tradeoff_all:
    input:
        beam="results/beam/all.json",
        latency="results/latency/all.json",
    output:
        json="results/tradeoff/all.json",
        png=report(
            "results/tradeoff/all.png",
            caption="../report/tradeoff_joint.rst",
            category="Accuracy-latency trade-off",
            subcategory="all datasets",
            labels={"dataset": "all datasets"},
        ),
    log:
        "logs/tradeoff/all.log",
    benchmark:
        "benchmarks/tradeoff/all.tsv"
    conda:
        "../envs/vlmprune.yaml"
    script:
        "../scripts/tradeoff.py"
