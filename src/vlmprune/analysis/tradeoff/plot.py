"""The trade-off figure: accuracy against measured latency, Pareto frontier marked (Agg backend,
PNG)."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from vlmprune.result_files import save_figure  # noqa: E402

STYLES = {"full": ("black", "D"), "recommended": ("tab:blue", "o"), "greedy": ("tab:orange", "s")}


def plot_tradeoff(result: Mapping[str, Any], path: str | Path) -> None:
    fig, ax = plt.subplots(figsize=(8, 5))
    points = result["points"]
    seen: set[str] = set()
    for p in points:
        role = p["chosen_by"][0]
        color, marker = STYLES[role]
        x = 1000 * p["latency_s"]
        ax.errorbar(
            [x],
            [p["accuracy"]],
            yerr=[
                [max(0.0, p["accuracy"] - p["accuracy_low"])],
                [max(0.0, p["accuracy_high"] - p["accuracy"])],
            ],
            marker=marker,
            color=color,
            capsize=3,
            linestyle="none",
            label=None if role in seen else role,
        )
        seen.add(role)
        ax.annotate(
            p["variant"], (x, p["accuracy"]), textcoords="offset points", xytext=(5, 5), fontsize=7
        )
    front = sorted((p for p in points if p["pareto"]), key=lambda p: p["latency_s"])
    ax.step(
        [1000 * p["latency_s"] for p in front],
        [p["accuracy"] for p in front],
        where="post",
        color="tab:green",
        linewidth=1.5,
        zorder=1,
        label="Pareto frontier",
    )
    ax.scatter(
        [1000 * p["latency_s"] for p in front],
        [p["accuracy"] for p in front],
        s=140,
        facecolors="none",
        edgecolors="tab:green",
        zorder=4,
    )
    ax.set_title(
        f"Accuracy vs measured latency on {result['dataset']} ({result['split']}, "
        f"n={result['n']})\n"
        f"{result['device']}",
        fontsize=10,
    )
    ax.set_xlabel(f"ms to answer one question ({result['new_tokens']} tokens, batch 1, median)")
    ax.set_ylabel(f"accuracy ({result['metric']})")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, loc="lower right")
    fig.tight_layout()
    save_figure(fig, path, dpi=110)


def plot_joint_tradeoff(result: Mapping[str, Any], path: str | Path) -> None:
    """The joint trade-off: the objective against measured latency for the joint sets, each
    dataset's own sets beside them, the joint sets' Pareto frontier."""
    fig, ax = plt.subplots(figsize=(8, 5))
    colors = plt.rcParams["axes.prop_cycle"].by_key()["color"][2:]
    styles = {"full": ("black", "D"), "joint": ("tab:blue", "o")} | {
        d: (colors[i % len(colors)], "^") for i, d in enumerate(result["datasets"])
    }
    seen: set[str] = set()
    for p in result["points"]:
        role = p["chosen_by"][0]
        color, marker = styles[role]
        x = 1000 * p["latency_s"]
        ax.errorbar(
            [x],
            [p["objective"]],
            yerr=[
                [max(0.0, p["objective"] - p["objective_low"])],
                [max(0.0, p["objective_high"] - p["objective"])],
            ],
            marker=marker,
            color=color,
            capsize=3,
            linestyle="none",
            label=None if role in seen else ("joint set" if role == "joint" else role),
        )
        seen.add(role)
        ax.annotate(
            p["variant"], (x, p["objective"]), textcoords="offset points", xytext=(5, 5), fontsize=7
        )
    front = sorted((p for p in result["points"] if p["pareto"]), key=lambda p: p["latency_s"])
    ax.step(
        [1000 * p["latency_s"] for p in front],
        [p["objective"] for p in front],
        where="post",
        color="tab:green",
        linewidth=1.5,
        zorder=1,
        label="Pareto frontier of the joint sets",
    )
    ax.set_title(
        f"Joint trade-off on {', '.join(result['datasets'])} ({result['split']})\n"
        f"{result['device']}",
        fontsize=10,
    )
    ax.set_xlabel(f"ms to answer one question ({result['new_tokens']} tokens, batch 1, median)")
    ax.set_ylabel(f"{result['objective']} of accuracy / full model's accuracy")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, loc="lower right")
    fig.tight_layout()
    save_figure(fig, path, dpi=110)
