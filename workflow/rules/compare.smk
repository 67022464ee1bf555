rule compare:
    input:
        unpack(get_compare_inputs),
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
        compare=config["compare"],
    script:
        "../scripts/compare.py"


rule compare_all:
    input:
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
    script:
        "../scripts/compare_all.py"
