"""MULTIFLOW step 1: streaming exact selection against a concatenate-and-kthvalue reference."""

from __future__ import annotations

import json
import os

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import pytest
import torch
from safetensors.torch import save_file

from vlmprune.cli import main as vlmprune
from vlmprune.multiflow import CheckpointError, MultiflowConfig, compute_distribution, run_step1
from vlmprune.multiflow.modality import MODALITIES, ModalityRules
from vlmprune.multiflow.weight_stream import list_tensors, weight_files

STAT_KEYS = {
    "num_layers",
    "total_params",
    "pruned_params",
    "actual_sparsity",
    "min_layer_sparsity",
    "max_layer_sparsity",
    "mean_layer_sparsity",
    "std_layer_sparsity",
    "threshold",
}


def llava_original_state(dtype: torch.dtype, ties: bool, seed: int = 0) -> dict[str, torch.Tensor]:
    """Random weights under liuhaotian/llava-v1.5 names, small shapes, unequal scales per layer."""
    g = torch.Generator().manual_seed(seed)
    h, v, inter = 24, 16, 40
    shapes = {
        "model.embed_tokens.weight": (50, h),
        "lm_head.weight": (50, h),
        "model.norm.weight": (h,),
        "model.mm_projector.0.weight": (h, v),
        "model.mm_projector.0.bias": (h,),
        "model.mm_projector.2.weight": (h, h),
        "model.mm_projector.2.bias": (h,),
    }
    tower = "model.vision_tower.vision_tower.vision_model"
    shapes[f"{tower}.embeddings.position_embedding.weight"] = (5, v)
    shapes[f"{tower}.embeddings.patch_embedding.weight"] = (v, 3, 2, 2)
    for i in range(2):
        for p in ("q_proj", "k_proj", "v_proj", "out_proj"):
            shapes[f"{tower}.encoder.layers.{i}.self_attn.{p}.weight"] = (v, v)
            shapes[f"{tower}.encoder.layers.{i}.self_attn.{p}.bias"] = (v,)
        shapes[f"{tower}.encoder.layers.{i}.mlp.fc1.weight"] = (2 * v, v)
        shapes[f"{tower}.encoder.layers.{i}.mlp.fc2.weight"] = (v, 2 * v)
        shapes[f"{tower}.encoder.layers.{i}.layer_norm1.weight"] = (v,)
    for i in range(3):
        for p in ("q_proj", "k_proj", "v_proj", "o_proj"):
            shapes[f"model.layers.{i}.self_attn.{p}.weight"] = (h, h)
        shapes[f"model.layers.{i}.mlp.gate_proj.weight"] = (inter, h)
        shapes[f"model.layers.{i}.mlp.up_proj.weight"] = (inter, h)
        shapes[f"model.layers.{i}.mlp.down_proj.weight"] = (h, inter)
        shapes[f"model.layers.{i}.input_layernorm.weight"] = (h,)
    state = {}
    for j, (name, shape) in enumerate(sorted(shapes.items())):
        if ties:  # few distinct magnitudes: most weights tie with the threshold
            t = torch.randint(-3, 4, shape, generator=g).float() * 0.25
        else:
            t = torch.randn(shape, generator=g) * (0.5 + j % 5)
        state[name] = t.to(dtype)
    return state


def reference(
    state: dict[str, torch.Tensor], rules: ModalityRules, target: float
) -> tuple[dict, dict]:
    """Concatenate each modality's |W| in sorted-name order; stable sort; prune the first k."""
    pruned, thresholds = {}, {}
    for modality in MODALITIES:
        names = sorted(
            n
            for n, t in state.items()
            if rules.is_prunable(n, tuple(t.shape)) and rules.modality(n) == modality
        )
        if not names:
            continue
        scores = torch.cat([state[n].float().abs().reshape(-1) for n in names])
        k = int(round(target * scores.numel()))
        owner = torch.cat([torch.full((state[n].numel(),), j) for j, n in enumerate(names)])
        chosen = owner[torch.sort(scores, stable=True).indices[:k]]
        counts = torch.bincount(chosen, minlength=len(names))
        pruned.update({n.removesuffix(".weight"): int(c) for n, c in zip(names, counts)})
        thresholds[modality] = float(torch.kthvalue(scores, k).values) if k else None
    return pruned, thresholds


