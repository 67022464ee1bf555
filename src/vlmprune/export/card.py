"""The model card (``README.md``) of an exported variant: what was removed, how accurate, how
fast."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any


def speedups(latency: Mapping[str, Any], variant: str) -> list[dict[str, Any]]:
    """Per measured batch size, the variant's speed-up over the full model (ratios of median
    times)."""
    variants = latency.get("variants", {})
    if variant not in variants or "full" not in variants:
        return []
    rows = []
    for batch, measured in variants[variant]["batches"].items():
        full = variants["full"]["batches"][batch]
        rows.append(
            {
                "batch_size": int(batch),
                "prefill": full["prefill_s"]["median"] / measured["prefill_s"]["median"],
                "decode_per_token": full["decode_per_token_s"]["median"]
                / measured["decode_per_token_s"]["median"],
                "throughput": measured["throughput_tokens_per_s"]["median"]
                / full["throughput_tokens_per_s"]["median"],
            }
        )
    return rows


def model_card(
    *,
    source: str,
    variant: str,
    removed: Sequence[int],
    component: str,
    num_blocks: int,
    accuracy: Sequence[Mapping[str, Any]],
    latency: Mapping[str, Mapping[str, Any]],
    loading: tuple[str, str],
    chosen: str | None = None,
) -> str:
    """Markdown for ``README.md``. ``accuracy`` rows: dataset, split, metric, n, accuracy, ci_low,
    ci_high,
    confidence, baseline_accuracy; ``latency``: dataset -> that dataset's latency file;
    ``loading``: the
    adapter's ``loading_instructions``; ``chosen``: how the set was chosen, when a search chose it
    (:func:`joint_choice`)."""
    kept = num_blocks - len(removed)
    lines = [
        f"# {variant}: {source} with {len(removed)} of {num_blocks} {component} blocks removed",
        "",
        f"Built by vlmprune from `{source}`: {component} blocks "
        f"{', '.join(map(str, removed)) or '(none)'} "
        f"were deleted (indices of the original model), {kept} remain. Layers after a "
        "removed block were renumbered "
        f"and every per-layer config field shortened. {loading[0]}",
        "",
        "```python",
        loading[1].format(variant=variant),
        "```",
        "",
        *([chosen, ""] if chosen else []),
        "## Accuracy",
        "",
    ]
    if accuracy:
        lines += [
            "| dataset | split | metric | n | accuracy | interval | full model |",
            "| --- | --- | --- | --- | --- | --- | --- |",
        ]
        for row in accuracy:
            lines.append(
                f"| {row['dataset']} | {row['split']} | {row['metric']} | {row['n']} | "
                f"{row['accuracy']:.4f} | "
                f"[{row['ci_low']:.4f}, {row['ci_high']:.4f}] "
                f"({100 * row['confidence']:.0f}% bootstrap) | {row['baseline_accuracy']:.4f} |"
            )
    else:
        lines.append("Not evaluated.")
    lines += ["", "## Measured speed-up over the full model", ""]
    rows = [
        (dataset, file, r) for dataset, file in latency.items() for r in speedups(file, variant)
    ]
    if rows:
        lines += [
            "| dataset | device | batch | prefill | decode per token | throughput |",
            "| --- | --- | --- | --- | --- | --- |",
        ]
        for dataset, file, r in rows:
            lines.append(
                f"| {dataset} | {file.get('device', '?')} | {r['batch_size']} | "
                f"{r['prefill']:.2f}x | "
                f"{r['decode_per_token']:.2f}x | {r['throughput']:.2f}x |"
            )
        lines += [
            "",
            "Ratios of median times over repeated runs after warm-up (the latency files "
            "hold the spread).",
        ]
    else:
        lines.append(
            "Not measured: this variant is not on the trade-off list of any dataset's "
            "latency measurement."
        )
    return "\n".join(lines) + "\n"


def joint_choice(joint: Mapping[str, Any], variant: str) -> str | None:
    """The card's sentence for a set the joint search recommends (``results/beam/all.json``)."""
    budgets = [b["removed"] for b in joint["budgets"] if b["recommended"]["variant"] == variant]
    if not budgets:
        return None
    rule = {"mean": "the mean", "worst": "the minimum"}[joint["objective"]]
    return (
        f"Chosen for all datasets ({', '.join(joint['datasets'])}) by the joint beam search "
        f"(`beam.objective: {joint['objective']}`: {rule} over the datasets of the accuracy "
        f"relative to the full model's), as the set of {budgets[0]} removed blocks."
    )
