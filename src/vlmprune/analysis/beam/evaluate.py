"""Evaluating the sets a beam step or the validation needs, reusing stores that already hold them;
racing a step's candidates (``racing``) when ``beam.racing`` asks for it."""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from vlmprune.analysis.beam.files import split_reusable, stored_fingerprint
from vlmprune.analysis.beam.joint import JointPlan, combine, relative
from vlmprune.analysis.beam.racing import (
    Race,
    RacedStep,
    RacingSettings,
    looks,
    pair_certificates,
)
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
    """Evaluate, in one fused job, the variants without a reusable store; return (evaluated,
    reused)."""
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


def store_rows(path: Path, fingerprint: str, job: EvaluationJob, order: Sequence[int]) -> int:
    """Samples a set's store holds for this job: all for a complete store of its inputs, else the
    rows of a partial store in its step's racing ``order``."""
    if stored_fingerprint(path) == fingerprint:
        return job.num_samples
    partial = partial_path(path)
    if stored_fingerprint(partial) != fingerprint:
        return 0
    stored = read_store(partial).sample_ids
    return len(stored) if followed_order(stored, job.sample_ids, [order]) == 0 else 0


def racing_scores(path: Path, job: EvaluationJob, order: Sequence[int]) -> np.ndarray:
    """A set's scores in its step's racing ``order``: its partial store's, or all of its complete
    store's."""
    if path.is_file():
        return in_racing_order(read_store(path), job, order)
    return read_store(partial_path(path)).scores


def in_racing_order(store: EvalStore, job: EvaluationJob, order: Sequence[int]) -> np.ndarray:
    """A complete store's scores in a racing ``order`` of the job's samples."""
    position = {sample_id: i for i, sample_id in enumerate(job.sample_ids)}
    scores = np.empty(job.num_samples)
    scores[[position[s] for s in store.sample_ids]] = store.scores
    return scores[list(order)]


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
    order = job.racing_order(len(sets[0]))  # a step's sets remove as many blocks each
    path = {b: evals_dir / f"{variant_id(b)}.h5" for b in sets}
    fingerprint = {b: job.fingerprint(variant_id(b)) for b in sets}
    before = world.broadcast(
        {b: store_rows(path[b], fingerprint[b], job, order) for b in sets} if world.is_main else {}
    )
    complete = {b for b in sets if before[b] == population}
    known = {}
    if world.is_main:
        for b in complete & set(candidates):
            known[b] = in_racing_order(read_store(path[b]), job, order)
    race = Race(list(candidates), beam_width, population, settings)
    points = looks(population, settings.min_samples, job.evaluation["chunk_size"])
    for n in points:
        todo = [b for b in race.alive if b not in complete]
        if todo:
            job.evaluate(
                [variant_id(b) for b in todo], [path[b] for b in todo], order="racing", stop_at=n
            )
        if world.is_main:
            scores = {b: known.get(b, racing_scores(path[b], job, order)) for b in race.alive}
            dropped = race.look(n, scores)
            log.info(
                "racing after %d samples: %d sets remain%s",
                n,
                len(race.alive),
                race_news(dropped, race.kept),
            )
        race = world.broadcast(race)
        if race.kept is not None:
            break
    finishing = list(dict.fromkeys([race.kept[0], *extra]))
    rows = world.broadcast(
        {b: store_rows(path[b], fingerprint[b], job, order) for b in finishing}
        if world.is_main
        else {}
    )
    extended = [b for b in finishing if rows[b] < population]
    if extended:
        job.evaluate([variant_id(b) for b in extended], [path[b] for b in extended], order="racing")
    after = {}
    if world.is_main:
        for b in sets:
            after[b] = store_rows(path[b], fingerprint[b], job, order)
            if 0 < after[b] < population and partial_path(path[b]).exists():
                mark_raced(path[b])
    return RacedStep(race, points, before, world.broadcast(after), extended)


