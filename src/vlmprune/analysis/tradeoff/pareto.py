"""The accuracy-latency trade-off: the beam's sets per budget with their measured latency.

For each number of removed blocks k = 0..K: the beam's recommended set and the greedy set,
their accuracy (with the paired bootstrap interval of the drop, shifted onto the accuracy
axis as in the beam figure) and the latency measured on the model without those blocks. The
latency that ranks the sets is the median time to answer one question at batch 1 (``generate``
of ``new_tokens`` tokens, prefill included). The Pareto frontier holds the sets no other set
beats on both; the lookup table maps a latency budget to the most accurate set that meets it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from vlmprune.engine.variants import FULL, variant_id


def tradeoff_variants(beam: Mapping[str, Any]) -> dict[str, list[int]]:
    """Variant id -> removed blocks: the full model, then per budget the recommended and the
    greedy set; for a joint search (``objective``), the joint recommended set and each
    dataset's own recommended set instead, each once."""
    variants: dict[str, list[int]] = {FULL: []}
    for budget in beam["budgets"]:
        if "objective" in beam:
            entries = [budget["recommended"], *budget["per_dataset"].values()]
        else:
            entries = [budget["recommended"], budget["greedy"]]
        for entry in entries:
            variants.setdefault(variant_id(entry["blocks"]), list(entry["blocks"]))
    return variants


def _point(
    entry: Mapping[str, Any], baseline: float, latency: Mapping[str, Any], chosen_by: list[str]
) -> dict[str, Any]:
    measured = latency["variants"][entry["variant"]]["batches"]
    batch1 = measured[min(measured, key=int)]
    return {
        "variant": entry["variant"],
        "blocks": list(entry["blocks"]),
        "removed": len(entry["blocks"]),
        "chosen_by": chosen_by,
        "accuracy": entry["accuracy"],
        "accuracy_low": baseline - entry["ci_high"],
        "accuracy_high": baseline - entry["ci_low"],
        "latency_s": batch1["generate_s"]["median"],
        "latency": {
            b: {
                k: m[k]["median"]
                for k in (
                    "prefill_s",
                    "decode_per_token_s",
                    "generate_s",
                    "throughput_tokens_per_s",
                )
            }
            | {"peak_memory_bytes": m["peak_memory_bytes"]}
            for b, m in measured.items()
        },
    }


def pareto_front(points: Sequence[Mapping[str, Any]]) -> list[str]:
    """Variants not dominated: no other point is at least as fast and at least as accurate, and
    better in one."""
    front, best = [], float("-inf")
    for p in sorted(
        points, key=lambda p: (p["latency_s"], -p["accuracy"], p["removed"], p["blocks"])
    ):
        if p["accuracy"] > best:
            front.append(p["variant"])
            best = p["accuracy"]
    return front


def lookup_table(points: Sequence[Mapping[str, Any]], front: Sequence[str]) -> list[dict[str, Any]]:
    """Rows ordered by latency: from ``budget_s`` on, ``variant`` is the most accurate set that
    meets the budget."""
    on_front = sorted((p for p in points if p["variant"] in front), key=lambda p: p["latency_s"])
    return [
        {
            "budget_s": p["latency_s"],
            "variant": p["variant"],
            "blocks": p["blocks"],
            "accuracy": p["accuracy"],
        }
        for p in on_front
    ]


def most_accurate_within(
    table: Sequence[Mapping[str, Any]], budget_s: float
) -> Mapping[str, Any] | None:
    """The lookup: the row for a latency budget, None when even the fastest set is slower."""
    meeting = [row for row in table if row["budget_s"] <= budget_s]
    return meeting[-1] if meeting else None


