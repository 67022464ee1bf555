"""MULTIFLOW step 1: each layer's sparsity budget from a per-modality magnitude ranking.

Within each modality, all prunable weights are ranked by |W| together and the
``k = round(target * total)`` smallest are pruned (``round`` is Python's, half to even), with
ties broken as :mod:`vlmprune.multiflow.kth_value` describes; the fraction of each layer that
falls below the line is that layer's sparsity budget. Tensors are streamed from the weight
files (:mod:`vlmprune.multiflow.weight_stream`); nothing concatenates the scores.
"""

from __future__ import annotations

import logging
import os
import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from vlmprune.multiflow import kth_value
from vlmprune.multiflow.config import MultiflowConfig
from vlmprune.multiflow.modality import MODALITIES, ModalityRules, detect_architecture
from vlmprune.multiflow.tower import tower_tensors
from vlmprune.multiflow.weight_stream import (
    TensorInfo,
    iter_tensor_chunks,
    list_tensors,
    weight_files,
)

log = logging.getLogger(__name__)


@dataclass
class Layer:
    name: str  # tensor name without ".weight"
    modality: str
    numel: int
    pruned: int = 0

    @property
    def sparsity(self) -> float:
        return self.pruned / self.numel


@dataclass
class Modality:
    name: str
    layers: list[Layer] = field(
        default_factory=list
    )  # model order: pattern index, then natural name order
    threshold: float | None = None  # |W| of the k-th smallest weight; None when nothing is pruned

    @property
    def total(self) -> int:
        return sum(layer.numel for layer in self.layers)

    @property
    def pruned(self) -> int:
        return sum(layer.pruned for layer in self.layers)

    def stats(self) -> dict:
        sparsities = np.array([layer.sparsity for layer in self.layers])
        return {
            "num_layers": len(self.layers),
            "total_params": self.total,
            "pruned_params": self.pruned,
            "actual_sparsity": self.pruned / self.total,
            "min_layer_sparsity": float(sparsities.min()),
            "max_layer_sparsity": float(sparsities.max()),
            "mean_layer_sparsity": float(sparsities.mean()),
            "std_layer_sparsity": float(sparsities.std()),
            "threshold": self.threshold,
        }


@dataclass
class Distribution:
    target: float
    architecture: str
    modalities: dict[str, Modality]  # every modality, in MODALITIES order, empty ones included

    @property
    def layers(self) -> list[Layer]:
        return [layer for m in self.modalities.values() for layer in m.layers]

    def to_json(self) -> dict:
        return {
            "target_sparsity": self.target,
            "architecture": self.architecture,
            "modality_stats": {name: m.stats() for name, m in self.modalities.items() if m.layers},
            "layer_distribution": {layer.name: layer.sparsity for layer in self.layers},
        }


def _natural_key(name: str) -> list:
    return [int(part) if part.isdigit() else part for part in re.split(r"(\d+)", name)]


def _assign(infos: list[TensorInfo], rules: ModalityRules) -> dict[str, list[TensorInfo]]:
    groups: dict[str, list[TensorInfo]] = {m: [] for m in MODALITIES}
    unassigned = []
    for info in infos:
        if rules.is_prunable(info.name, info.shape):
            modality = rules.modality(info.name)
            (groups[modality] if modality else unassigned).append(info)
    if unassigned:
        log.warning(
            "%d prunable tensors match no modality pattern and are left out: %s%s",
            len(unassigned),
            ", ".join(i.name for i in unassigned[:5]),
            " …" if len(unassigned) > 5 else "",
        )
    return groups


