"""Every configuration key is described in the schema and documented in config/README.md."""

from __future__ import annotations

import inspect
import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from vlmprune.demo.train import train_demo_model

REPO = Path(__file__).resolve().parents[1]
SCHEMA = yaml.safe_load((REPO / "workflow" / "schemas" / "config.schema.yaml").read_text())
README = (REPO / "config" / "README.md").read_text()
ROWS = dict(re.findall(r"^\| `([\w.<>]+)` \| ([^|]*) \|", README, flags=re.MULTILINE))
HEADINGS = set(re.findall(r"^#+ `([\w.]+)`$", README, flags=re.MULTILINE))


def schema_keys() -> dict[str, dict[str, Any]]:
    """Dotted key -> its schema, sections included; a dataset entry's keys under datasets.<name>."""
    keys = {}

    def walk(node: dict[str, Any], prefix: str) -> None:
        for name, spec in node.get("properties", {}).items():
            keys[prefix + name] = spec
            walk(spec, f"{prefix}{name}.")

    walk(SCHEMA, "")
    walk(SCHEMA["$defs"]["dataset"], "datasets.<name>.")
    return keys


KEYS = schema_keys()
SECTIONS = {key for key in KEYS if any(other.startswith(key + ".") for other in KEYS)}


def rendered(value: Any) -> str:
    """A default as config/README.md writes it: YAML's flow style."""
    return (
        yaml.safe_dump(value, default_flow_style=True, width=1000).removesuffix("\n...\n").strip()
    )


def test_the_schema_is_walked_whole():
    assert len(KEYS) > 60 and "multiflow.calibration.nsamples" in KEYS
    assert {"model", "datasets", "multiflow.calibration"} <= SECTIONS


@pytest.mark.parametrize("key", sorted(KEYS))
def test_every_schema_key_has_a_description(key: str):
    assert KEYS[key].get("description", "").strip(), (
        f"{key} has no description in workflow/schemas/config.schema.yaml"
    )


@pytest.mark.parametrize("key", sorted(KEYS))
def test_every_schema_key_is_in_the_config_readme(key: str):
    if key in SECTIONS:
        assert key in HEADINGS, f"config/README.md has no heading for the section `{key}`"
    else:
        assert key in ROWS, f"config/README.md has no table row for `{key}`"


def test_the_readme_documents_no_key_the_schema_lacks():
    assert set(ROWS) <= set(KEYS), set(ROWS) - set(KEYS)
    assert HEADINGS <= SECTIONS, HEADINGS - SECTIONS


@pytest.mark.parametrize("key", sorted(k for k in KEYS if "default" in KEYS[k] and k in ROWS))
def test_the_readme_gives_the_schema_default(key: str):
    assert ROWS[key].strip() == f"`{rendered(KEYS[key]['default'])}`", key


def test_the_readme_gives_the_demo_recipe_defaults():
    defaults = {
        name: p.default
        for name, p in inspect.signature(train_demo_model).parameters.items()
        if p.default is not inspect.Parameter.empty
    }
    documented = {
        key.removeprefix("demo_model."): cell.strip().strip("`")
        for key, cell in ROWS.items()
        if key.startswith("demo_model.")
    }
    assert documented.keys() == defaults.keys()
    for name, default in defaults.items():
        assert float(documented[name]) == default, name
