"""The beam search's files: step records from evaluation stores, store reuse, the summary.

Step k's candidate sets are known only once step k-1 has run, so their stores cannot be
declared outputs of the DAG. They are written next to the others in
``results/evals/{dataset}/{split}/`` and an existing complete store is reused when its
``fingerprint`` attribute equals the one this job would write (same model weights, data,
selection, variant, metric): a set reached again (another beam width, a longer search, the
greedy baseline) costs nothing, and a store of other inputs is evaluated again.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import h5py

from vlmprune.analysis.beam.racing import RacedStep, accuracy_interval
from vlmprune.analysis.beam.search import (
    Blocks,
    extend,
    greedy_set,
    keep,
    rank,
    seed_evaluations,
    seed_first_step,
)
from vlmprune.analysis.importance.estimate import (
    paired_difference_interval,
    paired_with_baseline,
    store_header,
)
from vlmprune.engine.store import EvalStore, read_raced, read_store
from vlmprune.engine.variants import parse_variant, variant_id


def interval_settings(importance: Mapping[str, Any]) -> dict[str, Any]:
    """The bootstrap settings of the config's importance section, as keyword arguments."""
    return {
        "confidence": importance["confidence"],
        "resamples": importance["bootstrap_resamples"],
        "seed": importance["seed"],
    }


def score_entry(
    full: EvalStore, store: EvalStore, blocks: Blocks, importance: Mapping[str, Any]
) -> dict[str, Any]:
    """One evaluated set: accuracy, drop from the baseline, paired bootstrap interval of the drop.

    A raced store (fewer samples) is compared with the baseline on the samples it holds; its
    entry says how many (``n``) and that it is raced.
    """
    name = variant_id(blocks)
    baseline = paired_with_baseline(full, store, name)
    low, high = paired_difference_interval(baseline, store.scores, **interval_settings(importance))
    entry = {
        "blocks": list(blocks),
        "variant": name,
        "accuracy": store.accuracy,
        "drop": float(baseline.mean()) - store.accuracy,
        "ci_low": low,
        "ci_high": high,
    }
    if store.raced:
        entry.update(n=len(store.scores), raced=True)
    return entry


def _header(full: EvalStore) -> dict[str, Any]:
    return {
        **store_header(full),
        "num_blocks": int(full.attrs["num_blocks"]),
        "baseline_accuracy": full.accuracy,
    }


def step_one(
    full_path: Path, dropped: Sequence[Path], beam_width: int, importance: Mapping[str, Any]
) -> dict[str, Any]:
    """Step 1 from the ablation's stores: every single block ranked, the best kept; nothing
    evaluated."""
    full = read_store(full_path)
    header = _header(full)
    entries = {
        parse_variant(p.stem): score_entry(full, read_store(p), parse_variant(p.stem), importance)
        for p in dropped
    }
    expected = {(i,) for i in range(header["num_blocks"])}
    if set(entries) != expected:
        missing = sorted(variant_id(b) for b in expected - set(entries))
        raise ValueError(
            "step 1 needs the store of every single block; missing or unexpected: "
            f"{missing or sorted(entries)}"
        )
    accuracies = {b: e["accuracy"] for b, e in entries.items()}
    ranked = rank(accuracies)
    return {
        **header,
        "step": 1,
        "beam_width": beam_width,
        "candidates": [entries[b] for b in ranked],
        "beams": [list(b) for b in keep(accuracies, beam_width)],
        "greedy": entries[greedy_set(ranked, 1)],
        "seed_evaluations": seed_first_step(header["num_blocks"]),
        "evaluated": [],
        "reused": [],
    }


@dataclass(frozen=True)
class StepPlan:
    """What step k evaluates: the distinct extensions of step k-1's beams and the greedy set of
    size k."""

    step: int
    candidates: dict[Blocks, list[Blocks]]
    greedy: Blocks
    seed_evaluations: int

    @property
    def variants(self) -> list[str]:
        """Every set to evaluate, once, in lexicographic order of blocks."""
        return [variant_id(b) for b in sorted(set(self.candidates) | {self.greedy})]


def plan_step(previous: Mapping[str, Any], step1: Mapping[str, Any]) -> StepPlan:
    """Step k's work from step k-1's record (its beams) and step 1's (the ranking the greedy set
    takes)."""
    step = int(previous["step"]) + 1
    num_blocks = int(previous["num_blocks"])
    if step >= num_blocks:
        raise ValueError(
            f"step {step} would remove {step} of {num_blocks} blocks; max_blocks_to_remove "
            f"must be below {num_blocks}"
        )
    beams = [tuple(b) for b in previous["beams"]]
    singles = [tuple(e["blocks"]) for e in step1["candidates"]]
    return StepPlan(
        step,
        extend(beams, num_blocks),
        greedy_set(singles, step),
        seed_evaluations(beams, num_blocks),
    )


