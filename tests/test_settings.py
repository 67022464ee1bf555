"""The configuration as the rules see it: validated, normalised, and sliced per rule."""

from __future__ import annotations

import pytest
import yaml

from vlmprune.errors import ConfigError
from vlmprune.settings import (
    SCHEMA,
    evaluation_settings,
    load_config,
    model_settings,
    schema_defaults,
)

EASY = ["easy_vqa", "easy_vqa_color", "easy_vqa_shape", "easy_vqa_yesno"]


def minimal(**sections) -> dict:
    return {"model": {"path": "data/models/demo-llava"}, "datasets": {"easy_vqa": {}}, **sections}


def test_schema_defaults_fill_every_section():
    config = load_config(minimal())
    schema = yaml.safe_load(SCHEMA.read_text())
    assert config["compare"] == {
        k: v["default"] for k, v in schema["properties"]["compare"]["properties"].items()
    }
    assert (
        config["evaluation"]["analysis_split"] == "train" and config["beam"]["validate_on"] == "val"
    )
    assert config["datasets"]["easy_vqa"]["splits"] == ["train", "val"]
    assert config["model"]["adapter"] == "auto" and config["model"]["trust_remote_code"] is False


def test_all_expands_to_the_available_datasets_with_the_shared_settings():
    config = load_config(
        minimal(datasets={"all": {"num_samples": 7}, "easy_vqa_color": {"num_samples": 3}})
    )
    present = [name for name in config["datasets"] if name.startswith("easy_vqa")]
    assert sorted(present) == sorted(EASY)
    assert config["datasets"]["easy_vqa"]["num_samples"] == 7
    assert config["datasets"]["easy_vqa_color"]["num_samples"] == 3  # an explicit entry wins
    assert "all" not in config["datasets"]
    assert load_config(minimal(datasets="all"))["datasets"].keys() >= set(EASY)


def test_unknown_dataset_names_the_key_and_the_known_ones():
    with pytest.raises(
        ConfigError, match=r"datasets\.easy_vqa_colour: unknown dataset .*easy_vqa_color"
    ):
        load_config(minimal(datasets={"easy_vqa_colour": {}}))


def test_a_dataset_without_the_analysis_split_is_refused():
    with pytest.raises(
        ConfigError,
        match=r"datasets\.easy_vqa\.splits is \['val'\] but evaluation\.analysis_split is 'train'",
    ):
        load_config(minimal(datasets={"easy_vqa": {"splits": ["val"]}}))


def test_multiflow_steps_name_only_configured_data():
    with pytest.raises(
        ConfigError,
        match="multiflow.calibration.dataset 'easy_vqa_color' is not a configured dataset",
    ):
        load_config(
            minimal(multiflow={"methods": ["wanda"], "calibration": {"dataset": "easy_vqa_color"}})
        )
    with pytest.raises(ConfigError, match=r"multiflow.evaluate_datasets \['tally_qa'\]"):
        load_config(minimal(multiflow={"methods": ["wanda"], "evaluate_datasets": ["tally_qa"]}))
    config = load_config(minimal(multiflow={"methods": ["wanda"]}))
    assert (
        config["multiflow"]["calibration"]["dataset"] == "easy_vqa"
        and config["multiflow"]["calibration"]["split"] == "train"
    )


def test_evaluation_settings_take_the_dataset_overrides():
    config = load_config(
        minimal(
            datasets={"easy_vqa": {"num_samples": 9, "metric": "vqa_official"}},
            evaluation={"batch_size": 4},
        )
    )
    settings = evaluation_settings(config, "easy_vqa")
    assert settings == {
        "num_samples": 9,
        "seed": 0,
        "selection": "random",
        "batch_size": 4,
        "chunk_size": 256,
        "metric": "vqa_official",
        "secondary_metric": None,
        "max_new_tokens": 4,
    }
    assert model_settings(config)["component"] == "language"


def test_schema_defaults_of_one_section():
    assert schema_defaults("compare")["threshold"] == 0.9
    assert schema_defaults("evaluation")["analysis_split"] == "train"


def test_beam_racing_is_off_by_default_and_a_mapping_or_true_turns_it_on_with_defaults():
    assert load_config(minimal())["beam"]["racing"] is False
    on = {"epsilon": 0.01, "delta": 0.05, "min_samples": 64}
    assert load_config(minimal(beam={"racing": True}))["beam"]["racing"] == on
    assert load_config(minimal(beam={"racing": {"delta": 0.1}}))["beam"]["racing"] == {
        **on,
        "delta": 0.1,
    }
    # racing works the same whichever way the ablations run
    assert load_config(minimal(beam={"racing": {}}, ablation={"fused": False}))["beam"]["racing"]


@pytest.mark.parametrize(
    ("racing", "key"),
    [
        ({"epsilon": 1.0}, "epsilon"),
        ({"epsilon": -0.1}, "epsilon"),
        ({"delta": 0}, "delta"),
        ({"delta": 1}, "delta"),
        ({"min_samples": 0}, "min_samples"),
    ],
)
def test_racing_settings_out_of_range_stop_at_validation_naming_the_key(racing, key):
    from snakemake.exceptions import WorkflowError

    with pytest.raises(WorkflowError, match=rf"\['beam'\]\['racing'\]\['{key}'\]"):
        load_config(minimal(beam={"racing": racing}))


def test_racing_min_samples_above_a_datasets_samples_or_a_corpus_metric_is_refused():
    with pytest.raises(ConfigError, match=r"beam\.racing\.min_samples is 600.*500 samples"):
        load_config(minimal(beam={"racing": {"min_samples": 600}}))
    with pytest.raises(
        ConfigError, match=r"min_samples is 64, more than the 50 samples of dataset easy_vqa"
    ):
        load_config(minimal(datasets={"easy_vqa": {"num_samples": 50}}, beam={"racing": {}}))
    with pytest.raises(
        ConfigError, match=r"dataset easy_vqa's metric cider is scored over the whole"
    ):
        load_config(minimal(datasets={"easy_vqa": {"metric": "cider"}}, beam={"racing": {}}))


def test_an_unknown_beam_objective_stops_at_validation_naming_the_allowed_values():
    from snakemake.exceptions import WorkflowError

    assert load_config(minimal())["beam"]["objective"] == "per_dataset"
    assert load_config(minimal(beam={"objective": "mean"}))["beam"]["objective"] == "mean"
    with pytest.raises(
        WorkflowError, match=r"'best' is not one of \['per_dataset', 'mean', 'worst'\]"
    ):
        load_config(minimal(beam={"objective": "best"}))
