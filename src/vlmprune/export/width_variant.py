"""Export a width variant: ``results/pruned/{method}-{s}/``, the checkpoint with its pruned weights
zeroed.

The model is loaded as the evaluation loads it, masked in place and written with
``save_pretrained`` (processor beside it, a short model card), into a temporary sibling
directory that is renamed into place when complete. Plain transformers loads it (Molmo v1:
vlmprune's native loader); its predictions equal the variant's evaluation store sample by sample.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from vlmprune.models.base import read_model_config
from vlmprune.models.loading import load_adapter, resolve_model_path
from vlmprune.models.masking import SHAPES_KEY, apply_masks, read_metadata
from vlmprune.result_files import atomic_path, ordinary_modes
from vlmprune.settings import schema_defaults


def export_dtype(model: Mapping[str, Any]) -> str:
    """The configured dtype, else the checkpoint's own (not float32 just because the export runs on
    the CPU)."""
    if model.get("dtype", "auto") != "auto":
        return str(model["dtype"])
    config = read_model_config(resolve_model_path(model["path"], config_only=True))
    text = config.get("text_config") or {}
    saved = (
        config.get("dtype")
        or config.get("torch_dtype")
        or text.get("dtype")
        or text.get("torch_dtype")
    )
    return saved if saved in ("float32", "bfloat16", "float16") else "float32"


def model_card(
    variant: str, model_path: str, summary: Mapping[str, Any] | None, loading: tuple[str, str]
) -> str:
    """``loading``: the adapter's ``loading_instructions``."""
    lines = [
        f"# {variant}",
        "",
        f"Unstructured pruning of `{model_path}` by vlmprune: the pruned weights are zero.",
        f"The tensors keep their shapes. {loading[0]}",
        "",
        "```python",
        loading[1].format(variant=variant),
        "```",
    ]
    if summary:
        lines += [
            "",
            f"- method: {summary['method']}, target sparsity {summary['target_sparsity']}",
            f"- pruned {summary['pruned']:,} of {summary['params']:,} prunable weights "
            f"({summary['actual_sparsity']:.2%})",
        ]
        lines += [
            f"- {m}: {v['actual_sparsity']:.2%} of {v['params']:,}"
            for m, v in summary["modalities"].items()
        ]
    return "\n".join(lines) + "\n"


def export_pruned(
    model: Mapping[str, Any],
    masks_path: str | os.PathLike,
    out_dir: str | os.PathLike,
    summary: Mapping[str, Any] | None = None,
) -> Path:
    """Write the masked checkpoint to ``out_dir`` (replacing it only once the new one is
    complete)."""
    out_dir = Path(out_dir)
    metadata = {k: v for k, v in read_metadata(masks_path).items() if k != SHAPES_KEY}
    variant = out_dir.name or f"{metadata.get('method')}-{metadata.get('target_sparsity')}"
    model = {**schema_defaults("model"), **model}
    adapter = load_adapter(
        model["path"],
        adapter=model["adapter"],
        dtype=export_dtype(model),
        device="cpu",
        trust_remote_code=bool(model["trust_remote_code"]),
        allow_pickle=bool(model["allow_pickle"]),
    )
    apply_masks(adapter.model, masks_path)
    with atomic_path(out_dir) as tmp:
        adapter.model.save_pretrained(tmp)
        adapter.processor.save_pretrained(tmp)
        (tmp / "README.md").write_text(
            model_card(variant, str(model["path"]), summary, adapter.loading_instructions)
        )
        (tmp / "vlmprune_pruning.json").write_text(
            json.dumps({"variant": variant, **metadata}, indent=2) + "\n"
        )
        ordinary_modes(tmp)
    return out_dir