def write_bin(state: dict[str, torch.Tensor], directory, shards: int = 2) -> None:
    names = sorted(state)
    for s in range(shards):
        part = {n: state[n] for n in names[s::shards]}
        torch.save(part, directory / f"pytorch_model-{s + 1:05d}-of-{shards:05d}.bin")


def write_safetensors(state: dict[str, torch.Tensor], directory, shards: int = 2) -> None:
    names = sorted(state)
    for s in range(shards):
        save_file(
            {n: state[n].contiguous() for n in names[s::shards]},
            str(directory / f"model-{s + 1:05d}-of-{shards:05d}.safetensors"),
        )


def check_against_reference(
    path, state, target, architecture, chunk_bytes=64 * 2**20, exclude=None
):
    config = MultiflowConfig(architecture=architecture, exclude=exclude)
    dist = compute_distribution(path, target, config, chunk_bytes=chunk_bytes)
    rules = ModalityRules.build(architecture, None, exclude)
    expected, thresholds = reference(state, rules, target)
    got = {layer.name: layer.pruned for layer in dist.layers}
    assert got == expected
    for name, m in dist.modalities.items():
        if m.layers:
            assert m.threshold == thresholds[name]
            assert m.pruned == int(round(target * m.total))
    return dist


@pytest.mark.parametrize("fmt", ["safetensors", "bin"])
@pytest.mark.parametrize("dtype", [torch.float32, torch.float16, torch.bfloat16])
@pytest.mark.parametrize("ties", [False, True])
def test_equals_concatenating_reference(tmp_path, fmt, dtype, ties):
    state = llava_original_state(dtype, ties)
    (write_safetensors if fmt == "safetensors" else write_bin)(state, tmp_path)
    for target in (0.3, 0.5, 0.7):
        # 96-byte chunks: every tensor is read in several slices
        check_against_reference(tmp_path, state, target, "llava-original", chunk_bytes=96)


def test_legacy_bin_format(tmp_path, caplog):
    """Pre-zip torch.save files cannot be memory-mapped: loaded whole, and their memory left alone."""
    state = llava_original_state(torch.bfloat16, ties=True)
    torch.save(state, tmp_path / "pytorch_model.bin", _use_new_zipfile_serialization=False)
    check_against_reference(tmp_path, state, 0.5, "llava-original", chunk_bytes=96)
    assert "legacy (non-zip) format" in caplog.text


def test_mixed_dtypes_and_extreme_targets(tmp_path):
    state = llava_original_state(torch.float16, ties=True)
    state["model.mm_projector.0.weight"] = state["model.mm_projector.0.weight"].float() * 1.0001
    state["model.layers.1.mlp.up_proj.weight"] = state[
        "model.layers.1.mlp.up_proj.weight"
    ].bfloat16()
    write_safetensors(state, tmp_path, shards=1)
    for target in (0.0, 0.001, 0.5, 0.999, 1.0):
        dist = check_against_reference(tmp_path, state, target, "llava-original")
    assert all(layer.sparsity == 1.0 for layer in dist.layers)


def test_text_modality_when_not_excluded(tmp_path):
    state = llava_original_state(torch.bfloat16, ties=True)
    write_safetensors(state, tmp_path)
    dist = check_against_reference(
        tmp_path, state, 0.5, "llava-original", exclude=[r"norm", r"\.bias$"]
    )
    assert [layer.name for layer in dist.modalities["text"].layers] == [
        "model.embed_tokens",
        "lm_head",
    ]


VISION_ROWS = {
    "q": "self_attn.q_proj",
    "k": "self_attn.k_proj",
    "v": "self_attn.v_proj",
    "out": "self_attn.out_proj",
    "fc1": "mlp.fc1",
    "fc2": "mlp.fc2",
}
FUSION_ROWS = {
    "q": "self_attn.q_proj",
    "k": "self_attn.k_proj",
    "v": "self_attn.v_proj",
    "o": "self_attn.o_proj",
    "gate": "mlp.gate_proj",
    "up": "mlp.up_proj",
    "down": "mlp.down_proj",
}


