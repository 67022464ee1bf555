"""The CLIP tower of LLaVA's original layout, which that layout's checkpoints do not hold.

``liuhaotian/llava-v1.5-*`` shards carry the projector and the language model only; LLaVA
loads the vision tower at run time from ``config.json``'s ``mm_vision_tower`` (a hub id such
as ``openai/clip-vit-large-patch14-336``) as a ``CLIPVisionModel``. Step 1 reads the tower's
``vision_model.*`` tensors from that checkpoint (``multiflow.vision_tower_path``, else the
local Hugging Face cache) and names them as LLaVA does when it saves the tower with the model
(``model.vision_tower.vision_tower.vision_model.*``), so the vision patterns find them.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import re
from pathlib import Path

from vlmprune.multiflow.weight_stream import CheckpointError, TensorInfo, list_tensors, weight_files

log = logging.getLogger(__name__)

TOWER_PREFIX = "model.vision_tower.vision_tower."
TOWER_TENSORS = re.compile(r"^vision_model\.")
HAS_TOWER = re.compile(r"(^|\.)vision_tower\.")


def mm_vision_tower(model_dir: Path) -> str | None:
    """``config.json``'s ``mm_vision_tower`` (LLaVA's original layout), or None."""
    config = model_dir / "config.json"
    if not config.is_file():
        return None
    try:
        value = json.loads(config.read_text()).get("mm_vision_tower")
    except (OSError, ValueError, AttributeError):
        return None
    return str(value) if value else None


def _cached_snapshot(repo_id: str) -> Path | None:
    from huggingface_hub import snapshot_download

    try:
        return Path(snapshot_download(repo_id, local_files_only=True))
    except Exception:  # not cached, or not a valid hub id: the caller warns
        return None


def find_tower(model_dir: Path, configured: str | None) -> Path | None:
    """Where the tower's weights are: the configured path, a local ``mm_vision_tower`` directory,
    or its cached snapshot."""
    if configured:
        path = Path(configured).expanduser()
        if not path.exists():
            raise CheckpointError(
                f"multiflow.vision_tower_path {configured!r} does not exist; point it at "
                "the vision "
                "tower's checkpoint directory (e.g. a copy of openai/clip-vit-large-patch14-336)"
            )
        return path
    name = mm_vision_tower(model_dir)
    if name is None:
        return None
    if Path(name).expanduser().is_dir():
        return Path(name).expanduser()
    return _cached_snapshot(name)


def tower_tensors(
    model_dir: Path, infos: list[TensorInfo], configured: str | None
) -> list[TensorInfo]:
    """The tower's tensors under LLaVA's saved names, when the checkpoint lacks them; else
    nothing."""
    if any(HAS_TOWER.search(info.name) for info in infos):
        return []
    name = mm_vision_tower(model_dir)
    path = find_tower(model_dir, configured)
    if path is None:
        log.warning(
            "this LLaVA checkpoint holds no vision tower and config.json's mm_vision_tower "
            "%r is neither a "
            "directory nor in the local Hugging Face cache: set "
            "multiflow.vision_tower_path to its checkpoint",
            name,
        )
        return []
    found = [info for info in list_tensors(weight_files(path)) if TOWER_TENSORS.search(info.name)]
    if not found:
        raise CheckpointError(
            f"the vision tower checkpoint {path} holds no vision_model.* tensors; "
            "multiflow.vision_tower_path must be a CLIP (vision) checkpoint"
        )
    log.info("vision tower %s: %d tensors from %s", name or "(configured)", len(found), path)
    return [
        dataclasses.replace(info, name=TOWER_PREFIX + info.name, source_name=info.name)
        for info in found
    ]


def check_tower_setting(model_dir: str | Path, architecture: str, configured: str | None) -> None:
    """Refuse ``multiflow.vision_tower_path`` for a checkpoint that holds its own tower.

    Only LLaVA's original layout reads it; anywhere else it would be ignored. An architecture
    that cannot be told from the checkpoint is left for step 1 to report.
    """
    from vlmprune.errors import ConfigError
    from vlmprune.multiflow.modality import detect_architecture

    if configured is None:
        return
    if architecture == "auto":
        try:
            names = (i.name for i in list_tensors(weight_files(model_dir)))
            architecture = detect_architecture(names, Path(model_dir))
        except (ValueError, CheckpointError):
            return
    if architecture != "llava-original":
        raise ConfigError(
            f"multiflow.vision_tower_path is {configured!r}, but {str(model_dir)!r} is in the "
            f"{architecture} layout, which holds its own vision tower, so the key would be "
            "ignored; remove it (only LLaVA's original layout reads it)"
        )
