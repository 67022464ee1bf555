"""The joint search over several datasets, on synthetic evaluation stores (no model)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from vlmprune.analysis.beam.files import (
    plan_step,
    recommended_set,
    split_reusable,
    step_one,
    step_record,
    summarize,
)
from vlmprune.analysis.beam.joint import (
    combine,
    joint_step_one,
    joint_step_record,
    objective_interval,
    plan_joint_step,
    relative,
    summarize_joint,
)
from vlmprune.analysis.beam.search import rank
from vlmprune.analysis.tradeoff.pareto import joint_tradeoff, tradeoff_variants
from vlmprune.engine.store import StoreWriter, read_store
from vlmprune.engine.variants import parse_variant, variant_id
from vlmprune.export.card import joint_choice

# Each block, removed, fails these samples (the union when several are removed). On "colour"
# blocks 1 and 2 cost least and block 4 most; on "shape" block 2 costs most of the small ones.
KILLS = {
    "colour": {0: set(range(10)), 1: {10}, 2: {11}, 3: {12, 13}, 4: {12, 13, 14, 15}},
    "shape": {0: set(range(8)), 1: {16}, 2: {10, 11, 12, 13, 14}, 3: {15}, 4: {16, 17}},
}
SAMPLES = 20
BLOCKS = 5
BASE_WRONG = {"colour": {19}, "shape": {18, 19}}  # the full model fails these
IMPORTANCE = {"confidence": 0.9, "bootstrap_resamples": 300, "seed": 0}


def scores_of(dataset: str, blocks: tuple[int, ...]) -> np.ndarray:
    killed = set(BASE_WRONG[dataset]).union(*(KILLS[dataset][b] for b in blocks))
    return np.array([0.0 if i in killed else 1.0 for i in range(SAMPLES)])


def write_store(evals: Path, dataset: str, blocks: tuple[int, ...]) -> None:
    attrs = {"model": "synthetic", "dataset": dataset, "split": "train", "metric": "exact"}
    writer = StoreWriter(evals / f"{variant_id(blocks)}.h5", "fp", {**attrs, "num_blocks": BLOCKS})
    ids = [f"{dataset}-{i}" for i in range(SAMPLES)]
    writer.append(ids, ["x"] * SAMPLES, scores_of(dataset, blocks).tolist())
    writer.finish({})


class Stores:
    """Each dataset's evaluation folder; ``evaluate`` writes what is missing and counts it."""

    def __init__(self, root: Path) -> None:
        self.dirs = {d: root / d for d in KILLS}
        self.evaluated: list[tuple[str, str]] = []
        for dataset, evals in self.dirs.items():
            evals.mkdir()
            for blocks in [(), *((b,) for b in range(BLOCKS))]:
                write_store(evals, dataset, blocks)

    def evaluate(self, dataset: str, variants: list[str]) -> tuple[list[str], list[str]]:
        todo, reused = split_reusable(variants, self.dirs[dataset], dict.fromkeys(variants, "fp"))
        for v in todo:
            write_store(self.dirs[dataset], dataset, parse_variant(v))
            self.evaluated.append((dataset, v))
        return todo, reused


def own_search(stores: Stores, dataset: str, steps: int) -> list[dict]:
    """A dataset's own beam search, as rules beam_step_1 and beam_step run it."""
    evals = stores.dirs[dataset]
    records = [
        step_one(
            evals / "full.h5",
            [evals / f"drop-{i}.h5" for i in range(BLOCKS)],
            2,
            IMPORTANCE,
        )
    ]
    for _ in range(1, steps):
        plan = plan_step(records[-1], records[0])
        todo, reused = stores.evaluate(dataset, plan.variants)
        records.append(step_record(plan, evals, 2, IMPORTANCE, evaluated=todo, reused=reused))
    return records


def joint_search(stores: Stores, own: dict[str, list[dict]], objective: str, steps: int):
    """The joint search, as rules beam_joint_step_1, beam_joint_evaluate, beam_joint_step run it."""
    dirs = stores.dirs
    records = [
        joint_step_one(
            {d: p / "full.h5" for d, p in dirs.items()},
            {d: [p / f"drop-{i}.h5" for i in range(BLOCKS)] for d, p in dirs.items()},
            {d: own[d][0] for d in dirs},
            2,
            objective,
            IMPORTANCE,
        )
    ]
    for k in range(2, steps + 1):
        plan = plan_joint_step(records[-1], records[0], {d: own[d][k - 1] for d in dirs})
        done = {d: stores.evaluate(d, plan.variants) for d in dirs}
        records.append(
            joint_step_record(
                plan,
                dirs,
                2,
                objective,
                IMPORTANCE,
                evaluated={d: done[d][0] for d in dirs},
                reused={d: done[d][1] for d in dirs},
            )
        )
    return records


@pytest.fixture
def stores(tmp_path: Path) -> Stores:
    return Stores(tmp_path)