def test_json_schema_report_and_plot(tmp_path, capsys, drawn_figures):
    state = llava_original_state(torch.float16, ties=False)
    write_bin(state, tmp_path)
    out = tmp_path / "out"
    run_step1(
        tmp_path, 0.5, out / "sparsity_distribution_0.5.json", out / "sparsity_distribution_0.5.png"
    )
    data = json.loads((out / "sparsity_distribution_0.5.json").read_text())
    assert set(data) == {"target_sparsity", "architecture", "modality_stats", "layer_distribution"}
    assert data["target_sparsity"] == 0.5 and data["architecture"] == "llava-original"
    assert set(data["modality_stats"]) == {"vision", "fusion"}
    for stats in data["modality_stats"].values():
        assert set(stats) == STAT_KEYS
        assert (
            stats["min_layer_sparsity"]
            <= stats["mean_layer_sparsity"]
            <= stats["max_layer_sparsity"]
        )
        assert abs(stats["actual_sparsity"] - 0.5) <= 1 / stats["total_params"]
    assert sum(s["num_layers"] for s in data["modality_stats"].values()) == len(
        data["layer_distribution"]
    )
    assert len(data["layer_distribution"]) == 2 * 6 + 2 + 3 * 7
    names = list(data["layer_distribution"])
    assert names[12:14] == [
        "model.mm_projector.0",
        "model.mm_projector.2",
    ]  # projector before the blocks
    assert all(0 <= v <= 1 for v in data["layer_distribution"].values())
    for modality, stats in data["modality_stats"].items():
        layers = [name for name in names if ("vision_tower" in name) == (modality == "vision")]
        assert stats["num_layers"] == len(layers)
        assert stats["total_params"] == sum(state[f"{name}.weight"].numel() for name in layers)
    # the figure: per modality a grid of layer type by block, each cell its layer's budget ...
    budget = data["layer_distribution"]
    tower = "model.vision_tower.vision_tower.vision_model.encoder.layers"
    vision = [[budget[f"{tower}.{b}.{path}"] for b in range(2)] for path in VISION_ROWS.values()]
    nan = float("nan")
    fusion = [[budget[f"model.mm_projector.{i}"], nan, nan, nan] for i in (0, 2)] + [
        [nan] + [budget[f"model.layers.{b}.{path}"] for b in range(3)]
        for path in FUSION_ROWS.values()
    ]
    figure = drawn_figures[-1]
    for axes, rows, columns, expected in (
        (figure.axes[0], list(VISION_ROWS), ["0", "1"], vision),
        (
            figure.axes[1],
            ["mm_projector.0", "mm_projector.2", *FUSION_ROWS],
            ["–", "0", "1", "2"],
            fusion,
        ),
    ):
        assert [t.get_text() for t in axes.get_yticklabels()] == rows
        assert [t.get_text() for t in axes.get_xticklabels()] == columns
        drawn = axes.images[0].get_array().filled(nan)
        assert drawn.flatten().tolist() == pytest.approx(
            [v for row in expected for v in row], rel=1e-5, nan_ok=True
        )
    # ... then each layer's sparsity, in percent, in the JSON's order: vision, then fusion
    points = [y for collection in figure.axes[2].collections for _, y in collection.get_offsets()]
    assert points == pytest.approx(
        [100 * v for v in data["layer_distribution"].values()], rel=1e-5
    )  # the JSON keeps 6 digits
    report = capsys.readouterr().out
    for line in (
        "Modality-wise parameter distribution:",
        "Processing VISION modality",
        "Processing FUSION modality",
        "GLOBAL SUMMARY",
        "🔍 KEY INSIGHT",
        "Pruning threshold:",
        "  • FUSION : 50.00% (+0.00% vs target)",
        "TEXT    :   0 layers,            0 params ( 0.00%)",
    ):
        assert line in report
    assert (
        report.count("\n...\n") == 2
    )  # vision (12 layers) and fusion (23): first and last five each
    assert not list(out.glob(".*tmp*"))


