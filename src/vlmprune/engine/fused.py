"""Fused evaluation of many variants on one batch: every common prefix computed once.

The hidden state entering block k, and the keys and values blocks 0..k-1 write into the KV
cache at the prefill, depend only on which of blocks 0..k-1 are removed. A list of variants is
therefore a tree over those decisions. Per micro-batch the image encoder runs once, and the
variants run in the tree's depth-first order (block kept before block removed, so the full
model comes first); each variant resumes from the deepest prefix it shares with the variant
before it:

- the blocks of that shared prefix are replaced by :class:`Replay`, which at the prefill writes
  the recorded keys and values into the cache (and, at the last kept block of the prefix,
  returns the recorded hidden state) without computing, and at decode runs the real block;
- the blocks it computes are wrapped in :class:`Recorder` where a later variant will replay
  them; a record keeps the hidden state only where the tree branches after it, and is freed
  once the last variant of its subtree has run.

At most one record per block is alive at a time (the records of the current path through the
tree), so memory is bounded as for a single shared prefix. Single-block ablations give the tree
of the earlier engine, which shared the all-kept prefix alone (``share="all_kept"``, kept as the
benchmark's reference). Only the model's own ``generate`` runs, so no model's forward is
rewritten; the only model knowledge used is the block list and the cache's ``update``, common to
Hugging Face decoders. Where :func:`can_fuse` says no, ``evaluate_variants`` evaluates variant by
variant instead.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager, nullcontext
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn

from vlmprune.engine.batching import BatchSizer, map_micro_batches
from vlmprune.models.base import ModelAdapter

Variant = tuple[int, ...]
#: A computed block prefill: the block's index and the removal decisions of the blocks before it.
Key = tuple[int, tuple[bool, ...]]
# : Context around one variant's generation (``run`` uses it to record proxies over the full model
# only).
Around = Callable[[Variant], AbstractContextManager]
SHARING = ("tree", "all_kept")


def first_removed(variant: Variant, num_blocks: int) -> int:
    """Index of the first removed block; ``num_blocks`` for the full model."""
    return min(variant, default=num_blocks)


def can_fuse(adapter: ModelAdapter) -> bool:
    """Whether the adapter's generation admits the fused engine, for the blocks it ablates.

    Vision-tower blocks run before any prompt token, so only language blocks share a prefix.
    """
    return adapter.component == "language" and adapter.fuses


def decisions(variant: Variant, num_blocks: int) -> tuple[bool, ...]:
    """Per block, whether the variant removes it: the variant's path through the tree."""
    removed = set(variant)
    return tuple(i in removed for i in range(num_blocks))


def _shared_depth(a: tuple[bool, ...], b: tuple[bool, ...]) -> int:
    return next((i for i, (x, y) in enumerate(zip(a, b, strict=False)) if x != y), len(a))


@dataclass
class Step:
    """One variant's generation: which blocks replay which record, and which blocks record."""

    variant: Variant
    replay: dict[int, tuple[Key, bool]] = field(
        default_factory=dict
    )  # block -> (record, returns its hidden state)
    record: dict[int, tuple[Key, bool]] = field(
        default_factory=dict
    )  # block -> (record, keeps its hidden state)
    computed: int = 0  # block prefills this variant computes
    release: list[Key] = field(default_factory=list)  # records no later variant replays


@dataclass
class Plan:
    """The order of the variants and, per variant, what it replays, records and frees."""

    steps: list[Step]

    @property
    def prefills(self) -> int:
        """Block prefill passes per micro-batch (one per distinct prefix under ``share="tree"``)."""
        return sum(step.computed for step in self.steps)


def plan_tree(variants: Sequence[Variant], num_blocks: int, share: str = "tree") -> Plan:
    """The depth-first order of ``variants`` and what each replays from the variants before it.

    ``share="tree"`` resumes each variant from the deepest prefix shared with its predecessor
    (every common prefix computed once); ``"all_kept"`` only from the all-kept prefix that the
    first variant computes (the earlier engine).
    """
    if share not in SHARING:
        raise ValueError(f"share must be one of {SHARING}, not {share!r}")
    order = sorted(dict.fromkeys(variants), key=lambda v: decisions(v, num_blocks))
    paths = [decisions(v, num_blocks) for v in order]
    steps = [Step(v) for v in order]
    last_use: dict[Key, int] = {}
    for n in range(1, len(order)):
        depth = (
            _shared_depth(paths[n], paths[n - 1])
            if share == "tree"
            else first_removed(order[n], num_blocks)
        )
        kept = [i for i in range(depth) if not paths[n][i]]
        for i in kept:
            key = (i, paths[n][:i])
            steps[n].replay[i] = (key, i == kept[-1])
            last_use[key] = n
    outputs = {key for step in steps for key, returns in step.replay.values() if returns}
    for n, (step, path) in enumerate(zip(steps, paths, strict=True)):
        for i in range(num_blocks):
            if path[i] or i in step.replay:
                continue
            step.computed += 1
            key = (i, path[:i])
            if last_use.get(key, -1) > n:
                step.record[i] = (key, key in outputs)
    for key, n in last_use.items():
        steps[n].release.append(key)
    return Plan(steps)