def race_joint_step(
    jobs: Mapping[str, EvaluationJob],
    plan: JointPlan,
    evals_dirs: Mapping[str, Path],
    beam_width: int,
    objective: str,
    settings: RacingSettings,
) -> dict[str, RacedStep]:
    """Race a joint step's candidates on every dataset at once, then complete the best kept set
    and the plan's other sets (greedy, each dataset's own) on every sample of every dataset.

    Round r takes each dataset to its r-th look. A difference of objectives is certified when
    every dataset certifies its part: Delta_d < t * baseline_d for each d implies that both the
    mean and the minimum of relative accuracies differ by less than t. Each dataset's test runs
    at the race's level over the number of datasets, so the joint guarantee keeps 1 - delta.
    """
    datasets = list(jobs)
    world = jobs[datasets[0]].world
    candidates, extra = list(plan.candidates), plan.extra
    sets = list(dict.fromkeys([*candidates, *extra]))
    path = {d: {b: evals_dirs[d] / f"{variant_id(b)}.h5" for b in sets} for d in datasets}
    fingerprint = {d: {b: jobs[d].fingerprint(variant_id(b)) for b in sets} for d in datasets}
    order = {d: jobs[d].racing_order(len(sets[0])) for d in datasets}

    def rows(d: str, chosen: Sequence[Blocks]) -> dict[Blocks, int]:
        counts = {b: store_rows(path[d][b], fingerprint[d][b], jobs[d], order[d]) for b in chosen}
        return world.broadcast(counts if world.is_main else {})

    before = {d: rows(d, sets) for d in datasets}
    complete = {d: {b for b in sets if before[d][b] == jobs[d].num_samples} for d in datasets}
    baseline = {d: read_store(evals_dirs[d] / "full.h5").accuracy for d in datasets}
    points = {
        d: looks(jobs[d].num_samples, settings.min_samples, jobs[d].evaluation["chunk_size"])
        for d in datasets
    }
    rounds = max(len(p) for p in points.values())
    race = Race(candidates, beam_width, rounds, settings)
    level = race.alpha / len(datasets)
    for r in range(1, rounds + 1):
        reached = {d: points[d][min(r, len(points[d])) - 1] for d in datasets}
        for d in datasets:
            todo = [b for b in race.alive if b not in complete[d]]
            if todo:
                jobs[d].evaluate(
                    [variant_id(b) for b in todo],
                    [path[d][b] for b in todo],
                    order="racing",
                    stop_at=reached[d],
                )
        if world.is_main:
            alive = [race.candidates.index(c) for c in race.alive]
            relatives, below = [], np.ones((len(candidates),) * 2 + (2,), dtype=bool)
            for d in datasets:
                n = reached[d]
                prefix = np.zeros((len(candidates), n))
                for c in race.alive:
                    scores = racing_scores(path[d][c], jobs[d], order[d])
                    prefix[race.candidates.index(c)] = scores[:n]
                relatives.append(relative(np.cumsum(prefix, axis=1)[:, -1] / n, baseline[d]))
                if r < rounds:
                    below[np.ix_(alive, alive)] &= dataset_certificates(
                        prefix[alive], jobs[d].num_samples, baseline[d], settings.epsilon, level
                    )
            dropped = race.decide(r, combine(np.stack(relatives), objective), below)
            log.info(
                "joint racing, round %d (%s): %d sets remain%s",
                r,
                ", ".join(f"{d} {n}" for d, n in reached.items()),
                len(race.alive),
                race_news(dropped, race.kept),
            )
        race = world.broadcast(race)
        if race.kept is not None:
            break
    finishing = list(dict.fromkeys([race.kept[0], *extra]))
    result = {}
    for d in datasets:
        counts = rows(d, finishing)
        extended = [b for b in finishing if counts[b] < jobs[d].num_samples]
        if extended:
            jobs[d].evaluate(
                [variant_id(b) for b in extended], [path[d][b] for b in extended], order="racing"
            )
        after = rows(d, sets)
        if world.is_main:
            for b in sets:
                if 0 < after[b] < jobs[d].num_samples and partial_path(path[d][b]).exists():
                    mark_raced(path[d][b])
        result[d] = RacedStep(race, points[d], before[d], after, extended)
    return result


def dataset_certificates(
    prefix: np.ndarray, population: int, baseline: float, epsilon: float, level: float
) -> np.ndarray:
    """One dataset's part of the joint certificates (A, A, 2): Delta_d(a, b) < t * baseline for
    t = -epsilon, +epsilon; a dataset whose full model scores 0 adds nothing (all sets count 1)."""
    if baseline <= 0:
        certified = np.zeros(prefix.shape[:1] * 2 + (2,), dtype=bool)
        certified[..., 1] = epsilon > 0
        return certified
    thresholds = [-epsilon * baseline, epsilon * baseline]
    return pair_certificates(prefix, population, thresholds, level)[..., -1]


def race_news(dropped: list, kept: list | None) -> str:
    """The end of a racing log line: the sets this look dropped and, once decided, those kept."""
    news = f", dropped {[variant_id(b) for b in dropped]}" if dropped else ""
    return news + (f"; decided: {[variant_id(b) for b in kept]}" if kept else "")
