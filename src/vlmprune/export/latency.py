"""Latency of variants as a user gets it: the model with the blocks physically deleted, timed with
``generate``.

Per variant and batch size, after ``warmup`` untimed runs, each of ``repeats`` rounds times
``generate`` for one new token (the prefill: image encoding and the prompt's forward pass) and
for ``new_tokens`` tokens (EOS suppressed, so every run decodes the same number); decode per
token is the difference over ``new_tokens - 1``. On CUDA the device is synchronised before and
after each timing and the peak of allocated memory is recorded; on the CPU there is no peak.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import torch
from tqdm import tqdm

from vlmprune.models.base import ModelAdapter


def spread(values: Sequence[float]) -> dict[str, Any]:
    """Median and spread (quartiles, extremes) of repeated measurements, with the values
    themselves."""
    array = np.asarray(values, dtype=float)
    low, median, high = np.percentile(array, [25, 50, 75])
    return {
        "median": float(median),
        "q25": float(low),
        "q75": float(high),
        "min": float(array.min()),
        "max": float(array.max()),
        "values": [float(v) for v in array],
    }


def _synchronise(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


@torch.inference_mode()
def timed_generate(adapter: ModelAdapter, inputs: Mapping[str, Any], new_tokens: int) -> float:
    """Seconds for one greedy ``generate`` of exactly ``new_tokens`` tokens."""
    device = adapter.device
    _synchronise(device)
    started = time.perf_counter()
    adapter.model.generate(
        **inputs, max_new_tokens=new_tokens, min_new_tokens=new_tokens, do_sample=False
    )
    _synchronise(device)
    return time.perf_counter() - started


def measure(
    adapter: ModelAdapter,
    inputs: Mapping[str, Any],
    *,
    new_tokens: int,
    warmup: int,
    repeats: int,
    progress: tqdm | None = None,
) -> dict[str, Any]:
    """Prefill, decode per token, throughput and peak memory of the model as it is, on one batch."""
    if new_tokens < 2:
        raise ValueError(f"latency.new_tokens is {new_tokens}; decode time needs at least 2")
    device = adapter.device
    batch = int(inputs["input_ids"].shape[0])
    for _ in range(warmup):
        timed_generate(adapter, inputs, new_tokens)
    prefill, total, peak = [], [], []
    for _ in range(repeats):
        if device.type == "cuda":
            torch.cuda.reset_peak_memory_stats(device)
        prefill.append(timed_generate(adapter, inputs, 1))
        total.append(timed_generate(adapter, inputs, new_tokens))
        if device.type == "cuda":
            peak.append(torch.cuda.max_memory_allocated(device))
        if progress is not None:
            progress.update()
    decode = [(t - p) / (new_tokens - 1) for p, t in zip(prefill, total, strict=True)]
    return {
        "batch_size": batch,
        "prompt_tokens": int(inputs["input_ids"].shape[1]),
        "prefill_s": spread(prefill),
        "decode_per_token_s": spread(decode),
        "generate_s": spread(total),
        "throughput_tokens_per_s": spread([batch * new_tokens / t for t in total]),
        "peak_memory_bytes": max(peak) if peak else None,
    }


def measure_variants(
    adapter: ModelAdapter,
    records: Sequence[dict[str, Any]],
    variants: Mapping[str, Sequence[int]],
    *,
    batch_sizes: Sequence[int],
    new_tokens: int,
    warmup: int,
    repeats: int,
) -> dict[str, Any]:
    """Every variant (id -> removed blocks) at every batch size, on the first records of
    ``records``."""
    batch_sizes = sorted(set(min(b, len(records)) for b in batch_sizes))
    batches = {b: adapter.encode(records[:b]) for b in batch_sizes}
    results: dict[str, Any] = {}
    with tqdm(
        total=len(variants) * len(batch_sizes) * repeats, desc="latency repeats", mininterval=5
    ) as progress:
        for name, removed in variants.items():
            progress.set_postfix_str(name)
            with adapter.delete(removed):
                results[name] = {
                    "blocks": list(removed),
                    "num_blocks": len(adapter.blocks),
                    "batches": {
                        str(b): measure(
                            adapter,
                            batches[b],
                            new_tokens=new_tokens,
                            warmup=warmup,
                            repeats=repeats,
                            progress=progress,
                        )
                        for b in batch_sizes
                    },
                }
    return results


def device_name(device: torch.device) -> str:
    if device.type == "cuda":
        return f"cuda ({torch.cuda.get_device_name(device)})"
    return f"cpu ({torch.get_num_threads()} threads)"


def block_time_share(
    adapter: ModelAdapter, inputs: Mapping[str, Any], new_tokens: int, repeats: int
) -> dict[str, float]:
    """Measured share of the wall time spent inside the decoder blocks, for the prefill and for
    decoding.

    Hooks time every block call; the prefill share comes from one-token generations, the decode
    share from the difference between ``new_tokens``-token and one-token generations.
    """
    device = adapter.device
    inside = [0.0]
    started: dict[int, float] = {}

    def before(module: torch.nn.Module, args: tuple) -> None:
        _synchronise(device)
        started[id(module)] = time.perf_counter()

    def after(module: torch.nn.Module, args: tuple, output: object) -> None:
        _synchronise(device)
        inside[0] += time.perf_counter() - started.pop(id(module))

    def run(tokens: int) -> tuple[float, float]:
        inside[0] = 0.0
        wall = timed_generate(adapter, inputs, tokens)
        return wall, inside[0]

    handles = [
        h
        for b in adapter.blocks
        for h in (b.register_forward_pre_hook(before), b.register_forward_hook(after))
    ]
    try:
        run(new_tokens)  # warm-up
        prefill = [run(1) for _ in range(repeats)]
        whole = [run(new_tokens) for _ in range(repeats)]
    finally:
        for handle in handles:
            handle.remove()
    prefill_wall, prefill_inside = (float(np.median(x)) for x in zip(*prefill, strict=True))
    whole_wall, whole_inside = (float(np.median(x)) for x in zip(*whole, strict=True))
    return {
        "prefill": prefill_inside / prefill_wall,
        "decode": (whole_inside - prefill_inside) / (whole_wall - prefill_wall),
    }


def latency_report(
    adapter: ModelAdapter,
    records: Sequence[dict[str, Any]],
    variants: Mapping[str, Sequence[int]],
    settings: Mapping[str, Any],
) -> dict[str, Any]:
    """The latency file's content: what was measured where, and every variant's figures.

    ``settings``: ``batch_sizes``, ``new_tokens``, ``warmup``, ``repeats``.
    """
    measured = measure_variants(
        adapter,
        records,
        variants,
        batch_sizes=settings["batch_sizes"],
        new_tokens=settings["new_tokens"],
        warmup=settings["warmup"],
        repeats=settings["repeats"],
    )
    return {
        "device": device_name(adapter.device),
        "dtype": str(next(adapter.model.parameters()).dtype).removeprefix("torch."),
        "component": adapter.component,
        "num_blocks": len(adapter.blocks),
        **{k: settings[k] for k in ("new_tokens", "warmup", "repeats")},
        "batch_sizes": sorted({int(b) for m in measured.values() for b in m["batches"]}),
        "measured_on": "the model with the blocks physically deleted (as exported), timed "
        "with generate",
        "variants": measured,
    }