def tradeoff(beam: Mapping[str, Any], latency: Mapping[str, Any]) -> dict[str, Any]:
    """The trade-off file: per k the recommended and greedy sets with accuracy and latency;
    frontier; lookup."""
    baseline = beam["baseline_accuracy"]
    full = {"variant": FULL, "blocks": [], "accuracy": baseline, "ci_low": 0.0, "ci_high": 0.0}
    chosen: dict[str, tuple[Mapping[str, Any], list[str]]] = {FULL: (full, ["full"])}
    for budget in beam["budgets"]:
        for role in ("recommended", "greedy"):
            entry = budget[role]
            if entry.get("raced"):
                raise ValueError(
                    f"the {role} set {entry['variant']} of {beam['dataset']} holds "
                    f"n={entry['n']} samples (raced), not all {beam['n']}; the trade-off "
                    "compares sets on every sample"
                )
            chosen.setdefault(entry["variant"], (entry, []))[1].append(role)
    missing = sorted(set(chosen) - set(latency["variants"]))
    if missing:
        raise ValueError(
            f"the latency file has no measurement of {missing}; rerun rule latency for "
            f"{beam['dataset']}"
        )
    points = [_point(entry, baseline, latency, roles) for entry, roles in chosen.values()]
    front = pareto_front(points)
    for p in points:
        p["pareto"] = p["variant"] in front
    budgets = [{"removed": 0, "recommended": FULL, "greedy": FULL}] + [
        {
            "removed": b["removed"],
            "recommended": b["recommended"]["variant"],
            "greedy": b["greedy"]["variant"],
        }
        for b in beam["budgets"]
    ]
    return {
        **{
            k: beam[k]
            for k in ("model", "dataset", "split", "metric", "n", "num_blocks", "baseline_accuracy")
        },
        "device": latency["device"],
        "new_tokens": latency["new_tokens"],
        "latency_measure": f"median seconds to generate {latency['new_tokens']} tokens for "
        "one question (batch 1)",
        "budgets": budgets,
        "points": points,
        "pareto_front": front,
        "lookup": lookup_table(points, front),
    }


def joint_tradeoff(joint: Mapping[str, Any], latency: Mapping[str, Any]) -> dict[str, Any]:
    """The joint trade-off: per budget k the joint recommended set and each dataset's own, each
    with its objective (and interval), every dataset's accuracy and its latency; the Pareto
    frontier and the latency-budget lookup over the joint sets (and the full model)."""
    datasets = joint["datasets"]
    full = {
        "variant": FULL,
        "blocks": [],
        "objective": 1.0,
        "ci_low": 1.0,
        "ci_high": 1.0,
        "datasets": {
            d: {"accuracy": joint["baseline_accuracy"][d], "relative": 1.0} for d in datasets
        },
    }
    chosen: dict[str, tuple[Mapping[str, Any], list[str]]] = {FULL: (full, ["full"])}
    for budget in joint["budgets"]:
        chosen.setdefault(budget["recommended"]["variant"], (budget["recommended"], []))[1].append(
            "joint"
        )
        for dataset, entry in budget["per_dataset"].items():
            chosen.setdefault(entry["variant"], (entry, []))[1].append(dataset)
    missing = sorted(set(chosen) - set(latency["variants"]))
    if missing:
        raise ValueError(
            f"the latency file has no measurement of {missing}; rerun rule latency for all"
        )
    points = []
    for entry, roles in chosen.values():
        point = _point(
            {**entry, "accuracy": entry["objective"], "ci_low": 0.0, "ci_high": 0.0},
            0.0,
            latency,
            roles,
        )
        point.update(
            objective=entry["objective"],
            objective_low=entry["ci_low"],
            objective_high=entry["ci_high"],
            datasets={d: {k: v for k, v in e.items()} for d, e in entry["datasets"].items()},
        )
        for key in ("accuracy", "accuracy_low", "accuracy_high"):
            point.pop(key)
        points.append(point)
    joint_points = [
        {**p, "accuracy": p["objective"]} for p in points if {"joint", "full"} & set(p["chosen_by"])
    ]
    front = pareto_front(joint_points)
    for p in points:
        p["pareto"] = p["variant"] in front
    budgets = [{"removed": 0, "joint": FULL, "per_dataset": dict.fromkeys(datasets, FULL)}] + [
        {
            "removed": b["removed"],
            "joint": b["recommended"]["variant"],
            "per_dataset": {d: e["variant"] for d, e in b["per_dataset"].items()},
        }
        for b in joint["budgets"]
    ]
    return {
        **{k: joint[k] for k in ("model", "datasets", "split", "objective", "n", "num_blocks")},
        "baseline_accuracy": joint["baseline_accuracy"],
        "device": latency["device"],
        "new_tokens": latency["new_tokens"],
        "latency_measure": (
            f"median seconds to generate {latency['new_tokens']} tokens for one question "
            f"(batch 1, {latency.get('prompts', 'the first dataset')}'s prompts)"
        ),
        "budgets": budgets,
        "points": points,
        "pareto_front": front,
        "lookup": [
            {k: v for k, v in row.items() if k != "accuracy"} | {"objective": row["accuracy"]}
            for row in lookup_table(joint_points, front)
        ],
    }
