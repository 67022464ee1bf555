"""One beam search for every configured dataset: the joint objective, its records and summary.

A set's *relative accuracy* on a dataset is its accuracy over the full model's on that dataset's
analysis split, so that a dataset with a high baseline does not dominate; a dataset whose full
model scores 0 has nothing to lose and counts 1 for every set. ``beam.objective: mean`` ranks a
set by the mean of its relative accuracies over the datasets, ``worst`` by their minimum (ties:
the smaller block tuple, as in ``search.rank``). With one dataset both rank as its accuracy does.

The joint search's steps are those of the per-dataset search (``search.extend``; the greedy set
takes the joint ranking of single blocks) over stores that already exist wherever a per-dataset
search or an ablation wrote them. Each step also holds, on every dataset, the recommended set of
each dataset's own search at that budget, so that the trade-off compares them with the joint set.
The interval of an objective is a paired bootstrap: each dataset's samples are resampled (the
set's and the full model's scores together), then the resampled relative accuracies combined.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from vlmprune.analysis.beam.files import (
    interval_settings,
    racing_totals,
    read_set,
    recommended_set,
    score_entry,
)
from vlmprune.analysis.beam.racing import RacedStep
from vlmprune.analysis.beam.search import (
    Blocks,
    extend,
    greedy_set,
    keep,
    rank,
    seed_evaluations,
)
from vlmprune.analysis.importance.estimate import paired_with_baseline
from vlmprune.engine.store import EvalStore, read_store
from vlmprune.engine.variants import parse_variant, variant_id

OBJECTIVES = ("per_dataset", "mean", "worst")
JOINT = "all"  # results/beam/all/, results/tradeoff/all.json: no dataset is called so


def relative(accuracy: np.ndarray | float, baseline: np.ndarray | float) -> np.ndarray:
    """Accuracy over the baseline's; 1 where the baseline is 0 (nothing to lose)."""
    accuracy, baseline = np.asarray(accuracy, dtype=float), np.asarray(baseline, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(baseline > 0, accuracy / np.where(baseline > 0, baseline, 1.0), 1.0)


def combine(relatives: np.ndarray, objective: str, axis: int = 0) -> np.ndarray:
    """The objective of relative accuracies along ``axis`` (one per dataset)."""
    if objective == "worst":
        return np.min(relatives, axis=axis)
    if objective in ("mean", "per_dataset"):
        return np.mean(relatives, axis=axis)
    raise ValueError(f"beam.objective must be one of {OBJECTIVES}, not {objective!r}")


def objective_interval(
    pairs: Sequence[tuple[np.ndarray, np.ndarray]],
    objective: str,
    *,
    confidence: float,
    resamples: int,
    seed: int,
) -> tuple[float, float]:
    """Percentile interval of the objective: each dataset's (baseline, set) scores resampled
    together, within the dataset; the resampled relative accuracies combined."""
    rng = np.random.default_rng(seed)
    draws = []
    for baseline, scores in pairs:
        index = rng.integers(0, len(scores), size=(resamples, len(scores)))
        draws.append(relative(scores[index].mean(axis=1), baseline[index].mean(axis=1)))
    values = combine(np.stack(draws), objective)
    tail = (1 - confidence) / 2
    low, high = np.quantile(values, [tail, 1 - tail])
    return float(low), float(high)


def joint_entry(
    blocks: Blocks,
    stores: Mapping[str, tuple[EvalStore, EvalStore]],
    objective: str,
    importance: Mapping[str, Any],
) -> dict[str, Any]:
    """One set on every dataset from its (full, set) stores: objective, interval, per dataset."""
    per_dataset, pairs = {}, []
    for dataset, (full, store) in stores.items():
        entry = score_entry(full, store, blocks, importance)
        entry.pop("blocks"), entry.pop("variant")
        entry["relative"] = float(relative(entry["accuracy"], full.accuracy))
        per_dataset[dataset] = entry
        pairs.append((paired_with_baseline(full, store, variant_id(blocks)), store.scores))
    value = float(combine(np.array([e["relative"] for e in per_dataset.values()]), objective))
    low, high = objective_interval(pairs, objective, **interval_settings(importance))
    entry = {
        "blocks": list(blocks),
        "variant": variant_id(blocks),
        "objective": value,
        "ci_low": low,
        "ci_high": high,
        "datasets": per_dataset,
    }
    if any(e.get("raced") for e in per_dataset.values()):
        entry["raced"] = True
    return entry


def _header(fulls: Mapping[str, EvalStore], objective: str, num_blocks: int) -> dict[str, Any]:
    first = next(iter(fulls.values()))
    return {
        "model": first.attrs.get("model"),
        "datasets": list(fulls),
        "split": first.attrs.get("split"),
        "objective": objective,
        "num_blocks": num_blocks,
        "n": {d: len(f.scores) for d, f in fulls.items()},
        "baseline_accuracy": {d: f.accuracy for d, f in fulls.items()},
    }


def joint_step_one(
    fulls: Mapping[str, Path],
    dropped: Mapping[str, Sequence[Path]],
    own_steps: Mapping[str, Mapping[str, Any]],
    beam_width: int,
    objective: str,
    importance: Mapping[str, Any],
) -> dict[str, Any]:
    """Step 1 from every dataset's ablation: single blocks ranked by the objective; nothing is
    evaluated. ``own_steps``: each dataset's own step 1, for its recommended single block."""
    full = {d: read_store(p) for d, p in fulls.items()}
    singles = {
        d: {parse_variant(p.stem): read_store(p) for p in paths} for d, paths in dropped.items()
    }
    num_blocks = int(next(iter(full.values())).attrs["num_blocks"])
    expected = {(i,) for i in range(num_blocks)}
    for d, stores in singles.items():
        if set(stores) != expected:
            raise ValueError(f"joint step 1 needs the store of every single block of {d}")
    entries = {
        b: joint_entry(b, {d: (full[d], singles[d][b]) for d in full}, objective, importance)
        for b in sorted(expected)
    }
    scores = {b: e["objective"] for b, e in entries.items()}
    ranked = rank(scores)
    return {
        **_header(full, objective, num_blocks),
        "step": 1,
        "beam_width": beam_width,
        "candidates": [entries[b] for b in ranked],
        "beams": [list(b) for b in keep(scores, beam_width)],
        "greedy": entries[greedy_set(ranked, 1)],
        "per_dataset": {d: entries[recommended_set(step)] for d, step in own_steps.items()},
        "evaluated": {d: [] for d in full},
        "reused": {d: [] for d in full},
    }


@dataclass(frozen=True)
class JointPlan:
    """Joint step k: the extensions of step k-1's beams, the greedy set, each dataset's own
    recommended set of size k (its search's step k)."""

    step: int
    candidates: dict[Blocks, list[Blocks]]
    greedy: Blocks
    own: dict[str, Blocks]
    seed_evaluations: int

    @property
    def sets(self) -> list[Blocks]:
        """Every set the step needs on every dataset, once, in lexicographic order."""
        return sorted(set(self.candidates) | {self.greedy} | set(self.own.values()))

    @property
    def variants(self) -> list[str]:
        return [variant_id(b) for b in self.sets]

    @property
    def extra(self) -> list[Blocks]:
        """The sets completed on every sample besides the best kept: greedy and datasets' own."""
        return list(dict.fromkeys([self.greedy, *sorted(set(self.own.values()))]))


def plan_joint_step(
    previous: Mapping[str, Any],
    step1: Mapping[str, Any],
    own_steps: Mapping[str, Mapping[str, Any]],
) -> JointPlan:
    """Joint step k from joint step k-1 (its beams), joint step 1 (the greedy ranking) and each
    dataset's own step k (its recommended set)."""
    step = int(previous["step"]) + 1
    num_blocks = int(previous["num_blocks"])
    if step >= num_blocks:
        raise ValueError(
            f"step {step} would remove {step} of {num_blocks} blocks; "
            f"max_blocks_to_remove must be below {num_blocks}"
        )
    for dataset, record in own_steps.items():
        if int(record["step"]) != step:
            raise ValueError(f"joint step {step} was given step {record['step']} of {dataset}")
    beams = [tuple(b) for b in previous["beams"]]
    singles = [tuple(e["blocks"]) for e in step1["candidates"]]
    return JointPlan(
        step,
        extend(beams, num_blocks),
        greedy_set(singles, step),
        {d: recommended_set(record) for d, record in own_steps.items()},
        seed_evaluations(beams, num_blocks),
    )


def joint_step_record(
    plan: JointPlan,
    evals_dirs: Mapping[str, Path],
    beam_width: int,
    objective: str,
    importance: Mapping[str, Any],
    *,
    evaluated: Mapping[str, Sequence[str]],
    reused: Mapping[str, Sequence[str]],
    kept: Sequence[Blocks] | None = None,
) -> dict[str, Any]:
    """Joint step k from every dataset's stores: candidates ranked by the objective, the kept
    beams (``kept``: a race's), the greedy set, each dataset's own recommended set."""
    full = {d: read_store(path / "full.h5") for d, path in evals_dirs.items()}
    entries = {
        b: joint_entry(
            b, {d: (full[d], read_set(evals_dirs[d], b)) for d in full}, objective, importance
        )
        for b in plan.sets
    }
    scores = {b: entries[b]["objective"] for b in plan.candidates}
    beams = list(kept) if kept is not None else keep(scores, beam_width)
    ordered = beams + [b for b in rank(scores) if b not in beams]
    num_blocks = int(next(iter(full.values())).attrs["num_blocks"])
    return {
        **_header(full, objective, num_blocks),
        "step": plan.step,
        "beam_width": beam_width,
        "candidates": [
            {**entries[b], "parents": [list(p) for p in plan.candidates[b]]} for b in ordered
        ],
        "beams": [list(b) for b in beams],
        "greedy": entries[plan.greedy],
        "per_dataset": {d: entries[b] for d, b in plan.own.items()},
        "seed_evaluations": plan.seed_evaluations,
        "evaluated": {d: list(v) for d, v in evaluated.items()},
        "reused": {d: list(v) for d, v in reused.items()},
    }


def summarize_joint(
    steps: Sequence[Mapping[str, Any]], validations: Mapping[str, Mapping[str, Any]]
) -> dict[str, Any]:
    """Per budget k: the joint recommended set (the best by the objective of the kept beams and
    the greedy set), the beams, the greedy set, and each dataset's own recommended set, each with
    every dataset's accuracy; on validation, the recommended sets' accuracies per dataset."""
    steps = sorted(steps, key=lambda s: s["step"])
    if [s["step"] for s in steps] != list(range(1, len(steps) + 1)):
        raise ValueError(
            f"the summary needs steps 1..{len(steps)}, got {[s['step'] for s in steps]}"
        )
    held_out = {d: {e["variant"]: e for e in v["sets"]} for d, v in validations.items()}
    budgets = []
    for s in steps:
        entries = {e["variant"]: e for e in s["candidates"]} | {s["greedy"]["variant"]: s["greedy"]}
        best = variant_id(recommended_set(s, score="objective"))
        budget = {
            "removed": s["step"],
            "recommended": entries[best],
            "beams": [entries[variant_id(b)] for b in s["beams"]],
            "greedy": s["greedy"],
            "per_dataset": s["per_dataset"],
        }
        if held_out:
            budget["validation"] = {
                d: {"recommended": sets[best], "greedy": sets[s["greedy"]["variant"]]}
                for d, sets in held_out.items()
            }
        budgets.append(budget)
    first = steps[0]
    later = steps[1:]
    return {
        **{k: first[k] for k in ("model", "datasets", "split", "objective", "num_blocks", "n")},
        "baseline_accuracy": first["baseline_accuracy"],
        "beam_width": first["beam_width"],
        "max_blocks_to_remove": len(steps),
        "budgets": budgets,
        "validation": {
            d: {k: v[k] for k in ("split", "n", "baseline_accuracy")}
            for d, v in validations.items()
        }
        or None,
        **({"racing": racing_totals(later)} if any(s.get("racing") for s in later) else {}),
        "variants": {
            "candidates": sum(len(s["candidates"]) for s in later),
            "evaluated_by_engine": {
                d: sum(len(s["evaluated"][d]) for s in later) for d in first["datasets"]
            },
            "reused": {d: sum(len(s["reused"][d]) for s in later) for d in first["datasets"]},
        },
    }


def add_joint_racing(record: dict[str, Any], raced: Mapping[str, RacedStep]) -> dict[str, Any]:
    """Per candidate what the joint race did with it on each dataset; the step's samples against
    the exact search's (every set on every sample of every dataset)."""
    race = next(iter(raced.values())).race
    settings = race.settings

    def on(dataset: str, round_: int) -> int:
        points = raced[dataset].looks
        return points[min(round_, len(points)) - 1]

    for entry in record["candidates"]:
        blocks = tuple(entry["blocks"])
        dropped = race.dropped.get(blocks)
        entry["racing"] = {
            "samples": {d: on(d, race.samples(blocks)) for d in raced},
            "dropped_at": {d: on(d, dropped[0]) for d in raced} if dropped else None,
            "worse_than": [variant_id(b) for b in dropped[1]] if dropped else [],
        }
    record["racing"] = {
        "epsilon": settings.epsilon,
        "delta": settings.delta,
        "min_samples": settings.min_samples,
        "test_level": race.alpha / len(raced),
        "looks": {d: r.looks for d, r in raced.items()},
        "decided_at": {d: on(d, race.decided_at) for d in raced},
        "completed": {d: [variant_id(b) for b in r.extended] for d, r in raced.items()},
        "samples": sum(sum(r.rows_after.values()) for r in raced.values()),
        "exact_samples": sum(record["n"][d] * len(r.rows_after) for d, r in raced.items()),
        "evaluated_samples": sum(sum(r.evaluated.values()) for r in raced.values()),
    }
    return record