def by_hand(stores: Stores, blocks: tuple[int, ...], objective: str) -> float:
    """The objective of a set, computed from its stores directly."""
    values = []
    for evals in stores.dirs.values():
        accuracy = read_store(evals / f"{variant_id(blocks)}.h5").accuracy
        values.append(accuracy / read_store(evals / "full.h5").accuracy)
    return float(np.mean(values) if objective == "mean" else np.min(values))


@pytest.mark.parametrize("objective", ["mean", "worst"])
def test_the_joint_set_is_the_one_the_objective_ranks_first_from_the_stores(stores, objective):
    own = {d: own_search(stores, d, 3) for d in KILLS}
    recommended = {d: [recommended_set(s) for s in own[d]] for d in KILLS}
    assert recommended["colour"][1] != recommended["shape"][1]  # the datasets disagree at k = 2
    steps = joint_search(stores, own, objective, 3)
    summary = summarize_joint(steps, {})
    for k, (step, budget) in enumerate(zip(steps, summary["budgets"], strict=True), start=1):
        candidates = {tuple(e["blocks"]) for e in step["candidates"]}
        computed = {b: by_hand(stores, b, objective) for b in candidates}
        kept = rank(computed)[:2]
        assert [tuple(b) for b in step["beams"]] == kept
        greedy = tuple(step["greedy"]["blocks"])
        best = rank({b: computed.get(b, by_hand(stores, b, objective)) for b in [*kept, greedy]})[0]
        assert tuple(budget["recommended"]["blocks"]) == best
        for entry in step["candidates"]:
            assert entry["objective"] == pytest.approx(computed[tuple(entry["blocks"])])
            assert entry["ci_low"] <= entry["objective"] + 1e-9 <= entry["ci_high"] + 2e-9
            for dataset, per in entry["datasets"].items():
                store = read_store(stores.dirs[dataset] / f"{entry['variant']}.h5")
                assert per["accuracy"] == store.accuracy  # equal to the dataset's own store
        assert {d: tuple(e["blocks"]) for d, e in budget["per_dataset"].items()} == {
            d: recommended[d][k - 1] for d in KILLS
        }


def test_no_store_is_evaluated_twice_and_the_joint_steps_reuse_the_own_searches(stores):
    own = {d: own_search(stores, d, 3) for d in KILLS}
    evaluated_by_own = list(stores.evaluated)
    steps = joint_search(stores, own, "mean", 3)
    assert len(stores.evaluated) == len(set(stores.evaluated))
    joint_only = stores.evaluated[len(evaluated_by_own) :]
    assert not set(joint_only) & set(evaluated_by_own)
    for step in steps[1:]:
        for dataset in KILLS:
            assert sorted(step["evaluated"][dataset] + step["reused"][dataset]) == sorted(
                {e["variant"] for e in step["candidates"]}
                | {step["greedy"]["variant"]}
                | {e["variant"] for e in step["per_dataset"].values()}
            )
            own_step = own[dataset][step["step"] - 1]
            own_sets = {e["variant"] for e in own_step["candidates"]} | {
                own_step["greedy"]["variant"]
            }
            assert not set(step["evaluated"][dataset]) & own_sets


def test_with_one_dataset_mean_ranks_as_the_dataset_does(tmp_path):
    stores = Stores(tmp_path)
    del stores.dirs["shape"]
    own = {"colour": own_search(stores, "colour", 3)}
    steps = joint_search(stores, own, "mean", 3)
    assert [s["beams"] for s in steps] == [s["beams"] for s in own["colour"]]
    assert [b["recommended"]["variant"] for b in summarize_joint(steps, {})["budgets"]] == [
        b["recommended"]["variant"] for b in summarize(own["colour"], None)["budgets"]
    ]


def test_relative_accuracy_objectives_and_the_paired_bootstrap():
    assert relative(0.5, 0.8) == pytest.approx(0.625) and relative(0.3, 0.0) == 1.0
    values = np.array([[0.9, 0.5], [0.7, 0.9]])  # datasets x sets
    assert list(combine(values, "mean")) == pytest.approx([0.8, 0.7])
    assert list(combine(values, "worst")) == [0.7, 0.5]
    with pytest.raises(ValueError, match="per_dataset"):
        combine(values, "best")
    rng = np.random.default_rng(0)
    full = (rng.random(400) < 0.9).astype(float)
    dropped = full * (rng.random(400) < 0.8)
    low, high = objective_interval(
        [(full, dropped), (full, full)], "mean", confidence=0.95, resamples=2000, seed=0
    )
    point = (dropped.mean() / full.mean() + 1) / 2
    assert low < point < high and high - low < 0.1
    worst = objective_interval(
        [(full, dropped), (full, full)], "worst", confidence=0.95, resamples=2000, seed=0
    )
    assert worst[0] < dropped.mean() / full.mean() < worst[1]