def stored_fingerprint(path: Path) -> str | None:
    """The fingerprint of a complete store, or None when there is none."""
    if not path.is_file():
        return None
    try:
        with h5py.File(path, "r") as f:
            value = f.attrs.get("fingerprint")
    except OSError:
        return None
    return value.decode() if isinstance(value, bytes) else value


def split_reusable(
    variants: Sequence[str], evals_dir: Path, fingerprints: Mapping[str, str]
) -> tuple[list[str], list[str]]:
    """(to evaluate, reused): a variant whose complete store has the expected fingerprint is
    reused."""
    reused = [v for v in variants if stored_fingerprint(evals_dir / f"{v}.h5") == fingerprints[v]]
    return [v for v in variants if v not in reused], reused


def read_set(evals_dir: Path, blocks: Blocks) -> EvalStore:
    """A set's complete store, else its raced store; a clear error when it has neither."""
    path = evals_dir / f"{variant_id(blocks)}.h5"
    if path.is_file():
        return read_store(path)
    raced = read_raced(path)
    if raced is None:
        raise FileNotFoundError(f"evaluation store {str(path)!r} does not exist")
    return raced


def step_record(
    plan: StepPlan,
    evals_dir: Path,
    beam_width: int,
    importance: Mapping[str, Any],
    *,
    evaluated: Sequence[str],
    reused: Sequence[str],
    raced: RacedStep | None = None,
) -> dict[str, Any]:
    """Step k from its stores: every candidate ranked with the beams it extends, the kept beams,
    the greedy set.

    A raced step (``raced``) keeps the race's sets; its candidates list the kept beams first, then
    the others by how long they stayed in the race, each with what the race did with it.
    """
    full = read_store(evals_dir / "full.h5")
    entries = {
        b: score_entry(full, read_set(evals_dir, b), b, importance)
        for b in set(plan.candidates) | {plan.greedy}
    }
    accuracies = {b: entries[b]["accuracy"] for b in plan.candidates}
    if raced is None:
        ordered, beams = rank(accuracies), keep(accuracies, beam_width)
    else:
        race = raced.race
        beams = list(race.kept)
        stayed = {b: race.samples(b) + (b in race.alive) for b in plan.candidates}
        ordered = beams + sorted(
            (b for b in rank(accuracies) if b not in beams), key=lambda b: -stayed[b]
        )
    record = {
        **_header(full),
        "step": plan.step,
        "beam_width": beam_width,
        "candidates": [
            {**entries[b], "parents": [list(p) for p in plan.candidates[b]]} for b in ordered
        ],
        "beams": [list(b) for b in beams],
        "greedy": entries[plan.greedy],
        "seed_evaluations": plan.seed_evaluations,
        "evaluated": list(evaluated),
        "reused": list(reused),
    }
    if raced is not None:
        add_racing(record, raced, evals_dir, full)
    return record


def add_racing(record: dict[str, Any], raced: RacedStep, evals_dir: Path, full: EvalStore) -> None:
    """Per candidate what the race did with it; the step's samples against the exact search's."""
    race, settings = raced.race, raced.race.settings
    for entry in record["candidates"]:
        blocks = tuple(entry["blocks"])
        store = read_set(evals_dir, blocks)
        dropped = race.dropped.get(blocks)
        entry["racing"] = {
            "samples": race.samples(blocks),
            "dropped_at": dropped[0] if dropped else None,
            "worse_than": [variant_id(b) for b in dropped[1]] if dropped else [],
            "interval": list(accuracy_interval(store.scores, len(full.scores), settings.delta)),
        }
    population = len(full.scores)
    record["racing"] = {
        "epsilon": settings.epsilon,
        "delta": settings.delta,
        "min_samples": settings.min_samples,
        "test_level": race.alpha,
        "looks": [n for n in raced.looks if n <= race.decided_at],
        "decided_at": race.decided_at,
        "completed": [variant_id(b) for b in raced.extended],
        "samples": sum(raced.rows_after.values()),
        "exact_samples": population * len(raced.rows_after),
        "evaluated_samples": sum(raced.evaluated.values()),
    }


def validation_sets(steps: Sequence[Mapping[str, Any]]) -> list[Blocks]:
    """The sets checked on the validation split: every step's kept beams and greedy set."""
    sets = {tuple(b) for s in steps for b in s["beams"]} | {
        tuple(s["greedy"]["blocks"]) for s in steps
    }
    return sorted(sets, key=lambda b: (len(b), b))


