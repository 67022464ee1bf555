"""Benchmark racing against the exact beam search, step by step, on the demo model.

For each dataset (default ``easy_vqa`` and ``easy_vqa_shape``, train split) and sample count N
(default 500 and 2,000), beam width 3 up to 4 blocks:

1. Step 1 from the ablation (the full model and every single block on all N samples), as the
   workflow does; it is exact either way and not timed.
2. The exact search: each later step evaluates every candidate and the greedy set on all N
   samples, through the tree engine, keeping the per-sample scores. It runs in the racing order,
   chunk by chunk at the racing looks, so that its micro-batches are those of the race and its
   answers the race's answers.
3. Racing replayed on those scores at several (epsilon, delta): cheap and exact, because racing's
   decisions depend on nothing but the scores in order.
4. One real racing run per step (``vlmprune.analysis.beam.evaluate.race_step``, as rule
   beam_step runs it, stores included) on the exact step's candidates, at ``--epsilon`` and
   ``--delta``; it must make the replay's decisions.

Compute is the forward passes of the vision tower and of the blocks (prefill and decode),
counted per sample and weighted by each kind's mean seconds per sample in the exact run. The
last line is ``racing/exact compute: X.XX`` at the largest N, all datasets and steps together.
"""

from __future__ import annotations

import tempfile
import time
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

from vlmprune.analysis.beam.evaluate import in_racing_order, race_step
from vlmprune.analysis.beam.files import plan_step, step_one, step_record
from vlmprune.analysis.beam.racing import RacingSettings, looks, replay
from vlmprune.analysis.beam.search import Blocks, keep
from vlmprune.bench.engine import PassCounter, torch_setup
from vlmprune.data.prepare import select_samples
from vlmprune.data.registry import load_split
from vlmprune.engine.distributed import World
from vlmprune.engine.identity import evaluation_inputs
from vlmprune.engine.run import EvaluationJob, store_attributes
from vlmprune.engine.store import read_store
from vlmprune.engine.variants import variant_id
from vlmprune.models.loading import load_adapter
from vlmprune.settings import evaluation_settings, load_config, model_settings

KINDS = ("encoder", "block prefill", "block decode")
IMPORTANCE = {"confidence": 0.95, "bootstrap_resamples": 1000, "seed": 0}


@dataclass
class Cost:
    """Wall seconds and forward passes (calls, samples through them, seconds inside) of one run."""

    wall: float = 0.0
    calls: Counter = field(default_factory=Counter)
    rows: Counter = field(default_factory=Counter)
    seconds: Counter = field(default_factory=Counter)

    def add(self, other: Cost) -> None:
        self.wall += other.wall
        self.calls.update(other.calls)
        self.rows.update(other.rows)
        self.seconds.update(other.seconds)

    def compute(self, weights: Mapping[str, float]) -> float:
        return sum(self.rows[k] * weights[k] for k in KINDS)

    def passes(self) -> str:
        return ", ".join(f"{self.rows[k]:,} {k}" for k in KINDS)


def measured(job: EvaluationJob, run: Any) -> tuple[Any, Cost]:
    """``run()``'s result and its cost, the forward passes counted by hooks."""
    counter = PassCounter(job.adapter)
    started = time.perf_counter()
    try:
        result = run()
    finally:
        counter.close()
    return result, Cost(
        time.perf_counter() - started,
        Counter(counter.counts),
        Counter(counter.rows),
        Counter(counter.seconds),
    )


def open_bench_job(model: Path, dataset: str, samples: int, adapter: Any) -> EvaluationJob:
    config = load_config(
        {
            "model": {"path": str(model), "device": "cpu", "dtype": "float32"},
            "datasets": {dataset: {"splits": ["train"], "num_samples": samples}},
            "beam": {"validate_on": None},
        }
    )
    model_json, evaluation = model_settings(config), evaluation_settings(config, dataset)
    records, warnings = select_samples(
        load_split(dataset, "train"), samples, evaluation["seed"], evaluation["selection"]
    )
    return EvaluationJob(
        dataset,
        "train",
        records,
        warnings,
        adapter,
        evaluation_inputs(model_json, dataset, "train"),
        store_attributes(model_json, dataset, "train", evaluation["metric"], adapter, warnings),
        evaluation,
        World(),
    )


