"""Every Molmo v1 config.json field the published code reads: implemented (equal to the
published code's recorded outputs with that field set) or refused before any weight is read.

``tests/data/molmo_fields/NAME.pt`` holds what the published code (7B-D's ``modeling_molmo.py`` or
MolmoE's ``modeling_molmoe.py``, transformers 4.45.2) computed on a tiny checkpoint whose
config.json is the fixture's plus the overrides in the file's ``config``; ``NAME.json`` the
weight names and shapes where the field adds weights (``docs/molmo.md`` has the table).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file, save_file

from molmo_reference import DATA, load_shapes, molmo_weights, save_tiny_molmo, synthetic_images
from vlmprune.errors import ModelError
from vlmprune.models.molmo.configuration import MolmoNativeConfig, unimplemented_settings
from vlmprune.models.molmo.modeling import MolmoNativeForCausalLM
from vlmprune.models.molmo.processing import collate

FIELDS = DATA / "molmo_fields"
VARIANTS = sorted(path.stem for path in FIELDS.glob("*.pt"))
#: head_dim set to d_model / n_heads: what the published code computes for null, so no other output
NO_EFFECT = {"molmoe-head_dim"}


def recorded(name: str) -> dict:
    return torch.load(FIELDS / f"{name}.pt", weights_only=True)


def shapes(name: str) -> dict[str, list[int]]:
    own = FIELDS / f"{name}.json"
    return json.loads(own.read_text()) if own.is_file() else load_shapes(name.split("-")[0])


def native(name: str) -> MolmoNativeForCausalLM:
    config = recorded(name)["config"]
    assert unimplemented_settings(config) == []
    model = MolmoNativeForCausalLM(MolmoNativeConfig.from_dict(config)).eval()
    model.load_state_dict(molmo_weights(shapes(name)), strict=True)
    return model


def inputs(sample: dict, seed: int) -> dict[str, torch.Tensor]:
    return {
        "input_ids": sample["input_ids"],
        "images": synthetic_images(tuple(sample["images_shape"]), seed=seed),
        "image_masks": sample["image_masks"],
        "image_input_idx": sample["image_input_idx"],
    }


def test_every_field_named_in_the_docs_has_a_recording():
    assert {
        "molmoe-scale_logits",
        "molmoe-final_logit_softcapping",
        "molmoe-normalize_input_embeds",
        "molmoe-rope_off",
        "molmoe-head_dim",
        "7bd-attention_layer_norm",
        "7bd-norm_after",
    } <= set(VARIANTS)


@pytest.mark.parametrize("name", VARIANTS)
@torch.inference_mode()
def test_the_field_equals_the_published_code(name):
    """Logits at every position, greedy tokens (generate, cache), a padded batch: as published."""
    reference, model = recorded(name), native(name)
    base = torch.load(DATA / f"molmo_{name.split('-')[0]}" / "reference.pt", weights_only=True)
    samples = [inputs(s, n) for n, s in enumerate(reference["samples"])]
    for sample, expected, unset in zip(samples, reference["samples"], base["samples"], strict=True):
        logits = model(**{k: v[None] for k, v in sample.items()}).logits[0]
        torch.testing.assert_close(logits[-1], expected["last_logits"], rtol=1e-5, atol=1e-5)
        torch.testing.assert_close(
            logits[:, reference["tracked_ids"]], expected["tracked_logits"], rtol=1e-5, atol=1e-5
        )
        # the field matters (or, for NO_EFFECT, provably does not): the published code without it
        moved = not torch.allclose(expected["last_logits"], unset["last_logits"], atol=1e-3)
        assert moved is (name not in NO_EFFECT)
    batch = collate(samples)
    out = model.generate(
        **batch,
        max_new_tokens=reference["max_new_tokens"],
        min_new_tokens=reference["max_new_tokens"],
        do_sample=False,
        eos_token_id=None,
        pad_token_id=0,
        output_logits=True,
        return_dict_in_generate=True,
    )
    tokens = out.sequences[:, batch["input_ids"].shape[1] :]
    for row, expected in enumerate(reference["samples"]):
        assert tokens[row].tolist() == expected["greedy"].tolist()
    torch.testing.assert_close(out.logits[0], reference["batch_last_logits"], rtol=1e-4, atol=1e-4)


# ------------------------------------------------------------ refused, before any weight is read

REFUSED = [
    ("7bd", {"clip_qkv": 0.5}, "clip_qkv: 0.5"),
    ("7bd", {"scale_logits": True}, "scale_logits: True"),
    ("7bd", {"rope": False}, "rope: False"),
    ("7bd", {"layer_norm_type": "default"}, "layer_norm_type: 'default'"),
    ("7bd", {"use_position_ids": False}, "use_position_ids: False"),
    ("7bd", {"weight_tying": True}, "weight_tying: True"),
    ("7bd", {"vit_layers": [-1]}, r"vit_layers: \[-1\]"),
    ("7bd", {"image_pooling_2d": "attention"}, "image_pooling_2d: 'attention'"),
    ("7bo", {"head_dim": 8}, "head_dim: 8"),
    ("molmoe", {"head_dim": 16}, "head_dim: 16"),
    ("molmoe", {"layer_norm_eps": None}, "layer_norm_eps: None"),
    ("molmoe", {"norm_after": True}, "norm_after: True"),
    ("molmoe", {"rope_impl": "cockatoo"}, "rope_impl: 'cockatoo'"),
    ("molmoe", {"include_bias": True}, "include_bias: True"),
    ("molmoe", {"moe_dropless": False}, "moe_dropless: False"),
    ("molmoe", {"use_cls_feature": True}, "use_cls_feature: True"),
    ("molmoe", {"image_pooling_h": 3}, "image_pooling_h: 3"),
    ("molmoe", {"vision_backbone": {"image_mlp_activations": "gelu"}}, "image_mlp_activations"),
    ("molmoe", {"vision_backbone": {"image_model_type": "siglip"}}, "image_model_type: 'siglip'"),
    ("7bd", {"tie_word_embeddings": True}, "tie_word_embeddings: True"),
    ("molmoe", {"moe_shared_expert": True}, "moe_shared_expert: True"),
    ("molmoe", {"block_type": "sequential"}, "block_type: 'sequential'"),
    ("molmoe", {"additional_vocab_size": 64}, "additional_vocab_size: 64"),
    ("molmoe", {"layer_norm_with_affine": False}, "layer_norm_with_affine: False"),
    ("molmoe", {"attention_layer_norm_with_affine": False}, "attention_layer_norm_with_affine"),
    ("molmoe", {"bias_for_layer_norm": True}, "bias_for_layer_norm: True"),
    ("molmoe", {"activation_type": "gelu"}, "activation_type: 'gelu'"),
    ("molmoe", {"rope_full_precision": False}, "rope_full_precision: False"),
    ("molmoe", {"float32_attention": False}, "float32_attention: False"),
    ("molmoe", {"image_padding_embed": "pad_embed"}, "image_padding_embed: 'pad_embed'"),
    ("molmoe", {"image_projector": "linear"}, "image_projector: 'linear'"),
    ("molmoe", {"multi_query_attention": True}, "multi_query_attention: True"),
    ("molmoe", {"block_group_size": 2}, "block_group_size: 2"),
    ("molmoe", {"unconditioned": True}, "unconditioned: True"),
    ("molmoe", {"weight_tying": True}, "weight_tying: True"),
    ("molmoe", {"moe_num_experts": 0}, "moe_num_experts: 0"),
    ("molmoe", {"layer_norm_type": "default"}, "layer_norm_type: 'default'"),
]


@pytest.mark.parametrize(("arch", "overrides", "named"), REFUSED)
def test_an_unimplemented_value_stops_before_the_weights_are_read(tmp_path, arch, overrides, named):
    from vlmprune.models.loading import load_adapter

    path = save_tiny_molmo(tmp_path, arch)
    (path / "model.safetensors").unlink()  # reaching the weights would fail differently
    config = json.loads((path / "config.json").read_text())
    for key, value in overrides.items():
        config[key] = {**config[key], **value} if isinstance(value, dict) else value
    (path / "config.json").write_text(json.dumps(config))
    with pytest.raises(ModelError, match=named) as error:
        load_adapter(path, device="cpu")
    message = str(error.value)
    assert "Nothing was loaded" in message and "model.trust_remote_code: true" in message


def test_an_absent_molmoe_field_takes_olmo_s_default_and_is_refused_if_unimplemented():
    """OLMo's config fills absent fields: weight tying and biases on, no image padding embed."""
    config = json.loads((DATA / "molmo_molmoe" / "config.json").read_text())
    for field in ("weight_tying", "include_bias", "image_padding_embed"):
        del config[field]
    found = " ".join(unimplemented_settings(config))
    assert "weight_tying: 'absent, so True'" in found and "include_bias: 'absent, so True'" in found
    assert "image_padding_embed: 'absent, so None'" in found