@pytest.fixture(scope="module")
def demo_checkpoint(tmp_path_factory):
    """A tiny random LlavaForConditionalGeneration saved with save_pretrained (HF layout)."""
    from transformers import (
        CLIPVisionConfig,
        LlamaConfig,
        LlavaConfig,
        LlavaForConditionalGeneration,
    )

    torch.manual_seed(0)
    config = LlavaConfig(
        vision_config=CLIPVisionConfig(
            hidden_size=32,
            intermediate_size=64,
            num_hidden_layers=2,
            num_attention_heads=2,
            image_size=28,
            patch_size=14,
            projection_dim=32,
        ),
        text_config=LlamaConfig(
            hidden_size=32,
            intermediate_size=64,
            num_hidden_layers=2,
            num_attention_heads=2,
            num_key_value_heads=2,
            vocab_size=100,
        ),
        image_token_index=99,
    )
    model = LlavaForConditionalGeneration(config).to(torch.bfloat16)
    path = tmp_path_factory.mktemp("demo")
    model.save_pretrained(path)
    return path


def test_demo_model_checkpoint(demo_checkpoint):
    from safetensors.torch import load_file

    state = {}
    for f in weight_files(demo_checkpoint):
        state.update(load_file(f))
    dist = check_against_reference(demo_checkpoint, state, 0.5, "llava-hf")
    assert dist.architecture == "llava-hf"
    assert len(dist.modalities["vision"].layers) == 2 * 6
    assert len(dist.modalities["fusion"].layers) == 2 + 2 * 7
    assert not dist.modalities["text"].layers
    auto = compute_distribution(demo_checkpoint, 0.5)
    assert auto.architecture == "llava-hf" and auto.to_json() == dist.to_json()


def test_molmo_names(tmp_path):
    g = torch.Generator().manual_seed(1)
    names = {
        "model.transformer.wte.embedding": (40, 8),
        "model.transformer.wte.new_embedding": (4, 8),
        "model.transformer.ff_out.weight": (40, 8),
        "model.transformer.ln_f.weight": (8,),
        "model.vision_backbone.image_vit.patch_embedding.weight": (6, 12),
        "model.vision_backbone.image_vit.positional_embedding": (5, 6),
        "model.vision_backbone.image_vit.transformer.resblocks.0.attention.wq.weight": (6, 6),
        "model.vision_backbone.image_vit.transformer.resblocks.0.attention.wq.bias": (6,),
        "model.vision_backbone.image_vit.transformer.resblocks.0.feed_forward.w1.weight": (12, 6),
        "model.vision_backbone.image_vit.transformer.resblocks.0.attention_norm.weight": (6,),
        "model.vision_backbone.image_pooling_2d.wq.weight": (6, 12),
        "model.vision_backbone.image_projector.w1.weight": (16, 6),
        "model.transformer.blocks.0.att_proj.weight": (24, 8),
        "model.transformer.blocks.0.ff_out.weight": (8, 16),
        "model.transformer.blocks.0.attn_norm.weight": (8,),
    }
    state = {n: torch.randn(s, generator=g).half() for n, s in names.items()}
    write_safetensors(state, tmp_path, shards=1)
    dist = check_against_reference(tmp_path, state, 0.7, "molmo")
    assert compute_distribution(tmp_path, 0.7).architecture == "molmo"
    assert [layer.name for layer in dist.modalities["vision"].layers] == [
        "model.vision_backbone.image_vit.transformer.resblocks.0.attention.wq",
        "model.vision_backbone.image_vit.transformer.resblocks.0.feed_forward.w1",
    ]
    assert [layer.name for layer in dist.modalities["fusion"].layers] == [
        "model.vision_backbone.image_pooling_2d.wq",
        "model.vision_backbone.image_projector.w1",
        "model.transformer.blocks.0.att_proj",
        "model.transformer.blocks.0.ff_out",
    ]
    assert not dist.modalities["text"].layers


