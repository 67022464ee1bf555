# The joint search (beam.objective mean or worst): one beam search over every configured dataset,
# results/beam/all/. Its step k follows every dataset's own step k, whose stores it reuses and
# whose recommended sets it holds too; its trade-off times each of those sets once.


rule beam_joint_step_1:
    input:
        script=f"{SCRIPTS}/beam_joint_step1.py",
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
        datasets=" ".join(DATASETS),
        evals_dirs=" ".join(ANALYSIS_STORES),
        beam_width=config["beam"]["beam_width"],
        objective=config["beam"]["objective"],
        importance=json.dumps(config["importance"]),
    shell:
        "python {input.script} --datasets {params.datasets} --evals-dirs {params.evals_dirs} "
        "--own-steps {input.own} --beam-width {params.beam_width} --objective {params.objective} "
        "--importance {params.importance:q} --out {output} > {log} 2>&1"


if config["beam"]["racing"]:

    # Racing decides on every dataset's samples at once: one job races the step on all of them.
    rule beam_joint_step:
        input:
            script=f"{SCRIPTS}/beam_joint_step.py",
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
            datasets=" ".join(DATASETS),
            evals_dirs=" ".join(ANALYSIS_STORES),
            beam_width=config["beam"]["beam_width"],
            objective=config["beam"]["objective"],
            racing=json.dumps(config["beam"]["racing"]),
            model=MODEL_SETTINGS,
            evaluations=get_evaluations_settings(),
            importance=json.dumps(config["importance"]),
        shell:
            evaluation_shell(
                "--datasets {params.datasets} --evals-dirs {params.evals_dirs} --data {input.data} "
                "--previous {input.previous} --step1 {input.step1} --own-steps {input.own} "
                "--beam-width {params.beam_width} --objective {params.objective} "
                "--racing {params.racing:q} --model {params.model:q} "
                "--evaluations {params.evaluations:q} --importance {params.importance:q} "
                "--out {output} > {log} 2>&1"
            )

else:

    # One job per dataset evaluates what joint step k lacks there, then one job ranks the sets.
    rule beam_joint_evaluate:
        input:
            script=f"{SCRIPTS}/beam_joint_evaluate.py",
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
        shell:
            evaluation_shell(
                "--data {input.data} --dataset {wildcards.dataset} --split {params.split} "
                "--previous {input.previous} --step1 {input.step1} --own-steps {input.own} "
                "--evals-dir $(dirname {input.full}) --model {params.model:q} "
                "--evaluation {params.evaluation:q} --out {output} > {log} 2>&1"
            )

    rule beam_joint_step:
        input:
            script=f"{SCRIPTS}/beam_joint_step.py",
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
            datasets=" ".join(DATASETS),
            evals_dirs=" ".join(ANALYSIS_STORES),
            beam_width=config["beam"]["beam_width"],
            objective=config["beam"]["objective"],
            importance=json.dumps(config["importance"]),
        shell:
            "python {input.script} --datasets {params.datasets} --evals-dirs {params.evals_dirs} "
            "--previous {input.previous} --step1 {input.step1} --own-steps {input.own} "
            "--evaluated {input.evaluated} --beam-width {params.beam_width} "
            "--objective {params.objective} --importance {params.importance:q} "
            "--out {output} > {log} 2>&1"


rule beam_joint_validate:
    input:
        script=f"{SCRIPTS}/beam_validate.py",
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
        importance=json.dumps(config["importance"]),
    shell:
        evaluation_shell(
            "--data {input.data} --dataset {wildcards.dataset} --split {wildcards.split} "
            "--steps {input.steps} --evals-dir $(dirname {input.full}) "
            "--model {params.model:q} --evaluation {params.evaluation:q} "
            "--importance {params.importance:q} --out {output} > {log} 2>&1"
        )


rule beam_joint:
    input:
        script=f"{SCRIPTS}/beam_joint_summary.py",
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
    shell:
        "python {input.script} --steps {input.steps} --validations {input.validations} "
        "--json {output.json} --png {output.png} > {log} 2>&1"


rule latency_all:
    input:
        script=f"{SCRIPTS}/latency.py",
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
        evaluation=json.dumps(evaluation_settings(config, DATASETS[0])),
        latency=json.dumps(config["latency"]),
    shell:
        "python {input.script} --data {input.data} --dataset {params.prompts} --label all "
        "--beam {input.beam} --model {params.model:q} --evaluation {params.evaluation:q} "
        "--latency {params.latency:q} --out {output} > {log} 2>&1"


rule tradeoff_all:
    input:
        script=f"{SCRIPTS}/tradeoff.py",
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
    shell:
        "python {input.script} --beam {input.beam} --latency {input.latency} "
        "--json {output.json} --png {output.png} > {log} 2>&1"
