"""Molmo v1 compatibility: the scoped ``index_add_`` fix, the published configs, load errors,
padded batches."""

from __future__ import annotations

import json

import pytest
import torch
from torch import nn

from vlmprune.errors import ModelError
from vlmprune.models.molmo.remote_code_fixes import molmo_index_add_fix


class AddsImageFeatures(nn.Module):
    """Does what modeling_molmoe.py does: adds (batch, patches, dim) features into flattened
    embeddings."""

    def forward(self, x: torch.Tensor, index: torch.Tensor, features: torch.Tensor) -> torch.Tensor:
        flat = x.clone().view(-1, x.shape[-1])
        flat.index_add_(0, index, features)
        return flat.view_as(x)


def inputs():
    torch.manual_seed(0)
    x = torch.randn(2, 5, 3)
    features = torch.randn(2, 2, 3)
    index = torch.tensor([[1, 2], [6, 8]])  # flat positions (batch * 5 + token)
    return x, index, features


def test_without_the_fix_torch_refuses_a_3d_source():
    with pytest.raises((RuntimeError, IndexError)):
        AddsImageFeatures()(*inputs())


def test_the_fix_flattens_the_source_and_only_inside_its_scope():
    x, index, features = inputs()
    original = torch.Tensor.index_add_
    with molmo_index_add_fix():
        assert torch.Tensor.index_add_ is not original
        out = AddsImageFeatures()(x, index, features)
    assert torch.Tensor.index_add_ is original
    expected = x.clone().view(-1, 3)
    expected.index_add_(0, index.reshape(-1), features.reshape(-1, 3))
    torch.testing.assert_close(out, expected.view_as(x))
    with pytest.raises((RuntimeError, IndexError)):
        AddsImageFeatures()(x, index, features)


def test_other_calls_are_untouched_and_an_error_restores_torch():
    original = torch.Tensor.index_add_
    target = torch.zeros(4, 2)
    with molmo_index_add_fix():
        target.index_add_(0, torch.tensor([0, 3]), torch.ones(2, 2))
        other = torch.zeros(2, 4).index_add_(1, torch.tensor([1]), torch.ones(2, 1))
        with pytest.raises(ValueError):
            with molmo_index_add_fix():
                raise ValueError("inner failure")
        assert torch.Tensor.index_add_ is not original  # the outer scope is still active
    assert torch.Tensor.index_add_ is original
    assert target.sum() == 4 and other[:, 1].sum() == 2


# ---------------------------------------------------------------- Molmo v1 checkpoints as
# published: what a user meets first

# The fields of the published config.json files that say how deep the model is
# (allenai/MolmoE-1B-0924 as copied in
# ChulanZhang/molmo_hf configs/model/config.json; allenai/Molmo-7B-D-0924 as copied in
# reubzdubz/Molmo7B_D_NF4Quant).
MOLMOE_1B_CONFIG = {
    "architectures": ["OLMoForCausalLM"],
    "model_type": "molmo",
    "n_layers": 16,
    "d_model": 2048,
    "auto_map": {
        "AutoConfig": "config_molmoe.MolmoConfig",
        "AutoModelForCausalLM": "modeling_molmoe.MolmoForCausalLM",
    },
    "vision_backbone": {"image_num_layers": 23, "image_emb_dim": 1024},
    "vit_layers": [-2, -9],
}
MOLMO_7B_D_CONFIG = {
    "architectures": ["MolmoForCausalLM"],
    "model_type": "molmo",
    "num_hidden_layers": 28,
    "hidden_size": 3584,
    "auto_map": {
        "AutoConfig": "config_molmo.MolmoConfig",
        "AutoModelForCausalLM": "modeling_molmo.MolmoForCausalLM",
    },
}


@pytest.mark.parametrize(
    ("config", "language", "vision"), [(MOLMOE_1B_CONFIG, 16, 23), (MOLMO_7B_D_CONFIG, 28, 23)]
)
def test_count_blocks_reads_both_published_config_layouts(tmp_path, config, language, vision):
    from vlmprune.models.loading import count_blocks

    (tmp_path / "config.json").write_text(json.dumps(config))
    assert count_blocks(tmp_path, component="language") == language
    assert count_blocks(tmp_path, component="vision") == vision


def test_count_blocks_refuses_a_config_that_names_no_depth(tmp_path):
    from vlmprune.models.loading import count_blocks

    (tmp_path / "config.json").write_text(
        json.dumps({"model_type": "molmo", "vision_backbone": {}})
    )
    with pytest.raises(ModelError, match="how many vision blocks"):
        count_blocks(tmp_path, component="vision")


@pytest.mark.parametrize(
    "error",
    [
        AttributeError("'MolmoForCausalLM' object has no attribute 'all_tied_weights_keys'"),
        TypeError(
            "MolmoForCausalLM.tie_weights() got an unexpected keyword argument 'recompute_mapping'"
        ),
    ],
)
def test_published_code_failing_in_from_pretrained_is_a_clear_error(tmp_path, monkeypatch, error):
    """What transformers 5.23 raises inside the published code (which never calls post_init), said
    clearly."""
    import transformers

    from vlmprune.models.loading import load_adapter

    (tmp_path / "config.json").write_text(json.dumps(MOLMO_7B_D_CONFIG))

    def from_pretrained(*args, **kwargs):
        assert kwargs["trust_remote_code"] is True
        raise error

    monkeypatch.setattr(transformers.AutoModelForCausalLM, "from_pretrained", from_pretrained)
    with pytest.raises(
        ModelError,
        match=rf"modeling_molmo\.py.*fails to load on transformers {transformers.__version__}: "
        rf"{type(error).__name__}.*written for transformers 4\.4x",
    ) as raised:
        load_adapter(tmp_path, device="cpu", trust_remote_code=True)
    assert str(error) in str(raised.value)
