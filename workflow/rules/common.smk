# Helpers and input functions shared by the rules. Each rule's params carry only its own
# slice of the config, so that adding a dataset or changing one leaves the others' jobs alone.

import re
from pathlib import Path

from snakemake.logging import logger

from vlmprune.demo.blocks import demo_block_count
from vlmprune.engine.variants import removed_blocks, width_variant_id
from vlmprune.settings import (
    check_data_available,
    check_results_model,
    evaluation_settings,
    load_config,
    model_settings,
)

# Everything knowable before a job is checked here, so that a config that cannot succeed stops
# `snakemake` (and `snakemake -n`) before Snakemake deletes the outputs of any job it would run.
load_config(config, workflow.source_path("../schemas/config.schema.yaml"))

DEMO_MODEL = "data/models/demo-llava"
DATASETS = list(config["datasets"])
SPLITS = sorted({s for d in config["datasets"].values() for s in d["splits"]})
ANALYSIS_SPLIT = config["evaluation"]["analysis_split"]

# An evaluation job runs one process per GPU (one on the CPU) and shares its threads among
# them (vlmprune.workflow_script.start_processes). On a CPU, two one-thread jobs side by side
# finish the demo's DAG sooner than one two-thread job at a time (docs/engine.md, "Threads");
# on SLURM the profile's set-threads gives each job its cpus_per_gpu.
EVALUATION_THREADS = 1

# The ablations and the beam search (steps, validation, summary) are the DAG's longest chain:
# Snakemake starts their jobs before other ready ones, which then fill the cores left free.
LONGEST_CHAIN_PRIORITY = 1


# More threads than any machine has: Snakemake lowers them to --cores, so such a job runs alone.
ALL_CORES = 4096
GPU_RESOURCES = {"gpu": config["resources"]["gpus_per_job"], "mem_mb": 8000}


wildcard_constraints:
    dataset="|".join(re.escape(d) for d in DATASETS),
    split="|".join(SPLITS),


def get_model():
    """The model directory as an input (the demo model is built by rule demo_model); none for a hub id."""
    path = config["model"]["path"]
    if path == DEMO_MODEL or Path(path).exists():
        return path
    if re.fullmatch(r"[\w.-]+/[\w.-]+", path):
        return []
    raise ValueError(
        f"model.path {path!r} does not exist; point it at a directory written by save_pretrained (or a hub id org/name)"
    )


def get_num_blocks():
    """How many blocks the ablated component has: from config.json (the demo's from its recipe).

    The model's options are checked on the way: a key its adapter would ignore stops the run here.
    """
    model, component = config["model"], config["ablation"]["component"]
    if model["path"] == DEMO_MODEL and not Path(DEMO_MODEL, "config.json").exists():
        return demo_block_count(config["demo_model"], component)
    # imported here: the adapters import torch and transformers, seconds that a first demo run need not wait
    from vlmprune.models.loading import check_model_options, count_blocks
    from vlmprune.multiflow.tower import check_tower_setting

    check_model_options(
        model["path"],
        adapter=model["adapter"],
        trust_remote_code=model["trust_remote_code"],
        allow_pickle=model["allow_pickle"],
    )
    multiflow = config["multiflow"]
    check_tower_setting(model["path"], multiflow["architecture"], multiflow["vision_tower_path"])
    return count_blocks(model["path"], adapter=model["adapter"], component=component)


def get_evaluation_settings(wildcards):
    """This dataset's evaluation settings (dataset entries override the global ones)."""
    return evaluation_settings(config, wildcards.dataset)


def prepared(dataset="{dataset}", split="{split}"):
    return f"data/prepared/{dataset}/{split}"


def eval_store(variant, dataset="{dataset}", split="{split}"):
    return f"results/evals/{dataset}/{split}/{variant}.h5"


get_model()  # a model.path that does not exist stops here
check_results_model(config["model"]["path"])
check_data_available(config, prepared)
NUM_BLOCKS = get_num_blocks()
MODEL_SETTINGS = model_settings(config)


def single_block_stores(dataset="{dataset}", split="{split}"):
    return [eval_store(f"drop-{i}", dataset, split) for i in range(NUM_BLOCKS)]


def get_single_block_stores(wildcards):
    return single_block_stores(wildcards.dataset, wildcards.split)


def get_all_targets():
    importance = [f"results/importance/{d}.json" for d in DATASETS] + [
        f"results/importance/{d}/{s}.json"
        for d in DATASETS
        for s in config["datasets"][d]["splits"]
    ]
    multiflow = [
        f"results/multiflow/sparsity_distribution_{s}.json" for s in config["multiflow"]["targets"]
    ]
    return (
        importance
        + multiflow
        + get_compare_targets()
        + get_beam_targets()
        + get_tradeoff_targets()
        + get_sparsity_targets()
        + ["results/findings.json"]
    )


