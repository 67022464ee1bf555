"""Choosing and loading the adapter for a checkpoint."""

from __future__ import annotations

from pathlib import Path

from transformers import AutoModelForImageTextToText, AutoProcessor

from vlmprune.errors import ModelError
from vlmprune.models.base import ModelAdapter, read_model_config, resolve_device, resolve_dtype
from vlmprune.models.llava import LlavaAdapter

ADAPTERS: dict[str, type[ModelAdapter]] = {cls.name: cls for cls in (LlavaAdapter,)}


def adapter_class(path: str | Path, name: str = "auto") -> type[ModelAdapter]:
    """The adapter named in the config, or the one that serves ``config.json``'s ``model_type``."""
    if name != "auto":
        try:
            return ADAPTERS[name]
        except KeyError:
            raise ModelError(f"model.adapter {name!r} is unknown; known adapters: {sorted(ADAPTERS)}") from None
    model_type = read_model_config(path).get("model_type")
    for cls in ADAPTERS.values():
        if model_type in cls.model_types:
            return cls
    known = sorted(t for cls in ADAPTERS.values() for t in cls.model_types)
    raise ModelError(
        f"no adapter knows model_type {model_type!r} of {str(path)!r}; known model types: {known}. "
        "Name an adapter with model.adapter and, if its block list lives elsewhere, its module path with model.block_path"
    )


def count_blocks(path: str | Path, *, adapter: str = "auto", component: str = "language") -> int:
    return adapter_class(path, adapter).count_blocks(read_model_config(path), component)


def load_adapter(
    path: str | Path,
    *,
    adapter: str = "auto",
    dtype: str = "auto",
    device: str = "auto",
    component: str = "language",
    block_path: str | None = None,
) -> ModelAdapter:
    """Load model and processor with ``from_pretrained`` and wrap them in their adapter."""
    cls = adapter_class(path, adapter)
    torch_device = resolve_device(device)
    model = AutoModelForImageTextToText.from_pretrained(
        str(path), dtype=resolve_dtype(dtype, torch_device), use_safetensors=True
    ).to(torch_device)
    processor = AutoProcessor.from_pretrained(str(path))
    return cls(model, processor, component=component, block_path=block_path)
