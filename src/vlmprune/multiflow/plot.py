"""Step 1's per-layer budgets as a figure: per modality, a grid of layer type by block.

Each cell is one layer type (q, k, v, o, gate, up, down, fc1, fc2 ...) in one block, coloured by
its budget (the share of its weights pruned) on a scale centred on the target: red layers give
up more than the target, blue ones keep more. Layers outside the blocks (a projector, the
embeddings) have a column of their own. Below the grids, every layer in model order.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from matplotlib.colors import TwoSlopeNorm  # noqa: E402

from vlmprune.multiflow.distribution import Distribution, Modality  # noqa: E402
from vlmprune.result_files import save_figure  # noqa: E402

COLOURS = {"vision": "tab:blue", "fusion": "tab:orange", "text": "tab:green"}
# A block index is the number that follows one of these module names (layers.3, blocks.3 ...).
BLOCK_CONTAINERS = {"layers", "layer", "blocks", "block", "resblocks", "h"}
OUTSIDE = "–"  # the column of layers outside the blocks
# Rows in the order a block computes them; other layer types follow in model order.
ROW_ORDER = ["q", "k", "v", "qkv", "wq", "wk", "wv", "o", "out", "att", "attn_out", "proj", "wo"]
ROW_ORDER += ["gate", "up", "gate_up", "down", "fc1", "fc2", "ff", "ff_out", "w1", "w2", "w3"]
ANNOTATED_UP_TO = 40  # columns; wider grids show colours only


@dataclass
class Grid:
    """A modality's budgets: ``values[row, column]``, NaN where no such layer exists."""

    rows: list[str]  # layer types, in model order
    columns: list[str]  # OUTSIDE (when any layer is outside the blocks), then block indices
    values: np.ndarray


def block_and_path(name: str) -> tuple[int | None, list[str]]:
    """The block index of a layer name (None outside the blocks) and the path inside the block."""
    parts = name.split(".")
    for i, part in enumerate(parts[:-1]):
        if part in BLOCK_CONTAINERS and parts[i + 1].isdigit():
            return int(parts[i + 1]), [p for p in parts[i + 2 :] if not p.isdigit()]
    return None, parts


def _label(block: int | None, path: list[str], ambiguous: set[str]) -> str:
    """q, gate, fc1 ...: the last name with ``_proj`` dropped; the whole path where two share it."""
    if block is None:
        return ".".join([p for p in path if p != "model"][-2:])
    short = re.sub(r"_proj$", "", path[-1]) if path else "?"
    return ".".join(path) if short in ambiguous else short


def _row_rank(label: str, labels: list[str], parsed: list) -> tuple[int, int]:
    """Layers outside the blocks first, then ROW_ORDER, then the rest in model order."""
    first = labels.index(label)
    if parsed[first][1] is None:
        return (0, first)
    return (1, ROW_ORDER.index(label)) if label in ROW_ORDER else (2, first)


def layer_grid(modality: Modality) -> Grid:
    """The budget of each (layer type, block); one type's layers in a block (experts) are pooled."""
    parsed = [(layer, *block_and_path(layer.name)) for layer in modality.layers]
    paths: dict[str, set[str]] = {}
    for _, block, path in parsed:
        if block is not None:
            paths.setdefault(_label(block, path, set()), set()).add(".".join(path))
    ambiguous = {short for short, full in paths.items() if len(full) > 1}
    labels = [_label(block, path, ambiguous) for _, block, path in parsed]
    rows = sorted(dict.fromkeys(labels), key=lambda label: _row_rank(label, labels, parsed))
    blocks = sorted({block for _, block, _ in parsed if block is not None})
    outside = any(block is None for _, block, _ in parsed)
    columns = [OUTSIDE] * outside + [str(b) for b in blocks]
    pruned = np.zeros((len(rows), len(columns)))
    numel = np.zeros((len(rows), len(columns)))
    for (layer, block, _), label in zip(parsed, labels, strict=True):
        cell = rows.index(label), columns.index(OUTSIDE if block is None else str(block))
        pruned[cell] += layer.pruned
        numel[cell] += layer.numel
    with np.errstate(invalid="ignore", divide="ignore"):
        values = np.where(numel > 0, pruned / numel, np.nan)
    return Grid(rows, columns, values)