def test_the_joint_trade_off_and_model_card(stores):
    own = {d: own_search(stores, d, 2) for d in KILLS}
    summary = summarize_joint(joint_search(stores, own, "mean", 2), {})
    variants = tradeoff_variants(summary)
    expected = {"full"} | {b["recommended"]["variant"] for b in summary["budgets"]}
    expected |= {e["variant"] for b in summary["budgets"] for e in b["per_dataset"].values()}
    assert set(variants) == expected
    timing = {"median": 0.0}
    latency = {
        "device": "cpu",
        "new_tokens": 4,
        "variants": {
            v: {
                "batches": {
                    "1": {
                        "prefill_s": timing,
                        "decode_per_token_s": timing,
                        "generate_s": {"median": 1.0 - 0.1 * len(blocks)},
                        "throughput_tokens_per_s": timing,
                        "peak_memory_bytes": None,
                    }
                }
            }
            for v, blocks in variants.items()
        },
    }
    result = joint_tradeoff(summary, latency)
    joint_sets = {b["recommended"]["variant"] for b in summary["budgets"]}
    assert {row["variant"] for row in result["lookup"]} <= joint_sets | {"full"}
    for row in result["lookup"]:
        assert set(row) == {"budget_s", "variant", "blocks", "objective"}
    for point in result["points"]:
        assert set(point["datasets"]) == set(KILLS) and "objective" in point
    card = joint_choice(summary, summary["budgets"][-1]["recommended"]["variant"])
    assert "Chosen for all datasets (colour, shape)" in card and "beam.objective: mean" in card
    assert joint_choice(summary, "drop-0-1-2-3") is None


def test_racing_the_joint_objective_keeps_sets_within_epsilon_and_leaves_raced_stores(tmp_path):
    from test_racing import FakeJob
    from vlmprune.analysis.beam.evaluate import race_joint_step
    from vlmprune.analysis.beam.joint import JointPlan
    from vlmprune.analysis.beam.racing import RacingSettings
    from vlmprune.engine.store import read_raced

    rng = np.random.default_rng(4)
    n = {"colour": 300, "shape": 200}
    sets = [(1, 2), (1, 3), (2, 3), (0, 1), (0, 2), (1, 4)]
    jobs, dirs = {}, {}
    for dataset, size in n.items():
        base = rng.random(size) < 0.9
        scores = {
            (1, 2): base,
            (1, 3): np.where(rng.random(size) < 0.98, base, rng.random(size) < 0.5),
            (2, 3): np.where(rng.random(size) < 0.98, base, rng.random(size) < 0.9),
            (0, 1): rng.random(size) < 0.2,
            (0, 2): rng.random(size) < 0.2,
            (1, 4): np.where(rng.random(size) < 0.8, base, rng.random(size) < 0.5),
        }
        jobs[dataset] = FakeJob({b: s.astype(float) for b, s in scores.items()}, chunk_size=50)
        dirs[dataset] = tmp_path / dataset
        dirs[dataset].mkdir()
        full = StoreWriter(dirs[dataset] / "full.h5", "fp-full", {})
        full.append(jobs[dataset].sample_ids, ["x"] * size, base.astype(float).tolist())
        full.finish({})
    plan = JointPlan(3, {b: [] for b in sets}, (1, 2), {"colour": (1, 3), "shape": (1, 2)}, 6)
    settings = RacingSettings(epsilon=0.05, delta=0.1, min_samples=25)
    raced = race_joint_step(jobs, plan, dirs, 2, "mean", settings)
    race = raced["colour"].race
    assert {(0, 1), (0, 2)} <= set(race.dropped)
    objective = {
        b: np.mean([jobs[d].scores[b].mean() / jobs[d].scores[(1, 2)].mean() for d in n])
        for b in sets
    }
    wth_best = sorted(objective.values(), reverse=True)[1]
    assert all(objective[b] >= wth_best - settings.epsilon for b in race.kept)
    for dataset, step in raced.items():
        for blocks in race.dropped:
            store = read_raced(dirs[dataset] / f"{variant_id(blocks)}.h5")
            assert store.raced and len(store.scores) < n[dataset]
        for blocks in {race.kept[0], (1, 2), (1, 3)}:  # best kept, greedy, the datasets' own
            assert read_store(dirs[dataset] / f"{variant_id(blocks)}.h5").attrs["n"] == n[dataset]
        assert step.rows_after[race.kept[0]] == n[dataset]


def test_the_joint_sets_validated_on_each_datasets_other_split(stores, tmp_path):
    from vlmprune.analysis.beam.files import validation_record, validation_sets

    own = {d: own_search(stores, d, 3) for d in KILLS}
    steps = joint_search(stores, own, "worst", 3)
    validations = {}
    for dataset in KILLS:
        val = tmp_path / f"{dataset}-val"
        val.mkdir()
        for blocks in [(), *validation_sets(steps)]:
            write_store(val, dataset, blocks)
        validations[dataset] = validation_record(steps, val, IMPORTANCE, evaluated=[], reused=[])
    summary = summarize_joint(steps, validations)
    assert set(summary["validation"]) == set(KILLS)
    for budget in summary["budgets"]:
        for dataset, held in budget["validation"].items():
            variant = budget["recommended"]["variant"]
            store = read_store(tmp_path / f"{dataset}-val" / f"{variant}.h5")
            assert held["recommended"]["variant"] == variant
            assert held["recommended"]["accuracy"] == store.accuracy