def test_llava_hf_in_memory_names_and_patterns_override():
    rules = ModalityRules.build("llava-hf")
    assert rules.modality("model.language_model.layers.3.mlp.up_proj.weight") == "fusion"
    assert (
        rules.modality("model.vision_tower.vision_model.encoder.layers.0.self_attn.q_proj.weight")
        == "vision"
    )
    assert rules.modality("model.multi_modal_projector.linear_1.weight") == "fusion"
    assert not rules.is_prunable("model.language_model.embed_tokens.weight", (10, 4))
    assert not rules.is_prunable("lm_head.weight", (10, 4))
    custom = ModalityRules.build("llava-hf", {"text": [r"(^|\.)language_model\."]})
    assert (
        custom.modality("language_model.model.layers.0.mlp.up_proj.weight") == "fusion"
    )  # fusion comes first
    with pytest.raises(ValueError, match="unknown architecture"):
        ModalityRules.build("gpt2")


def test_missing_and_empty_directories(tmp_path, capsys):
    with pytest.raises(CheckpointError, match="model path not found: .*nowhere"):
        compute_distribution(tmp_path / "nowhere", 0.5)
    (tmp_path / "config.json").write_text("{}")
    with pytest.raises(CheckpointError, match=f"no weight files in {tmp_path}"):
        compute_distribution(tmp_path, 0.5)
    assert (
        vlmprune(
            [
                *("multiflow", "step1", "--model-path", str(tmp_path)),
                *("--target-sparsity", "0.5", "--output-dir", str(tmp_path / "out")),
            ]
        )
        == 1
    )
    assert "no weight files" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("fmt", ["safetensors", "bin"])
