"""The comparison results as small self-contained HTML tables, for the Snakemake report."""

from __future__ import annotations

import html
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

VERDICTS = ("consistent", "inconsistent")
STYLE = (
    "body{font-family:sans-serif;font-size:14px}table{border-collapse:collapse;margin:0 0 1.5em}"
    "th,td{border:1px solid #bbb;padding:3px 8px;text-align:right}th{background:#eee}"
    "td.consistent{background:#c7e9c0}td.inconsistent{background:#fcbba1}"
)


def _cell(value: Any) -> str:
    if value is None:
        return "n/a"
    return f"{value:.4f}" if isinstance(value, float) else str(value)


def _td(value: Any) -> str:
    css = f' class="{value}"' if value in VERDICTS else ""
    return f"<td{css}>{html.escape(_cell(value))}</td>"


def html_table(header: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    head = "".join(f"<th>{html.escape(h)}</th>" for h in header)
    body = "".join("<tr>" + "".join(_td(v) for v in row) + "</tr>" for row in rows)
    return f"<table><tr>{head}</tr>{body}</table>"


def dataset_tables(c: Mapping[str, Any]) -> list[tuple[str, str]]:
    """Importance per block on both splits (with intervals and proxies) and the statistics."""
    proxies = [
        (split, name) for split, by_proxy in c.get("proxies", {}).items() for name in by_proxy
    ]
    header = ["block", "importance train", "CI train", "importance val", "CI val"] + [
        f"{name} ({split})" for split, name in proxies
    ]
    rows = []
    for b in map(str, c["blocks"]):
        ci = c["importance_ci"]
        rows.append(
            [
                b,
                c["importance"]["train"][b],
                f"[{ci['train'][b][0]:.4f}, {ci['train'][b][1]:.4f}]",
                c["importance"]["val"][b],
                f"[{ci['val'][b][0]:.4f}, {ci['val'][b][1]:.4f}]",
            ]
            + [c["proxies"][split][name]["values"][b] for split, name in proxies]
        )
    s = c["spearman"]
    stats_rows = [
        ["Spearman rho", s["rho"], s["p_value"], f"[{_cell(s['ci_low'])}, {_cell(s['ci_high'])}]"],
        ["Kendall tau", c["kendall"]["tau"], c["kendall"]["p_value"], ""],
        ["Pearson r", c["pearson"]["r"], c["pearson"]["p_value"], ""],
    ] + [
        [
            f"{name} vs ablation ({split})",
            c["proxies"][split][name]["spearman_rho"],
            c["proxies"][split][name]["p_value"],
            "",
        ]
        for split, name in proxies
    ]
    k = c["k_least"]
    return [
        (
            "Importance per block (accuracy drop when the block is removed; baseline "
            f"accuracy train {c['baseline_accuracy']['train']:.4f}, val "
            f"{c['baseline_accuracy']['val']:.4f})",
            html_table(header, rows),
        ),
        (
            f"Train vs validation: {c['verdict']} ({c['interpretation']}); {k['k']} least "
            f"important blocks: train {k['train']}, val {k['val']}, overlap {k['overlap']:.2f}",
            html_table(
                ["statistic", "value", "p-value", f"{s['confidence_level']:.0%} bootstrap CI"],
                stats_rows,
            ),
        ),
    ]


def all_tables(summary: Mapping[str, Any]) -> list[tuple[str, str]]:
    """The verdict per dataset, importance per dataset and block, and the proxies' agreement."""
    verdicts = [
        [
            name,
            row["verdict"],
            row.get("spearman_rho"),
            row.get("kendall_tau"),
            row.get("pearson_r"),
            row.get("k_least_overlap"),
        ]
        for name, row in summary["datasets"].items()
    ]
    blocks = [str(b) for b in summary["blocks"]]
    importance = [
        [name] + [values.get(b) for b in blocks] for name, values in summary["importance"].items()
    ]
    proxies = [[name, info["summary"]] for name, info in summary["proxies"].items()]
    return [
        (
            f"Verdicts (consistent when Spearman rho > {summary['threshold']})",
            html_table(
                [
                    "dataset",
                    "verdict",
                    "Spearman rho",
                    "Kendall tau",
                    "Pearson r",
                    "k-least overlap",
                ],
                verdicts,
            ),
        ),
        (
            f"Importance per dataset and block ({summary['analysis_split']} split); "
            f"important in every dataset: {summary['blocks_important_everywhere']}",
            html_table(["dataset"] + blocks, importance),
        ),
        (
            "One-pass proxies against the ablation importance",
            html_table(["proxy", "agreement"], proxies),
        ),
    ]


def write_html(path: str | Path, title: str, sections: Sequence[tuple[str, str]]) -> None:
    body = "".join(f"<h3>{html.escape(caption)}</h3>{table}" for caption, table in sections)
    text = (
        "<!DOCTYPE html><html><head><meta "
        f"charset='utf-8'><title>{html.escape(title)}</title><style>{STYLE}</style></head><body><h2>{html.escape(title)}</h2>{body}</body></html>\n"
    )
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text)
    tmp.replace(path)
