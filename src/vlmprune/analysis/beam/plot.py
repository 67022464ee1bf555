"""The beam search's figure: accuracy against the number of removed blocks (Agg backend, PNG)."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from vlmprune.result_files import save_figure  # noqa: E402


def _label(blocks: list[int]) -> str:
    return "{" + ",".join(map(str, blocks)) + "}"


def _curve(
    baseline: float, entries: list[Mapping[str, Any]]
) -> tuple[list[int], list[float], list[list[float]]]:
    """x, accuracy and the asymmetric error bars of accuracy (baseline minus the drop's interval).

    A percentile bootstrap interval may miss its own point estimate; the bar then stops at the
    point.
    """
    xs = [0] + [len(e["blocks"]) for e in entries]
    ys = [baseline] + [e["accuracy"] for e in entries]
    below = [0.0] + [max(0.0, e["accuracy"] - (baseline - e["ci_high"])) for e in entries]
    above = [0.0] + [max(0.0, (baseline - e["ci_low"]) - e["accuracy"]) for e in entries]
    return xs, ys, [below, above]


def plot_beam(summary: Mapping[str, Any], path: str | Path) -> None:
    """Kept beams as points, the recommended set and the greedy baseline as lines with intervals,
    per budget."""
    budgets = summary["budgets"]
    fig, ax = plt.subplots(figsize=(8, 5))
    base = summary["baseline_accuracy"]
    for i, budget in enumerate(budgets):
        ks = [budget["removed"]] * len(budget["beams"])
        ax.scatter(
            ks,
            [e["accuracy"] for e in budget["beams"]],
            s=18,
            color="tab:gray",
            alpha=0.6,
            zorder=2,
            label="kept beams" if i == 0 else None,
        )
    xs, ys, err = _curve(base, [b["recommended"] for b in budgets])
    ax.errorbar(
        xs,
        ys,
        yerr=err,
        marker="o",
        color="tab:blue",
        capsize=3,
        zorder=3,
        label=f"recommended set ({summary['split']})",
    )
    for budget in budgets:
        rec = budget["recommended"]
        ax.annotate(
            _label(rec["blocks"]),
            (budget["removed"], rec["accuracy"]),
            textcoords="offset points",
            xytext=(6, 6),
            fontsize=8,
            color="tab:blue",
        )
    xs, ys, err = _curve(base, [b["greedy"] for b in budgets])
    ax.errorbar(
        [x + 0.06 for x in xs],
        ys,
        yerr=err,
        marker="s",
        color="tab:orange",
        capsize=3,
        zorder=3,
        label=f"greedy: k least important ({summary['split']})",
    )
    if summary.get("validation"):
        held = summary["validation"]
        xs, ys, err = _curve(
            held["baseline_accuracy"], [b["validation"]["recommended"] for b in budgets]
        )
        ax.errorbar(
            [x - 0.06 for x in xs],
            ys,
            yerr=err,
            marker="o",
            linestyle="--",
            color="tab:green",
            capsize=3,
            label=f"recommended set ({held['split']})",
        )
        xs, ys, err = _curve(
            held["baseline_accuracy"], [b["validation"]["greedy"] for b in budgets]
        )
        ax.errorbar(
            [x + 0.12 for x in xs],
            ys,
            yerr=err,
            marker="s",
            linestyle="--",
            color="tab:red",
            capsize=3,
            label=f"greedy ({held['split']})",
        )
    counts = summary["variants"]
    spent = ""
    if summary.get("racing"):
        racing = summary["racing"]
        spent = (
            f"\nracing (epsilon {racing['epsilon']}, delta {racing['delta']}): "
            f"{racing['samples']:,} of the exact search's {racing['exact_samples']:,} set-samples "
            f"({100 * racing['ratio']:.0f}%)"
        )
    ax.set_title(
        f"Beam search on {summary['dataset']} ({summary['split']}, n={summary['n']}, beam "
        f"width {summary['beam_width']})\n"
        f"{counts['evaluated']} sets evaluated beyond the ablation; "
        f"the seed's procedure: {counts['seed_procedure']}" + spent,
        fontsize=10,
    )
    ax.set_xlabel("removed blocks (bars: paired bootstrap interval of the drop from the baseline)")
    ax.set_ylabel(f"accuracy ({summary['metric']})")
    ax.set_xticks(range(0, len(budgets) + 1))
    ax.set_xlim(-0.4, len(budgets) + 0.7)  # room for the last set's label
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, loc="lower left")
    fig.tight_layout()
    save_figure(fig, path, dpi=110)


def plot_joint_beam(summary: Mapping[str, Any], path: str | Path) -> None:
    """The joint search: per budget the objective of the joint recommended set (with its
    interval) and greedy set, each dataset's own recommended set on the same objective, and the
    joint set's relative accuracy on each dataset."""
    budgets = summary["budgets"]
    fig, ax = plt.subplots(figsize=(8, 5))
    xs = [0] + [b["removed"] for b in budgets]

    def line(entries: list[Mapping[str, Any]], shift: float, **style: Any) -> None:
        ys = [1.0] + [e["objective"] for e in entries]
        below = [0.0] + [max(0.0, e["objective"] - e["ci_low"]) for e in entries]
        above = [0.0] + [max(0.0, e["ci_high"] - e["objective"]) for e in entries]
        ax.errorbar([x + shift for x in xs], ys, yerr=[below, above], capsize=3, **style)

    line(
        [b["recommended"] for b in budgets],
        0.0,
        marker="o",
        color="tab:blue",
        zorder=3,
        label=f"joint recommended set ({summary['objective']})",
    )
    for budget in budgets:
        rec = budget["recommended"]
        ax.annotate(
            _label(rec["blocks"]),
            (budget["removed"], rec["objective"]),
            textcoords="offset points",
            xytext=(6, 6),
            fontsize=8,
            color="tab:blue",
        )
    line(
        [b["greedy"] for b in budgets],
        0.06,
        marker="s",
        color="tab:orange",
        label="joint greedy set",
    )
    colors = plt.rcParams["axes.prop_cycle"].by_key()["color"][2:]
    for i, dataset in enumerate(summary["datasets"]):
        color = colors[i % len(colors)]
        own = [b["per_dataset"][dataset] for b in budgets if dataset in b["per_dataset"]]
        if len(own) == len(budgets):
            line(
                own,
                -0.06 * (i + 1),
                marker="^",
                linestyle=":",
                color=color,
                label=f"{dataset}'s own recommended set",
            )
        ax.plot(
            xs,
            [1.0] + [b["recommended"]["datasets"][dataset]["relative"] for b in budgets],
            color=color,
            alpha=0.4,
            linewidth=1,
            label=f"joint set's relative accuracy on {dataset}",
        )
    title = (
        f"Joint beam search on {', '.join(summary['datasets'])} ({summary['split']}, "
        f"beam width {summary['beam_width']})"
    )
    if summary.get("racing"):
        racing = summary["racing"]
        title += (
            f"\nracing (epsilon {racing['epsilon']}, delta {racing['delta']}): "
            f"{racing['samples']:,} of {racing['exact_samples']:,} set-samples "
            f"({100 * racing['ratio']:.0f}%)"
        )
    ax.set_title(title, fontsize=10)
    ax.set_xlabel("removed blocks (bars: paired bootstrap interval, resampled within each dataset)")
    ax.set_ylabel(f"{summary['objective']} of accuracy / full model's accuracy")
    ax.set_xticks(range(0, len(budgets) + 1))
    ax.set_xlim(-0.5, len(budgets) + 0.7)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7, loc="lower left")
    fig.tight_layout()
    save_figure(fig, path, dpi=110)
