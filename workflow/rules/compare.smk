rule compare:
    input:
        unpack(get_compare_inputs),
        script=f"{SCRIPTS}/compare.py",
    output:
        json="results/compare/{dataset}.json",
        png=report(
            "results/compare/{dataset}.png",
            caption="../report/compare_dataset.rst",
            category="Train vs validation",
            subcategory="{dataset}",
            labels={"dataset": "{dataset}", "view": "figure"},
        ),
        html=report(
            "results/compare/{dataset}.html",
            caption="../report/compare_dataset_table.rst",
            category="Train vs validation",
            subcategory="{dataset}",
            labels={"dataset": "{dataset}", "view": "tables"},
        ),
    log:
        "logs/compare/{dataset}.log",
    benchmark:
        "benchmarks/compare/{dataset}.tsv"
    conda:
        "../envs/vlmprune.yaml"
    params:
        compare=json.dumps(config["compare"]),
    shell:
        "python {input.script} --dataset {wildcards.dataset} "
        "--train-details {input.train_details} --train-full {input.train_full} --train-dropped {input.train_dropped} "
        "--train-proxies {input.train_proxies} --val-details {input.val_details} --val-full {input.val_full} "
        "--val-dropped {input.val_dropped} --val-proxies {input.val_proxies} "
        "--json {output.json} --png {output.png} --html {output.html} --params {params.compare:q} > {log} 2>&1"


rule compare_all:
    input:
        script=f"{SCRIPTS}/compare_all.py",
        comparisons=[f"results/compare/{d}.json" for d in compared_datasets()],
        importance=[f"results/importance/{d}/{ANALYSIS_SPLIT}.details.json" for d in DATASETS],
    output:
        json="results/compare/all.json",
        png=report(
            "results/compare/all.png",
            caption="../report/compare_all.rst",
            category="Across datasets",
            labels={"view": "figure"},
        ),
        html=report(
            "results/compare/all.html",
            caption="../report/compare_all_table.rst",
            category="Across datasets",
            labels={"view": "tables"},
        ),
    log:
        "logs/compare/all.log",
    benchmark:
        "benchmarks/compare/all.tsv"
    conda:
        "../envs/vlmprune.yaml"
    params:
        threshold=config["compare"]["threshold"],
        analysis_split=ANALYSIS_SPLIT,
    shell:
        "python {input.script} --comparisons {input.comparisons} --importance {input.importance} "
        "--threshold {params.threshold} --analysis-split {params.analysis_split} "
        "--json {output.json} --png {output.png} --html {output.html} > {log} 2>&1"
