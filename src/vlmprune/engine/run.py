"""One evaluation job: load the prepared records and the model, evaluate, write stores and
summary."""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping, Sequence
from contextlib import nullcontext
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from vlmprune.data.prepare import load_prepared, select_samples
from vlmprune.engine.distributed import World
from vlmprune.engine.evaluate import ChunkSums, evaluate_variants
from vlmprune.engine.identity import evaluation_inputs, file_digest, store_fingerprint
from vlmprune.engine.orders import racing_order, selection_order
from vlmprune.engine.proxies import (
    proxies_path,
    record_proxies,
    totals_from_chunks,
    write_proxies,
)
from vlmprune.engine.store import EvalStore, chunk_sums
from vlmprune.engine.variants import FULL, parse_variant, parse_width_variant
from vlmprune.models.base import ModelAdapter
from vlmprune.models.loading import load_adapter
from vlmprune.models.masking import apply_masks
from vlmprune.result_files import write_json

log = logging.getLogger(__name__)

ORDERS = ("selection", "racing")


def selected_records(
    data: Path, dataset: str, evaluation: Mapping[str, Any]
) -> tuple[Any, list[str]]:
    """The records this job evaluates (``evaluation.num_samples`` drawn with its seed) and any
    warnings."""
    return select_samples(
        load_prepared(data, dataset),
        evaluation["num_samples"],
        evaluation["seed"],
        evaluation["selection"],
    )


def expected_fingerprints(
    *,
    data: Path,
    dataset: str,
    split: str,
    variants: Sequence[str],
    model: Mapping[str, Any],
    evaluation: Mapping[str, Any],
) -> dict[str, str]:
    """The ``fingerprint`` each variant's store gets from :func:`run_evaluation`, without
    evaluating."""
    records, _ = selected_records(data, dataset, evaluation)
    inputs = evaluation_inputs(model, dataset, split)
    return {
        v: store_fingerprint(
            inputs, records["sample_id"], v, evaluation["metric"], evaluation["max_new_tokens"]
        )
        for v in variants
    }


def load_model(model: Mapping[str, Any], world: World) -> ModelAdapter:
    """The adapter for the config's model section, on this rank's device."""
    return load_adapter(
        model["path"],
        adapter=model["adapter"],
        dtype=model["dtype"],
        device=world.device(model["device"]),
        component=model["component"],
        block_path=model.get("block_path"),
        trust_remote_code=bool(model["trust_remote_code"]),
        allow_pickle=bool(model["allow_pickle"]),
    )


def store_attributes(
    model: Mapping[str, Any],
    dataset: str,
    split: str,
    metric: str,
    adapter: ModelAdapter,
    warnings: list[str],
) -> dict[str, Any]:
    """The attributes every store of this job carries."""
    return {
        "model": str(model["path"]),
        "dataset": dataset,
        "split": split,
        "metric": metric,
        "num_blocks": len(adapter.blocks),
        "component": adapter.component,
        "warnings": json.dumps(warnings),
    }


@dataclass
class EvaluationJob:
    """What one evaluation job loads once: the selected records, the model, the store attributes."""

    dataset: str
    split: str
    records: Any
    warnings: list[str]
    adapter: ModelAdapter
    identity: dict[str, Any]
    attrs: dict[str, Any]
    evaluation: Mapping[str, Any]
    world: World

    @property
    def num_samples(self) -> int:
        return len(self.records)

    @property
    def sample_ids(self) -> list[str]:
        return list(self.records["sample_id"])

    def fingerprint(self, variant: str) -> str:
        """The fingerprint this job gives the store of ``variant``."""
        return store_fingerprint(
            self.identity,
            self.sample_ids,
            variant,
            self.evaluation["metric"],
            self.evaluation["max_new_tokens"],
        )

    def racing_order(self, removed: int) -> list[int]:
        """The racing order of the sets that remove ``removed`` blocks (one beam step's)."""
        return racing_order(self.num_samples, self.evaluation["seed"], removed)

    def orders(self, order: str, variants: Sequence[str]) -> list[list[int]]:
        """The sample orders this job evaluates ``variants`` in: ``racing``, their step's racing
        order alone (a partial store in another order is started over), or ``selection`` first,
        resuming a raced store in its step's order."""
        sizes = sorted({len(parse_variant(v)) for v in variants} - {0})
        if order == "racing":
            if len(sizes) != 1:
                raise ValueError(
                    f"a raced evaluation takes the sets of one beam step, which remove as many "
                    f"blocks each; these remove {sizes}: {list(variants)}"
                )
            return [self.racing_order(sizes[0])]
        if order == "selection":
            return [selection_order(self.num_samples), *map(self.racing_order, sizes)]
        raise ValueError(f"order must be one of {ORDERS}, not {order!r}")

    def evaluate(
        self,
        variants: Sequence[str],
        stores: Sequence[Path],
        *,
        order: str = "selection",
        stop_at: int | None = None,
        around: Any = None,
        sums: ChunkSums | None = None,
    ) -> dict[str, EvalStore]:
        """Evaluate ``variants`` into ``stores`` (:func:`evaluate_variants`); those completed."""
        evaluation = self.evaluation
        return evaluate_variants(
            self.adapter,
            self.records,
            [parse_variant(v) for v in variants],
            stores,
            metric=evaluation["metric"],
            secondary_metric=evaluation["secondary_metric"],
            max_new_tokens=evaluation["max_new_tokens"],
            batch_size=evaluation["batch_size"],
            chunk_size=evaluation["chunk_size"],
            attrs=self.attrs,
            identity=self.identity,
            world=self.world,
            names=list(variants),
            around=around,
            orders=self.orders(order, variants),
            stop_at=stop_at,
            sums=sums,
        )