def test_published_configs_are_accepted():
    for arch in ("7bd", "7bo", "molmoe"):
        assert (
            unimplemented_settings(json.loads((DATA / f"molmo_{arch}" / "config.json").read_text()))
            == []
        )


# ------------------------------------------------------- weights: missing or unexpected is an error


def test_a_missing_weight_stops_the_load_naming_it(tmp_path):
    from vlmprune.models.loading import load_adapter

    path = save_tiny_molmo(tmp_path, "7bo")
    weights = load_file(path / "model.safetensors")
    del weights["model.transformer.blocks.2.q_norm.weight"]
    save_file(weights, path / "model.safetensors", metadata={"format": "pt"})
    with pytest.raises(ModelError, match=r"missing: model\.transformer\.blocks\.2\.q_norm\.weight"):
        load_adapter(path, device="cpu")


def test_weights_the_config_does_not_use_stop_the_load_naming_them(tmp_path):
    """q/k-norm weights in a snapshot whose config.json leaves attention_layer_norm off."""
    from vlmprune.models.loading import load_adapter

    path = save_tiny_molmo(tmp_path, "7bo")
    config = json.loads((path / "config.json").read_text())
    (path / "config.json").write_text(json.dumps({**config, "attention_layer_norm": False}))
    with pytest.raises(ModelError, match=r"unexpected.*blocks\.0\.k_norm\.weight") as error:
        load_adapter(path, device="cpu")
    assert "blocks.3.q_norm.weight" in str(error.value)


def test_the_field_fixtures_regenerate_their_weights():
    for name in VARIANTS:
        assert Path(FIELDS / f"{name}.pt").stat().st_size < 200_000
        assert molmo_weights(shapes(name)).keys() == shapes(name).keys()
