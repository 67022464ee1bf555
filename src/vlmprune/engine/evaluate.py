"""Evaluate a list of variants on one selection of records, writing one store per variant.

Work proceeds in chunks of ``chunk_size`` samples: each rank generates for its share of a
chunk, the main rank gathers the answers in sample order, scores them and appends one
chunk to every store. A rerun resumes each store after its last complete chunk.
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from tqdm import tqdm

from vlmprune.engine.batching import BatchSizer, initial_batch_size, map_micro_batches
from vlmprune.engine.distributed import World
from vlmprune.engine.fused import can_fuse, predict_fused
from vlmprune.engine.store import EvalStore, StoreWriter
from vlmprune.engine.variants import variant_id
from vlmprune.metrics import CORPUS_METRICS, get_metric, score_all
from vlmprune.models.base import ModelAdapter

log = logging.getLogger(__name__)

Predict = Callable[[ModelAdapter, Sequence[dict], Sequence[tuple[int, ...]], int], dict[tuple[int, ...], list[str]]]


def generate_batched(
    adapter: ModelAdapter, records: Sequence[dict], removed: tuple[int, ...], max_new_tokens: int, sizer: BatchSizer
) -> list[str]:
    """Answers for ``records`` with ``removed`` blocks skipped, in micro-batches that survive OOM."""
    answers: list[str] = []
    with adapter.skip(removed):
        for batch in map_micro_batches(records, lambda b: adapter.generate(b, max_new_tokens), sizer, len(removed)):
            answers.extend(batch)
    return answers


def predict_per_variant(
    adapter: ModelAdapter, records: Sequence[dict], variants: Sequence[tuple[int, ...]], max_new_tokens: int, sizer: BatchSizer
) -> dict[tuple[int, ...], list[str]]:
    """One full generation per variant: the reference the fused engine must equal."""
    return {v: generate_batched(adapter, records, v, max_new_tokens, sizer) for v in variants}


def fingerprint(**parts: Any) -> str:
    return hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()


def score_answers(metric: str, predictions: Sequence[str], records: Sequence[dict]) -> list[float]:
    """Per-sample scores; NaN for a corpus-level metric, which is scored once all predictions are in."""
    if metric in CORPUS_METRICS:
        return [float("nan")] * len(predictions)
    fn = get_metric(metric)
    return [fn(p, r["answers"], choices=r.get("choices") or ()) for p, r in zip(predictions, records)]


def corpus_scores(metric: str, predictions: Sequence[str], records: Any) -> list[float] | None:
    """Per-sample scores of a corpus-level metric (CIDEr) over the whole selection; None for other metrics."""
    if metric not in CORPUS_METRICS:
        return None
    _, scores = score_all(metric, predictions, [records[i]["answers"] for i in range(len(records))])
    return scores


def reference_columns(records: Any) -> list[dict[str, Any]]:
    """Each record's ``answers`` and ``choices`` alone: scoring needs them, not the decoded images."""
    if hasattr(records, "column_names"):
        return records.select_columns([c for c in ("answers", "choices") if c in records.column_names]).to_list()
    return [{"answers": r["answers"], "choices": r.get("choices")} for r in records]


def evaluate_variants(
    adapter: ModelAdapter,
    records: Any,
    variants: Sequence[tuple[int, ...]],
    stores: Sequence[str | Path],
    *,
    metric: str,
    max_new_tokens: int,
    batch_size: int,
    chunk_size: int,
    attrs: Mapping[str, Any],
    identity: Mapping[str, Any],
    world: World = World(),
    predict: Predict | None = None,
    names: Sequence[str] | None = None,
) -> dict[str, EvalStore]:
    """Evaluate ``variants`` on ``records`` (a ``datasets.Dataset`` or a list of record dicts).

    ``identity`` names the inputs (model, data, selection) for the resume fingerprint;
    ``attrs`` are written on every store. ``names`` are the variant ids (default: from the
    removed blocks; a width variant such as ``multiflow-0.5`` removes none, its model arrives
    masked). Returns the finished stores on the main rank.
    """
    if len(variants) != len(stores):
        raise ValueError(f"{len(variants)} variants but {len(stores)} store paths")
    name_of = dict(zip(variants, names if names is not None else [variant_id(v) for v in variants]))
    started = time.perf_counter()
    sample_ids = list(records["sample_id"]) if hasattr(records, "column_names") else [r["sample_id"] for r in records]
    references = reference_columns(records)
    n = len(sample_ids)
    base = initial_batch_size(adapter, batch_size, records[0], max_new_tokens) if n else batch_size
    sizer = BatchSizer(base, len(adapter.blocks))
    if predict is None:
        engine = predict_fused if len(variants) > 1 and can_fuse(adapter) else predict_per_variant

        def predict(a: ModelAdapter, r: Sequence[dict], v: Sequence[tuple[int, ...]], m: int) -> dict[tuple[int, ...], list[str]]:
            return engine(a, r, v, m, sizer)
    writers: dict[tuple[int, ...], StoreWriter] = {}
    if world.is_main:
        selection = hashlib.sha256("\n".join(sample_ids).encode()).hexdigest()
        for removed, path in zip(variants, stores):
            key = fingerprint(**identity, selection=selection, variant=name_of[removed], metric=metric, max_new_tokens=max_new_tokens)
            writers[removed] = StoreWriter(path, key, {**attrs, "blocks_removed": list(removed), "variant": name_of[removed]})
    done = world.broadcast({v: w.done for v, w in writers.items()})
    start = min(done.values(), default=n)
    if start:
        log.info("resuming after %d of %d samples", start, n)

    progress = tqdm(total=n * len(variants), initial=sum(done.values()), desc="samples x variants", disable=not world.is_main, mininterval=5)
    for chunk_start in range(start, n, chunk_size):
        chunk_end = min(n, chunk_start + chunk_size)
        todo = [v for v in variants if done[v] < chunk_end]
        shard = list(range(chunk_start + world.rank, chunk_end, world.size))
        shard_records = [records[i] for i in shard]
        answers = predict(adapter, shard_records, todo, max_new_tokens)
        gathered = world.gather((shard, answers))
        if world.is_main:
            order = sorted((i, rank_answers, pos) for ranked_shard, rank_answers in gathered for pos, i in enumerate(ranked_shard))
            chunk_references = references[chunk_start:chunk_end]
            for v in todo:
                predictions = [rank_answers[v][pos] for _, rank_answers, pos in order]
                scores = score_answers(metric, predictions, chunk_references)
                skip = max(done[v], chunk_start) - chunk_start
                writers[v].append(sample_ids[chunk_start + skip : chunk_end], predictions[skip:], scores[skip:])
                progress.update(chunk_end - chunk_start - skip)
        for v in todo:
            done[v] = chunk_end
    progress.close()
    world.barrier()
    if not world.is_main:
        return {}
    seconds = time.perf_counter() - started
    finished = {}
    for removed, writer in writers.items():
        scores = corpus_scores(metric, writer.predictions(), references)
        finished[name_of[removed]] = writer.finish({"seconds": seconds, "batch_events": json.dumps(sizer.events)}, scores)
    return finished
