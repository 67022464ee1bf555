"""MULTIFLOW step 2, data side: per-input-feature activation statistics from one calibration pass.

Forward hooks on every prunable linear layer add, per batch, the squared input activations
summed over tokens (``sum_sq``, one float64 per input feature) and count the sequences seen.
That is all the information-flow and Wanda scores need: both use the per-feature norm
``||X_j||^2 / n`` with ``n`` the number of sequences, as MULTIFLOW's ``_offload_actns``
(Farina et al., CVPR 2024, ``FarinaMatteo/multiflow``, ``pruners/multiflow.py``) and Wanda's
``WrappedGPT.add_batch`` (Sun et al., ICLR 2024, ``locuslab/wanda``, ``lib/layerwrapper.py``)
keep it as a running mean. A running sum is the same quantity without the rescaling and keeps
O(in_features) memory per layer: activations are never stored.

As in MULTIFLOW, padding tokens are left out of the text and fusion layers' sums (their
inputs are ``[batch, tokens, features]`` aligned with the attention mask); inputs of other
lengths (the vision tower's patches, the projector's image features) count every position.
"""

from __future__ import annotations

import inspect
import json
import logging
import os
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from safetensors import safe_open
from safetensors.torch import save_file
from torch import nn
from tqdm import tqdm

log = logging.getLogger(__name__)

STATS_KEY = "layers"


@dataclass
class FeatureStats:
    """Running sums of one linear layer's inputs."""

    modality: str
    sum_sq: torch.Tensor  # float64 [in_features]: sum over kept tokens of x_j^2
    tokens: int = 0
    sequences: int = 0
    checkpoint_name: str = ""  # step 1's name of the layer, when it differs from the module name

    def add(self, inputs: torch.Tensor, token_mask: torch.Tensor | None) -> None:
        """Add one batch of inputs ``[batch, ..., in_features]``; ``token_mask [batch, tokens]``
        drops padding."""
        sequences = inputs.shape[0] if inputs.dim() > 1 else 1
        if (
            token_mask is not None
            and inputs.dim() == 3
            and tuple(inputs.shape[:2]) == tuple(token_mask.shape)
        ):
            rows = inputs[token_mask.to(inputs.device)]
        else:
            rows = inputs.reshape(-1, inputs.shape[-1])
        self.sum_sq += rows.to(torch.float64).square().sum(dim=0)
        self.tokens += rows.shape[0]
        self.sequences += sequences

    @property
    def norm_sq(self) -> torch.Tensor:
        """``||X_j||^2 / n`` over the sequences seen: MULTIFLOW's ``actn_norms``, Wanda's
        ``scaler_row``."""
        if self.sequences == 0:
            raise ValueError(f"no calibration input reached this {self.modality} layer")
        return self.sum_sq / self.sequences


class StatsCollector:
    """Forward pre-hooks on the named linear layers of ``model``, accumulating
    :class:`FeatureStats`."""

    def __init__(self, model: nn.Module, layers: Mapping[str, str]) -> None:
        self.model = model
        self.stats: dict[str, FeatureStats] = {}
        self.token_mask: torch.Tensor | None = None
        self._modules: dict[str, nn.Linear] = {}
        for name, modality in layers.items():
            try:
                module = model.get_submodule(name)
            except AttributeError:
                raise ValueError(
                    f"prunable layer {name!r} of the checkpoint is not a module of the "
                    "loaded model; "
                    "save the model again with save_pretrained so tensor and module names agree"
                ) from None
            if not isinstance(module, nn.Linear):
                raise ValueError(
                    f"prunable layer {name!r} is a {type(module).__name__}, not a linear layer; "
                    "leave it out with multiflow.exclude"
                )
            self._modules[name] = module
            weight = module.weight
            self.stats[name] = FeatureStats(
                modality, torch.zeros(weight.shape[1], dtype=torch.float64, device=weight.device)
            )

    def _hook(self, name: str):
        stats = self.stats[name]
        keep_padding_out = stats.modality in ("text", "fusion")

        def hook(_module: nn.Module, args: tuple[Any, ...]) -> None:
            stats.add(args[0].detach(), self.token_mask if keep_padding_out else None)

        return hook

    @contextmanager
    def hooked(self) -> Iterator[StatsCollector]:
        handles = [m.register_forward_pre_hook(self._hook(n)) for n, m in self._modules.items()]
        try:
            yield self
        finally:
            for handle in handles:
                handle.remove()

    def stats_bytes(self) -> int:
        return sum(s.sum_sq.numel() * s.sum_sq.element_size() for s in self.stats.values())


def collect_statistics(
    adapter: Any, records: Sequence[dict], layers: Mapping[str, str], batch_size: int = 8
) -> StatsCollector:
    """One forward pass of ``adapter``'s model over ``records`` (prompts and images through
    ``adapter.encode``), with hooks on ``layers`` (name -> modality)."""
    collector = StatsCollector(adapter.model, layers)
    model = adapter.model
    # the output head is never pruned: its logits are needed for one position only, not the whole
    # batch
    extra = (
        {"logits_to_keep": 1}
        if "logits_to_keep" in inspect.signature(model.forward).parameters
        else {}
    )
    with collector.hooked(), torch.inference_mode():
        for start in tqdm(
            range(0, len(records), batch_size), desc="calibration batches", mininterval=5
        ):
            inputs = adapter.encode(
                [records[i] for i in range(start, min(len(records), start + batch_size))]
            )
            collector.token_mask = (
                inputs["attention_mask"].bool() if "attention_mask" in inputs else None
            )
            model(**inputs, use_cache=False, **extra)
    collector.token_mask = None
    missing = [n for n, s in collector.stats.items() if s.sequences == 0]
    if missing:
        raise ValueError(
            f"{len(missing)} prunable layers saw no calibration input "
            f"({', '.join(missing[:3])} …); "
            "check multiflow.patterns"
        )
    return collector


def save_statistics(
    path: str | os.PathLike, stats: Mapping[str, FeatureStats], metadata: Mapping[str, Any]
) -> None:
    """Write the sums (safetensors, one float64 vector per layer) with counts and provenance,
    atomically."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    layers = {
        n: {
            "modality": s.modality,
            "tokens": s.tokens,
            "sequences": s.sequences,
            "checkpoint_name": s.checkpoint_name or n,
        }
        for n, s in stats.items()
    }
    tmp = path.with_name(f".{path.name}.tmp")
    try:
        save_file(
            {n: s.sum_sq.detach().cpu().contiguous() for n, s in stats.items()},
            str(tmp),
            metadata={STATS_KEY: json.dumps(layers), "calibration": json.dumps(dict(metadata))},
        )
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def load_statistics(path: str | os.PathLike) -> tuple[dict[str, FeatureStats], dict[str, Any]]:
    """The statistics and the calibration provenance written by :func:`save_statistics`."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(
            f"calibration statistics {str(path)!r} do not exist; build them with rule "
            "multiflow_calibrate"
        )
    with safe_open(str(path), framework="pt") as f:
        meta = f.metadata() or {}
        layers = json.loads(meta.get(STATS_KEY, "{}"))
        stats = {
            n: FeatureStats(
                v["modality"], f.get_tensor(n), v["tokens"], v["sequences"], v["checkpoint_name"]
            )
            for n, v in layers.items()
        }
    return stats, json.loads(meta.get("calibration", "{}"))
