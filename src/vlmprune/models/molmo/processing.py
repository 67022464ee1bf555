"""Molmo v1's image preprocessing and prompt layout, without the checkpoint's code.

What ``MolmoProcessor.process(images=[image], text=prompt, message_format="none",
always_start_with_space=False)`` of the published ``preprocessing_molmo.py`` /
``image_preprocessing_molmo.py`` gives, for one image placed before the prompt:

- the image is split into a grid of overlapping crops (at most ``max_crops``; the grid is the
  one that needs the least upscaling, or the least downscaling when every grid downscales);
  neighbouring crops share ``overlap_margins`` patches, and only each crop's inner window gives
  tokens, so a crop's margin patches get ``image_input_idx`` -100;
- a low-resolution copy of the whole image comes first (``images[0]``); each crop is
  ``(patches, patch_size**2 * 3)`` pixels normalised with CLIP's mean and standard deviation;
- tokens: ``<im_start>``, rows of ``<im_patch>`` each ended by ``<im_col>``, ``<im_end>`` for
  the low-resolution copy, then the same for the crops' pooled grid, then the prompt, all after
  the end-of-text token that serves as BOS;
- ``image_masks``: the share of each patch that is image rather than padding, per crop, with
  the published code's order kept as it is (the crops' rows first, then one row of -1).

Resizing is torchvision's bilinear resize with antialiasing, the alternative the published
function carries (its active path calls TensorFlow, whose resize differs in the last digits).
:func:`collate` pads such samples into one batch.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

CLIP_MEAN = (0.48145466, 0.4578275, 0.40821073)
CLIP_STD = (0.26862954, 0.26130258, 0.27577711)
IMAGE_TOKENS = ("<im_start>", "<im_end>", "<im_patch>", "<im_col>", "<|image|>")


@dataclass(frozen=True)
class MolmoImageSettings:
    """``preprocessor_config.json`` of the published checkpoints (the published defaults)."""

    max_crops: int = 12
    overlap_margins: tuple[int, int] = (4, 4)
    base_image_input_size: tuple[int, int] = (336, 336)
    image_token_length_w: int = 12
    image_token_length_h: int = 12
    image_patch_size: int = 14

    @classmethod
    def from_dict(cls, config: dict[str, Any]) -> MolmoImageSettings:
        keys = cls.__dataclass_fields__
        values = {k: tuple(v) if isinstance(v, list) else v for k, v in config.items() if k in keys}
        return cls(**values)


def resize_and_pad(image: np.ndarray, size: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
    """Scale ``image`` (uint8, HWC) to fit ``size`` keeping its aspect, centre it on zeros,
    normalise; and its mask."""
    import torchvision.transforms.functional as TF
    from torchvision.transforms import InterpolationMode

    height, width = image.shape[:2]
    scale = min(np.float32(size[0]) / np.float32(height), np.float32(size[1]) / np.float32(width))
    scaled = (int(np.float32(height) * scale), int(np.float32(width) * scale))
    pixels = TF.convert_image_dtype(torch.from_numpy(image).permute(2, 0, 1))
    pixels = TF.resize(pixels, list(scaled), InterpolationMode.BILINEAR, antialias=True).clamp(
        0.0, 1.0
    )
    pixels = pixels.permute(1, 2, 0).numpy()
    top, left = (size[0] - scaled[0]) // 2, (size[1] - scaled[1]) // 2
    padding = [(top, size[0] - scaled[0] - top), (left, size[1] - scaled[1] - left)]
    mask = np.pad(np.ones(scaled, dtype=bool), padding)
    pixels = np.pad(pixels, [*padding, (0, 0)])
    pixels = (pixels - np.array(CLIP_MEAN, np.float32)) / np.array(CLIP_STD, np.float32)
    return pixels.astype(np.float32), mask


def select_tiling(height: int, width: int, window: int, max_crops: int) -> tuple[int, int]:
    """Rows and columns of crops: the least upscaling that fits, else the least downscaling;
    smaller grids win ties."""
    tilings = sorted(
        (
            (i, j)
            for i in range(1, max_crops + 1)
            for j in range(1, max_crops + 1)
            if i * j <= max_crops
        ),
        key=lambda t: (t[0] * t[1], t[0]),
    )
    candidates = np.array(tilings, dtype=np.int32)
    with np.errstate(divide="ignore"):
        needed = (candidates * window).astype(np.float32) / np.array(
            [height, width], dtype=np.float32
        )
    needed = needed.min(axis=-1)
    if np.all(needed < 1):
        index = int(np.argmax(needed))
    else:
        index = int(np.argmin(np.where(needed < 1.0, 10e9, needed)))
    return int(candidates[index][0]), int(candidates[index][1])


def to_patches(pixels: np.ndarray, patch: int) -> np.ndarray:
    """``(..., H, W, C)`` -> ``(..., H/patch * W/patch, patch * patch * C)``, patches in row
    order."""
    *lead, height, width, channels = pixels.shape
    grid = pixels.reshape(*lead, height // patch, patch, width // patch, patch, channels)
    grid = np.moveaxis(grid, -4, -3)  # (..., h, w, dh, dw, c)
    return grid.reshape(*lead, (height // patch) * (width // patch), patch * patch * channels)


class MolmoProcessing:
    """Molmo v1's ``process`` for one image and one already formatted prompt."""

    def __init__(self, tokenizer: Any, settings: MolmoImageSettings | None = None) -> None:
        self.tokenizer = tokenizer
        self.settings = settings or MolmoImageSettings()
        ids = tokenizer.encode("".join(IMAGE_TOKENS), add_special_tokens=False)
        if len(ids) != len(IMAGE_TOKENS):
            raise ValueError(
                f"the tokenizer does not hold Molmo's image tokens {IMAGE_TOKENS} as single tokens"
            )
        self.start, self.end, self.patch, self.col, _ = ids

    def save_pretrained(self, directory: str | Path) -> None:
        """The tokenizer's files and ``preprocessor_config.json`` with these settings, as the
        native loader reads them."""
        self.tokenizer.save_pretrained(directory)
        settings = {
            k: list(v) if isinstance(v, tuple) else v
            for k, v in dataclasses.asdict(self.settings).items()
        }
        (Path(directory) / "preprocessor_config.json").write_text(
            json.dumps(settings, indent=2) + "\n"
        )

    def _rows(self, rows: int, columns: int) -> list[int]:
        return [self.start, *([self.patch] * columns + [self.col]) * rows, self.end]

    def crops(self, image: np.ndarray) -> tuple[np.ndarray, list[int], np.ndarray, np.ndarray]:
        """Crops (low-resolution copy first), image tokens, where each crop token's feature goes,
        patch masks."""
        s = self.settings
        patch, (left, right) = s.image_patch_size, s.overlap_margins
        per_side = s.base_image_input_size[0] // patch
        tokens_h, tokens_w = s.image_token_length_h, s.image_token_length_w
        window_patches = per_side - (left + right)
        window = window_patches * patch
        margin = patch * (left + right)
        rows, columns = select_tiling(
            image.shape[0] - margin, image.shape[1] - margin, window, s.max_crops
        )
        pixels, mask = resize_and_pad(image, (rows * window + margin, columns * window + margin))
        crops, masks, orders, on = [], [], [], 0
        for i in range(rows):
            top = 0 if i == 0 else left // 2
            height = window_patches + (left if i == 0 else 0) + (right if i == rows - 1 else 0)
            for j in range(columns):
                start = 0 if j == 0 else left // 2
                width = (
                    window_patches + (left if j == 0 else 0) + (right if j == columns - 1 else 0)
                )
                pooled_h, pooled_w = (height + 1) // 2, (width + 1) // 2
                order = np.full((tokens_h, tokens_w), -1, dtype=np.int64)
                order[top : top + pooled_h, start : start + pooled_w] = np.arange(
                    on, on + pooled_h * pooled_w
                ).reshape(pooled_h, pooled_w)
                orders.append(order)
                y, x = i * window, j * window
                crops.append(pixels[y : y + per_side * patch, x : x + per_side * patch])
                masks.append(mask[y : y + per_side * patch, x : x + per_side * patch])
                on += pooled_h * pooled_w
        order = np.stack(orders).reshape(-1)
        valid = order >= 0
        # tokens run left to right over the whole image, not crop by crop
        by_rows = (
            np.stack(orders)
            .reshape(rows, columns, tokens_h, tokens_w)
            .transpose(0, 2, 1, 3)
            .reshape(-1)
        )
        order[valid] = by_rows[by_rows >= 0]
        patch_masks = to_patches(np.stack(masks)[..., None].astype(np.float32), patch).mean(-1)
        patch_masks = np.pad(patch_masks, [(0, 1), (0, 0)], constant_values=-1)
        full_h = rows * window_patches + left + right
        full_w = columns * window_patches + left + right
        tokens = self._rows(tokens_h, tokens_w) + self._rows((full_h + 1) // 2, (full_w + 1) // 2)
        low_res, _ = resize_and_pad(image, s.base_image_input_size)
        all_crops = np.concatenate(
            [to_patches(low_res, patch)[None], to_patches(np.stack(crops), patch)]
        )
        per_image = tokens_h * tokens_w
        order = np.concatenate([np.arange(per_image), np.where(order >= 0, order + per_image, -1)])
        return all_crops, tokens, order, patch_masks

    def input_index(self, tokens: list[int], order: np.ndarray) -> np.ndarray:
        """For each crop token, the position of the ``<im_patch>`` it fills; -100 where none."""
        positions = np.nonzero(np.array(tokens) == self.patch)[0]
        valid = order >= 0
        rank = np.zeros(len(positions), dtype=np.int64)
        rank[order[valid]] = np.arange(int(valid.sum()))
        ranked = np.full(order.shape, -1, dtype=np.int64)
        ranked[valid] = rank
        index = np.where(ranked >= 0, positions[np.maximum(ranked, 0)], -100)
        return index.reshape(
            -1, self.settings.image_token_length_w * self.settings.image_token_length_h
        )

    def process(
        self,
        images: list[Image.Image],
        text: str,
        message_format: str = "none",
        always_start_with_space: bool = False,
    ) -> dict[str, torch.Tensor]:
        """The published ``process`` for one image before a prompt already in Molmo's format."""
        if message_format != "none" or always_start_with_space or len(images) != 1:
            raise ValueError(
                "MolmoProcessing takes one image and a prompt already in Molmo's format"
            )
        image = np.array(images[0].convert("RGB")).astype(np.uint8)
        crops, image_tokens, order, masks = self.crops(image)
        index = self.input_index(image_tokens, order)
        bos = self.tokenizer.bos_token_id or self.tokenizer.eos_token_id
        ids = [bos, *image_tokens, *self.tokenizer.encode(text, add_special_tokens=False)]
        return {
            "input_ids": torch.tensor(ids, dtype=torch.long),
            "images": torch.from_numpy(crops),
            "image_input_idx": torch.from_numpy(np.where(index < 0, index, index + 1)),
            "image_masks": torch.from_numpy(masks.astype(np.float32)),
        }


def collate(
    samples: list[dict[str, torch.Tensor]], pad_token_id: int = 0
) -> dict[str, torch.Tensor]:
    """One batch for ``generate`` from the processor's unbatched samples: prompts padded on the
    left.

    ``image_input_idx`` moves with its prompt; crops a sample lacks are -1 (no token, zero
    features), as the published processor pads them.
    """
    length = max(len(s["input_ids"]) for s in samples)
    crops = max(s["images"].shape[0] for s in samples)
    batch: dict[str, list[torch.Tensor]] = {
        k: [] for k in ("input_ids", "attention_mask", "images", "image_masks", "image_input_idx")
    }
    for s in samples:
        shift = length - len(s["input_ids"])
        missing = crops - s["images"].shape[0]
        batch["input_ids"].append(F.pad(s["input_ids"].long(), (shift, 0), value=pad_token_id))
        batch["attention_mask"].append(
            F.pad(torch.ones_like(s["input_ids"], dtype=torch.long), (shift, 0))
        )
        batch["images"].append(F.pad(s["images"], (0, 0, 0, 0, 0, missing), value=-1))
        batch["image_masks"].append(F.pad(s["image_masks"], (0, 0, 0, missing), value=-1))
        index = s["image_input_idx"].long()
        batch["image_input_idx"].append(
            F.pad(torch.where(index >= 0, index + shift, index), (0, 0, 0, missing), value=-1)
        )
    return {k: torch.stack(v) for k, v in batch.items()}
