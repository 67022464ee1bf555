"""A skipped block equals a model physically built without it, through generation and the KV
cache."""

from __future__ import annotations

import copy

import pytest
import torch

from vlmprune.data.registry import load_split
from vlmprune.models.loading import load_adapter
from vlmprune.models.skipping import skip_blocks


def physically_removed(adapter, block: int):
    """A deep copy of the model with the block deleted and the later layers renumbered."""
    model = copy.deepcopy(adapter.model)
    text = model.model.language_model
    del text.layers[block]
    for index, layer in enumerate(text.layers):
        layer.self_attn.layer_idx = index
    text.config.num_hidden_layers -= 1
    if getattr(text.config, "layer_types", None):
        text.config.layer_types = (
            text.config.layer_types[:block] + text.config.layer_types[block + 1 :]
        )
    return model


def greedy(model, inputs):
    out = model.generate(
        **inputs,
        max_new_tokens=5,
        min_new_tokens=5,
        do_sample=False,
        output_logits=True,
        return_dict_in_generate=True,
    )
    return out.sequences, torch.stack(out.logits)


@pytest.fixture(scope="module")
def adapter(tiny_llava):
    return load_adapter(tiny_llava, device="cpu", dtype="float32")


@pytest.fixture(scope="module")
def inputs(adapter):
    records = load_split("easy_vqa", "val").select(range(3))
    return adapter.encode([records[i] for i in range(3)])


@pytest.mark.parametrize("position", ["first", "middle", "last"])
@torch.inference_mode()
def test_skipping_equals_physical_removal(adapter, inputs, position):
    block = {"first": 0, "middle": len(adapter.blocks) // 2, "last": len(adapter.blocks) - 1}[
        position
    ]
    reference_tokens, reference_scores = greedy(physically_removed(adapter, block), inputs)
    with skip_blocks(adapter.blocks, [block]):
        tokens, scores = greedy(adapter.model, inputs)
    assert torch.equal(tokens, reference_tokens)
    torch.testing.assert_close(scores, reference_scores, rtol=1e-5, atol=1e-5)


@torch.inference_mode()
def test_skipping_changes_the_output_and_is_undone(adapter, inputs):
    full_tokens, full_scores = greedy(adapter.model, inputs)
    with skip_blocks(adapter.blocks, [1]):
        _, skipped_scores = greedy(adapter.model, inputs)
    assert not torch.allclose(full_scores, skipped_scores)
    again_tokens, again_scores = greedy(adapter.model, inputs)
    assert torch.equal(full_tokens, again_tokens)
    torch.testing.assert_close(full_scores, again_scores)


def test_skipping_a_block_that_does_not_exist_is_an_error(adapter):
    with pytest.raises(IndexError, match="block 99 does not exist"):
        with skip_blocks(adapter.blocks, [99]):
            pass
