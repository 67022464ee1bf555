"""The published 7B-D preprocessing resizes with TensorFlow; the native one with torchvision
(antialiased bilinear). ``tests/data/molmo_tf_resize`` holds what both gave at the real sizes
(336 px crops, up to 12, five aspect ratios) and the published model's greedy answers under
each, on a tiny checkpoint with a 336 px tower; no TensorFlow runs here (``docs/molmo.md`` has
the figures)."""

from __future__ import annotations

import json

import pytest
import torch

from molmo_reference import DATA, grained, molmo_weights, tiny_tokenizer
from vlmprune.models.molmo.configuration import MolmoNativeConfig
from vlmprune.models.molmo.modeling import MolmoNativeForCausalLM
from vlmprune.models.molmo.processing import MolmoImageSettings, MolmoProcessing

VECTOR = DATA / "molmo_tf_resize"


@pytest.fixture(scope="module")
def recorded():
    return torch.load(VECTOR / "reference.pt", weights_only=True)


@pytest.fixture(scope="module")
def model(recorded):
    native = MolmoNativeForCausalLM(MolmoNativeConfig.from_dict(recorded["config"])).eval()
    native.load_state_dict(molmo_weights(json.loads((VECTOR / "weights.json").read_text())))
    return native


@pytest.fixture(scope="module")
def processed(recorded):
    processing = MolmoProcessing(tiny_tokenizer("7bd"), MolmoImageSettings())  # the published sizes
    return [
        processing.process([grained(VECTOR / case["image"], n)], recorded["prompt"])
        for n, case in enumerate(recorded["cases"])
    ]


def test_the_native_resize_is_the_torchvision_one_and_within_float_rounding_of_tensorflow(
    recorded, processed
):
    for case, out in zip(recorded["cases"], processed, strict=True):
        pixels = out["images"].flatten()
        assert list(out["images"].shape) == case["images_shape"]
        torch.testing.assert_close(pixels[case["positions"]], case["tv_values"], rtol=0, atol=1e-6)
        gap = (pixels[case["positions"]] - case["tf_values"]).abs()
        # the sample holds the pixel where TensorFlow and torchvision differed most
        assert gap.max().item() == pytest.approx(case["max_normalised_difference"], abs=1e-6)
        assert case["max_pixel_difference_255"] < 1e-2  # under a hundredth of one 8-bit level
    assert any(
        len(case["images_shape"]) and case["images_shape"][0] > 6 for case in recorded["cases"]
    )


@torch.inference_mode()
def test_greedy_answers_are_the_same_under_either_resize(recorded, processed, model):
    lasts = []
    for case, out in zip(recorded["cases"], processed, strict=True):
        assert (
            case["greedy_tf"].tolist() == case["greedy_tv"].tolist()
        )  # what the published code did
        inputs = {k: v[None] for k, v in out.items()}
        logits = model(**inputs).logits[0, -1]
        torch.testing.assert_close(logits, case["last_logits_tv"], rtol=1e-5, atol=1e-5)
        torch.testing.assert_close(logits, case["last_logits_tf"], rtol=1e-5, atol=1e-5)
        tokens = model.generate(
            **inputs,
            max_new_tokens=recorded["max_new_tokens"],
            do_sample=False,
            eos_token_id=None,
            pad_token_id=0,
        )[0, inputs["input_ids"].shape[1] :]
        assert tokens.tolist() == case["greedy_tf"].tolist()
        lasts.append(logits)
    # the resize moves the logits far less than another picture does
    spread = max((a - b).abs().max().item() for a in lasts for b in lasts)
    resize = max(
        (c["last_logits_tf"] - c["last_logits_tv"]).abs().max().item() for c in recorded["cases"]
    )
    assert resize * 1000 < spread