def compute_distribution(
    model_path: str | os.PathLike,
    target: float,
    config: MultiflowConfig | None = None,
    chunk_bytes: int = 64 * 2**20,
) -> Distribution:
    """Per-layer sparsity budgets for one target, streaming the checkpoint in ``model_path``.

    Per modality, the k-th smallest |W| is found exactly from histograms of the magnitudes'
    bit patterns: one pass over the high 16 bits, and for 32-bit weights a second pass over the
    low 16 bits of the bucket that holds the k-th value; ties at the threshold are split
    deterministically.
    """
    if not 0.0 <= target <= 1.0:
        raise ValueError(f"target sparsity must lie in [0, 1], not {target}")
    config = config or MultiflowConfig()
    architecture, rules, groups = _modality_groups(model_path, config)
    key_dtype = {m: _key_dtype(group) for m, group in groups.items()}
    modality_of = {i.name: m for m, g in groups.items() for i in g}
    prunable = [i for g in groups.values() for i in g]
    high = _high_histograms(prunable, key_dtype, modality_of, chunk_bytes)
    ks = {m: int(round(target * sum(i.numel for i in group))) for m, group in groups.items()}
    result = {m: Modality(m) for m in groups}
    below: dict[str, int] = {}
    ties: dict[str, int] = {}
    second_pass: dict[str, int] = {}  # wide modality -> high bucket to resolve
    for m, group in groups.items():
        if ks[m] == 0:
            below.update({i.name: 0 for i in group})
            ties.update({i.name: 0 for i in group})
            continue
        bucket, _ = kth_value.locate(sum(high[i.name] for i in group), ks[m])
        for i in group:
            below[i.name] = int(high[i.name][:bucket].sum())
            ties[i.name] = int(high[i.name][bucket])
        if key_dtype[m] is None:
            second_pass[m] = bucket
        else:
            result[m].threshold = kth_value.key_to_float(bucket, key_dtype[m])
    if second_pass:
        _resolve_low_bits(
            groups, prunable, modality_of, second_pass, ks, below, ties, result, chunk_bytes
        )
    for m, group in groups.items():
        taken = kth_value.split_ties(
            {i.name: ties[i.name] for i in group}, ks[m] - sum(below[i.name] for i in group)
        )
        for info in sorted(group, key=lambda i: (rules.rank(i.name, m), _natural_key(i.name))):
            result[m].layers.append(
                Layer(
                    info.name.removesuffix(".weight"),
                    m,
                    info.numel,
                    below[info.name] + taken[info.name],
                )
            )
    return Distribution(target, architecture, result)


def checkpoint_rules(
    model_path: str | os.PathLike, config: MultiflowConfig
) -> tuple[ModalityRules, list[TensorInfo]]:
    """The modality rules of a checkpoint (the configured architecture, or the one its tensor names
    tell) and its tensors; LLaVA's original layout brings its vision tower's from their own
    checkpoint."""
    infos = list_tensors(weight_files(model_path))
    model_dir = Path(model_path) if Path(model_path).is_dir() else Path(model_path).parent
    architecture = config.architecture
    if architecture == "auto":
        try:
            architecture = detect_architecture((i.name for i in infos), model_dir)
        except ValueError:
            if set(config.patterns) != set(MODALITIES):
                raise
            architecture = "custom"  # every modality's patterns given; exclusions from config only
    if architecture == "llava-original":
        infos = infos + tower_tensors(model_dir, infos, config.vision_tower_path)
    return ModalityRules.build(architecture, config.patterns, config.exclude), infos


def prunable_layers(
    model_path: str | os.PathLike, config: MultiflowConfig | None = None
) -> dict[str, str]:
    """Layer name (tensor name without ``.weight``) -> modality, for every prunable weight of the
    checkpoint."""
    rules, infos = checkpoint_rules(model_path, config or MultiflowConfig())
    groups = _assign(infos, rules)
    return {i.name.removesuffix(".weight"): m for m, group in groups.items() for i in group}


