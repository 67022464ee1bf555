# Helpers and input functions shared by the rules. Each rule's params carry only its own
# slice of the config, so that adding a dataset or changing one leaves the others' jobs alone.

import json
import re
from pathlib import Path

from snakemake.utils import validate

from vlmprune.data.registry import available_datasets, get_spec
from vlmprune.demo.blocks import demo_block_count
from vlmprune.models.loading import count_blocks


validate(config, workflow.source_path("../workflow/schemas/config.schema.yaml"))

DEMO_MODEL = "data/models/demo-llava"
SCRIPTS = Path(workflow.basedir, "workflow", "scripts")
if config["datasets"] == "all":
    config["datasets"] = {"all": {}}
if "all" in config["datasets"]:
    # every registered dataset whose data is present, with the "all" entry's settings
    _defaults = config["datasets"].pop("all")
    _paths = {name: entry["path"] for name, entry in config["datasets"].items() if "path" in entry}
    for _name in available_datasets(_paths):
        config["datasets"].setdefault(_name, {"splits": ["train", "val"], **_defaults})
for _entry in config["datasets"].values():
    _entry.setdefault("splits", ["train", "val"])
DATASETS = list(config["datasets"])
for _name in DATASETS:
    get_spec(_name)  # an unknown name stops here with the list of known ones
SPLITS = sorted({s for d in config["datasets"].values() for s in d["splits"]})
ANALYSIS_SPLIT = config["evaluation"]["analysis_split"]
for _name, _entry in config["datasets"].items():
    if ANALYSIS_SPLIT not in _entry["splits"]:
        raise ValueError(
            f"datasets.{_name}.splits is {_entry['splits']} but evaluation.analysis_split is {ANALYSIS_SPLIT!r}; add it to the splits"
        )


wildcard_constraints:
    dataset="|".join(re.escape(d) for d in DATASETS),
    split="|".join(SPLITS),


def model_path():
    return config["model"]["path"]


def model_input():
    """The model directory as an input (the demo model is built by rule demo_model); none for a hub id."""
    path = model_path()
    if path == DEMO_MODEL or Path(path).exists():
        return path
    if re.fullmatch(r"[\w.-]+/[\w.-]+", path):
        return []
    raise ValueError(
        f"model.path {path!r} does not exist; point it at a directory written by save_pretrained (or a hub id org/name)"
    )


def model_params():
    return json.dumps({**config["model"], "component": config["ablation"]["component"]})


def num_blocks():
    component = config["ablation"]["component"]
    if model_path() == DEMO_MODEL and not Path(DEMO_MODEL, "config.json").exists():
        return demo_block_count(config.get("demo_model", {}), component)
    return count_blocks(model_path(), adapter=config["model"]["adapter"], component=component)


def evaluation_params(wildcards):
    """This dataset's evaluation settings (dataset entries override the global ones)."""
    spec = get_spec(wildcards.dataset)
    entry = config["datasets"][wildcards.dataset]
    evaluation = config["evaluation"]
    return json.dumps(
        {
            "num_samples": entry.get("num_samples", evaluation["num_samples"]),
            "seed": evaluation["seed"],
            "batch_size": evaluation["batch_size"],
            "chunk_size": evaluation["chunk_size"],
            "metric": entry.get("metric", spec.metric),
            "max_new_tokens": spec.max_new_tokens,
        }
    )


def prepared(dataset="{dataset}", split="{split}"):
    return f"data/prepared/{dataset}/{split}"


def eval_store(variant, dataset="{dataset}", split="{split}"):
    return f"results/evals/{dataset}/{split}/{variant}.h5"


def single_block_stores(wildcards):
    return [eval_store(f"drop-{i}", wildcards.dataset, wildcards.split) for i in range(num_blocks())]


def all_targets():
    importance = [f"results/importance/{d}.json" for d in DATASETS] + [
        f"results/importance/{d}/{s}.json" for d in DATASETS for s in config["datasets"][d]["splits"]
    ]
    multiflow = [f"results/multiflow/sparsity_distribution_{s}.json" for s in config["multiflow"]["targets"]]
    return importance + multiflow + compare_targets() + beam_targets() + sparsity_targets()


def compared_datasets():
    """The datasets configured with both splits: those the train-versus-validation comparison covers."""
    return [d for d in DATASETS if {"train", "val"} <= set(config["datasets"][d]["splits"])]