def open_job(
    *,
    data: Path,
    dataset: str,
    split: str,
    model: Mapping[str, Any],
    evaluation: Mapping[str, Any],
    world: World = World(),
    masks: Path | None = None,
    adapter: ModelAdapter | None = None,
) -> EvaluationJob:
    """Load one job's records and model (or take ``adapter``, loaded for another dataset's job);
    ``masks`` (a width variant's) zero weights in place."""
    records, warnings = selected_records(data, dataset, evaluation)
    for warning in warnings:
        log.warning("%s: %s", dataset, warning)
    adapter = adapter or load_model(model, world)
    identity = evaluation_inputs(model, dataset, split)
    attrs = store_attributes(model, dataset, split, evaluation["metric"], adapter, warnings)
    if masks is not None:
        zeroed = apply_masks(adapter.model, masks)  # in place: no second copy of the weights
        identity["masks"] = file_digest(masks)
        attrs["masks"] = str(masks)
        log.info("%d weights zeroed by %s", zeroed, masks)
    return EvaluationJob(
        dataset, split, records, warnings, adapter, identity, attrs, evaluation, world
    )


def run_evaluation(
    *,
    data: Path,
    dataset: str,
    split: str,
    variants: Sequence[str],
    stores: Sequence[Path],
    summary: Path | None,
    model: Mapping[str, Any],
    evaluation: Mapping[str, Any],
    world: World = World(),
    masks: Path | None = None,
) -> None:
    """Evaluate ``variants`` into ``stores``.

    With a ``summary`` and ``full`` among the variants (rule baseline, or rule ablate with the
    baseline inside it), the job also writes the full model's summary and the one-pass proxies,
    recorded over the full model's pass alone and kept per chunk in its store, so that they
    cover every sample after a resume too. A width variant (``multiflow-0.5``, one per job)
    is evaluated with its ``masks`` applied to the weights in place.
    """
    width = [v for v in variants if parse_width_variant(v) is not None]
    if width and (len(variants) != 1 or masks is None):
        raise ValueError(
            f"width variants {width} are evaluated one per job, each with its mask file (--masks)"
        )
    job = open_job(
        data=data,
        dataset=dataset,
        split=split,
        model=model,
        evaluation=evaluation,
        world=world,
        masks=masks if width else None,
    )
    log.info(
        "%s/%s: %d samples, %d variants, %d blocks, world of %d",
        dataset,
        split,
        job.num_samples,
        len(variants),
        len(job.adapter.blocks),
        world.size,
    )
    with_proxies = summary is not None and FULL in variants
    with (
        record_proxies(job.adapter.model, job.adapter.blocks, active=False)
        if with_proxies
        else nullcontext() as proxies
    ):
        finished = job.evaluate(
            variants,
            stores,
            around=(lambda v: nullcontext() if v else proxies.counting()) if with_proxies else None,
            sums=ChunkSums((), proxies.chunk_widths(), proxies.take) if with_proxies else None,
        )
    if with_proxies and world.is_main:
        totals = totals_from_chunks(chunk_sums(stores[variants.index(FULL)]))
        if totals["sequences"] != job.num_samples:
            log.warning("the proxies cover %d of %d samples", totals["sequences"], job.num_samples)
        write_proxies(proxies_path(summary), [totals], job.attrs)
    if world.is_main:
        write_results(finished, FULL if FULL in variants else variants[0], summary, job.warnings)


def write_results(
    finished: Mapping[str, EvalStore], first: str, summary: Path | None, warnings: list[str]
) -> None:
    """Log each variant's accuracy; write the first variant's summary when one is asked for."""
    for name, store in finished.items():
        log.info("%s: accuracy %.4f on %d samples", name, store.accuracy, len(store.scores))
    if summary is not None:
        write_json(
            summary,
            {
                **{k: v for k, v in finished[first].attrs.items() if k != "fingerprint"},
                "warnings": warnings,
            },
        )