def _draw_grid(ax, grid: Grid, norm: TwoSlopeNorm, title: str):
    image = ax.imshow(np.ma.masked_invalid(grid.values), cmap="RdBu_r", norm=norm, aspect="auto")
    ax.set_facecolor("#f2f2f2")  # where a block has no such layer
    ax.set_xticks(range(len(grid.columns)), grid.columns, fontsize=8)
    ax.set_yticks(range(len(grid.rows)), grid.rows, fontsize=8)
    ax.set_xlabel("block (– : outside the blocks)", fontsize=9)
    ax.set_title(title, fontsize=10, loc="left")
    if len(grid.columns) <= ANNOTATED_UP_TO:
        for (r, c), value in np.ndenumerate(grid.values):
            if not np.isnan(value):
                dark = abs(norm(value) - 0.5) > 0.3
                ax.text(
                    c,
                    r,
                    f"{100 * value:.0f}",
                    ha="center",
                    va="center",
                    fontsize=7 if len(grid.columns) <= 20 else 5.5,
                    color="white" if dark else "black",
                )
    return image


def _modality_title(m: Modality, target: float) -> str:
    return (
        f"{m.name}: {len(m.layers)} layers, {m.total:,} weights, "
        f"{m.pruned / m.total:.1%} pruned (target {target:.0%}); cells: % of the layer pruned"
    )


def _draw_layer_order(ax, dist: Distribution, present: list[Modality]) -> None:
    start = 0
    for m in present:
        xs = range(start, start + len(m.layers))
        ys = [100 * layer.sparsity for layer in m.layers]
        ax.plot(xs, ys, color=COLOURS[m.name], linewidth=0.6, alpha=0.5)
        ax.scatter(
            xs,
            ys,
            color=COLOURS[m.name],
            s=9,
            zorder=3,
            label=f"{m.name}: {len(m.layers)} layers, {m.total:,} weights, "
            f"{m.pruned / m.total:.1%} pruned",
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
    ax.set_xlabel("layer, in model order within each modality", fontsize=9)
    ax.set_ylabel("% pruned", fontsize=9)
    ax.grid(axis="y", alpha=0.3)
    ax.legend(loc="best", fontsize=8)


def plot_distribution(dist: Distribution, path: str | os.PathLike) -> None:
    """Save a PNG: a layer-type-by-block grid per modality, then every layer in model order."""
    present = [m for m in dist.modalities.values() if m.layers]
    grids = [layer_grid(m) for m in present]
    widest = max((len(g.columns) for g in grids), default=1)
    width = min(24.0, max(10.0, 3.5 + 0.34 * widest))
    heights = [max(1.4, 0.26 * len(g.rows) + 0.9) for g in grids] + [2.8]
    fig = plt.figure(figsize=(width, sum(heights) + 0.8), dpi=120, layout="constrained")
    layout = fig.add_gridspec(len(heights), 2, height_ratios=heights, width_ratios=[80, 1])
    # the target at the centre of the colour scale, 0 and 100% at its ends
    centre = min(max(dist.target, 1e-6), 1 - 1e-6)
    norm = TwoSlopeNorm(vmin=0.0, vcenter=centre, vmax=1.0)
    image = None
    for i, (m, grid) in enumerate(zip(present, grids, strict=True)):
        image = _draw_grid(
            fig.add_subplot(layout[i, 0]), grid, norm, _modality_title(m, dist.target)
        )
    _draw_layer_order(fig.add_subplot(layout[-1, 0]), dist, present)
    if image is not None:
        bar = fig.colorbar(image, cax=fig.add_subplot(layout[:-1, 1]))
        bar.set_label("% of the layer's weights pruned", fontsize=9)
        ticks = sorted({0.0, centre, 1.0} | ({0.25, 0.75} if 0.35 < centre < 0.65 else set()))
        bar.set_ticks(ticks, labels=[_tick(t, centre) for t in ticks], fontsize=8)
        bar.ax.axhline(centre, color="black", linewidth=2)
    fig.suptitle(
        f"MULTIFLOW step 1 ({dist.architecture}): each layer's budget at a global target of "
        f"{dist.target:.0%}, |W| ranked within each modality",
        fontsize=11,
    )
    save_figure(fig, path)


def _tick(value: float, target: float) -> str:
    return f"{100 * value:.0f}%" + (" = target" if value == target else "")
