"""One-pass importance proxies, recorded by forward hooks during the baseline evaluation.

Per block, over the prompt-prefill tokens (padding excluded by the attention mask, decode
steps ignored), the mean cosine similarity between the block's input and output hidden
states. From it: Block Influence = 1 - mean cosine (ShortGPT), and the mean angular distance
arccos(cosine) / pi (Gromov et al.). A block that barely changes its input scores near 0 on
both and is a candidate for removal; the compare stage checks whether these rankings agree
with the ablation importance.

The sums are taken per chunk of the evaluation and stored with the full model's chunks, so the
proxies of a resumed job cover every sample, as an uninterrupted job's do.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from vlmprune.result_files import write_json


class ProxyRecorder:
    """Sums of cosine and angular distance, and token counts, per block (read with ``totals``)."""

    def __init__(self, num_blocks: int, active: bool = True) -> None:
        self.active = active
        self.cosine = [0.0] * num_blocks
        self.angular = [0.0] * num_blocks
        self.tokens = [0] * num_blocks
        self.sequences = 0
        self.mask: torch.Tensor | None = None

    def on_model_call(self, module: nn.Module, args: tuple, kwargs: dict) -> None:
        mask = kwargs.get("attention_mask")
        self.mask = mask if isinstance(mask, torch.Tensor) and mask.dim() == 2 else None

    @contextmanager
    def counting(self) -> Iterator[None]:
        """Within the context, block forwards count (for a recorder made inactive: the full model's
        pass only)."""
        self.active = True
        try:
            yield
        finally:
            self.active = False

    def on_block(self, index: int, args: tuple, kwargs: dict, output: Any) -> None:
        if not self.active:
            return
        hidden_in = args[0] if args else kwargs["hidden_states"]
        hidden_out = output[0] if isinstance(output, tuple) else output
        batch, length = hidden_in.shape[:2]
        if length == 1:  # a decode step: only the prompt prefill counts
            return
        if self.mask is not None and self.mask.shape == (batch, length):
            valid = self.mask.to(hidden_in.device).bool()
        else:
            valid = torch.ones(batch, length, dtype=torch.bool, device=hidden_in.device)
        cosine = torch.nn.functional.cosine_similarity(
            hidden_in.float(), hidden_out.float(), dim=-1
        ).clamp(-1.0, 1.0)
        cosine = cosine[valid]
        self.cosine[index] += float(cosine.sum(dtype=torch.float64))
        self.angular[index] += float((torch.arccos(cosine) / math.pi).sum(dtype=torch.float64))
        self.tokens[index] += int(valid.sum())
        if index == 0:
            self.sequences += batch

    def totals(self) -> dict[str, Any]:
        """Plain sums, to be gathered across ranks and merged by ``proxy_summary``."""
        return {
            "cosine": self.cosine,
            "angular": self.angular,
            "tokens": self.tokens,
            "sequences": self.sequences,
        }

    def chunk_widths(self) -> dict[str, int]:
        """The per-chunk sums :meth:`take` returns, with their widths."""
        blocks = len(self.tokens)
        return {f"proxy_{k}": blocks for k in ("cosine", "angular", "tokens")} | {
            "proxy_sequences": 1
        }

    def take(self) -> dict[str, list[float]]:
        """The sums since the last call, as rows stored with a chunk; then zero.

        :func:`totals_from_chunks` adds the rows of all chunks up again.
        """
        rows = {
            "proxy_cosine": list(self.cosine),
            "proxy_angular": list(self.angular),
            "proxy_tokens": [float(t) for t in self.tokens],
            "proxy_sequences": [float(self.sequences)],
        }
        blocks = len(self.tokens)
        self.cosine, self.angular, self.tokens = [0.0] * blocks, [0.0] * blocks, [0] * blocks
        self.sequences = 0
        return rows


@contextmanager
def record_proxies(
    model: nn.Module, blocks: nn.ModuleList, active: bool = True
) -> Iterator[ProxyRecorder]:
    """Within the context, every forward of ``blocks`` inside ``model`` adds to the recorder.

    With ``active=False`` only forwards inside the recorder's ``counting()`` context add: the
    job that also evaluates ablations counts the full model's pass alone.
    """
    recorder = ProxyRecorder(len(blocks), active)
    handles = [model.register_forward_pre_hook(recorder.on_model_call, with_kwargs=True)]
    for index, block in enumerate(blocks):
        handles.append(
            block.register_forward_hook(
                lambda module, args, kwargs, output, index=index: recorder.on_block(
                    index, args, kwargs, output
                ),
                with_kwargs=True,
            )
        )
    try:
        yield recorder
    finally:
        for handle in handles:
            handle.remove()


def proxy_summary(parts: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """Per-block proxies from the totals of one or more ranks."""
    num_blocks = len(parts[0]["tokens"])
    tokens = [sum(p["tokens"][i] for p in parts) for i in range(num_blocks)]
    cosine = [
        sum(p["cosine"][i] for p in parts) / tokens[i] if tokens[i] else float("nan")
        for i in range(num_blocks)
    ]
    angular = [
        sum(p["angular"][i] for p in parts) / tokens[i] if tokens[i] else float("nan")
        for i in range(num_blocks)
    ]
    return {
        "sequences": sum(p["sequences"] for p in parts),
        "tokens": tokens[0] if tokens else 0,
        "mean_cosine": {str(i): c for i, c in enumerate(cosine)},
        "block_influence": {str(i): 1.0 - c for i, c in enumerate(cosine)},
        "angular_distance": {str(i): a for i, a in enumerate(angular)},
    }


def totals_from_chunks(rows: Mapping[str, np.ndarray]) -> dict[str, Any]:
    """The totals of a whole pass from the per-chunk rows :meth:`ProxyRecorder.take` returned."""
    total = {name: np.asarray(r, dtype="f8").sum(axis=0) for name, r in rows.items()}
    return {
        "cosine": total["proxy_cosine"].tolist(),
        "angular": total["proxy_angular"].tolist(),
        "tokens": [int(t) for t in total["proxy_tokens"]],
        "sequences": int(total["proxy_sequences"][0]),
    }


def proxies_path(summary: str | Path) -> Path:
    """``results/baseline/{dataset}/{split}.proxies.json`` next to the baseline summary."""
    summary = Path(summary)
    return summary.with_name(summary.stem + ".proxies.json")


def write_proxies(path: str | Path, parts: Sequence[dict[str, Any]], attrs: dict[str, Any]) -> None:
    write_json(
        path,
        {
            **{k: attrs[k] for k in ("model", "dataset", "split") if k in attrs},
            **proxy_summary(parts),
        },
    )
