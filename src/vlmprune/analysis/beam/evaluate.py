"""Evaluating the sets a beam step or the validation needs, reusing stores that already hold them;
racing a step's candidates (``racing``) when ``beam.racing`` asks for it."""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from vlmprune.analysis.beam.files import split_reusable, stored_fingerprint
from vlmprune.analysis.beam.racing import Race, RacedStep, RacingSettings, looks
from vlmprune.analysis.beam.search import Blocks
from vlmprune.engine.distributed import World
from vlmprune.engine.orders import followed_order
from vlmprune.engine.run import EvaluationJob, expected_fingerprints, run_evaluation
from vlmprune.engine.store import EvalStore, mark_raced, partial_path, read_store
from vlmprune.engine.variants import variant_id

log = logging.getLogger(__name__)


def evaluate_missing(
    *,
    data: Path,
    dataset: str,
    split: str,
    variants: Sequence[str],
    evals_dir: Path,
    model: Mapping[str, Any],
    evaluation: Mapping[str, Any],
    world: World,
) -> tuple[list[str], list[str]]:
    """Evaluate, in one fused job, the variants without a reusable store; return (evaluated, reused)."""
    fingerprints = expected_fingerprints(
        data=data,
        dataset=dataset,
        split=split,
        variants=variants,
        model=model,
        evaluation=evaluation,
    )
    todo, reused = split_reusable(variants, evals_dir, fingerprints)
    log.info(
        "%d sets: %d to evaluate, %d reused from earlier stores",
        len(variants),
        len(todo),
        len(reused),
    )
    if todo:
        run_evaluation(
            data=data,
            dataset=dataset,
            split=split,
            variants=todo,
            stores=[evals_dir / f"{v}.h5" for v in todo],
            summary=None,
            model=model,
            evaluation=evaluation,
            world=world,
        )
    return todo, reused


def store_rows(path: Path, fingerprint: str, job: EvaluationJob) -> int:
    """Samples a set's store holds for this job: all for a complete store of its inputs, else the
    rows of a partial store in the racing order."""
    if stored_fingerprint(path) == fingerprint:
        return job.num_samples
    partial = partial_path(path)
    if stored_fingerprint(partial) != fingerprint:
        return 0
    stored = read_store(partial).sample_ids
    return len(stored) if followed_order(stored, job.sample_ids, [job.racing_order]) == 0 else 0


def racing_scores(path: Path, job: EvaluationJob) -> np.ndarray:
    """A set's scores in the racing order: its partial store's, or all of its complete store's."""
    if path.is_file():
        return in_racing_order(read_store(path), job)
    return read_store(partial_path(path)).scores


def in_racing_order(store: EvalStore, job: EvaluationJob) -> np.ndarray:
    """A complete store's scores in the job's racing order."""
    position = {sample_id: i for i, sample_id in enumerate(job.sample_ids)}
    scores = np.empty(job.num_samples)
    scores[[position[s] for s in store.sample_ids]] = store.scores
    return scores[job.racing_order]


def race_step(
    job: EvaluationJob,
    candidates: Sequence[Blocks],
    extra: Sequence[Blocks],
    evals_dir: Path,
    beam_width: int,
    settings: RacingSettings,
) -> RacedStep:
    """Race ``candidates`` look by look in the racing order, then complete the best kept set and
    ``extra`` (the greedy set) on every sample.

    A set whose complete store exists takes part with all its scores and costs nothing; a
    partial store (raced before, or killed) is resumed. Sets left incomplete are marked raced.
    """
    world, population = job.world, job.num_samples
    sets = list(dict.fromkeys([*candidates, *extra]))
    path = {b: evals_dir / f"{variant_id(b)}.h5" for b in sets}
    fingerprint = {b: job.fingerprint(variant_id(b)) for b in sets}
    before = world.broadcast(
        {b: store_rows(path[b], fingerprint[b], job) for b in sets} if world.is_main else {}
    )
    complete = {b for b in sets if before[b] == population}
    known = {}
    if world.is_main:
        for b in complete & set(candidates):
            known[b] = in_racing_order(read_store(path[b]), job)
    race = Race(list(candidates), beam_width, population, settings)
    points = looks(population, settings.min_samples, job.evaluation["chunk_size"])
    for n in points:
        todo = [b for b in race.alive if b not in complete]
        if todo:
            job.evaluate(
                [variant_id(b) for b in todo], [path[b] for b in todo], order="racing", stop_at=n
            )
        if world.is_main:
            scores = {b: known.get(b, racing_scores(path[b], job)) for b in race.alive}
            dropped = race.look(n, scores)
            log.info(
                "racing after %d samples: %d sets remain%s%s",
                n,
                len(race.alive),
                f", dropped {[variant_id(b) for b in dropped]}" if dropped else "",
                f"; decided: {[variant_id(b) for b in race.kept]}" if race.kept else "",
            )
        race = world.broadcast(race)
        if race.kept is not None:
            break
    finishing = list(dict.fromkeys([race.kept[0], *extra]))
    rows = world.broadcast(
        {b: store_rows(path[b], fingerprint[b], job) for b in finishing} if world.is_main else {}
    )
    extended = [b for b in finishing if rows[b] < population]
    if extended:
        job.evaluate([variant_id(b) for b in extended], [path[b] for b in extended], order="racing")
    after = {}
    if world.is_main:
        for b in sets:
            after[b] = store_rows(path[b], fingerprint[b], job)
            if 0 < after[b] < population and partial_path(path[b]).exists():
                mark_raced(path[b])
    return RacedStep(race, points, before, world.broadcast(after), extended)
