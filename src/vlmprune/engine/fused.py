"""Fused evaluation of many variants on one batch.

Removing blocks leaves every hidden state before the first removed block unchanged, so per
micro-batch the image encoder runs once and the prompt prefill of each block runs once:

- the variant whose first removed block comes last runs first, with its leading blocks
  wrapped in :class:`Recorder`, which keeps each block's prefill output and the keys and
  values it writes into the KV cache;
- every other variant runs ``generate`` with its leading blocks replaced by
  :class:`Replay`, which at prefill writes the recorded keys and values into the cache and
  returns the recorded output without computing, and at decode runs the real block.

Only the model's own ``generate`` runs, so no model's forward is rewritten; the only model
knowledge used is the block list and the cache's ``update``, common to Hugging Face decoders.
Where :func:`can_fuse` says no, ``evaluate_variants`` evaluates variant by variant instead.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from itertools import groupby
from typing import Any

import torch
from torch import nn

from vlmprune.engine.batching import BatchSizer, map_micro_batches
from vlmprune.models.base import ModelAdapter

Variant = tuple[int, ...]


def first_removed(variant: Variant, num_blocks: int) -> int:
    """Index of the first removed block; ``num_blocks`` for the full model."""
    return min(variant, default=num_blocks)


def can_fuse(adapter: ModelAdapter) -> bool:
    """Whether the adapter's generation admits the fused engine, for the blocks it ablates.

    Vision-tower blocks run before any prompt token, so only language blocks share a prefix.
    """
    return adapter.component == "language" and adapter.fuses


class Recorder(nn.Module):
    """Runs the real block; at its first call (the prefill) keeps its output and its cache writes."""

    def __init__(self, block: nn.Module) -> None:
        super().__init__()
        self.block = block
        self.output: Any = None
        self.writes: list[tuple[tuple, dict]] = []

    def forward(self, hidden_states: torch.Tensor, *args: Any, **kwargs: Any) -> Any:
        if self.output is not None:
            return self.block(hidden_states, *args, **kwargs)
        with _record_updates(kwargs.get("past_key_values"), self.writes):
            self.output = self.block(hidden_states, *args, **kwargs)
        return self.output


class Replay(nn.Module):
    """At the prefill, replays a :class:`Recorder`'s cache writes and output; then runs the real block."""

    def __init__(self, recorder: Recorder) -> None:
        super().__init__()
        self.recorder = recorder
        self.replayed = False

    def forward(self, hidden_states: torch.Tensor, *args: Any, **kwargs: Any) -> Any:
        if self.replayed:
            return self.recorder.block(hidden_states, *args, **kwargs)
        self.replayed = True
        recorded = self.recorder.output
        shape = (recorded[0] if isinstance(recorded, tuple) else recorded).shape
        if hidden_states.shape != shape:
            raise RuntimeError(f"replayed prefill of shape {tuple(shape)} given hidden states of shape {tuple(hidden_states.shape)}")
        cache = kwargs.get("past_key_values")
        for args_, kwargs_ in self.recorder.writes:
            cache.update(*args_, **kwargs_)
        return recorded


@contextmanager
def _record_updates(cache: Any, writes: list[tuple[tuple, dict]]) -> Iterator[None]:
    """Within the context, every ``cache.update(...)`` call is also appended to ``writes``."""
    if cache is None or not hasattr(cache, "update"):
        yield
        return
    update = cache.update

    def recording_update(*args: Any, **kwargs: Any) -> Any:
        writes.append((args, kwargs))
        return update(*args, **kwargs)

    cache.update = recording_update
    try:
        yield
    finally:
        del cache.update  # the instance attribute goes; the class method shows through again


@contextmanager
def _swapped(blocks: nn.ModuleList, replacements: dict[int, nn.Module]) -> Iterator[None]:
    originals = {i: blocks[i] for i in replacements}
    try:
        for i, module in replacements.items():
            blocks[i] = module
        yield
    finally:
        for i, module in originals.items():
            blocks[i] = module


def _fused_batch(
    adapter: ModelAdapter, inputs: dict[str, Any], variants: Sequence[Variant], max_new_tokens: int
) -> dict[Variant, list[str]]:
    """Answers of every variant for one encoded micro-batch, sharing encoder and prefix prefill."""
    blocks = adapter.blocks
    shared = adapter.pre_encode(inputs)
    by_start = sorted(variants, key=lambda v: first_removed(v, len(blocks)), reverse=True)
    lead, others = by_start[0], by_start[1:]
    # the lead runs for real, recording as deep a prefix as any other variant resumes from
    depth = max((first_removed(v, len(blocks)) for v in others), default=0)
    recorders = [Recorder(blocks[i]) for i in range(depth)]
    answers: dict[Variant, list[str]] = {}
    with _swapped(blocks, dict(enumerate(recorders))), adapter.skip(lead):
        answers[lead] = adapter.generate_encoded(shared, max_new_tokens)
    for start, group in groupby(others, key=lambda v: first_removed(v, len(blocks))):
        for v in group:
            with _swapped(blocks, {i: Replay(recorders[i]) for i in range(start)}), adapter.skip(v):
                answers[v] = adapter.generate_encoded(shared, max_new_tokens)
    return answers


def predict_fused(
    adapter: ModelAdapter, records: Sequence[dict], variants: Sequence[Variant], max_new_tokens: int, sizer: BatchSizer
) -> dict[Variant, list[str]]:
    """Answers of every variant for ``records``; equal, sample by sample, to ``predict_per_variant``.

    One micro-batch serves all variants, sized for the variant that removes fewest blocks;
    on out-of-memory the micro-batch is halved and redone.
    """
    if not can_fuse(adapter):
        raise TypeError(f"{type(adapter).__name__} ({adapter.component} blocks) cannot be fused; evaluate its variants one by one")
    answers: dict[Variant, list[str]] = {v: [] for v in variants}
    if not variants:
        return answers
    def fused(batch: Sequence[dict]) -> dict[Variant, list[str]]:
        with torch.inference_mode():
            return _fused_batch(adapter, adapter.encode(batch), variants, max_new_tokens)

    for batch_answers in map_micro_batches(records, fused, sizer, min(len(v) for v in variants)):
        for v in variants:
            answers[v].extend(batch_answers[v])
    return answers