def get_kept_results():
    """Every result a finished run keeps that later ones are computed from; rule all asks for them.

    Snakemake rebuilds a missing file only when a file it is asked for needs it: without this
    list, a store deleted (or removed by a job killed before its first chunk) under an existing
    importance file would never be rebuilt. With it, the missing file's job runs again and so do
    the jobs downstream of it. Prepared data are left out: they are a copy of the source, and
    rebuilding them would rerun every evaluation.
    """
    kept = [f for d in DATASETS for f in kept_results(d)]
    if config["multiflow"]["methods"]:
        kept += ["results/multiflow/calibration.safetensors"]
        for v in pruning_variants():
            kept += [
                f"results/multiflow/masks_{v.replace('-', '_', 1)}.{x}"
                for x in ("json", "safetensors")
            ]
    return kept


def kept_results(dataset):
    """One dataset's share of get_kept_results."""
    kept = []
    for s in config["datasets"][dataset]["splits"]:
        kept += [eval_store("full", dataset, s), *single_block_stores(dataset, s)]
        kept += [f"results/baseline/{dataset}/{s}.{x}" for x in ("json", "proxies.json")]
        kept += [f"results/importance/{dataset}/{s}.details.json"]
    kept += beam_step_files(dataset) + beam_validation(dataset)
    kept += [f"results/latency/{dataset}.json"]
    if config["multiflow"]["methods"] and dataset in (
        config["multiflow"]["evaluate_datasets"] or DATASETS
    ):
        kept += [eval_store(v, dataset, ANALYSIS_SPLIT) for v in pruning_variants()]
    return kept


def warn_of_missing_results():
    """Name the kept results that are missing where their dataset's final results exist.

    A plain `snakemake` (rule all) rebuilds them; a run of named targets that exist leaves
    those targets as they are, so the user is told at every start.
    """
    missing = [
        f
        for d in DATASETS
        if Path(f"results/importance/{d}.json").exists()
        for f in kept_results(d)
        if not Path(f).exists()
    ]
    if missing:
        logger.warning(
            f"missing, while results computed from them exist: {', '.join(missing[:3])}"
            f"{f' and {len(missing) - 3} more' if len(missing) > 3 else ''}. A plain `snakemake` "
            "rebuilds them and reruns what is computed from them; named targets that exist are "
            'left as they are (docs/troubleshooting.md, "Missing outputs")'
        )


def remove_export_timestamps():
    """An export is handed on as it is: Snakemake's marker file in a directory output goes."""
    for marker in Path("results/pruned").glob("*/.snakemake_timestamp"):
        marker.unlink()


def compared_datasets():
    """The datasets configured with both splits: those the train-versus-validation comparison covers."""
    return [d for d in DATASETS if {"train", "val"} <= set(config["datasets"][d]["splits"])]


def get_compare_inputs(wildcards):
    """Importance details, evaluation stores and one-pass proxies of both splits of a dataset."""
    if wildcards.dataset not in compared_datasets():
        raise ValueError(
            f"datasets.{wildcards.dataset}.splits is {config['datasets'][wildcards.dataset]['splits']}; "
            "the train-versus-validation comparison needs [train, val]"
        )
    inputs = {}
    for split in ("train", "val"):
        inputs[f"{split}_details"] = f"results/importance/{wildcards.dataset}/{split}.details.json"
        inputs[f"{split}_full"] = eval_store("full", wildcards.dataset, split)
        inputs[f"{split}_dropped"] = single_block_stores(wildcards.dataset, split)
        inputs[f"{split}_proxies"] = f"results/baseline/{wildcards.dataset}/{split}.proxies.json"
    return inputs


def get_compare_targets():
    return [f"results/compare/{d}.json" for d in compared_datasets()] + ["results/compare/all.json"]


def beam_step_files(dataset):
    """Steps 1..max_blocks_to_remove of a dataset's beam search, stopping where one block would remain."""
    steps = min(config["beam"]["max_blocks_to_remove"], NUM_BLOCKS - 1)
    return [f"results/beam/{dataset}/step{k}.json" for k in range(1, steps + 1)]


def get_beam_step_files(wildcards):
    return beam_step_files(wildcards.dataset)


def get_beam_previous_step(wildcards):
    return f"results/beam/{wildcards.dataset}/step{int(wildcards.k) - 1}.json"


