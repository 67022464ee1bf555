"""The console report of step 1, laid out as the original MULTIFLOW step-1 script prints it."""

from __future__ import annotations

import sys
from typing import TextIO

from vlmprune.multiflow.distribution import Distribution, Modality

RULE = "-" * 80
DOUBLE = "=" * 80
SHOWN = 5  # layers listed at each end of a modality's table
EQUAL_WITHIN = 0.01  # a modality within one percentage point of the target reads "Equal redundancy"


def _threshold(value: float | None) -> str:
    if value is None:
        return "none (nothing to prune)"
    return f"{value:.6f}" if value == 0 or abs(value) >= 1e-4 else f"{value:.6e}"


def modality_table(dist: Distribution, out: TextIO) -> None:
    total = sum(m.total for m in dist.modalities.values())
    print("\nModality-wise parameter distribution:", file=out)
    print(RULE, file=out)
    for name, m in dist.modalities.items():
        share = 100 * m.total / total if total else 0.0
        print(
            f"{name.upper():<8}: {len(m.layers):3d} layers, {m.total:12,d} params ({share:5.2f}%)",
            file=out,
        )
    layers = sum(len(m.layers) for m in dist.modalities.values())
    print(
        f"{'TOTAL':<8}: {layers:3d} layers, {total:12,d} params ({100.0 if total else 0.0:5.2f}%)",
        file=out,
    )
    print(RULE, file=out)


def modality_section(m: Modality, target: float, out: TextIO) -> None:
    stats = m.stats()
    print(f"\n{DOUBLE}\nProcessing {m.name.upper()} modality\n{DOUBLE}", file=out)
    print(f"Total parameters in {m.name}: {m.total:,}", file=out)
    print(f"Target sparsity: {target:.1%}", file=out)
    print(f"Pruning threshold: {_threshold(m.threshold)}", file=out)
    print(f"Will prune {m.pruned:,} / {m.total:,} parameters", file=out)
    print(f"\nPer-layer sparsity distribution in {m.name.upper()}:", file=out)
    print(f"{RULE}\n{'Layer Name':<72}{'Sparsity':>8}\n{RULE}", file=out)
    layers = m.layers
    shown = layers if len(layers) <= 2 * SHOWN else layers[:SHOWN] + [None] + layers[-SHOWN:]
    for layer in shown:
        print("..." if layer is None else f"{layer.name:<70}{layer.sparsity:>8.2%}", file=out)
    print(RULE, file=out)
    print("Modality summary:", file=out)
    print(f"  Layers: {stats['num_layers']}", file=out)
    print(f"  Total params: {stats['total_params']:,}", file=out)
    print(f"  Pruned params: {stats['pruned_params']:,}", file=out)
    print(f"  Actual sparsity: {stats['actual_sparsity']:.2%}", file=out)
    print(
        f"  Per-layer sparsity range: [{stats['min_layer_sparsity']:.2%}, "
        f"{stats['max_layer_sparsity']:.2%}]",
        file=out,
    )
    print(
        f"  Per-layer sparsity mean ± std: {stats['mean_layer_sparsity']:.2%} ± "
        f"{stats['std_layer_sparsity']:.2%}",
        file=out,
    )


def global_summary(dist: Distribution, out: TextIO) -> None:
    present = sorted((m for m in dist.modalities.values() if m.layers), key=lambda m: m.name)
    total = sum(m.total for m in present)
    pruned = sum(m.pruned for m in present)
    print(f"\n{DOUBLE}\nGLOBAL SUMMARY\n{DOUBLE}\n", file=out)
    print(f"Target global sparsity: {dist.target:.2%}", file=out)
    print(f"Actual global sparsity: {pruned / total:.2%}\n", file=out)
    print("Modality-wise breakdown:", file=out)
    print(RULE, file=out)
    print(
        f"{'Modality':<8}{'Params':>14}{'Pruned':>13}{'Sparsity':>11}{'% of Total':>13}", file=out
    )
    print(RULE, file=out)
    for m in present:
        print(
            f"{m.name.upper():<8}{m.total:>15,}{m.pruned:>14,}"
            f"{m.pruned / m.total:>11.2%}{m.total / total:>13.2%}",
            file=out,
        )
    print(RULE, file=out)
    print(f"{'TOTAL':<8}{total:>15,}{pruned:>14,}{pruned / total:>11.2%}{1:>13.2%}", file=out)
    print(DOUBLE, file=out)


def key_insight(dist: Distribution, out: TextIO) -> None:
    print(f"\n{'=' * 25} 🔍 KEY INSIGHT {'=' * 25}\n", file=out)
    print("MULTIFLOW's adaptive sparsity distribution:", file=out)
    for m in sorted((m for m in dist.modalities.values() if m.layers), key=lambda m: m.name):
        sparsity = m.pruned / m.total
        diff = sparsity - dist.target
        verdict = (
            "Equal redundancy"
            if abs(diff) < EQUAL_WITHIN
            else "MORE redundant"
            if diff > 0
            else "LESS redundant"
        )
        print(
            f"  • {m.name.upper():<7}: {sparsity:.2%} ({100 * diff:+.2f}% vs target) → {verdict}",
            file=out,
        )
    print("\nThis shows which modalities have more/less redundancy!", file=out)
    print("In Step 2, we'll use activation statistics for more accurate scoring.", file=out)
    print(DOUBLE, file=out)


def print_report(dist: Distribution, out: TextIO | None = None) -> None:
    """The whole report: modality table, one section per non-empty modality, summary, key
    insight."""
    out = out or sys.stdout
    modality_table(dist, out)
    for m in dist.modalities.values():
        if m.layers:
            modality_section(m, dist.target, out)
    global_summary(dist, out)
    key_insight(dist, out)
    out.flush()
