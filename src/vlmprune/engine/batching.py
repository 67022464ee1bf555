"""Micro-batch sizes for generation: the configured size (or an estimate from free memory) that
halves on out-of-memory."""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

import torch

from vlmprune.models.base import ModelAdapter

log = logging.getLogger(__name__)

MAX_ESTIMATE = 1024


@dataclass
class BatchSizer:
    """Micro-batch size for generation: grows as blocks are removed, halves on out-of-memory."""

    base: int
    num_blocks: int
    halvings: int = 0
    events: list[str] = field(default_factory=list)

    def size_for(self, removed: int) -> int:
        kept = max(1, self.num_blocks - removed)
        return max(1, (self.base * self.num_blocks // kept) >> self.halvings)

    def halve(self, size: int) -> None:
        if size <= 1:
            raise RuntimeError(
                "out of memory at batch size 1; use a smaller model dtype or a larger device"
            )
        self.halvings += 1
        self.events.append(f"out of memory at batch size {size}; halved")
        log.warning(self.events[-1])


def is_oom(error: BaseException) -> bool:
    return isinstance(error, torch.OutOfMemoryError) or "out of memory" in str(error).lower()


def recover_from_oom() -> None:
    if torch.cuda.is_available():
        torch.cuda.empty_cache()


T = TypeVar("T")


def map_micro_batches(
    records: Sequence[dict], fn: Callable[[Sequence[dict]], T], sizer: BatchSizer, removed: int
) -> Iterator[T]:
    """``fn`` on consecutive micro-batches of ``records``; an out-of-memory error halves the size
    and redoes the batch."""
    start = 0
    while start < len(records):
        size = sizer.size_for(removed)
        try:
            result = fn(records[start : start + size])
        except (torch.OutOfMemoryError, RuntimeError) as error:
            if not is_oom(error):
                raise
            recover_from_oom()
            sizer.halve(size)
            continue
        yield result
        start += size


def bytes_per_sample(adapter: ModelAdapter, tokens: int, max_new_tokens: int) -> int:
    """A generous estimate of one sample's generation memory: KV cache, activations, recorded
    prefix.

    The fused engine keeps every shared block's output and cache writes, hence the factor on
    the per-block terms; activations of the widest layer and the logits come on top.
    """
    config = adapter.model.config
    text = getattr(config, "text_config", config)
    hidden = int(text.hidden_size)
    heads = int(text.num_attention_heads)
    head_dim = int(getattr(text, "head_dim", None) or hidden // heads)
    kv_width = 2 * int(getattr(text, "num_key_value_heads", None) or heads) * head_dim
    wide = max(int(getattr(text, "intermediate_size", 4 * hidden)), hidden * 4)
    element = adapter.model.dtype.itemsize
    length = tokens + max_new_tokens
    per_block = length * (2 * kv_width + hidden)  # cache, recorded cache writes, recorded output
    activations = 4 * tokens * (wide + heads * tokens) + int(text.vocab_size) * 4
    return element * (len(adapter.blocks) * per_block + activations)


def free_memory(device: torch.device) -> int:
    """Bytes free on ``device``: GPU memory on CUDA, available RAM otherwise."""
    if device.type == "cuda":
        return int(torch.cuda.mem_get_info(device)[0])
    return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")


def initial_batch_size(
    adapter: ModelAdapter, configured: int | str, sample: dict[str, Any], max_new_tokens: int
) -> int:
    """The micro-batch size to start from: ``configured`` (``evaluation.batch_size``) on any device.

    Only ``"auto"`` estimates it: as many samples like ``sample`` as fit in 80% of the free
    memory of the model's device. Either way an out-of-memory error halves it later.
    """
    if configured != "auto":
        if isinstance(configured, bool) or not isinstance(configured, int) or configured < 1:
            raise ValueError(
                f"evaluation.batch_size must be a positive integer or 'auto', not {configured!r}"
            )
        return configured
    device = adapter.device
    tokens = int(adapter.encode([sample])["input_ids"].shape[1])
    free = free_memory(device)
    estimate = int(0.8 * free) // max(1, bytes_per_sample(adapter, tokens, max_new_tokens))
    size = max(1, min(MAX_ESTIMATE, estimate))
    log.info("batch size %d (auto) from %.1f GiB free on %s", size, free / 2**30, device.type)
    return size
