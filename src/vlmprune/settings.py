"""The workflow's configuration: validated and normalised once, and the slice each rule passes on.

``rules/common.smk`` calls :func:`load_config` at start-up and the rules' ``params:`` call the
``*_settings`` functions, so a test can build exactly what a rule passes to its script.
Defaults live in the schema alone (``workflow/schemas/config.schema.yaml``); validation fills
them in, so nothing here repeats one.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

from vlmprune.data.registry import available_datasets, get_spec
from vlmprune.errors import ConfigError

SCHEMA = Path(__file__).resolve().parents[2] / "workflow" / "schemas" / "config.schema.yaml"


def load_config(config: dict[str, Any], schema: str | Path = SCHEMA) -> dict[str, Any]:
    """Validate ``config`` against the schema (filling in its defaults) and normalise it, in place.

    ``datasets: all`` (or an ``all`` entry) becomes every registered dataset whose data is
    present, with the ``all`` entry's settings; every dataset gets its default splits. Raises
    :class:`ConfigError` naming the key when a dataset is unknown or lacks the analysis split, or
    when MULTIFLOW's calibration or evaluation names what is not configured.
    """
    from snakemake.utils import validate

    if isinstance(config.get("beam"), dict) and config["beam"].get("racing") is True:
        config["beam"]["racing"] = {}  # true: racing with the schema's defaults
    validate(config, str(schema))
    default_splits = yaml.safe_load(Path(schema).read_text())["$defs"]["dataset"]["properties"][
        "splits"
    ]["default"]
    if config["datasets"] == "all":
        config["datasets"] = {"all": {}}
    datasets = config["datasets"]
    if "all" in datasets:
        shared = datasets.pop("all")
        paths = {name: entry["path"] for name, entry in datasets.items() if "path" in entry}
        for name in available_datasets(paths):
            datasets.setdefault(name, dict(shared))
    analysis_split = config["evaluation"]["analysis_split"]
    for name, entry in datasets.items():
        try:
            get_spec(name)
        except KeyError as error:
            raise ConfigError(f"datasets.{name}: {error.args[0]}") from None
        entry.setdefault("splits", list(default_splits))
        if analysis_split not in entry["splits"]:
            raise ConfigError(
                f"datasets.{name}.splits is {entry['splits']} but evaluation.analysis_split is {analysis_split!r}; add it to the splits"
            )
    check_multiflow(config)
    check_racing(config)
    return config


def check_racing(config: dict[str, Any]) -> None:
    """``beam.racing``: the first look within each dataset's samples, per-sample scores to race."""
    from vlmprune.metrics import CORPUS_METRICS

    racing = config["beam"]["racing"]
    if not racing:
        return
    for name, entry in config["datasets"].items():
        samples = entry.get("num_samples", config["evaluation"]["num_samples"])
        if racing["min_samples"] > samples:
            raise ConfigError(
                f"beam.racing.min_samples is {racing['min_samples']}, more than the {samples} "
                f"samples of dataset {name}; set it to at most {samples}"
            )
        metric = entry.get("metric", get_spec(name).metric)
        if metric in CORPUS_METRICS:
            raise ConfigError(
                f"beam.racing needs a score per sample, but dataset {name}'s metric {metric} is "
                "scored over the whole corpus; set beam.racing: false"
            )


def check_multiflow(config: dict[str, Any]) -> None:
    """Steps 2-3 (when ``multiflow.methods`` asks for them): calibration source and evaluated targets and datasets."""
    multiflow, datasets = config["multiflow"], config["datasets"]
    if not multiflow["methods"]:
        return
    calibration = multiflow["calibration"]
    calibration["dataset"] = calibration["dataset"] or next(iter(datasets))
    calibration["split"] = calibration["split"] or config["evaluation"]["analysis_split"]
    if calibration["dataset"] not in datasets:
        raise ConfigError(
            f"multiflow.calibration.dataset {calibration['dataset']!r} is not a configured dataset; "
            f"use one of {list(datasets)} (or null for the first)"
        )
    splits = datasets[calibration["dataset"]]["splits"]
    if calibration["split"] not in splits:
        raise ConfigError(
            f"multiflow.calibration.split {calibration['split']!r} is not among datasets.{calibration['dataset']}.splits "
            f"{splits}; add it there or choose another"
        )
    outside = [s for s in multiflow["evaluate_targets"] or multiflow["targets"] if not 0 < s < 1]
    if outside:
        raise ConfigError(
            f"multiflow targets {outside} cannot be evaluated: pruning needs a sparsity strictly between 0 and 1; "
            "set multiflow.evaluate_targets to the ones that are"
        )
    unknown = [d for d in multiflow["evaluate_datasets"] or [] if d not in datasets]
    if unknown:
        raise ConfigError(
            f"multiflow.evaluate_datasets {unknown} are not configured datasets; use some of {list(datasets)}"
        )


def schema_defaults(section: str, schema: str | Path = SCHEMA) -> dict[str, Any]:
    """The schema's defaults of one top-level section, for command lines that run outside the workflow."""
    properties = yaml.safe_load(Path(schema).read_text())["properties"][section]["properties"]
    return {key: spec["default"] for key, spec in properties.items() if "default" in spec}


def model_settings(config: Mapping[str, Any]) -> dict[str, Any]:
    """What an evaluation script needs to load the model: the model section and the ablated component."""
    return {**config["model"], "component": config["ablation"]["component"]}


def evaluation_settings(config: Mapping[str, Any], dataset: str) -> dict[str, Any]:
    """One dataset's evaluation settings: the global ones, with the dataset entry's overrides."""
    entry = config["datasets"][dataset]
    evaluation = config["evaluation"]
    spec = get_spec(dataset)
    return {
        "num_samples": entry.get("num_samples", evaluation["num_samples"]),
        "seed": evaluation["seed"],
        "selection": evaluation["selection"],
        "batch_size": evaluation["batch_size"],
        "chunk_size": evaluation["chunk_size"],
        "metric": entry.get("metric", spec.metric),
        "secondary_metric": spec.secondary_metric,
        "max_new_tokens": spec.max_new_tokens,
    }
