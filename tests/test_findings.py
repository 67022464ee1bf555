"""The report's findings restate the result files: the blocks that matter, beam against greedy."""

from __future__ import annotations

from vlmprune.analysis.findings import collect_findings, findings_sections

IMPORTANCE = {
    0: (0.88, 0.85, 0.91),
    1: (0.002, -0.004, 0.008),
    2: (0.0, 0.0, 0.0),
    3: (0.156, 0.12, 0.19),
}


def details(dataset: str) -> dict:
    return {
        "model": "data/models/demo-llava",
        "dataset": dataset,
        "split": "train",
        "metric": "exact_match",
        "n": 500,
        "baseline_accuracy": 0.884,
        "blocks": {
            str(b): {"accuracy": 0.884 - i, "importance": i, "ci_low": lo, "ci_high": hi}
            for b, (i, lo, hi) in IMPORTANCE.items()
        },
    }


def entry(blocks: list[int], accuracy: float) -> dict:
    return {
        "blocks": blocks,
        "variant": "drop-" + "-".join(map(str, blocks)),
        "accuracy": accuracy,
        "drop": 0.884 - accuracy,
        "ci_low": 0.01,
        "ci_high": 0.02,
    }


BEAM = {
    "budgets": [
        {
            "removed": 1,
            "recommended": entry([2], 0.884),
            "greedy": entry([2], 0.884),
            "beam_minus_greedy": 0.0,
        },
        {
            "removed": 2,
            "recommended": entry([1, 2], 0.88),
            "greedy": entry([2, 1], 0.86),
            "beam_minus_greedy": 0.02,
            "validation": {"recommended": entry([1, 2], 0.87), "greedy": entry([2, 1], 0.85)},
        },
    ]
}
SUMMARY = {
    "threshold": 0.9,
    "analysis_split": "train",
    "datasets": {
        "easy_vqa": {"verdict": "inconsistent", "spearman_rho": 0.875, "spearman_ci": [0.6, 1.0]},
        "easy_vqa_color": {"verdict": "not compared (one split configured)"},
    },
    "proxies": {"block_influence": {"summary": "above 0.9 on 1 of 2 dataset splits"}},
}


def test_findings_read_the_blocks_that_matter_and_the_beam_from_the_results():
    findings = collect_findings(
        {name: details(name) for name in ("easy_vqa", "easy_vqa_shape", "easy_vqa_color")},
        {name: BEAM for name in ("easy_vqa", "easy_vqa_shape", "easy_vqa_color")},
        SUMMARY,
    )
    assert findings["model"] == "data/models/demo-llava"
    easy = findings["datasets"]["easy_vqa"]
    assert easy["baseline_accuracy"] == 0.884 and easy["n"] == 500
    # only intervals above zero matter, the most important first
    assert [m["block"] for m in easy["blocks_that_matter"]] == [0, 3]
    assert easy["largest_other_importance"] == 0.002
    two = easy["beam_against_greedy"][1]
    assert two["beam"]["blocks"] == [1, 2] and two["greedy"]["accuracy"] == 0.86
    assert two["validation"]["beam"]["accuracy"] == 0.87
    assert easy["beam_against_greedy"][0]["validation"] == {"beam": None, "greedy": None}
    assert easy["train_vs_val"] == {
        "spearman_rho": 0.875,
        "ci": [0.6, 1.0],
        "verdict": "inconsistent",
    }
    assert findings["datasets"]["easy_vqa_shape"]["train_vs_val"] is None  # not in the summary
    assert findings["datasets"]["easy_vqa_color"]["train_vs_val"] == {
        "spearman_rho": None,
        "ci": [None, None],
        "verdict": "not compared (one split configured)",
    }

    html = "".join(caption + table for caption, table in findings_sections(findings))
    assert "0: 0.880 [0.850, 0.910], 3: 0.156 [0.120, 0.190]" in html
    assert "0.875 [0.600, 1.000]" in html and "not compared (one split configured)" in html
    assert "{1, 2}" in html and "+0.020" in html
    assert "above 0.9 on 1 of 2 dataset splits" in html
