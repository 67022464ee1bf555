"""The recorded outputs of Molmo v1's published code (``tests/data/molmo_*``): what a native implementation must equal.

These pin the fixtures themselves and what they showed about the adapter's padding: the
published code, fed a padded batch as ``MolmoAdapter.encode`` builds it, answers every sample
as it does alone; fed the raw -1/-100 indices, the seed experiments' MolmoE copy does not.
"""

from __future__ import annotations

import pytest
import torch

from molmo_reference import DATA, SAMPLES, TRACKED_IDS, load_shapes, molmo_weights, synthetic_images

ARCHS = ("7bd", "7bo", "molmoe")


def reference(arch: str) -> dict:
    return torch.load(DATA / f"molmo_{arch}" / "reference.pt", weights_only=True)


@pytest.mark.parametrize("arch", ARCHS)
def test_weights_regenerate_from_names_and_shapes(arch):
    shapes = load_shapes(arch)
    assert any(".transformer.blocks.3." in name for name in shapes)
    assert any(".image_vit.transformer.resblocks.9." in name for name in shapes)
    first, again = molmo_weights(shapes), molmo_weights(shapes)
    assert all(torch.equal(first[n], again[n]) for n in shapes)
    assert all(list(first[n].shape) == shapes[n] for n in shapes)
    other = molmo_weights(shapes, seed=1)
    assert not torch.equal(
        first["model.transformer.wte.embedding"], other["model.transformer.wte.embedding"]
    )


@pytest.mark.parametrize("arch", ARCHS)
def test_the_fixture_covers_different_crop_counts_and_unused_patches(arch):
    ref = reference(arch)
    samples = ref["samples"]
    assert len(samples) == len(SAMPLES) and ref["tracked_ids"] == TRACKED_IDS
    crops = [s["images_shape"][0] for s in samples]
    assert len(set(crops)) == len(crops)  # every sample a different number of crops
    assert any((s["image_input_idx"] == -100).any() for s in samples)
    for s in samples:
        assert s["image_input_idx"].shape[0] == s["images_shape"][0]
        assert s["greedy"].shape == (ref["max_new_tokens"],)
        assert (
            s["greedy"][0] == s["last_logits"].argmax()
        )  # the first greedy token is the prompt's argmax
        assert s["tracked_logits"].shape == (len(s["input_ids"]), len(TRACKED_IDS))
        torch.testing.assert_close(s["tracked_logits"][-1], s["last_logits"][TRACKED_IDS])


@pytest.mark.parametrize("arch", ARCHS)
def test_parked_padded_batch_answered_each_sample_as_alone(arch):
    ref = reference(arch)
    alone = torch.stack([s["last_logits"] for s in ref["samples"]])
    torch.testing.assert_close(ref["batch_last_logits"], alone, rtol=1e-5, atol=1e-5)


def test_raw_padding_broke_the_seed_copy_of_molmoe_only():
    """The -1/-100 indices, unparked: the seed copy adds the third sample's unused patches onto the second's tokens."""
    for arch, broken in (("7bd", False), ("7bo", False), ("molmoe", True)):
        ref = reference(arch)
        alone = torch.stack([s["last_logits"] for s in ref["samples"]])
        gap = (ref["unparked_batch_last_logits"] - alone).abs().amax(-1)
        assert bool((gap > 0.1).any()) is broken, (arch, gap)


def test_synthetic_images_are_seeded():
    shape = (2, 64, 588)
    assert torch.equal(synthetic_images(shape, 0), synthetic_images(shape, 0))
    assert not torch.equal(synthetic_images(shape, 0), synthetic_images(shape, 1))


def test_the_fork_changes_molmoe_s_outputs_only_in_a_raw_padded_batch():
    """allenai/molmo's code and the seed copy (``ChulanZhang/molmo_hf``) on the same MolmoE weights.

    One sample at a time they agree to float rounding (the MoE sums in another order) and give the
    same greedy tokens; fed a raw padded batch (-1 padding, -100 unused patches), the original
    answers each sample as alone while the copy's flat-offset feature insertion moves one sample.
    """
    fork, original = (
        reference("molmoe"),
        torch.load(DATA / "molmo_molmoe" / "reference_original.pt", weights_only=True),
    )
    for mine, theirs in zip(fork["samples"], original["samples"], strict=True):
        assert mine["greedy"].tolist() == theirs["greedy"].tolist()
        assert 0 < (mine["last_logits"] - theirs["last_logits"]).abs().max() < 2e-6
    alone = torch.stack([s["last_logits"] for s in original["samples"]])
    torch.testing.assert_close(original["unparked_batch_last_logits"], alone, rtol=1e-5, atol=1e-5)
    assert (fork["unparked_batch_last_logits"] - alone).abs().max() > 1.0


@pytest.mark.parametrize("arch", ["7bd", "7bo"])
def test_allenai_molmo_and_the_hub_code_agree_exactly_on_the_7b_layout(arch):
    hub = reference(arch)
    original = torch.load(DATA / f"molmo_{arch}" / "reference_original.pt", weights_only=True)
    for mine, theirs in zip(hub["samples"], original["samples"], strict=True):
        assert torch.equal(mine["last_logits"], theirs["last_logits"])
        assert torch.equal(mine["greedy"], theirs["greedy"])
