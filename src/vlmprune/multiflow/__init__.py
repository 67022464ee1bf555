"""MULTIFLOW (Farina et al., CVPR 2024): how a global sparsity budget is split across layers
per modality, and the masks that meet it.

- Step 1, budgets from the checkpoint's files alone: ``weight_stream`` (tensors read one by
  one), ``modality`` (which tensor is vision, fusion or text), ``kth_value`` (exact k-th
  magnitude), ``tower`` (LLaVA's separate CLIP tower), ``distribution`` (the budgets),
  ``report`` and ``plot``, ``step1`` (all of it to files).
- Steps 2-3, masks on the loaded model: ``layers`` (prunable modules), ``calibration``
  (activation statistics), ``scores``, ``lowest_k`` (which weights go), ``masks`` (files and
  summary), ``prune`` (the steps run from files, for the workflow and ``vlmprune multiflow
  prune``).
- ``config``: the ``multiflow`` section of the workflow's config.
"""

from importlib import import_module
from typing import Any

from vlmprune.multiflow.config import MultiflowConfig
from vlmprune.multiflow.distribution import Distribution, compute_distribution
from vlmprune.multiflow.step1 import run_step1, write_step1
from vlmprune.multiflow.weight_stream import CheckpointError

# steps 2-3 load models (transformers, datasets): imported on first use, not with step 1
_STEPS_2_3 = ("calibrate", "compute_masks", "make_masks")

__all__ = [
    "CheckpointError",
    "Distribution",
    "MultiflowConfig",
    "calibrate",
    "compute_distribution",
    "compute_masks",
    "make_masks",
    "run_step1",
    "write_step1",
]


def __getattr__(name: str) -> Any:
    if name in _STEPS_2_3:
        return getattr(import_module("vlmprune.multiflow.prune"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