def exact_step(job: EvaluationJob, sets: Sequence[str], evals: Path, points: Sequence[int]) -> None:
    """Every set on all N samples, in the racing order, chunks ending at the race's looks."""
    for n in points:
        job.evaluate(sets, [evals / f"{v}.h5" for v in sets], order="racing", stop_at=n)


def samples_of(
    race: Any, population: int, extra: Sequence[Blocks], candidates: Sequence[Blocks]
) -> int:
    """Samples a raced step spends on its sets: the race's, and all N for the completed ones."""
    completed = {race.kept[0], *extra}
    return sum(population if c in completed else race.samples(c) for c in candidates) + sum(
        population for c in extra if c not in candidates
    )


def bench(
    model: Path,
    adapter: Any,
    dataset: str,
    population: int,
    settings: RacingSettings,
    replays: Sequence[tuple[float, float]],
    work: Path,
    beam_width: int,
    max_blocks: int,
) -> tuple[Cost, Cost]:
    """The exact search and the racing run of one dataset at N samples; their costs."""
    job = open_bench_job(model, dataset, population, adapter)
    population = job.num_samples
    exact_dir, racing_dir = (
        work / dataset / f"{population}" / "exact",
        work / dataset / f"{population}" / "racing",
    )
    blocks = len(adapter.blocks)
    ablation = ["full", *(f"drop-{i}" for i in range(blocks))]
    job.evaluate(ablation, [exact_dir / f"{v}.h5" for v in ablation])
    (racing_dir).mkdir(parents=True, exist_ok=True)
    (racing_dir / "full.h5").write_bytes((exact_dir / "full.h5").read_bytes())
    step1 = step_one(
        exact_dir / "full.h5",
        [exact_dir / f"drop-{i}.h5" for i in range(blocks)],
        beam_width,
        IMPORTANCE,
    )
    baseline = step1["baseline_accuracy"]
    print(f"{dataset}, N = {population}: baseline {baseline:.4f}; step 1 beams {step1['beams']}")
    points = looks(population, settings.min_samples, job.evaluation["chunk_size"])
    previous, exact_total, racing_total = step1, Cost(), Cost()
    for k in range(2, max_blocks + 1):
        plan = plan_step(previous, step1)
        candidates = list(plan.candidates)
        _, exact_cost = measured(job, partial(exact_step, job, plan.variants, exact_dir, points))
        order = job.racing_order(k)
        scores = {
            b: in_racing_order(read_store(exact_dir / f"{variant_id(b)}.h5"), job, order)
            for b in candidates
        }
        accuracy = {b: float(s.mean()) for b, s in scores.items()}
        exact_beams = keep(accuracy, beam_width)
        wth_best = accuracy[exact_beams[-1]]
        sets = len(plan.variants)
        greedy = variant_id(plan.greedy)
        print(
            f"  step {k}: {len(candidates)} candidates and the greedy set {greedy}: {sets} sets; "
            f"exact beams {[variant_id(b) for b in exact_beams]}, w-th best {wth_best:.4f}"
        )
        for epsilon, delta in replays:
            replayed = replay(
                scores, beam_width, RacingSettings(epsilon, delta, settings.min_samples), points
            )
            spent = samples_of(replayed, population, [plan.greedy], candidates)
            within = all(accuracy[b] >= wth_best - epsilon - 1e-12 for b in replayed.kept)
            kept = [variant_id(b) for b in replayed.kept]
            print(
                f"    replay epsilon {epsilon}, delta {delta}: decided at {replayed.decided_at}, "
                f"{len(replayed.dropped)} dropped, samples {spent / (sets * population):.2f} "
                f"of exact, kept {kept}, all within epsilon: {'yes' if within else 'NO'}"
            )
        expected = replay(scores, beam_width, settings, points)
        raced, racing_cost = measured(
            job,
            partial(race_step, job, candidates, [plan.greedy], racing_dir, beam_width, settings),
        )
        race = raced.race
        same = (race.kept, race.decided_at, race.dropped) == (
            expected.kept,
            expected.decided_at,
            expected.dropped,
        )
        print(
            f"    racing (epsilon {settings.epsilon}, delta {settings.delta}): "
            f"same decisions as the replay: {'yes' if same else 'NO'}"
        )
        drops = Counter(n for n, _ in race.dropped.values())
        print(
            f"      decided at {race.decided_at} of {population}; dropped {len(race.dropped)} "
            f"({', '.join(f'{c} at {n}' for n, c in sorted(drops.items()))}); completed "
            f"{[variant_id(b) for b in raced.extended]}"
        )
        for b in race.kept:
            within = accuracy[b] >= wth_best - settings.epsilon - 1e-12
            print(
                f"      kept {variant_id(b)}: accuracy on all N {accuracy[b]:.4f}, "
                f"{accuracy[b] - wth_best:+.4f} against the exact w-th best "
                f"({'within' if within else 'OUTSIDE'} epsilon)"
            )
        for name, cost in (("exact", exact_cost), ("racing", racing_cost)):
            print(
                f"      {name}: {cost.wall:.1f} s wall; forward passes per sample: {cost.passes()}"
            )
        exact_total.add(exact_cost)
        racing_total.add(racing_cost)
        record = step_record(
            plan, exact_dir, beam_width, IMPORTANCE, evaluated=plan.variants, reused=[]
        )
        previous = record
    return exact_total, racing_total