def test_corrupt_files(tmp_path, fmt, capsys):
    state = llava_original_state(torch.float16, ties=False)
    (write_safetensors if fmt == "safetensors" else write_bin)(state, tmp_path)
    victim = sorted(tmp_path.glob(f"*.{fmt}"))[0]
    data = victim.read_bytes()
    victim.write_bytes(
        data[: len(data) // 2] if fmt == "safetensors" else b"not a zip archive" + data[:100]
    )
    with pytest.raises(CheckpointError, match=f"(?s)cannot read checkpoint file {victim}.*corrupt"):
        list_tensors(weight_files(tmp_path))
    code = vlmprune(
        ["multiflow", "step1", "--model-path", str(tmp_path)]
        + ["--output-dir", str(tmp_path / "out"), "--no-plot"]
    )
    assert code == 1 and str(victim) in capsys.readouterr().err
    assert not list((tmp_path / "out").glob("*.json")) if (tmp_path / "out").exists() else True


def test_missing_shard_in_index(tmp_path):
    state = llava_original_state(torch.float16, ties=False)
    write_safetensors(state, tmp_path)
    (tmp_path / "model.safetensors.index.json").write_text(
        json.dumps(
            {
                "weight_map": {
                    "a": "model-00001-of-00002.safetensors",
                    "b": "model-00009-of-00009.safetensors",
                }
            }
        )
    )
    with pytest.raises(CheckpointError, match="model-00009-of-00009.safetensors"):
        weight_files(tmp_path)


def test_unsupported_dtype(tmp_path):
    save_file(
        {
            "model.layers.0.mlp.up_proj.weight": torch.ones(4, 4, dtype=torch.float64),
            "model.mm_projector.0.weight": torch.ones(4, 4, dtype=torch.float64),
        },
        str(tmp_path / "m.safetensors"),
    )
    with pytest.raises(CheckpointError, match="F64"):
        compute_distribution(tmp_path, 0.5)


def split_original_layout(state: dict[str, torch.Tensor]) -> tuple[dict, dict]:
    """The state as liuhaotian/llava-v1.5 ships it (no tower) and the tower as a CLIP checkpoint (with a text model)."""
    prefix = "model.vision_tower.vision_tower."
    llava = {n: t for n, t in state.items() if not n.startswith(prefix)}
    clip = {n.removeprefix(prefix): t for n, t in state.items() if n.startswith(prefix)}
    clip["text_model.encoder.layers.0.self_attn.q_proj.weight"] = torch.ones(
        8, 8
    )  # CLIPModel's text half: never read
    clip["visual_projection.weight"] = torch.ones(4, 16)
    return llava, clip


@pytest.mark.parametrize("tower_format", ["safetensors", "bin"])
def test_llava_original_layout_streams_the_tower_from_its_own_checkpoint(
    tmp_path, caplog, tower_format
):
    state = llava_original_state(torch.float16, ties=False)
    llava, clip = split_original_layout(state)
    (tmp_path / "llava").mkdir()
    (tmp_path / "clip").mkdir()
    write_safetensors(llava, tmp_path / "llava")
    (write_bin if tower_format == "bin" else write_safetensors)(clip, tmp_path / "clip", shards=1)
    (tmp_path / "llava" / "config.json").write_text(
        json.dumps(
            {"model_type": "llava_llama", "mm_vision_tower": "openai/clip-vit-large-patch14-336"}
        )
    )

    # Without the tower: VISION is empty, and says so loudly.
    with caplog.at_level("WARNING"):
        empty = compute_distribution(
            tmp_path / "llava", 0.5, MultiflowConfig(architecture="llava-original")
        )
    assert not empty.modalities["vision"].layers
    assert (
        "modality VISION is EMPTY" in caplog.text
        and "mm_vision_tower 'openai/clip-vit-large-patch14-336'" in caplog.text
    )

    # With multiflow.vision_tower_path: the same budgets as the checkpoint saved with its tower.
    config = MultiflowConfig(
        architecture="llava-original", vision_tower_path=str(tmp_path / "clip")
    )
    dist = compute_distribution(tmp_path / "llava", 0.5, config, chunk_bytes=96)
    expected, _ = reference(state, ModalityRules.build("llava-original"), 0.5)
    assert {layer.name: layer.pruned for layer in dist.layers} == expected
    assert len(dist.modalities["vision"].layers) == 12  # 2 layers x (q, k, v, out, fc1, fc2)
    assert all(
        layer.name.startswith("model.vision_tower.vision_tower.vision_model.encoder.")
        for layer in dist.modalities["vision"].layers
    )


def test_llava_original_layout_reads_mm_vision_tower_as_a_directory_and_rejects_a_wrong_path(
    tmp_path,
):
    state = llava_original_state(torch.float32, ties=False)
    llava, clip = split_original_layout(state)
    for name, part in (("llava", llava), ("clip", clip)):
        (tmp_path / name).mkdir()
        write_safetensors(part, tmp_path / name, shards=1)
    (tmp_path / "llava" / "config.json").write_text(
        json.dumps({"model_type": "llava_llama", "mm_vision_tower": str(tmp_path / "clip")})
    )
    dist = compute_distribution(tmp_path / "llava", 0.3, MultiflowConfig())
    assert dist.architecture == "llava-original" and len(dist.modalities["vision"].layers) == 12
    with pytest.raises(CheckpointError, match="vision_tower_path"):
        compute_distribution(
            tmp_path / "llava", 0.3, MultiflowConfig(vision_tower_path=str(tmp_path / "nowhere"))
        )
    with pytest.raises(CheckpointError, match="no vision_model"):
        compute_distribution(
            tmp_path / "llava", 0.3, MultiflowConfig(vision_tower_path=str(tmp_path / "llava"))
        )


@pytest.mark.parametrize(
    "architecture, adapter", [("qwen2_vl", "qwen2_vl"), ("gemma3", "gemma3"), ("molmo2", "molmo2")]
)
def test_step1_takes_the_modality_patterns_of_the_adapter_config_json_picks(
    tiny_checkpoint, tmp_path, architecture, adapter
):
    from vlmprune.models.loading import ADAPTERS

    path = tiny_checkpoint(architecture)
    dist = compute_distribution(path, 0.5)
    assert dist.architecture == adapter
    rules = ModalityRules.build(adapter)
    assert [p.pattern for p in rules.patterns["vision"]] == list(
        ADAPTERS[adapter].modality_patterns["vision"]
    )
    # every modality the adapter names is found in the checkpoint, and each layer's sparsity is its budget's
    assert all(dist.modalities[m].layers for m in ("vision", "fusion"))
    for m in ("vision", "fusion"):
        assert abs(dist.modalities[m].pruned - 0.5 * dist.modalities[m].total) <= 1