@dataclass
class Record:
    """A block's prefill under one prefix: its cache writes and, at a branch point, its output."""

    writes: list[tuple[tuple, dict]] = field(default_factory=list)
    output: Any = None


class Recorder(nn.Module):
    """Runs the real block; at its first call (the prefill) keeps its cache writes and, if asked,
    its output."""

    def __init__(self, block: nn.Module, record: Record, keep_output: bool) -> None:
        super().__init__()
        self.block = block
        self.record = record
        self.keep_output = keep_output
        self.recorded = False

    def forward(self, hidden_states: torch.Tensor, *args: Any, **kwargs: Any) -> Any:
        if self.recorded:
            return self.block(hidden_states, *args, **kwargs)
        self.recorded = True
        with _record_updates(kwargs.get("past_key_values"), self.record.writes):
            output = self.block(hidden_states, *args, **kwargs)
        if self.keep_output:
            self.record.output = output
        return output


class Replay(nn.Module):
    """At the prefill, replays a record's cache writes (and output, or passes its input on); then
    runs the real block.

    A replayed block without a recorded output lies inside the shared prefix: its output is
    never read, because the prefix's last kept block returns the recorded hidden state.
    """

    def __init__(self, block: nn.Module, record: Record, returns_tuple: bool) -> None:
        super().__init__()
        self.block = block
        self.record = record
        self.returns_tuple = returns_tuple
        self.replayed = False

    def forward(self, hidden_states: torch.Tensor, *args: Any, **kwargs: Any) -> Any:
        if self.replayed:
            return self.block(hidden_states, *args, **kwargs)
        self.replayed = True
        cache = kwargs.get("past_key_values")
        for args_, kwargs_ in self.record.writes:
            cache.update(*args_, **kwargs_)
        recorded = self.record.output
        if recorded is None:
            return (hidden_states,) if self.returns_tuple else hidden_states
        shape = (recorded[0] if isinstance(recorded, tuple) else recorded).shape
        if hidden_states.shape != shape:
            raise RuntimeError(
                f"replayed prefill of shape {tuple(shape)} given hidden states of shape "
                f"{tuple(hidden_states.shape)}"
            )
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
    adapter: ModelAdapter, inputs: dict[str, Any], plan: Plan, max_new_tokens: int, around: Around
) -> dict[Variant, list[str]]:
    """Answers of every variant for one encoded micro-batch, sharing the encoder and every common
    prefill prefix."""
    blocks = adapter.blocks
    shared = adapter.pre_encode(inputs)
    records: dict[Key, Record] = {}
    answers: dict[Variant, list[str]] = {}
    for step in plan.steps:
        modules: dict[int, nn.Module] = {
            i: Replay(blocks[i], records[key], adapter.returns_tuple)
            for i, (key, _) in step.replay.items()
        }
        for i, (key, keep_output) in step.record.items():
            records[key] = Record()
            modules[i] = Recorder(blocks[i], records[key], keep_output)
        with _swapped(blocks, modules), adapter.skip(step.variant), around(step.variant):
            answers[step.variant] = adapter.generate_encoded(shared, max_new_tokens)
        for key in step.release:
            del records[key]
    return answers


def predict_fused(
    adapter: ModelAdapter,
    records: Sequence[dict],
    variants: Sequence[Variant],
    max_new_tokens: int,
    sizer: BatchSizer,
    *,
    around: Around | None = None,
    share: str = "tree",
) -> dict[Variant, list[str]]:
    """Answers of every variant for ``records``; equal, sample by sample, to
    ``predict_per_variant``.

    One micro-batch serves all variants, sized for the variant that removes fewest blocks (the
    live records are at most one per block, as the size estimate assumes); on out-of-memory the
    micro-batch is halved and redone. ``around(variant)`` is entered around each variant's
    generation.
    """
    if not can_fuse(adapter):
        raise TypeError(
            f"{type(adapter).__name__} ({adapter.component} blocks) cannot be fused; "
            "evaluate its variants one by one"
        )
    answers: dict[Variant, list[str]] = {v: [] for v in variants}
    if not variants:
        return answers
    plan = plan_tree(variants, len(adapter.blocks), share)
    around = around or (lambda variant: nullcontext())

    def fused(batch: Sequence[dict]) -> dict[Variant, list[str]]:
        with torch.inference_mode():
            return _fused_batch(adapter, adapter.encode(batch), plan, max_new_tokens, around)

    for batch_answers in map_micro_batches(records, fused, sizer, min(len(v) for v in variants)):
        for v in answers:
            answers[v].extend(batch_answers[v])
    return answers
