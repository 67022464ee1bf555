"""Export a variant: the checkpoint with its blocks physically deleted, its processor and its model
card.

The directory is built beside its destination and renamed into place when complete
(:func:`vlmprune.result_files.atomic_path`), so an interrupted export never leaves a directory
that looks finished. What changes in the model (block list, ``layer_idx``, per-layer config
fields) is the adapter's :meth:`~vlmprune.models.base.ModelAdapter.delete`.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from vlmprune.engine.variants import removed_blocks
from vlmprune.models.base import DTYPES, ModelAdapter, read_model_config
from vlmprune.models.loading import load_adapter, resolve_model_path
from vlmprune.result_files import atomic_path, ordinary_modes


def checkpoint_dtype(config: Mapping[str, Any]) -> str:
    """The dtype the checkpoint was saved in (so the export keeps it), float32 when it does not
    say."""
    for section in (config, config.get("text_config") or {}):
        name = section.get("dtype") or section.get("torch_dtype")
        if name in DTYPES:
            return name
    return "float32"


def load_for_export(model: Mapping[str, Any]) -> ModelAdapter:
    """The configured model on the CPU, in the dtype it was saved in."""
    local = resolve_model_path(model["path"])
    return load_adapter(
        local,
        adapter=model["adapter"],
        dtype=checkpoint_dtype(read_model_config(local)),
        device="cpu",
        component=model["component"],
        block_path=model.get("block_path"),
        trust_remote_code=bool(model["trust_remote_code"]),
        allow_pickle=bool(model["allow_pickle"]),
    )


def export_variant(adapter: ModelAdapter, variant: str, out: str | Path, card: str) -> Path:
    """Write ``out``: ``save_pretrained`` of the model without the variant's blocks, the processor,
    ``README.md``."""
    removed = removed_blocks(variant, len(adapter.blocks), adapter.component)
    out = Path(out)
    with atomic_path(out) as building, adapter.delete(removed):
        adapter.model.save_pretrained(building)
        adapter.processor.save_pretrained(building)
        (building / "README.md").write_text(card)
        ordinary_modes(building)
    return out