def validation_record(
    steps: Sequence[Mapping[str, Any]],
    evals_dir: Path,
    importance: Mapping[str, Any],
    *,
    evaluated: Sequence[str],
    reused: Sequence[str],
) -> dict[str, Any]:
    full = read_store(evals_dir / "full.h5")
    sets = validation_sets(steps)
    return {
        **_header(full),
        "sets": [
            score_entry(full, read_store(evals_dir / f"{variant_id(b)}.h5"), b, importance)
            for b in sets
        ],
        "evaluated": list(evaluated),
        "reused": list(reused),
    }


def recommended_set(step: Mapping[str, Any], score: str = "accuracy") -> Blocks:
    """A step's recommended set: the best by ``score`` of its kept beams and its greedy set, among
    those evaluated on every sample (a raced beam is not)."""
    entries = {e["variant"]: e for e in step["candidates"]} | {
        step["greedy"]["variant"]: step["greedy"]
    }
    chosen = [entries[variant_id(b)] for b in step["beams"]] + [step["greedy"]]
    complete = [e for e in chosen if not e.get("raced")]
    return rank({tuple(e["blocks"]): e[score] for e in complete})[0]


def summarize(
    steps: Sequence[Mapping[str, Any]], validation: Mapping[str, Any] | None
) -> dict[str, Any]:
    """Per budget k: the beams, the greedy set and the recommended set (best of both); the variant
    counts."""
    steps = sorted(steps, key=lambda s: s["step"])
    if [s["step"] for s in steps] != list(range(1, len(steps) + 1)):
        raise ValueError(
            f"the summary needs steps 1..{len(steps)}, got {[s['step'] for s in steps]}"
        )
    held_out = {e["variant"]: e for e in validation["sets"]} if validation else None
    budgets = []
    for s in steps:
        by_variant = {e["variant"]: e for e in s["candidates"]} | {
            s["greedy"]["variant"]: s["greedy"]
        }
        beams = [by_variant[variant_id(b)] for b in s["beams"]]
        best = recommended_set(s)
        budget = {
            "removed": s["step"],
            "recommended": by_variant[variant_id(best)],
            "beams": beams,
            "greedy": s["greedy"],
            "beam_minus_greedy": beams[0]["accuracy"] - s["greedy"]["accuracy"],
        }
        if held_out is not None:
            budget["validation"] = {
                "recommended": held_out[variant_id(best)],
                "beams": [held_out[e["variant"]] for e in beams],
                "greedy": held_out[s["greedy"]["variant"]],
            }
        budgets.append(budget)
    later = steps[1:]
    candidates = sum(len(s["candidates"]) for s in later)
    greedy_only = sum(
        s["greedy"]["variant"] not in {e["variant"] for e in s["candidates"]} for s in later
    )
    first = steps[0]
    return {
        **{
            k: first[k]
            for k in (
                "model",
                "dataset",
                "split",
                "metric",
                "n",
                "num_blocks",
                "baseline_accuracy",
                "beam_width",
            )
        },
        "max_blocks_to_remove": len(steps),
        "budgets": budgets,
        "validation": None
        if validation is None
        else {k: validation[k] for k in ("split", "n", "baseline_accuracy")},
        "variants": {
            "read_from_ablation": first["num_blocks"],
            "beam_candidates": candidates,
            "greedy_only": greedy_only,
            "evaluated": candidates + greedy_only,
            "evaluated_by_engine": sum(len(s["evaluated"]) for s in later),
            "reused": sum(len(s["reused"]) for s in later),
            "seed_procedure": sum(s["seed_evaluations"] for s in steps),
            "validation_sets": None if validation is None else len(validation["sets"]),
        },
        **({"racing": racing_totals(later)} if any(s.get("racing") for s in later) else {}),
    }


def racing_totals(steps: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """Samples the raced steps spent on their sets against the exact search's (all on all N)."""
    raced = [s for s in steps if s.get("racing")]
    settings = raced[0]["racing"]
    samples = sum(s["racing"]["samples"] for s in raced)
    exact = sum(s["racing"]["exact_samples"] for s in raced)
    return {
        **{k: settings[k] for k in ("epsilon", "delta", "min_samples")},
        "samples": samples,
        "exact_samples": exact,
        "ratio": samples / exact if exact else None,
        "per_step": [
            {
                "step": s["step"],
                **{k: s["racing"][k] for k in ("samples", "exact_samples", "decided_at")},
            }
            for s in raced
        ],
    }