def beam_validation(dataset):
    """The beams evaluated on beam.validate_on, where this dataset has that split and it is not the analysis split."""
    split = config["beam"]["validate_on"]
    if split in (None, ANALYSIS_SPLIT) or split not in config["datasets"][dataset]["splits"]:
        return []
    return [f"results/beam/{dataset}/validate_{split}.json"]


def get_beam_validation(wildcards):
    return beam_validation(wildcards.dataset)


def get_findings_details(wildcards):
    """Each dataset's importance details on the analysis split."""
    return [f"results/importance/{d}/{ANALYSIS_SPLIT}.details.json" for d in DATASETS]


def get_beam_targets():
    return [f"results/beam/{d}.json" for d in DATASETS] + (
        ["results/beam/all.json"] if JOINT else []
    )


def get_tradeoff_targets():
    return [f"results/tradeoff/{d}.json" for d in DATASETS] + (
        ["results/tradeoff/all.json"] if JOINT else []
    )


# The joint search (beam.objective mean or worst) over every configured dataset, results/beam/all/.
JOINT = config["beam"]["objective"] != "per_dataset"
ANALYSIS_STORES = {d: f"results/evals/{d}/{ANALYSIS_SPLIT}" for d in DATASETS}


def get_joint_step_files(wildcards):
    """Steps 1..max_blocks_to_remove of the joint search."""
    steps = min(config["beam"]["max_blocks_to_remove"], NUM_BLOCKS - 1)
    return [f"results/beam/all/step{k}.json" for k in range(1, steps + 1)]


def get_joint_previous_step(wildcards):
    return f"results/beam/all/step{int(wildcards.k) - 1}.json"


def get_own_steps(wildcards):
    """Every dataset's own step k: its recommended set, and stores the joint step may reuse."""
    return [f"results/beam/{d}/step{wildcards.k}.json" for d in DATASETS]


def get_joint_evaluated(wildcards):
    return [f"results/beam/all/step{wildcards.k}/{d}.json" for d in DATASETS]


def get_joint_validations(wildcards):
    """The joint sets on beam.validate_on, for each dataset configured with that split."""
    split = config["beam"]["validate_on"]
    if split in (None, ANALYSIS_SPLIT):
        return []
    return [
        f"results/beam/all/validate_{split}/{d}.json"
        for d in DATASETS
        if split in config["datasets"][d]["splits"]
    ]


def get_evaluations_settings():
    """Every dataset's evaluation settings (the racing joint step evaluates all)."""
    return {d: evaluation_settings(config, d) for d in DATASETS}


def get_export_inputs(wildcards):
    """The variant's and the full model's stores on each dataset's analysis split, and each dataset's latency.

    A variant id that is malformed or names a block the model lacks stops here, with the valid range.
    """
    removed_blocks(wildcards.variant, NUM_BLOCKS, config["ablation"]["component"])
    return {
        "full": [eval_store("full", d, ANALYSIS_SPLIT) for d in DATASETS],
        "stores": [eval_store(wildcards.variant, d, ANALYSIS_SPLIT) for d in DATASETS],
        "latency": [f"results/latency/{d}.json" for d in DATASETS],
        **({"joint": "results/beam/all.json"} if JOINT else {}),
    }


def get_calibration_data(wildcards):
    """The prepared records MULTIFLOW calibrates on (multiflow.calibration, checked by load_config)."""
    calibration = config["multiflow"]["calibration"]
    return prepared(calibration["dataset"], calibration["split"])


def pruning_variants():
    """Width variant ids, ``multiflow-0.5``, in method then target order."""
    targets = config["multiflow"]["evaluate_targets"] or config["multiflow"]["targets"]
    return [width_variant_id(m, s) for m in config["multiflow"]["methods"] for s in targets]


def get_mask_budgets(wildcards):
    """Step 1's budgets, for the methods that prune each layer to its budget (wanda does not)."""
    if wildcards.method == "wanda":
        return []
    return f"results/multiflow/sparsity_distribution_{wildcards.sparsity}.json"


def get_sparsity_stores(wildcards):
    return [eval_store(v, wildcards.dataset, ANALYSIS_SPLIT) for v in pruning_variants()]


def get_sparsity_summaries(wildcards):
    return [f"results/multiflow/masks_{v.replace('-', '_', 1)}.json" for v in pruning_variants()]


def get_sparsity_targets():
    if not config["multiflow"]["methods"]:
        return []
    return [
        f"results/sparsity/{d}.json" for d in config["multiflow"]["evaluate_datasets"] or DATASETS
    ]


warn_of_missing_results()
