"""Figures of the comparison stage, drawn with matplotlib's Agg backend into PNG files."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from vlmprune.result_files import save_figure  # noqa: E402

SPLIT_STYLE = {"train": ("tab:blue", "train"), "val": ("tab:orange", "validation")}
PROXY_LABELS = {
    "block_influence": "Block Influence (1 − cos)",
    "angular_distance": "angular distance (arccos cos / π)",
}
VERDICT_COLORS = {"consistent": "#c7e9c0", "inconsistent": "#fcbba1", "undetermined": "#e0e0e0"}


def _values(values: Mapping[str, float | None], blocks: list[int]) -> np.ndarray:
    return np.array(
        [np.nan if values.get(str(b)) is None else values[str(b)] for b in blocks], dtype=float
    )


def _fmt(value: float | None, digits: int = 2) -> str:
    return "n/a" if value is None or np.isnan(value) else f"{value:.{digits}f}"


def _save(fig: plt.Figure, path: str | Path) -> None:
    save_figure(fig, path, dpi=110)


def plot_dataset(comparison: Mapping[str, Any], path: str | Path) -> None:
    """Bars of importance per block for both splits with intervals, train against validation,
    proxies."""
    blocks = comparison["blocks"]
    proxies = comparison.get("proxies", {})
    panels = 3 if proxies else 2
    if len(blocks) <= 12:  # one row: bars, scatter, proxies
        fig, axes = plt.subplots(
            1,
            panels,
            figsize=(6 + 0.35 * len(blocks) + 4.5 * (panels - 1), 4.8),
            width_ratios=[2.2, 1.2, 1.6][:panels],
            layout="constrained",
        )
    else:  # many blocks: the bars get their own row
        fig = plt.figure(figsize=(max(14.0, 0.45 * len(blocks)), 10.5), layout="constrained")
        grid = fig.add_gridspec(2, 2, width_ratios=[1, 1.8] if proxies else [1, 1])
        axes = [fig.add_subplot(grid[0, :]), fig.add_subplot(grid[1, 0])] + (
            [fig.add_subplot(grid[1, 1])] if proxies else []
        )
    _importance_bars(axes[0], comparison, blocks)
    _train_val_scatter(axes[1], comparison, blocks)
    if proxies:
        _proxy_lines(axes[2], proxies, blocks)
    fig.suptitle(
        f"{comparison['dataset']}: block importance on train vs validation "
        f"(metric {comparison['metric']}, {len(blocks)} blocks) — {comparison['verdict'].upper()}",
        fontsize=13,
    )
    _save(fig, path)


def _importance_bars(ax: plt.Axes, comparison: Mapping[str, Any], blocks: list[int]) -> None:
    x = np.arange(len(blocks))
    width = 0.4
    for offset, split in ((-width / 2, "train"), (width / 2, "val")):
        color, label = SPLIT_STYLE[split]
        values = _values(comparison["importance"][split], blocks)
        ci = comparison["importance_ci"][split]
        low = np.array([ci[str(b)][0] for b in blocks])
        high = np.array([ci[str(b)][1] for b in blocks])
        yerr = np.clip(np.vstack([values - low, high - values]), 0, None)
        ax.bar(
            x + offset,
            values,
            width,
            yerr=yerr,
            capsize=2,
            color=color,
            ecolor="0.25",
            label=f"{label} (n={comparison['n'][split]}, baseline acc. "
            f"{comparison['baseline_accuracy'][split]:.3f})",
        )
    ax.axhline(0, color="0.3", linewidth=0.8)
    ax.set_xticks(x, [str(b) for b in blocks])
    ax.set_xlabel("block index (removed alone)")
    ax.set_ylabel("importance = accuracy(full) − accuracy(without block)")
    ax.set_title(
        f"Importance per block, with {comparison['spearman']['confidence_level']:.0%} "
        "bootstrap intervals"
    )
    ax.legend(loc="upper right", fontsize=8)
    ax.grid(axis="y", alpha=0.3)


def _train_val_scatter(ax: plt.Axes, comparison: Mapping[str, Any], blocks: list[int]) -> None:
    train = _values(comparison["importance"]["train"], blocks)
    val = _values(comparison["importance"]["val"], blocks)
    ci = comparison["importance_ci"]
    xerr = np.clip(
        np.vstack(
            [
                train - [ci["train"][str(b)][0] for b in blocks],
                [ci["train"][str(b)][1] for b in blocks] - train,
            ]
        ),
        0,
        None,
    )
    yerr = np.clip(
        np.vstack(
            [
                val - [ci["val"][str(b)][0] for b in blocks],
                [ci["val"][str(b)][1] for b in blocks] - val,
            ]
        ),
        0,
        None,
    )
    ax.errorbar(
        train,
        val,
        xerr=xerr,
        yerr=yerr,
        fmt="o",
        color="tab:purple",
        ecolor="0.75",
        elinewidth=0.8,
        markersize=5,
    )
    for b, tx, vy in zip(blocks, train, val, strict=True):
        ax.annotate(str(b), (tx, vy), textcoords="offset points", xytext=(4, 3), fontsize=8)
    lo = np.nanmin(np.concatenate([train, val, [0.0]]))
    hi = np.nanmax(np.concatenate([train, val, [0.0]]))
    pad = 0.05 * (hi - lo) or 0.05
    ax.plot(
        [lo - pad, hi + pad],
        [lo - pad, hi + pad],
        "--",
        color="0.5",
        linewidth=0.8,
        label="train = validation",
    )
    ax.set_xlim(lo - pad, hi + pad)
    ax.set_ylim(lo - pad, hi + pad)
    ax.set_aspect("equal", adjustable="box")
    s = comparison["spearman"]
    ax.set_title(
        f"Spearman ρ = {_fmt(s['rho'], 3)}, over resampled samples "
        f"{s['confidence_level']:.0%}: [{_fmt(s['ci_low'])}, {_fmt(s['ci_high'])}]\n"
        f"threshold {comparison['threshold']}: {comparison['verdict']}",
        fontsize=10,
    )
    ax.set_xlabel("importance on train")
    ax.set_ylabel("importance on validation")
    ax.legend(loc="lower right", fontsize=8)
    ax.grid(alpha=0.3)


def _proxy_lines(ax: plt.Axes, proxies: Mapping[str, Mapping[str, Any]], blocks: list[int]) -> None:
    markers = {"block_influence": "o", "angular_distance": "s"}
    for split, by_proxy in proxies.items():
        color, split_label = SPLIT_STYLE[split]
        for name, info in by_proxy.items():
            ax.plot(
                blocks,
                _values(info["values"], blocks),
                marker=markers[name],
                color=color,
                linestyle="-" if name == "block_influence" else "--",
                markersize=4,
                label=f"{PROXY_LABELS[name]}, {split_label}: ρ vs ablation "
                f"{_fmt(info['spearman_rho'])}",
            )
    ax.set_xticks(blocks)
    ax.set_xlabel("block index")
    ax.set_ylabel("proxy (larger = block changes its input more)")
    ax.set_title("One-pass proxies from the baseline pass", fontsize=10)
    ax.legend(loc="best", fontsize=7)
    ax.grid(alpha=0.3)


def plot_all(summary: Mapping[str, Any], path: str | Path) -> None:
    """Verdict table, importance heatmap (dataset x block), dataset correlations, proxy
    agreement."""
    names = list(summary["importance"])
    blocks = summary["blocks"]
    heights = [0.9 + 0.3 * len(names), max(3.0, 0.55 * len(names) + 1.8), 3.8]
    fig = plt.figure(
        figsize=(max(13.0, 7 + 0.45 * len(blocks) + 0.5 * len(names)), sum(heights) + 0.8),
        layout="constrained",
    )
    grid = fig.add_gridspec(
        3, 2, height_ratios=heights, width_ratios=[max(1.4, 0.1 * len(blocks)), 1]
    )
    _verdict_table(fig.add_subplot(grid[0, :]), summary, names)
    _heatmap(fig.add_subplot(grid[1, 0]), fig, summary, names, blocks)
    _correlation_matrix(fig.add_subplot(grid[1, 1]), fig, summary)
    _proxy_bars(fig.add_subplot(grid[2, :]), summary)
    fig.suptitle(
        f"Block importance across {len(names)} datasets ({summary['analysis_split']} split)",
        fontsize=14,
    )
    _save(fig, path)


def _annotate(ax: plt.Axes, matrix: np.ndarray, limit: float, fontsize: int) -> None:
    """Values written into the cells, white on the dark ones."""
    for (i, j), value in np.ndenumerate(matrix):
        dark = np.isfinite(value) and abs(value) > 0.6 * limit
        ax.text(
            j,
            i,
            _fmt(value),
            ha="center",
            va="center",
            fontsize=fontsize,
            color="white" if dark else "black",
        )


def _verdict_table(ax: plt.Axes, summary: Mapping[str, Any], names: list[str]) -> None:
    ax.axis("off")
    header = [
        "dataset",
        "n train / val",
        "Spearman ρ [CI]",
        "Kendall τ",
        "Pearson r",
        "k-least overlap",
        "verdict",
    ]
    rows, colors = [], []
    for name in names:
        row = summary["datasets"][name]
        if "spearman_rho" not in row:
            rows.append([name, "—", "—", "—", "—", "—", "not compared"])
            colors.append(VERDICT_COLORS["undetermined"])
            continue
        ci = row["spearman_ci"]
        rows.append(
            [
                name,
                f"{row['n']['train']} / {row['n']['val']}",
                f"{_fmt(row['spearman_rho'], 3)} [{_fmt(ci[0])}, {_fmt(ci[1])}]",
                _fmt(row["kendall_tau"], 3),
                _fmt(row["pearson_r"], 3),
                _fmt(row["k_least_overlap"]),
                row["verdict"],
            ]
        )
        colors.append(VERDICT_COLORS[row["verdict"]])
    table = ax.table(cellText=rows, colLabels=header, bbox=[0, 0, 1, 1], cellLoc="center")
    table.auto_set_font_size(False)
    table.set_fontsize(10)
    for i, color in enumerate(colors, start=1):
        table[i, len(header) - 1].set_facecolor(color)
    for j in range(len(header)):
        table[0, j].set_facecolor("#d9d9d9")
    ax.set_title(
        f"Train vs validation: consistent when Spearman ρ > {summary['threshold']}", fontsize=11
    )


def _proxy_bars(ax: plt.Axes, summary: Mapping[str, Any]) -> None:
    proxies = summary["proxies"]
    keys = sorted({k for info in proxies.values() for k in info["spearman_rho"]})
    if not keys:
        ax.axis("off")
        ax.set_title("No one-pass proxies recorded", fontsize=11)
        return
    x = np.arange(len(keys))
    width = 0.8 / len(proxies)
    for i, (name, info) in enumerate(proxies.items()):
        values = np.array(
            [
                np.nan if info["spearman_rho"].get(k) is None else info["spearman_rho"][k]
                for k in keys
            ]
        )
        ax.bar(
            x + (i - (len(proxies) - 1) / 2) * width,
            values,
            width,
            label=f"{PROXY_LABELS[name]}: {info['summary']}",
        )
    ax.axhline(
        summary["threshold"],
        color="tab:red",
        linestyle="--",
        linewidth=1,
        label=f"threshold {summary['threshold']}",
    )
    ax.axhline(0, color="0.3", linewidth=0.8)
    ax.set_xticks(
        x, keys, rotation=20 if len(keys) > 6 else 0, ha="right" if len(keys) > 6 else "center"
    )
    ax.set_xlim(-0.6, len(keys) - 0.4)
    ax.set_ylim(-1, 1)
    ax.set_xlabel("dataset / split")
    ax.set_ylabel("Spearman ρ with ablation importance")
    ax.set_title(
        "Do the one-pass proxies of the baseline pass rank blocks like the single-block ablations?",
        fontsize=11,
    )
    ax.legend(
        loc="upper center",
        bbox_to_anchor=(0.5, -0.25 if len(keys) > 6 else -0.18),
        ncol=1,
        fontsize=8,
        frameon=False,
    )
    ax.grid(axis="y", alpha=0.3)


def _heatmap(
    ax: plt.Axes, fig: plt.Figure, summary: Mapping[str, Any], names: list[str], blocks: list[int]
) -> None:
    matrix = np.array([_values(summary["importance"][n], blocks) for n in names])
    limit = float(np.nanmax(np.abs(matrix))) if np.isfinite(matrix).any() else 0.0
    limit = limit or 1.0  # all zero (or undefined): any symmetric scale
    image = ax.imshow(matrix, cmap="RdBu_r", vmin=-limit, vmax=limit, aspect="auto")
    ax.set_xticks(range(len(blocks)), [str(b) for b in blocks])
    ax.set_yticks(range(len(names)), names)
    ax.set_xlabel("block index")
    if len(blocks) <= 24:
        _annotate(ax, matrix, limit, 8)
    everywhere = summary["blocks_important_everywhere"]
    ax.set_title(
        "Importance per dataset and block (red: removal hurts)\n"
        f"important in every dataset (CI above 0): {everywhere or 'none'}",
        fontsize=11,
    )
    fig.colorbar(image, ax=ax, label="importance (accuracy drop)", shrink=0.8)


def _correlation_matrix(ax: plt.Axes, fig: plt.Figure, summary: Mapping[str, Any]) -> None:
    names = summary["dataset_correlation"]["datasets"]
    matrix = np.array(
        [
            [np.nan if v is None else v for v in row]
            for row in summary["dataset_correlation"]["spearman"]
        ],
        dtype=float,
    )
    image = ax.imshow(matrix, cmap="RdBu_r", vmin=-1, vmax=1)
    ax.set_xticks(range(len(names)), names, rotation=45, ha="right")
    ax.set_yticks(range(len(names)), names)
    _annotate(ax, matrix, 1.0, 9)
    ax.set_title("Spearman ρ of importance\nbetween datasets", fontsize=11)
    fig.colorbar(image, ax=ax, label="Spearman ρ", shrink=0.8)
