"""Per-layer sparsity budgets in layer order, coloured by modality."""

from __future__ import annotations

import os

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from vlmprune.multiflow.distribution import Distribution  # noqa: E402
from vlmprune.result_files import save_figure  # noqa: E402

COLOURS = {"vision": "tab:blue", "fusion": "tab:orange", "text": "tab:green"}


def plot_distribution(dist: Distribution, path: str | os.PathLike) -> None:
    """Save a PNG: one point per layer (grouped by modality), the target as a dashed line."""
    fig, ax = plt.subplots(figsize=(14, 5), dpi=120)
    start = 0
    for name, m in dist.modalities.items():
        if not m.layers:
            continue
        xs = range(start, start + len(m.layers))
        ys = [100 * layer.sparsity for layer in m.layers]
        ax.plot(xs, ys, color=COLOURS[name], linewidth=0.6, alpha=0.5)
        ax.scatter(
            xs,
            ys,
            color=COLOURS[name],
            s=9,
            zorder=3,
            label=f"{name} ({len(m.layers)} layers, {m.pruned / m.total:.1%} pruned)",
        )
        if start:
            ax.axvline(start - 0.5, color="grey", linewidth=0.8, linestyle=":")
        start += len(m.layers)
    ax.axhline(
        100 * dist.target,
        color="black",
        linestyle="--",
        linewidth=1,
        label=f"target {dist.target:.0%}",
    )
    ax.set_xlim(-1, max(start, 1))
    ax.set_xlabel("layer (model order: component, then block index, within each modality)")
    ax.set_ylabel("layer sparsity (% of weights pruned)")
    ax.set_title(
        f"MULTIFLOW step 1: per-layer sparsity from |W| ranking per modality "
        f"(target {dist.target:.0%}, {dist.architecture})"
    )
    ax.grid(axis="y", alpha=0.3)
    ax.legend(loc="best", fontsize=9)
    fig.tight_layout()
    save_figure(fig, path)
