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
    """Variant id -> removed blocks: the full model, then per budget the recommended and the greedy set."""
    variants: dict[str, list[int]] = {FULL: []}
    for budget in beam["budgets"]:
        for entry in (budget["recommended"], budget["greedy"]):
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
    """Variants not dominated: no other point is at least as fast and at least as accurate, and better in one."""
    front, best = [], float("-inf")
    for p in sorted(
        points, key=lambda p: (p["latency_s"], -p["accuracy"], p["removed"], p["blocks"])
    ):
        if p["accuracy"] > best:
            front.append(p["variant"])
            best = p["accuracy"]
    return front


def lookup_table(points: Sequence[Mapping[str, Any]], front: Sequence[str]) -> list[dict[str, Any]]:
    """Rows ordered by latency: from ``budget_s`` on, ``variant`` is the most accurate set that meets the budget."""
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
    """The trade-off file: per k the recommended and greedy sets with accuracy and latency; frontier; lookup."""
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
            f"the latency file has no measurement of {missing}; rerun rule latency for {beam['dataset']}"
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
        "latency_measure": f"median seconds to generate {latency['new_tokens']} tokens for one question (batch 1)",
        "budgets": budgets,
        "points": points,
        "pareto_front": front,
        "lookup": lookup_table(points, front),
    }
