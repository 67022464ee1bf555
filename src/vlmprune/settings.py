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
    :class:`ConfigError` naming the key when a dataset is unknown or lacks the analysis split,
    or when ``beam.validate_on`` is the analysis split.
    """
    from snakemake.utils import validate

    validate(config, str(schema))
    default_splits = yaml.safe_load(Path(schema).read_text())["$defs"]["dataset"]["properties"]["splits"]["default"]
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
    validate_on = config["beam"]["validate_on"]
    if validate_on == analysis_split:
        raise ConfigError(
            f"beam.validate_on is {validate_on!r}, the analysis split itself; set it to the other split or null"
        )
    return config


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