def compare_inputs(wildcards):
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
        inputs[f"{split}_dropped"] = [eval_store(f"drop-{i}", wildcards.dataset, split) for i in range(num_blocks())]
        inputs[f"{split}_proxies"] = f"results/baseline/{wildcards.dataset}/{split}.proxies.json"
    return inputs


def compare_targets():
    return [f"results/compare/{d}.json" for d in compared_datasets()] + ["results/compare/all.json"]


def beam_step_files(wildcards):
    """Steps 1..max_blocks_to_remove of a dataset's beam search, stopping where one block would remain."""
    steps = min(config["beam"]["max_blocks_to_remove"], num_blocks() - 1)
    return [f"results/beam/{wildcards.dataset}/step{k}.json" for k in range(1, steps + 1)]


def beam_previous_step(wildcards):
    return f"results/beam/{wildcards.dataset}/step{int(wildcards.k) - 1}.json"


def beam_validation(wildcards):
    """The beams evaluated on beam.validate_on ([] when it is null), a configured split other than the analysis split."""
    split = config["beam"]["validate_on"]
    if split is None:
        return []
    splits = config["datasets"][wildcards.dataset]["splits"]
    if split == ANALYSIS_SPLIT or split not in splits:
        raise ValueError(
            f"beam.validate_on is {split!r}: it must be one of datasets.{wildcards.dataset}.splits {splits} "
            f"other than evaluation.analysis_split {ANALYSIS_SPLIT!r}"
        )
    return [f"results/beam/{wildcards.dataset}/validate_{split}.json"]


def beam_targets():
    return [f"results/beam/{d}.json" for d in DATASETS]


def calibration_source():
    """Dataset and split of the MULTIFLOW calibration records; one that is not configured stops here."""
    calibration = config["multiflow"]["calibration"]
    dataset = calibration["dataset"] or DATASETS[0]
    if dataset not in config["datasets"]:
        raise ValueError(
            f"multiflow.calibration.dataset {dataset!r} is not a configured dataset; use one of {DATASETS} "
            "(or null for the first)"
        )
    split = calibration["split"] or ANALYSIS_SPLIT
    if split not in config["datasets"][dataset]["splits"]:
        raise ValueError(
            f"multiflow.calibration.split {split!r} is not among datasets.{dataset}.splits "
            f"{config['datasets'][dataset]['splits']}; add it there or choose another"
        )
    return dataset, split


def get_calibration_data(wildcards):
    return prepared(*calibration_source())


def pruning_targets():
    """The sparsities the pruning methods are evaluated at: multiflow.evaluate_targets, else multiflow.targets."""
    targets = config["multiflow"]["evaluate_targets"] or config["multiflow"]["targets"]
    outside = [s for s in targets if not 0 < s < 1]
    if outside:
        raise ValueError(
            f"multiflow targets {outside} cannot be evaluated: pruning needs a sparsity strictly between 0 and 1; "
            "set multiflow.evaluate_targets to the ones that are"
        )
    return [float(s) for s in targets]


def pruning_variants():
    """Width variant ids, ``multiflow-0.5``, in method then target order."""
    return [f"{m}-{s!r}" for m in config["multiflow"]["methods"] for s in pruning_targets()]


def pruned_datasets():
    datasets = config["multiflow"]["evaluate_datasets"] or DATASETS
    unknown = [d for d in datasets if d not in config["datasets"]]
    if unknown:
        raise ValueError(f"multiflow.evaluate_datasets {unknown} are not configured datasets; use some of {DATASETS}")
    return datasets


def get_mask_budgets(wildcards):
    """Step 1's budgets, for the methods that prune each layer to its budget (wanda does not)."""
    if wildcards.method == "wanda":
        return []
    return f"results/multiflow/sparsity_distribution_{wildcards.sparsity}.json"


def get_sparsity_stores(wildcards):
    return [eval_store(v, wildcards.dataset, ANALYSIS_SPLIT) for v in pruning_variants()]


def get_sparsity_summaries(wildcards):
    return [f"results/multiflow/masks_{v.replace('-', '_', 1)}.json" for v in pruning_variants()]


def sparsity_targets():
    if not config["multiflow"]["methods"]:
        return []
    calibration_source()  # a calibration set that is not configured stops the run before any job starts
    return [f"results/sparsity/{d}.json" for d in pruned_datasets()]
