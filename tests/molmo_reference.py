"""Tiny Molmo v1 checkpoints in the published weight layout, and the fixtures recorded from the published code.

The weights are not stored: each tensor is drawn from a generator seeded by the tensor's
position in the sorted list of names (``tests/data/molmo_*/weights.json`` holds names and
shapes), so a test rebuilds exactly the weights the published code was run with. The
published modelling code itself is not part of this repository: the reference outputs in
``tests/data/molmo_*/reference.pt`` were produced once, in a scratch directory, by running
it on transformers 5.23 (see ``README.md`` there for how).
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import torch

DATA = Path(__file__).parent / "data"


def molmo_weights(shapes: dict[str, list[int]], seed: int = 0) -> dict[str, torch.Tensor]:
    """Deterministic random weights for the named shapes: norms near one, biases small, matrices ~ 1/sqrt(fan-in)."""
    weights = {}
    for position, name in enumerate(sorted(shapes)):
        shape = tuple(shapes[name])
        generator = torch.Generator().manual_seed(seed * 100_003 + position)
        noise = torch.randn(shape, generator=generator)
        if (
            len(shape) == 1
            and name.endswith(".weight")
            and any(k in name for k in ("norm", "ln_", "ln."))
        ):
            weights[name] = 1.0 + 0.1 * noise
        elif len(shape) == 1:
            weights[name] = (0.1 if name.endswith(".bias") else 0.5) * noise
        else:
            weights[name] = noise / math.sqrt(shape[-1])
    return weights


def load_shapes(arch: str) -> dict[str, list[int]]:
    return json.loads((DATA / f"molmo_{arch}" / "weights.json").read_text())


#: (index in easy_vqa's val split, size the image is resized to): one crop, several crops wide, several tall.
SAMPLES = ((0, None), (1, (192, 64)), (2, (56, 168)))
#: vocabulary ids whose logits are kept at every position (all ids are kept at the last position)
TRACKED_IDS = list(range(0, 400, 25))


def fixture_records() -> list[dict]:
    from vlmprune.data.registry import load_split

    split = load_split("easy_vqa", "val")
    records = []
    for index, size in SAMPLES:
        record = dict(split[index])
        image = record["image"].convert("RGB")
        record["image"] = image.resize(size) if size else image
        records.append(record)
    return records


def synthetic_images(shape: tuple[int, ...], seed: int) -> torch.Tensor:
    """Pixel input for the model-level fixtures, independent of the image preprocessing."""
    return torch.randn(shape, generator=torch.Generator().manual_seed(1000 + seed)).clamp(-2, 2)


def grained(path: Path, seed: int):
    """A stored test picture plus seeded grain of +-24 levels (the grain makes the resize work on detail)."""
    import numpy as np
    from PIL import Image

    base = np.asarray(Image.open(path).convert("RGB"), dtype=np.int16)
    grain = np.random.default_rng(seed).integers(-24, 25, size=base.shape)
    return Image.fromarray(np.clip(base + grain, 0, 255).astype(np.uint8))


IMAGE_TOKENS = ["<im_start>", "<im_end>", "<im_patch>", "<im_col>", "<|image|>"]
#: preprocessor_config.json of the tiny checkpoints (the published processor took these sizes)
TINY_IMAGES = {
    "max_crops": 4,
    "overlap_margins": [2, 2],
    "base_image_input_size": [112, 112],
    "image_token_length_w": 4,
    "image_token_length_h": 4,
    "image_patch_size": 14,
    "image_padding_mask": True,
    "do_normalize": True,
}


def olmo_tokenizer(extra: list[str] = ()):
    """A tiny tokenizer in Molmo-7B-O's kind (OLMo's GPT-2-style BPE, ``<|endoftext|>`` as BOS and EOS)."""
    from transformers import GPT2Tokenizer

    from tiny_models import _trained_bpe

    vocab, merges = _trained_bpe("bytelevel")
    tokenizer = GPT2Tokenizer(
        vocab=dict(vocab),
        merges=list(merges),
        bos_token="<|endoftext|>",
        eos_token="<|endoftext|>",
        unk_token="<|endoftext|>",
        pad_token="<|pad|>",
    )
    tokenizer.add_special_tokens({"additional_special_tokens": list(extra)})
    return tokenizer


def tiny_tokenizer(arch: str):
    """Qwen2's kind for the 7B-D and MolmoE fixtures (as recorded), OLMo's for 7B-O."""
    from tiny_models import qwen2_tokenizer

    return (olmo_tokenizer if arch == "7bo" else qwen2_tokenizer)(IMAGE_TOKENS)


def tiny_config(arch: str) -> dict:
    """The config.json the published code ran with: 7B-D's layout (plus the tower's sizes; 7B-O's
    values for ``7bo``) or MolmoE's (OLMo names)."""
    return json.loads((DATA / f"molmo_{arch}" / "config.json").read_text())


def save_tiny_molmo(out: Path, arch: str) -> Path:
    """A hub snapshot laid out as the published one (config.json with auto_map, tokenizer, preprocessor, weights).

    The published ``.py`` files are not written: nothing here runs them. The 7B-D tower's sizes are in a
    ``vision_backbone`` section, which the real 7B-D config.json lacks (its code fixes the tower).
    """
    from safetensors.torch import save_file

    out.mkdir(parents=True, exist_ok=True)
    (out / "config.json").write_text(json.dumps(tiny_config(arch), indent=2))
    (out / "preprocessor_config.json").write_text(
        json.dumps(
            {
                "auto_map": {
                    "AutoImageProcessor": "image_preprocessing_molmo.MolmoImageProcessor",
                    "AutoProcessor": "preprocessing_molmo.MolmoProcessor",
                },
                "image_processor_type": "MolmoImageProcessor",
                "processor_class": "MolmoProcessor",
                **TINY_IMAGES,
            },
            indent=2,
        )
    )
    tiny_tokenizer(arch).save_pretrained(out)
    save_file(
        molmo_weights(load_shapes(arch)), out / "model.safetensors", metadata={"format": "pt"}
    )
    return out
