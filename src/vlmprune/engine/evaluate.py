"""Evaluate a list of variants on one selection of records, writing one store per variant.

Work proceeds in chunks of ``chunk_size`` samples: each rank generates for its share of a
chunk, the main rank gathers the answers in sample order, applies the adapter's answer
clean-up, scores the cleaned answers and appends one chunk (cleaned and raw answers, scores)
to every store. A rerun resumes each store after its last complete chunk. What a job
accumulates besides the answers (the one-pass proxies) is kept per chunk in the store of the
variant it belongs to, so a resumed job ends with the totals of an uninterrupted one.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Mapping, Sequence
from contextlib import nullcontext
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from tqdm import tqdm

from vlmprune.engine.batching import BatchSizer, initial_batch_size, map_micro_batches
from vlmprune.engine.distributed import World
from vlmprune.engine.fused import Around, can_fuse, predict_fused
from vlmprune.engine.identity import store_fingerprint
from vlmprune.engine.orders import followed_order
from vlmprune.engine.store import EvalStore, StoreWriter
from vlmprune.engine.variants import variant_id
from vlmprune.metrics import CORPUS_METRICS, get_metric, score_all
from vlmprune.models.base import ModelAdapter

log = logging.getLogger(__name__)

Predict = Callable[
    [ModelAdapter, Sequence[dict], Sequence[tuple[int, ...]], int], dict[tuple[int, ...], list[str]]
]


@dataclass(frozen=True)
class ChunkSums:
    """Sums one variant's generation accumulates, stored with each of its chunks.

    ``take()`` returns this rank's sums since the last call (name -> row of ``widths[name]``)
    and starts again from zero; the rows of all ranks are added up in rank order.
    """

    variant: tuple[int, ...]
    widths: Mapping[str, int]
    take: Callable[[], Mapping[str, Sequence[float]]]


def generate_batched(
    adapter: ModelAdapter,
    records: Sequence[dict],
    removed: tuple[int, ...],
    max_new_tokens: int,
    sizer: BatchSizer,
    around: Around | None = None,
) -> list[str]:
    """Answers for ``records`` with ``removed`` blocks skipped, in micro-batches that survive OOM,
    inside ``around(removed)``."""
    answers: list[str] = []
    with adapter.skip(removed), around(removed) if around else nullcontext():
        for batch in map_micro_batches(
            records, lambda b: adapter.generate(b, max_new_tokens), sizer, len(removed)
        ):
            answers.extend(batch)
    return answers


def predict_per_variant(
    adapter: ModelAdapter,
    records: Sequence[dict],
    variants: Sequence[tuple[int, ...]],
    max_new_tokens: int,
    sizer: BatchSizer,
    *,
    around: Around | None = None,
) -> dict[tuple[int, ...], list[str]]:
    """One full generation per variant: the reference the fused engine must equal."""
    return {
        v: generate_batched(adapter, records, v, max_new_tokens, sizer, around) for v in variants
    }


def score_answers(metric: str, predictions: Sequence[str], records: Sequence[dict]) -> list[float]:
    """Per-sample scores; NaN for a corpus-level metric, which is scored once all predictions are
    in."""
    if metric in CORPUS_METRICS:
        return [float("nan")] * len(predictions)
    fn = get_metric(metric)
    return [
        fn(p, r["answers"], choices=r.get("choices") or ())
        for p, r in zip(predictions, records, strict=True)
    ]


def corpus_scores(metric: str, predictions: Sequence[str], records: Any) -> list[float] | None:
    """Per-sample scores of a corpus-level metric (CIDEr) over the whole selection; None for other
    metrics."""
    if metric not in CORPUS_METRICS:
        return None
    _, scores = score_all(metric, predictions, [records[i]["answers"] for i in range(len(records))])
    return scores


def reference_columns(records: Any) -> list[dict[str, Any]]:
    """Each record's ``answers`` and ``choices`` alone: scoring needs them, not the decoded
    images."""
    if hasattr(records, "column_names"):
        return records.select_columns(
            [c for c in ("answers", "choices") if c in records.column_names]
        ).to_list()
    return [{"answers": r["answers"], "choices": r.get("choices")} for r in records]


def open_writers(
    name_of: Mapping[tuple[int, ...], str],
    stores: Sequence[str | Path],
    sample_ids: Sequence[str],
    *,
    identity: Mapping[str, Any],
    metric: str,
    max_new_tokens: int,
    attrs: Mapping[str, Any],
    chunk_size: int,
    sums: ChunkSums | None = None,
) -> dict[tuple[int, ...], StoreWriter]:
    """A writer per variant (removed blocks -> its id), each resuming its store when the store's
    fingerprint matches."""
    writers = {}
    for (removed, name), path in zip(name_of.items(), stores, strict=True):
        key = store_fingerprint(identity, sample_ids, name, metric, max_new_tokens)
        writers[removed] = StoreWriter(
            path,
            key,
            {**attrs, "blocks_removed": list(removed), "variant": name},
            chunk_size=chunk_size,
            sums=sums.widths if sums and sums.variant == removed else None,
        )
    return writers


def default_predict(
    adapter: ModelAdapter,
    variants: Sequence[tuple[int, ...]],
    sizer: BatchSizer,
    around: Around | None = None,
) -> Predict:
    """The fused engine (tree of common prefixes) for several variants of an adapter that can fuse;
    one generation per variant otherwise.

    ``around(variant)`` is entered around each variant's generation.
    """
    engine = predict_fused if len(variants) > 1 and can_fuse(adapter) else predict_per_variant

    def predict(
        a: ModelAdapter, r: Sequence[dict], v: Sequence[tuple[int, ...]], m: int
    ) -> dict[tuple[int, ...], list[str]]:
        return engine(a, r, v, m, sizer, around=around)

    return predict


def evaluate_variants(
    adapter: ModelAdapter,
    records: Any,
    variants: Sequence[tuple[int, ...]],
    stores: Sequence[str | Path],
    *,
    metric: str,
    max_new_tokens: int,
    batch_size: int | str,
    chunk_size: int,
    attrs: Mapping[str, Any],
    identity: Mapping[str, Any],
    world: World = World(),
    predict: Predict | None = None,
    around: Around | None = None,
    secondary_metric: str | None = None,
    names: Sequence[str] | None = None,
    sums: ChunkSums | None = None,
    orders: Sequence[Sequence[int]] | None = None,
    stop_at: int | None = None,
) -> dict[str, EvalStore]:
    """Evaluate ``variants`` on ``records`` (a ``datasets.Dataset`` or a list of record dicts).

    ``identity`` names the inputs (model, data) for the resume fingerprint
    (:func:`vlmprune.engine.identity.store_fingerprint`); ``attrs`` are written on every
    store. ``secondary_metric`` (the dataset's second number, e.g. exact match beside ANLS) is
    computed on the same predictions and written as the ``secondary_metric`` /
    ``secondary_accuracy`` attributes. ``names`` are the variant ids (default: from the removed
    blocks; a width variant such as ``multiflow-0.5`` removes none, its model arrives masked).
    ``around(variant)`` is entered around each variant's generation by the default ``predict``.
    ``sums`` are stored with each chunk of their variant's store (read back with
    :func:`vlmprune.engine.store.chunk_sums`).

    ``orders`` are the orders (permutations of record positions) the samples may be evaluated
    in, the first for stores started here (default: the records' order); a partial store is
    resumed in the order its rows follow, and one that follows another order than the job's is
    started over (:func:`choose_order`). ``stop_at`` evaluates only the first ``stop_at`` samples
    of that order and leaves the stores partial, chunks ending at ``stop_at``. Returns the
    stores completed, on the main rank.
    """
    if len(variants) != len(stores):
        raise ValueError(f"{len(variants)} variants but {len(stores)} store paths")
    name_of = dict(
        zip(
            variants, names if names is not None else [variant_id(v) for v in variants], strict=True
        )
    )
    started = time.perf_counter()
    sample_ids = (
        list(records["sample_id"])
        if hasattr(records, "column_names")
        else [r["sample_id"] for r in records]
    )
    references = reference_columns(records)
    n = len(sample_ids)
    end = n if stop_at is None else min(n, stop_at)
    base = initial_batch_size(adapter, batch_size, records[0], max_new_tokens) if n else 1
    sizer = BatchSizer(base, len(adapter.blocks))
    predict = predict or default_predict(adapter, variants, sizer, around)
    writers = (
        open_writers(
            name_of,
            stores,
            sample_ids,
            identity=identity,
            metric=metric,
            max_new_tokens=max_new_tokens,
            attrs=attrs,
            chunk_size=chunk_size,
            sums=sums,
        )
        if world.is_main
        else {}
    )
    orders = orders or [list(range(n))]
    order = orders[
        world.broadcast(choose_order(writers, sample_ids, orders) if world.is_main else 0)
    ]
    ordered_ids = [sample_ids[i] for i in order]
    ordered_references = [references[i] for i in order]
    done = world.broadcast({v: min(w.done, end) for v, w in writers.items()})
    start = min(done.values(), default=end)
    if sum(done.values()):
        log.info(
            "resuming after %d of %d samples: %d of %d answers (samples x variants) kept from an "
            "earlier run",
            start,
            n,
            sum(done.values()),
            end * len(variants),
        )

    progress = tqdm(
        total=end * len(variants),
        initial=sum(done.values()),
        desc="samples x variants",
        disable=not world.is_main,
        mininterval=5,
    )
    for chunk_start in range(start, end, chunk_size):
        chunk_end = min(end, chunk_start + chunk_size)
        todo = [v for v in variants if done[v] < chunk_end]
        shard = list(range(chunk_start + world.rank, chunk_end, world.size))
        answers = predict(adapter, [records[order[i]] for i in shard], todo, max_new_tokens)
        taken = dict(sums.take()) if sums else {}
        gathered = world.gather((shard, answers, taken))
        if world.is_main:
            write_chunk(
                adapter,
                writers,
                todo,
                done,
                [(ranked_shard, rank_answers) for ranked_shard, rank_answers, _ in gathered],
                metric,
                ordered_ids,
                ordered_references[chunk_start:chunk_end],
                chunk_start,
                chunk_end,
                progress,
                {sums.variant: added_up([t for _, _, t in gathered])} if sums else {},
            )
        for v in todo:
            done[v] = chunk_end
    progress.close()
    world.barrier()
    if not world.is_main or end < n:
        return {}
    extra = {"seconds": time.perf_counter() - started, "batch_events": json.dumps(sizer.events)}
    for writer in writers.values():
        writer.reorder(sample_ids)
    return {
        name_of[v]: finish_store(w, extra, metric, secondary_metric, references)
        for v, w in writers.items()
    }


def choose_order(
    writers: Mapping[tuple[int, ...], StoreWriter],
    sample_ids: Sequence[str],
    orders: Sequence[Sequence[int]],
) -> int:
    """The index of the order to evaluate in: the one the resumed partial stores' rows follow most
    (the first on a tie, or with nothing to resume); a partial store that follows another is
    started over."""
    followed = {}
    for v, writer in writers.items():
        if writer.done:
            followed[v] = followed_order(writer.sample_ids(), sample_ids, orders)
    rows = [
        sum(writers[v].done for v, index in followed.items() if index == i)
        for i in range(len(orders))
    ]
    chosen = max(range(len(orders)), key=lambda i: (rows[i], -i))
    for v, index in followed.items():
        if index != chosen:
            log.warning(
                "%s: the partial store's %d rows follow another sample order; evaluating it again",
                writers[v].path,
                writers[v].done,
            )
            writers[v].restart()
    return chosen


def write_chunk(
    adapter: ModelAdapter,
    writers: Mapping[tuple[int, ...], StoreWriter],
    todo: Sequence[tuple[int, ...]],
    done: Mapping[tuple[int, ...], int],
    gathered: Sequence[tuple[list[int], dict]],
    metric: str,
    sample_ids: Sequence[str],
    references: Sequence[dict],
    chunk_start: int,
    chunk_end: int,
    progress: tqdm,
    sums: Mapping[tuple[int, ...], Mapping[str, np.ndarray]],
) -> None:
    """Clean and score one chunk's answers, gathered from every rank, in sample order; append them.

    ``sums`` are the chunk's rows of the per-chunk sums of the variants that carry them.
    """
    order = sorted(
        (i, rank_answers, pos)
        for ranked_shard, rank_answers in gathered
        for pos, i in enumerate(ranked_shard)
    )
    for v in todo:
        raw = [rank_answers[v][pos] for _, rank_answers, pos in order]
        predictions = [adapter.clean_answer(answer) for answer in raw]
        scores = score_answers(metric, predictions, references)
        skip = max(done[v], chunk_start) - chunk_start
        writers[v].append(
            sample_ids[chunk_start + skip : chunk_end],
            predictions[skip:],
            scores[skip:],
            raw[skip:],
            sums.get(v),
        )
        progress.update(chunk_end - chunk_start - skip)


def added_up(rows: Sequence[Mapping[str, Sequence[float]]]) -> dict[str, np.ndarray]:
    """The ranks' rows of each per-chunk sum, added up in rank order."""
    return {name: np.sum([np.asarray(r[name], "f8") for r in rows], axis=0) for name in rows[0]}


def finish_store(
    writer: StoreWriter,
    extra: Mapping[str, Any],
    metric: str,
    secondary_metric: str | None,
    references: Sequence[dict],
) -> EvalStore:
    """Rename a complete store into place, with corpus-level scores and the secondary metric's
    accuracy."""
    predictions = writer.predictions()
    summary = dict(extra)
    if secondary_metric:
        choices = [r.get("choices") or () for r in references]
        summary["secondary_metric"] = secondary_metric
        summary["secondary_accuracy"] = score_all(
            secondary_metric, predictions, [r["answers"] for r in references], choices
        )[0]
    return writer.finish(summary, corpus_scores(metric, predictions, references))
