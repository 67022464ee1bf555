"""Racing a beam step: the guarantee by simulation, the exact limit, a race through real stores."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from scipy import stats

from vlmprune.analysis.beam.evaluate import race_step
from vlmprune.analysis.beam.racing import (
    Race,
    RacingSettings,
    accuracy_interval,
    certified_below,
    level_per_test,
    looks,
    pair_certificates,
    replay,
)
from vlmprune.analysis.beam.search import keep
from vlmprune.engine.orders import racing_order
from vlmprune.engine.store import StoreWriter, read_raced, read_store
from vlmprune.engine.variants import variant_id

# Simulated steps: C = 6 candidates on N paired Bernoulli scores. Candidates 0-4 copy one base
# answer (correct with probability 0.8) on 90% of the samples and answer on their own elsewhere,
# so their means are 0.80, 0.80, 0.795, 0.79 and 0.78 and they disagree on few samples (near-ties,
# two of them at the edge of epsilon); candidate 5 is clearly worse (0.4) and independent.
MEANS = (0.80, 0.80, 0.795, 0.79, 0.78)
SHARED, BASE = 0.9, 0.8
RACES, N, WIDTH = 2000, 300, 3


def score_matrices(rng: np.random.Generator, races: int, n: int) -> np.ndarray:
    """(races, C, n) scores in a uniformly random order: i.i.d. samples are already in one."""
    base = rng.random((races, n)) < BASE
    rows = []
    for mean in MEANS:
        own = rng.random((races, n)) < (mean - SHARED * BASE) / (1 - SHARED)
        rows.append(np.where(rng.random((races, n)) < SHARED, base, own))
    rows.append(rng.random((races, n)) < 0.4)
    return np.stack(rows, axis=1).astype(np.float64)


def simulate(
    settings: RacingSettings, races: int = RACES, level: float | None = None, seed: int = 0
):
    """Violations of the guarantee in ``races`` simulated races; the share of samples they used."""
    rng = np.random.default_rng(seed)
    candidates = [(c,) for c in range(len(MEANS) + 1)]
    points = looks(N, settings.min_samples, 256)
    violations, used = 0, 0
    for _ in range(0, races, 200):
        scores = score_matrices(rng, 200, N)
        proto = Race(candidates, WIDTH, N, settings)
        certificates = pair_certificates(
            scores[..., : N - 1], N, proto.thresholds, level or proto.alpha
        )
        means = np.cumsum(scores, axis=-1) / np.arange(1, N + 1)
        for r in range(len(scores)):
            race = Race(candidates, WIDTH, N, settings)
            for n in points:
                race.decide(n, means[r, :, n - 1], certificates[r, ..., n - 1] if n < N else None)
                if race.kept is not None:
                    break
            accuracy = scores[r].mean(axis=1)
            wth_best = np.sort(accuracy)[::-1][WIDTH - 1]
            violations += any(
                accuracy[k] < wth_best - settings.epsilon - 1e-12 for (k,) in race.kept
            )
            used += sum(race.samples(c) for c in candidates)
    return violations, used / (races * len(candidates) * N)


def test_the_guarantee_holds_in_two_thousand_simulated_races():
    settings = RacingSettings(epsilon=0.01, delta=0.05, min_samples=16)
    violations, used = simulate(settings)
    # At most delta, with a binomial margin: a rate of delta gives more in fewer than 0.1% of runs.
    assert violations <= stats.binom.ppf(0.999, RACES, settings.delta)
    assert used < 1.0  # some candidate left the race early
    # The simulation sees a broken bound: tests at level 0.9 instead of the union bound's break it.
    broken, _ = simulate(settings, races=400, level=0.9)
    assert broken > stats.binom.ppf(0.999, 400, settings.delta)


def test_with_epsilon_zero_and_delta_near_zero_racing_equals_the_exact_search():
    rng = np.random.default_rng(1)
    settings = RacingSettings(epsilon=0.0, delta=1e-12, min_samples=8)
    for trial in range(40):
        n, count = 120, int(rng.integers(4, 9))
        matrix = rng.random((count, n)) < rng.uniform(0.2, 0.9, size=(count, 1))
        matrix[1] = matrix[0]  # an exact tie: broken by the blocks, as the exact search does
        scores = {(i, i + 1): row.astype(float) for i, row in enumerate(matrix)}
        race = replay(scores, WIDTH, settings, looks(n, 8, 256))
        exact = keep({c: float(s.mean()) for c, s in scores.items()}, WIDTH)
        # The same sets; decided before N, they are listed by their accuracy at the decision.
        assert sorted(race.kept) == sorted(exact), trial
        assert race.decided_at < n or race.kept == exact


def test_a_clearly_worse_candidate_leaves_after_the_first_look_and_ties_wait():
    n = 1000
    top = (np.arange(n) % 5 != 0).astype(float)  # 0.8
    scores = {(1,): top, (2,): top.copy(), (3,): top.copy(), (4,): top.copy(), (0,): 0 * top}
    settings = RacingSettings(epsilon=0.01, delta=0.05, min_samples=64)
    race = replay(scores, WIDTH, settings, looks(n, 64, 256))
    assert race.dropped[(0,)][0] == 64 and race.dropped[(0,)][1] == [(1,), (2,), (3,), (4,)]
    assert race.kept == [(1,), (2,), (3,)]  # identical sets: decided within epsilon, before N
    assert 64 < race.decided_at < n


def test_a_pair_that_never_disagrees_is_certified_soon_after_the_earliest_any_test_could():
    population, epsilon = 2000, 0.01
    alpha = level_per_test(0.05, WIDTH, 18)
    # as a race tests it: one bet sequence for both thresholds, -epsilon and +epsilon
    certified = certified_below(np.zeros(population - 1), population, [-epsilon, epsilon], alpha)
    first = int(np.argmax(certified[1])) + 1
    # No level-alpha test rejects H0: Delta >= epsilon sooner: the population whose differences
    # are +1 on epsilon N samples and 0 elsewhere shows no +1 in n draws with this probability.
    plus = round(epsilon * population)
    floor = next(
        n for n in range(1, population) if stats.hypergeom(population, plus, n).pmf(0) <= alpha
    )
    assert floor == 583
    assert floor <= first == 773  # the figure docs/benchmarks.md quotes


def test_a_look_equals_the_replay_of_the_same_scores():
    rng = np.random.default_rng(2)
    scores = {
        (i,): (rng.random(400) < p).astype(float) for i, p in enumerate([0.8, 0.79, 0.7, 0.3])
    }
    settings = RacingSettings(epsilon=0.02, delta=0.1, min_samples=32)
    points = looks(400, 32, 256)
    replayed = replay(scores, 2, settings, points)
    live = Race(list(scores), 2, 400, settings)
    for n in points:
        live.look(n, {c: s[:n] for c, s in scores.items() if c in live.alive})
        if live.kept is not None:
            break
    assert (live.kept, live.decided_at, live.dropped) == (
        replayed.kept,
        replayed.decided_at,
        replayed.dropped,
    )


def test_tests_and_looks():
    # A certified difference stays certified; a true null is not certified on identical scores.
    differences = np.zeros((1, 499))
    below, above = certified_below(differences, 500, [0.01, -0.01], 0.001)[0]
    assert below.any() and below[np.argmax(below) :].all()
    assert not above.any()
    assert level_per_test(0.05, 3, 18) == pytest.approx(0.05 / (3 * 17))
    assert looks(2000, 64, 256) == sorted(set(looks(2000, 64, 256)))
    assert looks(2000, 64, 256)[:2] == [64, 128] and looks(2000, 64, 256)[-1] == 2000
    assert looks(50, 64, 256) == [50]
    low, high = accuracy_interval(np.ones(100), 1000, 0.05)
    assert low > 0.9 and high == 1.0
    assert accuracy_interval(np.array([1.0, 0.0]), 2, 0.05) == (0.5, 0.5)


class FakeJob:
    """An evaluation job whose 'model' answers from a score matrix: ``EvaluationJob``'s interface
    on real stores, so the race's files are what a real step writes."""

    def __init__(self, scores: dict[tuple[int, ...], np.ndarray], chunk_size: int = 50) -> None:
        self.scores = scores
        self.num_samples = len(next(iter(scores.values())))
        self.sample_ids = [f"s{i:04d}" for i in range(self.num_samples)]
        self.evaluation = {"chunk_size": chunk_size, "seed": 0}
        self.world = __import__("vlmprune.engine.distributed", fromlist=["World"]).World()
        self.evaluated: list[tuple[str, int, int]] = []  # (variant, first, last) rows evaluated

    def fingerprint(self, variant: str) -> str:
        return f"fp-{variant}"

    def racing_order(self, removed: int) -> list[int]:
        return racing_order(self.num_samples, 0, removed)

    def evaluate(self, variants, stores, *, order="selection", stop_at=None):
        assert order == "racing"
        end = self.num_samples if stop_at is None else stop_at
        for name, path in zip(variants, stores, strict=True):
            blocks = tuple(int(b) for b in name.split("-")[1:])
            writer = StoreWriter(path, self.fingerprint(name), {"variant": name})
            done = writer.done
            rows = self.racing_order(len(blocks))[done:end]
            if rows:
                self.evaluated.append((name, done, end))
                writer.append(
                    [self.sample_ids[i] for i in rows],
                    ["x"] * len(rows),
                    self.scores[blocks][rows].tolist(),
                )
            if end == self.num_samples:
                writer.reorder(self.sample_ids)
                writer.finish({})