def run(
    *,
    demo_model: Path = Path("data/models/demo-llava"),
    datasets: Sequence[str] = ("easy_vqa", "easy_vqa_shape"),
    sample_counts: Sequence[int] = (500, 2000),
    epsilon: float = 0.01,
    delta: float = 0.05,
    min_samples: int = 64,
    replays: str = "0.01:0.05,0.02:0.05,0.005:0.05,0.01:0.01,0.01:0.2",
    beam_width: int = 3,
    max_blocks_to_remove: int = 4,
    work_dir: Path | None = None,
) -> int:
    """The exact search and racing, per dataset and N; the last line is the compute ratio."""
    if not (demo_model / "config.json").is_file():
        raise SystemExit(
            f"{demo_model} holds no model; build it with the workflow's demo_model rule "
            "(snakemake --cores 2 data/models/demo-llava) or give --demo-model"
        )
    settings = RacingSettings(epsilon, delta, min_samples)
    pairs = [tuple(float(x) for x in pair.split(":")) for pair in replays.split(",")]
    sizes = sorted(sample_counts)
    print(torch_setup())
    print(f"demo model {demo_model}; beam width {beam_width} up to {max_blocks_to_remove} blocks")
    adapter = load_adapter(demo_model, device="cpu", dtype="float32")
    ratios = {}
    with tempfile.TemporaryDirectory() as scratch:
        work = work_dir or Path(scratch)
        for population in sizes:
            exact, racing = Cost(), Cost()
            for dataset in datasets:
                e, r = bench(
                    demo_model,
                    adapter,
                    dataset,
                    population,
                    settings,
                    pairs,
                    work,
                    beam_width,
                    max_blocks_to_remove,
                )
                exact.add(e)
                racing.add(r)
            weights = {k: exact.seconds[k] / exact.rows[k] if exact.rows[k] else 0.0 for k in KINDS}
            ratios[population] = racing.compute(weights) / exact.compute(weights)
            blocks = sum(racing.rows[k] for k in KINDS[1:]) / sum(exact.rows[k] for k in KINDS[1:])
            cost = ", ".join(f"{k} {1e6 * w:.1f} us" for k, w in weights.items())
            print(
                f"N = {population}, all datasets and steps: exact {exact.wall:.1f} s, "
                f"racing {racing.wall:.1f} s (wall ratio {racing.wall / exact.wall:.2f}); "
                f"block passes per sample {blocks:.2f} of exact; compute weighted by seconds per "
                f"sample ({cost}): {ratios[population]:.2f}"
            )
    for population in sizes[:-1]:
        print(f"racing/exact compute at N = {population}: {ratios[population]:.2f}")
    print(f"racing/exact compute: {ratios[sizes[-1]]:.2f}")
    return 0
