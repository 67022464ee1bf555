"""What a run found, read from its result files, as a few tables for the Snakemake report.

Nothing is computed anew: the baseline, the blocks whose removal costs accuracy, the beam
search against the greedy choice and the train-versus-validation agreement are read from
``results/importance``, ``results/beam`` and ``results/compare``. The report then states what
this run found, on this machine: the demo model trained on another CPU kind has other weights,
and finds other numbers.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from vlmprune.analysis.compare.tables import html_table


def blocks_that_matter(details: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Blocks whose importance interval lies above zero, the most important first."""
    rows = [
        {"block": int(b), "importance": v["importance"], "ci": [v["ci_low"], v["ci_high"]]}
        for b, v in details["blocks"].items()
        if v["ci_low"] > 0
    ]
    return sorted(rows, key=lambda row: (-row["importance"], row["block"]))


def _set(entry: Mapping[str, Any] | None) -> dict[str, Any] | None:
    if entry is None:
        return None
    return {
        "blocks": entry["blocks"],
        "accuracy": entry["accuracy"],
        "ci": [entry["ci_low"], entry["ci_high"]],
    }


def beam_against_greedy(beam: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Per number of removed blocks: the beam's set and the greedy set, with their accuracy."""
    rows = []
    for budget in beam["budgets"]:
        validation = budget.get("validation") or {}
        rows.append(
            {
                "removed": budget["removed"],
                "beam": _set(budget["recommended"]),
                "greedy": _set(budget["greedy"]),
                "beam_minus_greedy": budget["beam_minus_greedy"],
                "validation": {
                    "beam": _set(validation.get("recommended")),
                    "greedy": _set(validation.get("greedy")),
                },
            }
        )
    return rows


def dataset_findings(
    details: Mapping[str, Any], beam: Mapping[str, Any], agreement: Mapping[str, Any] | None
) -> dict[str, Any]:
    """One dataset's findings: its importance details, beam summary and split agreement."""
    matter = blocks_that_matter(details)
    others = [
        v["importance"]
        for b, v in details["blocks"].items()
        if int(b) not in {m["block"] for m in matter}
    ]
    return {
        "split": details["split"],
        "n": details["n"],
        "metric": details["metric"],
        "baseline_accuracy": details["baseline_accuracy"],
        "blocks_that_matter": matter,
        "largest_other_importance": max(others) if others else None,
        "beam_against_greedy": beam_against_greedy(beam),
        "train_vs_val": None
        if agreement is None
        else {  # a dataset with one split has a verdict ("not compared ...") and no rho
            "spearman_rho": agreement.get("spearman_rho"),
            "ci": agreement.get("spearman_ci", [None, None]),
            "verdict": agreement["verdict"],
        },
    }


def collect_findings(
    details: Mapping[str, Mapping[str, Any]],
    beams: Mapping[str, Mapping[str, Any]],
    summary: Mapping[str, Any],
) -> dict[str, Any]:
    """Every dataset's findings, from its importance details and beam summary (by dataset) and
    the comparison across datasets (``results/compare/all.json``)."""
    model = {d["model"] for d in details.values()}
    return {
        "model": model.pop() if len(model) == 1 else sorted(model),
        "analysis_split": summary["analysis_split"],
        "threshold": summary["threshold"],
        "datasets": {
            name: dataset_findings(details[name], beams[name], summary["datasets"].get(name))
            for name in details
        },
        "proxies": {name: info["summary"] for name, info in summary["proxies"].items()},
    }


def _blocks(blocks: list[int]) -> str:
    return "{" + ", ".join(map(str, blocks)) + "}"


def _with_interval(entry: Mapping[str, Any] | None) -> str:
    if entry is None:
        return "n/a"
    return f"{entry['accuracy']:.3f} [{entry['ci'][0]:.3f}, {entry['ci'][1]:.3f}]"


def _number(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.3f}"


def _interval(ci: list[float | None]) -> str:
    return "n/a" if None in ci else f"[{ci[0]:.3f}, {ci[1]:.3f}]"


def findings_sections(findings: Mapping[str, Any]) -> list[tuple[str, str]]:
    """(caption, HTML table) pairs: the overview, beam against greedy per dataset, the proxies."""
    overview = []
    for name, f in findings["datasets"].items():
        matter = ", ".join(
            f"{m['block']}: {m['importance']:.3f} {_interval(m['ci'])}"
            for m in f["blocks_that_matter"]
        )
        agreement = f["train_vs_val"] or {}
        rho = agreement.get("spearman_rho")
        overview.append(
            [
                name,
                f"{f['split']}, n = {f['n']}",
                f"{f['baseline_accuracy']:.3f}",
                matter or "none",
                _number(f["largest_other_importance"]),
                "n/a" if rho is None else f"{rho:.3f} {_interval(agreement['ci'])}",
                agreement.get("verdict", "not compared"),
            ]
        )
    sections = [
        (
            f"Baseline and the blocks that matter (model {findings['model']}): a block matters "
            "where its importance interval lies above zero",
            html_table(
                [
                    "dataset",
                    "split",
                    "baseline accuracy",
                    "blocks that matter: importance [interval]",
                    "largest importance of the other blocks",
                    f"train vs val: Spearman rho [interval] (threshold {findings['threshold']})",
                    "verdict",
                ],
                overview,
            ),
        )
    ]
    for name, f in findings["datasets"].items():
        rows = [
            [
                r["removed"],
                _blocks(r["beam"]["blocks"]),
                _with_interval(r["beam"]),
                _blocks(r["greedy"]["blocks"]),
                _with_interval(r["greedy"]),
                f"{r['beam_minus_greedy']:+.3f}",
                _with_interval(r["validation"]["beam"]),
                _with_interval(r["validation"]["greedy"]),
            ]
            for r in f["beam_against_greedy"]
        ]
        sections.append(
            (
                f"{name}: the beam search against the greedy choice ({f['split']} split; "
                "validation where configured)",
                html_table(
                    [
                        "blocks removed",
                        "beam set",
                        "accuracy",
                        "greedy set",
                        "accuracy",
                        "beam - greedy",
                        "beam set on validation",
                        "greedy set on validation",
                    ],
                    rows,
                ),
            )
        )
    sections.append(
        (
            "One-pass proxies against the ablations",
            html_table(["proxy", "agreement"], [[k, v] for k, v in findings["proxies"].items()]),
        )
    )
    return sections
