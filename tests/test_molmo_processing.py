"""Molmo v1's preprocessing, native (``vlmprune.models.molmo.processing``), against the published processor's outputs."""

from __future__ import annotations

import pytest
import torch

from molmo_reference import DATA, TINY_IMAGES, fixture_records, tiny_tokenizer
from vlmprune.models.molmo.processing import (
    MolmoImageSettings,
    MolmoProcessing,
    select_tiling,
)


@pytest.mark.parametrize("arch", ["7bd", "7bo", "molmoe"])
def test_equals_the_published_processor(arch):
    """One crop, four crops side by side and three stacked: tokens, patch positions, masks exactly; pixels to float32.

    7B-O's kind of tokenizer (OLMo's, ``<|endoftext|>`` as BOS) for ``7bo``, Qwen2's for the others."""
    processing = MolmoProcessing(tiny_tokenizer(arch), MolmoImageSettings.from_dict(TINY_IMAGES))
    reference = torch.load(DATA / f"molmo_{arch}" / "reference.pt", weights_only=True)
    for record, sample in zip(fixture_records(), reference["samples"]):
        out = processing.process([record["image"]], sample["prompt"])
        assert torch.equal(out["input_ids"], sample["input_ids"])
        assert torch.equal(out["image_input_idx"], sample["image_input_idx"])
        assert torch.equal(out["image_masks"], sample["image_masks"])
        assert list(out["images"].shape) == sample["images_shape"]
        torch.testing.assert_close(
            out["images"].double().sum(dim=(1, 2)), sample["pixel_sum"], rtol=1e-6, atol=1e-3
        )
        torch.testing.assert_close(
            out["images"].flatten()[::97], sample["pixel_probe"], rtol=1e-6, atol=1e-6
        )


def test_published_defaults_and_tiling():
    assert MolmoImageSettings() == MolmoImageSettings.from_dict(
        {
            "max_crops": 12,
            "overlap_margins": [4, 4],
            "base_image_input_size": [336, 336],
            "image_processor_type": "x",
        }
    )
    assert select_tiling(100, 100, 224, 12) == (1, 1)  # fits one crop: the smallest grid
    # 2x5 scales by min(448/300, 1120/900) = 1.24, the least upscaling (2x4: 896/900 < 1 would downscale)
    assert select_tiling(300, 900, 224, 12) == (2, 5)
    assert select_tiling(5000, 100, 224, 4) == (4, 1)  # must downscale: the least downscaling


def test_refuses_a_tokenizer_without_the_image_tokens():
    from tiny_models import qwen2_tokenizer

    with pytest.raises(ValueError, match="image tokens"):
        MolmoProcessing(qwen2_tokenizer())
