"""Export: a variant's blocks physically deleted, saved so that plain transformers loads it, and it
evaluates exactly as the variant's store says (the reload check), on LLaVA and Idefics3."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from vlmprune.data.prepare import load_prepared
from vlmprune.engine.run import run_evaluation
from vlmprune.engine.store import read_store
from vlmprune.engine.variants import removed_blocks
from vlmprune.errors import VlmpruneError
from vlmprune.export.depth_variant import export_variant, load_for_export
from vlmprune.models.deletion import remap_hidden_state_index, remap_index_list
from vlmprune.models.loading import load_adapter
from workflow_helpers import rule_settings

SAMPLES = 6


@pytest.fixture(scope="module")
def idefics3(tmp_path_factory) -> Path:
    from test_adapters import save_tiny_idefics3

    return save_tiny_idefics3(tmp_path_factory.mktemp("models") / "idefics3")


def evaluate(
    prepared: Path, model_path: Path, variant: str, store: Path, component: str = "language"
):
    model, evaluation = rule_settings(
        {"path": str(model_path)},
        component=component,
        num_samples=SAMPLES,
        batch_size=3,
        chunk_size=SAMPLES,
    )
    run_evaluation(
        data=prepared,
        dataset="easy_vqa",
        split="val",
        variants=[variant],
        stores=[store],
        summary=None,
        model=model,
        evaluation=evaluation,
    )
    return read_store(store)


def exported_model(path: Path, component: str = "language") -> dict:
    """The model settings rule export passes."""
    return rule_settings({"path": str(path)}, component=component)[0]


@torch.inference_mode()
def greedy_scores(adapter, records):
    inputs = adapter.encode(records)
    out = adapter.model.generate(
        **inputs,
        max_new_tokens=4,
        min_new_tokens=4,
        do_sample=False,
        output_logits=True,
        return_dict_in_generate=True,
    )
    return out.sequences, torch.stack(out.logits)


REAL_PROCESSORS = [
    "qwen2_vl",
    "qwen2_5_vl",
    "molmo2",
    "gemma3",
    "llava_onevision",
]  # tests/tiny_models.py


@pytest.mark.parametrize(
    "family,component,block",
    [
        ("llava", "language", 0),
        ("llava", "language", "middle"),
        ("idefics3", "vision", 0),
        ("idefics3", "language", 0),
        ("idefics3", "language", "middle"),
        *((family, "language", block) for family in REAL_PROCESSORS for block in (0, "middle")),
    ],
)
def test_export_evaluates_as_the_variant_store(
    family, component, block, tiny_llava, idefics3, tiny_checkpoint, prepared, tmp_path
):
    source = {"llava": tiny_llava, "idefics3": idefics3}.get(family) or tiny_checkpoint(family)
    adapter = load_for_export(exported_model(source, component))
    n = len(adapter.blocks)
    block = n // 2 if block == "middle" else block
    variant = f"drop-{block}"
    out = export_variant(adapter, variant, tmp_path / "pruned" / variant, card="card\n")

    config = json.loads((out / "config.json").read_text())
    section = config["text_config" if component == "language" else "vision_config"]
    assert section["num_hidden_layers"] == n - 1
    if section.get("layer_types"):
        assert len(section["layer_types"]) == n - 1
    exported = load_adapter(out, device="cpu", dtype="float32", component=component)
    assert (
        len(exported.blocks) == n - 1 and len(adapter.blocks) == n
    )  # the source model is restored
    if component == "language":
        assert [layer.self_attn.layer_idx for layer in exported.blocks] == list(range(n - 1))

    store = evaluate(prepared, source, variant, tmp_path / "variant.h5", component)
    reloaded = evaluate(prepared, out, "full", tmp_path / "exported.h5", component)
    assert reloaded.sample_ids == store.sample_ids and reloaded.predictions == store.predictions
    assert list(reloaded.scores) == list(store.scores)

    # stronger than the answers of a random model: the logits of every generated token
    records = list(load_prepared(prepared, "easy_vqa").select(range(3)))
    full_tokens, full_scores = greedy_scores(adapter, records)
    with adapter.skip([block]):
        skipped_tokens, skipped_scores = greedy_scores(adapter, records)
    tokens, scores = greedy_scores(exported, records)
    assert torch.equal(tokens, skipped_tokens)
    torch.testing.assert_close(scores, skipped_scores, rtol=1e-5, atol=1e-5)
    assert not torch.allclose(scores, full_scores)


def test_exported_directory_loads_with_plain_transformers(tiny_llava, tmp_path):
    out = export_variant(
        load_for_export(exported_model(tiny_llava)),
        "drop-1-2",
        tmp_path / "drop-1-2",
        card="# card\n",
    )
    code = (
        "import sys\n"
        "from transformers import AutoModelForImageTextToText, AutoProcessor\n"
        f"model = AutoModelForImageTextToText.from_pretrained({str(out)!r})\n"
        f"AutoProcessor.from_pretrained({str(out)!r})\n"
        "assert not any(m == 'vlmprune' or m.startswith('vlmprune.') for m in "
        "sys.modules), 'vlmprune was imported'\n"
        "print(len(model.model.language_model.layers), [l.self_attn.layer_idx for l in "
        "model.model.language_model.layers])\n"
    )
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    result = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines()[-1] == "2 [0, 1]"
    assert (out / "README.md").read_text() == "# card\n"


def test_bad_variant_ids_name_the_valid_range(tiny_llava, tmp_path):
    adapter = load_for_export(exported_model(tiny_llava))
    for variant, message in [
        ("drop-7", r"block 7, which does not exist.*blocks are 0\.\.3"),
        ("drop-x", r"not a variant id.*blocks are 0\.\.3"),
        ("drop-2-1", r"not canonical.*'drop-1-2'.*blocks are 0\.\.3"),
        ("drop-0-1-2-3", r"removes every block.*0\.\.3"),
    ]:
        with pytest.raises(VlmpruneError, match=message):
            export_variant(adapter, variant, tmp_path / variant, card="")
        assert not (tmp_path / variant).exists()
    assert removed_blocks("full", 4) == ()
    assert list(tmp_path.iterdir()) == []


def test_an_export_replaces_the_old_directory_whole_or_not_at_all(
    tiny_llava, tmp_path, monkeypatch
):
    adapter = load_for_export(exported_model(tiny_llava))
    out = tmp_path / "drop-1"
    out.mkdir()
    (out / "stale.txt").write_text("from an earlier export")
    export_variant(adapter, "drop-1", out, card="first\n")
    assert not (out / "stale.txt").exists() and (out / "README.md").read_text() == "first\n"

    def fail(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(adapter.processor, "save_pretrained", fail)
    with pytest.raises(OSError, match="disk full"):
        export_variant(adapter, "drop-1", out, card="second\n")
    assert (out / "README.md").read_text() == "first\n"  # the complete earlier export is untouched
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "drop-1"
    ]  # no temporary directory left behind
    assert len(adapter.blocks) == 4


def test_index_remapping():
    # hidden_states[s] is the output of block s-1; with 6 blocks, -2 selects the output of block 4
    assert remap_hidden_state_index(-2, 6, [5]) == -1  # the last block's output was never used
    assert remap_hidden_state_index(-2, 6, [1]) == -2
    assert remap_hidden_state_index(-2, 6, [1, 5]) == -1
    assert remap_hidden_state_index(3, 6, [0, 4]) == 2
    assert remap_index_list([0, 2, 5], [2, 3]) == [0, 3]


@torch.inference_mode()
def test_llava_vision_export_keeps_the_selected_hidden_state(tiny_llava, tmp_path):
    """With vision_feature_layer -2 the last vision block's output is never used: deleting it
    leaves the
    image features unchanged, and the exported config points at the same state (-1 of one fewer)."""
    adapter = load_for_export(exported_model(tiny_llava, "vision"))
    adapter.model.config.vision_feature_layer = -2
    n = len(adapter.blocks)
    records = list(load_split_records(3))
    pixels = adapter.encode(records)["pixel_values"]
    before = adapter.model.model.get_image_features(
        pixels, vision_feature_layer=-2, vision_feature_select_strategy="default", return_dict=True
    ).pooler_output
    out = export_variant(adapter, f"drop-{n - 1}", tmp_path / "vision", card="")
    config = json.loads((out / "config.json").read_text())
    assert (
        config["vision_config"]["num_hidden_layers"] == n - 1
        and config["vision_feature_layer"] == -1
    )
    assert adapter.model.config.vision_feature_layer == -2  # restored
    exported = load_adapter(out, device="cpu", dtype="float32", component="vision")
    after = exported.model.model.get_image_features(pixels, return_dict=True).pooler_output
    for a, b in zip(before, after, strict=True):
        torch.testing.assert_close(a, b)


def load_split_records(n: int) -> list[dict]:
    from vlmprune.data.registry import load_split

    data = load_split("easy_vqa", "val")
    return [data[i] for i in range(n)]