def synthetic_step(n: int = 400) -> dict[tuple[int, ...], np.ndarray]:
    rng = np.random.default_rng(3)
    base = rng.random(n) < 0.85
    near = lambda p: np.where(rng.random(n) < 0.97, base, rng.random(n) < p)  # noqa: E731
    return {
        (1, 2): near(0.85).astype(float),
        (1, 3): near(0.85).astype(float),
        (1, 4): near(0.8).astype(float),
        (2, 3): base.astype(float),
        (0, 1): (rng.random(n) < 0.1).astype(float),
        (0, 2): (rng.random(n) < 0.1).astype(float),
    }


def test_race_step_writes_raced_stores_and_completes_the_best_kept_and_the_greedy_set(
    tmp_path: Path,
):
    scores = synthetic_step()
    greedy = (1, 2)
    extra = {(2, 4): np.ones(400)}  # a greedy set that is not a candidate
    job = FakeJob({**scores, **extra})
    settings = RacingSettings(epsilon=0.05, delta=0.1, min_samples=50)
    raced = race_step(job, list(scores), [(2, 4)], tmp_path, WIDTH, settings)
    race = raced.race
    order = job.racing_order(2)
    expected = replay({c: s[order] for c, s in scores.items()}, WIDTH, settings, looks(400, 50, 50))
    assert (race.kept, race.decided_at, race.dropped) == (
        expected.kept,
        expected.decided_at,
        expected.dropped,
    )
    assert {(0, 1), (0, 2)} <= set(race.dropped) and race.decided_at < 400
    for blocks in scores:
        path = tmp_path / f"{variant_id(blocks)}.h5"
        if blocks in (race.kept[0],):
            complete = read_store(path)
            assert complete.sample_ids == job.sample_ids and not complete.raced
            assert list(complete.scores) == list(scores[blocks])
            continue
        store = read_raced(path)
        assert store is not None and store.raced and not path.exists()
        assert store.attrs["n"] == len(store.scores) == race.samples(blocks)
        assert store.sample_ids == [job.sample_ids[i] for i in order[: race.samples(blocks)]]
        assert list(store.scores) == list(scores[blocks][order[: race.samples(blocks)]])
    assert read_store(tmp_path / "drop-2-4.h5").accuracy == 1.0
    assert raced.extended == [race.kept[0], (2, 4)]
    assert raced.rows_after[race.kept[0]] == raced.rows_after[(2, 4)] == 400
    del greedy

    # Rerun on the stores it left: the same decisions, and only no sample evaluated again.
    job.evaluated.clear()
    again = race_step(job, list(scores), [(2, 4)], tmp_path, WIDTH, settings)
    assert (again.race.kept, again.race.dropped) == (race.kept, race.dropped)
    assert job.evaluated == [] and again.evaluated == {}


