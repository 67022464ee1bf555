"""MULTIFLOW step 3: masks for one method at one target sparsity, and their summary.

- ``multiflow``: information-flow scores, each layer pruned to exactly its step-1 budget;
- ``magnitude``: |W|, the same budgets (what the scores add over step 1's ranking alone);
- ``wanda``: |W|·||x||, a uniform ``s`` in every output row of every prunable layer.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn
from tqdm import tqdm

from vlmprune.engine.variants import PRUNING_METHODS, check_sparsity
from vlmprune.models.masking import pack, save_masks
from vlmprune.multiflow.calibration import FeatureStats
from vlmprune.multiflow.distribution import Distribution
from vlmprune.multiflow.lowest_k import lowest_k, per_row
from vlmprune.multiflow.modality import MODALITIES
from vlmprune.multiflow.scores import SCORES
from vlmprune.result_files import read_json, write_json

BUDGETED = ("multiflow", "magnitude")


def check_method(method: str) -> None:
    if method not in PRUNING_METHODS:
        raise ValueError(f"unknown pruning method {method!r}; use one of {list(PRUNING_METHODS)}")


def budgets_of(distribution: Distribution) -> dict[str, int]:
    """Layer name -> number of weights step 1 assigned to it."""
    return {layer.name: layer.pruned for layer in distribution.layers}


def read_budgets(path: str | os.PathLike, numels: Mapping[str, int]) -> dict[str, int]:
    """Budgets from a step-1 ``sparsity_distribution_{s}.json``, checked against its modality totals.

    The file holds each layer's sparsity ``pruned / numel``; ``round(sparsity * numel)`` gives
    the count back exactly (both are far below 2**53).
    """
    distribution = read_json(path).get("layer_distribution") if Path(path).is_file() else None
    if not isinstance(distribution, dict):
        raise ValueError(
            f"{path} is not a step-1 sparsity distribution (no layer_distribution); "
            "rerun rule multiflow_step1 or vlmprune multiflow step1"
        )
    missing = sorted(set(numels) - set(distribution))
    if missing:
        raise ValueError(
            f"{path} has no budget for {len(missing)} prunable layers ({', '.join(missing[:3])} …); "
            "it was computed for another checkpoint or other multiflow patterns: rerun step 1"
        )
    budgets = {name: int(round(distribution[name] * numels[name])) for name in numels}
    extra = sorted(set(distribution) - set(numels))
    if extra:
        raise ValueError(
            f"{path} budgets {len(extra)} layers the model does not prune ({', '.join(extra[:3])} …); "
            "rerun step 1 with the same multiflow patterns"
        )
    return budgets


def layer_weights(model: nn.Module, names: Mapping[str, str]) -> dict[str, torch.Tensor]:
    return {name: model.get_submodule(name).weight for name in names}


def build_masks(
    weights: Mapping[str, torch.Tensor],
    stats: Mapping[str, FeatureStats],
    method: str,
    target: float,
    budgets: Mapping[str, int] | None = None,
) -> tuple[dict[str, np.ndarray], dict[str, tuple[int, ...]], dict[str, dict[str, Any]]]:
    """Packed masks, shapes and per-layer rows of the summary, one layer at a time."""
    check_method(method)
    check_sparsity(target)
    if method in BUDGETED and budgets is None:
        raise ValueError(
            f"method {method} prunes each layer to its step-1 budget: give the budgets"
        )
    score_fn = SCORES[method]
    packed, shapes, layers = {}, {}, {}
    for name, weight in tqdm(weights.items(), desc=f"{method} scores and masks", mininterval=5):
        layer_stats = stats[name]
        score = score_fn(weight, layer_stats.norm_sq if method != "magnitude" else None)
        if method in BUDGETED:
            mask = lowest_k(score, budgets[name])
            layer_target = budgets[name] / weight.numel()
        else:
            mask = per_row(score, target)
            layer_target = target
        del score
        pruned = int(mask.sum())
        packed[name] = pack(mask)
        shapes[name] = tuple(weight.shape)
        layers[name] = {
            "modality": layer_stats.modality,
            "params": weight.numel(),
            "pruned": pruned,
            "target_sparsity": layer_target,
            "actual_sparsity": pruned / weight.numel(),
        }
    return packed, shapes, layers


def summarise(
    method: str, target: float, layers: Mapping[str, dict], calibration: Mapping[str, Any]
) -> dict[str, Any]:
    """Per modality and overall: target and actual sparsity of the prunable weights."""
    modalities = {}
    for modality in MODALITIES:
        rows = [row for row in layers.values() if row["modality"] == modality]
        if not rows:
            continue
        params = sum(r["params"] for r in rows)
        modalities[modality] = {
            "layers": len(rows),
            "params": params,
            "pruned": sum(r["pruned"] for r in rows),
            "target_sparsity": sum(r["target_sparsity"] * r["params"] for r in rows) / params,
            "actual_sparsity": sum(r["pruned"] for r in rows) / params,
        }
    params = sum(r["params"] for r in layers.values())
    pruned = sum(r["pruned"] for r in layers.values())
    return {
        "method": method,
        "target_sparsity": target,
        "calibration": dict(calibration),
        "params": params,
        "pruned": pruned,
        "actual_sparsity": pruned / params if params else 0.0,
        "modalities": modalities,
        "layers": dict(layers),
    }


def write_masks(
    masks_path: str | os.PathLike,
    summary_path: str | os.PathLike,
    weights: Mapping[str, torch.Tensor],
    stats: Mapping[str, FeatureStats],
    method: str,
    target: float,
    budgets: Mapping[str, int] | None,
    calibration: Mapping[str, Any],
) -> dict[str, Any]:
    """Build the masks and write them (bit-packed) and their JSON summary, each atomically."""
    packed, shapes, layers = build_masks(weights, stats, method, target, budgets)
    summary = summarise(method, target, layers, calibration)
    save_masks(
        masks_path, packed, shapes, {"method": method, "target_sparsity": repr(float(target))}
    )
    write_json(summary_path, summary)
    return summary


def describe(summary: Mapping[str, Any]) -> str:
    """One line per modality for the log."""
    parts = [
        f"{m}: {v['actual_sparsity']:.2%} (target {v['target_sparsity']:.2%}, {v['layers']} layers)"
        for m, v in summary["modalities"].items()
    ]
    return (
        f"{summary['method']} at {summary['target_sparsity']}: {summary['actual_sparsity']:.2%} of "
        f"{summary['params']:,} prunable weights; " + "; ".join(parts)
    )