def _modality_groups(
    model_path: str | os.PathLike, config: MultiflowConfig
) -> tuple[str, ModalityRules, dict[str, list[TensorInfo]]]:
    """The checkpoint's architecture, its modality rules and its prunable tensors per modality.

    A modality without prunable tensors is warned of when no tensor matches its patterns at all
    (a pattern or a checkpoint that is not what it should be); one whose tensors are all
    excluded from pruning (embeddings, output head: LLaVA's text) is as designed, and logged.
    """
    rules, infos = checkpoint_rules(model_path, config)
    architecture = rules.architecture
    groups = _assign(infos, rules)
    if not any(groups.values()):
        raise ValueError(
            f"no prunable weights found in {model_path} for architecture {architecture!r}; "
            "check multiflow.patterns and multiflow.exclude"
        )
    for m, group in groups.items():
        matched = [i.name for i in infos if rules.modality(i.name) == m]
        if not group and matched:
            # by design, e.g. LLaVA: its language model counts as fusion, so text holds only the
            # embeddings and the output head, which are never pruned; nothing to warn of
            log.info(
                "modality %s: none of its %d tensors (%s) is prunable; the report has no %s rows",
                m,
                len(matched),
                ", ".join(matched[:3]) + (" …" if len(matched) > 3 else ""),
                m.upper(),
            )
        elif not group:
            log.warning(
                "!!! modality %s is EMPTY: no prunable tensor of %s matches its patterns, "
                "so the report has "
                "no %s rows; check multiflow.patterns%s",
                m.upper(),
                model_path,
                m.upper(),
                " and multiflow.vision_tower_path"
                if m == "vision" and architecture == "llava-original"
                else "",
            )
    log.info(
        "architecture %s; %s",
        architecture,
        ", ".join(f"{m}: {len(g)} tensors" for m, g in groups.items()),
    )
    return architecture, rules, groups


def _key_dtype(group: list[TensorInfo]) -> str | None:
    """The 16-bit dtype a modality's magnitudes are keyed by when all its tensors share one; None:
    32-bit keys."""
    dtypes = {i.dtype for i in group}
    return dtypes.pop() if len(dtypes) == 1 and not dtypes & {"F32"} else None


def _high_histograms(
    prunable: list[TensorInfo],
    key_dtype: dict[str, str | None],
    modality_of: dict[str, str],
    chunk_bytes: int,
) -> dict[str, np.ndarray]:
    """Per tensor, the histogram of the high 16 bits of its magnitudes' keys."""
    high: dict[str, np.ndarray] = {}
    for info, chunks in iter_tensor_chunks(prunable, chunk_bytes):
        wide = key_dtype[modality_of[info.name]] is None
        hist = np.zeros(kth_value.MAG_BINS, dtype=np.int64)
        for bits in chunks:
            hist += kth_value.high_histogram(bits, info.dtype, wide)
        high[info.name] = hist
    return high


def _resolve_low_bits(
    groups: dict[str, list[TensorInfo]],
    prunable: list[TensorInfo],
    modality_of: dict[str, str],
    second_pass: dict[str, int],
    ks: dict[str, int],
    below: dict[str, int],
    ties: dict[str, int],
    result: dict[str, Modality],
    chunk_bytes: int,
) -> None:
    """The second pass for 32-bit modalities: the low 16 bits inside the high bucket that holds the
    k-th value."""
    wanted = [i for i in prunable if modality_of[i.name] in second_pass and ties[i.name] > 0]
    low: dict[str, np.ndarray] = {}
    for info, chunks in iter_tensor_chunks(wanted, chunk_bytes):
        bucket = second_pass[modality_of[info.name]]
        hist = np.zeros(kth_value.BINS, dtype=np.int64)
        for bits in chunks:
            hist += kth_value.low_histogram(bits, info.dtype, bucket)
        low[info.name] = hist
    for m, high_bucket in second_pass.items():
        names = [i.name for i in wanted if modality_of[i.name] == m]
        still = ks[m] - sum(below[i.name] for i in groups[m])
        low_bucket, _ = kth_value.locate(sum(low[n] for n in names), still)
        for n in names:
            below[n] += int(low[n][:low_bucket].sum())
            ties[n] = int(low[n][low_bucket])
        result[m].threshold = kth_value.key_to_float((high_bucket << 16) | low_bucket, None)
