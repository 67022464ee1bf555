"""Unstructured pruning masks: bit-packed files, applied to a loaded model's weights in place.

A mask file is a safetensors file with one ``uint8`` tensor per pruned layer, keyed by the
layer's module name (``model.language_model.layers.0.mlp.up_proj``): the layer's boolean
mask, ``True`` where a weight is pruned, flattened row-major and packed eight to a byte by
``numpy.packbits``. The metadata holds each layer's weight shape as JSON, so a file is read
back without the model. One bit per weight: a 7B model's masks take under 1 GB.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import torch
from safetensors import safe_open
from safetensors.numpy import save_file
from torch import nn

SHAPES_KEY = "shapes"


def pack(mask: torch.Tensor) -> np.ndarray:
    """A boolean mask as packed bits (row-major, eight weights per byte)."""
    return np.packbits(mask.detach().to("cpu", torch.bool).numpy().reshape(-1))


def unpack(bits: np.ndarray, shape: tuple[int, ...]) -> torch.Tensor:
    """The boolean mask of ``shape`` that :func:`pack` packed into ``bits``."""
    count = int(np.prod(shape, dtype=np.int64))
    return torch.from_numpy(np.unpackbits(bits, count=count).astype(bool).reshape(shape))


def save_masks(
    path: str | os.PathLike,
    packed: Mapping[str, np.ndarray],
    shapes: Mapping[str, tuple[int, ...]],
    metadata: Mapping[str, str] | None = None,
) -> None:
    """Write packed masks (layer name -> :func:`pack` of its mask, True = pruned) atomically."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    try:
        save_file(
            dict(packed),
            str(tmp),
            metadata={
                **(metadata or {}),
                SHAPES_KEY: json.dumps({n: list(shapes[n]) for n in packed}),
            },
        )
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def iter_masks(path: str | os.PathLike) -> Iterator[tuple[str, torch.Tensor]]:
    """``(layer name, boolean mask)`` for each layer of a mask file, one unpacked at a time."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(
            f"mask file {str(path)!r} does not exist; build it with rule multiflow_masks "
            "or vlmprune multiflow prune"
        )
    with safe_open(str(path), framework="numpy") as f:
        shapes = json.loads((f.metadata() or {}).get(SHAPES_KEY, "{}"))
        for name in f.keys():
            if name not in shapes:
                raise ValueError(
                    f"mask file {path} has no shape for layer {name!r}; write it again"
                )
            yield name, unpack(f.get_tensor(name), tuple(shapes[name]))


def read_metadata(path: str | os.PathLike) -> dict[str, str]:
    with safe_open(str(path), framework="numpy") as f:
        return dict(f.metadata() or {})


def _weight(model: nn.Module, name: str, shape: tuple[int, ...]) -> torch.Tensor:
    try:
        weight = model.get_submodule(name).weight
    except AttributeError:
        raise ValueError(
            f"the mask names layer {name!r}, which the model does not have; the masks were made "
            "for another checkpoint (or one saved with other module names)"
        ) from None
    if tuple(weight.shape) != shape:
        raise ValueError(
            f"mask of layer {name!r} has shape {list(shape)} but its weight {list(weight.shape)}"
        )
    return weight


@torch.no_grad()
def apply_masks(model: nn.Module, path: str | os.PathLike) -> int:
    """Zero the masked weights of ``model`` in place; returns how many weights were zeroed."""
    zeroed = 0
    for name, mask in iter_masks(path):
        weight = _weight(model, name, tuple(mask.shape))
        weight.masked_fill_(mask.to(weight.device), 0)
        zeroed += int(mask.sum())
    return zeroed


@contextmanager
@torch.no_grad()
def masked(model: nn.Module, path: str | os.PathLike) -> Iterator[int]:
    """Within the context the masked weights are zero; on exit they get their values back, bit for bit.

    Only the pruned values are kept aside (``s`` of the masked layers), never a copy of the model.
    """
    kept: list[tuple[torch.Tensor, torch.Tensor, torch.Tensor]] = []
    zeroed = 0
    try:
        for name, mask in iter_masks(path):
            weight = _weight(model, name, tuple(mask.shape))
            mask = mask.to(weight.device)
            kept.append((weight, mask, weight[mask].clone()))
            weight.masked_fill_(mask, 0)
            zeroed += int(mask.sum())
        yield zeroed
    finally:
        for weight, mask, values in kept:
            weight[mask] = values