def test_stores_of_unequal_n_are_refused_naming_both_and_a_raced_one_is_paired_by_sample(
    tmp_path: Path,
):
    from vlmprune.analysis.importance.estimate import check_aligned, paired_with_baseline
    from vlmprune.analysis.tradeoff.pareto import tradeoff
    from vlmprune.engine.store import mark_raced

    ids = [f"s{i}" for i in range(6)]
    full = StoreWriter(tmp_path / "full.h5", "f", {})
    full.append(ids, ["x"] * 6, [1.0, 0.0, 1.0, 1.0, 0.0, 1.0])
    full = full.finish({})
    raced = StoreWriter(tmp_path / "drop-1-2.h5", "r", {})
    raced.append(["s4", "s1", "s2"], ["x"] * 3, [1.0, 1.0, 0.0])
    mark_raced(tmp_path / "drop-1-2.h5")
    raced = read_raced(tmp_path / "drop-1-2.h5")
    with pytest.raises(ValueError, match=r"holds n=3 samples \(a raced store.*baseline's n=6"):
        check_aligned(full, raced, "drop-1-2")
    assert list(paired_with_baseline(full, raced, "drop-1-2")) == [0.0, 0.0, 1.0]
    beam = {
        "dataset": "d",
        "n": 6,
        "baseline_accuracy": 0.67,
        "budgets": [
            {
                "removed": 2,
                "recommended": {"variant": "drop-1-2", "n": 3, "raced": True},
                "greedy": {"variant": "drop-1-2", "n": 3, "raced": True},
            }
        ],
    }
    with pytest.raises(ValueError, match="holds n=3 samples"):
        tradeoff(beam, {"variants": {}})
