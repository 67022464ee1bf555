"""The beam search's algorithm and files, on synthetic evaluation stores (no model)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from vlmprune.analysis.beam.files import (
    plan_step,
    split_reusable,
    step_one,
    step_record,
    summarize,
    validation_record,
    validation_sets,
)
from vlmprune.analysis.beam.plot import plot_beam
from vlmprune.analysis.beam.search import (
    canonical,
    extend,
    greedy_set,
    keep,
    rank,
    seed_evaluations,
)
from vlmprune.engine.store import StoreWriter
from vlmprune.engine.variants import parse_variant, variant_id

# Each block, removed, makes the model fail these samples; removing several fails the union.
# Blocks 1 and 3 fail overlapping samples, so {1, 3} costs less than the two individually
# least important blocks {1, 2}: the dependency the beam search finds and the greedy rule misses.
KILLS = {0: {0, 1, 2, 3, 4, 5}, 1: {6, 7}, 2: {8, 9}, 3: {6, 7, 8}, 4: {6, 7, 8, 9}}
SAMPLES = 12
IMPORTANCE = {"confidence": 0.9, "bootstrap_resamples": 200, "seed": 0}


def scores_of(blocks: tuple[int, ...]) -> np.ndarray:
    killed = set().union(*(KILLS[b] for b in blocks)) if blocks else set()
    return np.array([0.0 if i in killed else 1.0 for i in range(SAMPLES)])


def write_store(evals: Path, blocks: tuple[int, ...], fingerprint: str = "fp") -> Path:
    path = evals / f"{variant_id(blocks)}.h5"
    attrs = {
        "model": "synthetic",
        "dataset": "toy",
        "split": "train",
        "metric": "exact",
        "num_blocks": len(KILLS),
    }
    writer = StoreWriter(path, fingerprint, attrs)
    writer.append([f"s{i}" for i in range(SAMPLES)], ["x"] * SAMPLES, scores_of(blocks).tolist())
    writer.finish({})
    return path


@pytest.fixture
def evals(tmp_path: Path) -> Path:
    write_store(tmp_path, ())
    for block in KILLS:
        write_store(tmp_path, (block,))
    return tmp_path


def run_step(
    previous: dict, step1: dict, evals: Path, calls: list[list[str]], beam_width: int = 3
) -> dict:
    """What rule beam_step does, with a fake engine that records what it is asked to evaluate."""
    plan = plan_step(previous, step1)
    fingerprints = {v: "fp" for v in plan.variants}
    todo, reused = split_reusable(plan.variants, evals, fingerprints)
    calls.append(todo)
    for variant in todo:
        write_store(evals, parse_variant(variant))
    return step_record(plan, evals, beam_width, IMPORTANCE, evaluated=todo, reused=reused)


def test_rank_puts_higher_accuracy_first_and_breaks_ties_by_lower_blocks():
    accuracies = {(2, 5): 0.5, (1, 7): 0.5, (0, 9): 0.25, (3,): 0.75, (1, 6): 0.5 + 1e-15}
    assert rank(accuracies) == [(3,), (1, 6), (1, 7), (2, 5), (0, 9)]


def test_keep_returns_the_best_and_no_more_than_there_are():
    accuracies = {(0,): 0.0, (1,): 0.0, (2,): 0.0}
    assert keep(accuracies, 2) == [(0,), (1,)]
    assert keep(accuracies, 5) == [(0,), (1,), (2,)]
    with pytest.raises(ValueError, match="beam_width"):
        keep(accuracies, 0)


def test_extend_names_a_set_reached_from_two_beams_once():
    candidates = extend([(1,), (2,), (3,)], num_blocks=5)
    assert (
        len(candidates) == 9 and seed_evaluations([(1,), (2,), (3,)], 5) == 9
    )  # the seed's code dedupes too
    assert candidates[(1, 2)] == [(1,), (2,)] and candidates[(0, 3)] == [(3,)]
    assert list(candidates) == sorted(candidates)
    assert all(len(c) == 2 and c == canonical(c) for c in candidates)


def test_greedy_set_takes_the_least_important_blocks():
    assert greedy_set([(4,), (1,), (3,), (0,)], 2) == (1, 4)
    with pytest.raises(ValueError):
        greedy_set([(1, 2)], 1)


def test_step_one_reads_the_ablation_stores_and_evaluates_nothing(evals):
    step1 = step_one(evals / "full.h5", sorted(evals.glob("drop-*.h5")), 3, IMPORTANCE)
    assert [c["blocks"] for c in step1["candidates"]] == [[1], [2], [3], [4], [0]]
    assert step1["beams"] == [[1], [2], [3]] and step1["greedy"]["blocks"] == [1]
    assert (
        step1["evaluated"] == [] and step1["seed_evaluations"] == 6
    )  # the seed re-runs the baseline and 5 removals
    first = step1["candidates"][0]
    assert first["accuracy"] == pytest.approx(10 / 12) and first["drop"] == pytest.approx(2 / 12)
    assert first["ci_low"] <= first["drop"] <= first["ci_high"]


def test_step_one_refuses_a_missing_block(evals):
    with pytest.raises(ValueError, match="drop-4"):
        step_one(evals / "full.h5", [evals / f"drop-{i}.h5" for i in range(4)], 3, IMPORTANCE)


def test_a_step_evaluates_each_distinct_candidate_once_and_finds_the_dependency(evals):
    step1 = step_one(evals / "full.h5", sorted(evals.glob("drop-*.h5")), 3, IMPORTANCE)
    calls: list[list[str]] = []
    step2 = run_step(step1, step1, evals, calls)
    expected = sorted({variant_id(c) for c in extend([(1,), (2,), (3,)], 5)})
    assert calls == [expected]  # 9 distinct of 12 extensions; the greedy {1,2} is among them
    assert step2["seed_evaluations"] == 9 and step2["reused"] == []
    assert step2["beams"] == [[1, 3], [1, 2], [1, 4]]  # ties at 8/12 go to the lower blocks
    assert step2["greedy"]["blocks"] == [1, 2] and step2["greedy"]["accuracy"] == pytest.approx(
        8 / 12
    )
    assert step2["candidates"][0]["parents"] == [[1], [3]]
    calls.clear()
    step3 = run_step(step2, step1, evals, calls)
    assert len(calls[0]) == len(set(calls[0]))
    assert "drop-1-2-3" in calls[0] or "drop-1-2-3" in step3["reused"]  # the greedy set of three
    assert step3["beams"][0] == [1, 2, 3] and step3["candidates"][0]["accuracy"] == pytest.approx(
        8 / 12
    )  # tied with {1,3,4}


def test_a_complete_store_with_the_same_fingerprint_is_reused_and_another_is_not(evals):
    write_store(evals, (1, 3), fingerprint="same")
    write_store(evals, (2, 3), fingerprint="stale")
    (evals / "drop-1-4.h5.partial").write_text("killed job")
    fingerprints = {"drop-1-3": "same", "drop-2-3": "fresh", "drop-1-4": "fresh"}
    assert split_reusable(["drop-1-3", "drop-1-4", "drop-2-3"], evals, fingerprints) == (
        ["drop-1-4", "drop-2-3"],
        ["drop-1-3"],
    )


def test_summary_counts_and_recommendations(evals, tmp_path, drawn_figures):
    step1 = step_one(evals / "full.h5", sorted(evals.glob("drop-*.h5")), 3, IMPORTANCE)
    step2 = run_step(step1, step1, evals, [])
    step3 = run_step(step2, step1, evals, [])
    steps = json.loads(json.dumps([step1, step2, step3]))  # as read back from the files
    validation = validation_record(steps, evals, IMPORTANCE, evaluated=[], reused=[])
    assert {tuple(e["blocks"]) for e in validation["sets"]} == set(validation_sets(steps))
    summary = summarize(steps, validation)
    rec = [b["recommended"]["blocks"] for b in summary["budgets"]]
    assert rec == [[1], [1, 3], [1, 2, 3]]
    assert summary["budgets"][1]["beam_minus_greedy"] == pytest.approx(1 / 12)
    counts = summary["variants"]
    # The seed's code: baseline + 5 single removals again at step 1, then the same distinct
    # candidates.
    assert counts["seed_procedure"] == 6 + 9 + len(step3["candidates"])
    assert counts["beam_candidates"] == 9 + len(step3["candidates"])
    assert counts["evaluated"] == counts["beam_candidates"] + counts["greedy_only"]
    assert counts["evaluated"] < counts["seed_procedure"]
    assert summary["budgets"][2]["validation"]["greedy"]["blocks"] == [1, 2, 3]
    png = tmp_path / "beam.png"
    plot_beam(summary, png)
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    recommended, greedy, held_recommended, held_greedy = (
        c.lines[0] for c in drawn_figures[-1].axes[0].containers
    )
    assert list(recommended.get_xdata()) == [0, 1, 2, 3]
    assert list(recommended.get_ydata()) == [
        summary["baseline_accuracy"],
        *(b["recommended"]["accuracy"] for b in summary["budgets"]),
    ]
    assert list(greedy.get_ydata())[1:] == [b["greedy"]["accuracy"] for b in summary["budgets"]]
    assert list(held_recommended.get_ydata())[1:] == [
        b["validation"]["recommended"]["accuracy"] for b in summary["budgets"]
    ]
    assert list(held_greedy.get_ydata())[1:] == [
        b["validation"]["greedy"]["accuracy"] for b in summary["budgets"]
    ]


def test_a_step_beyond_the_blocks_is_refused(evals):
    step1 = step_one(evals / "full.h5", sorted(evals.glob("drop-*.h5")), 3, IMPORTANCE)
    with pytest.raises(ValueError, match="max_blocks_to_remove"):
        plan_step({**step1, "step": 4}, step1)
