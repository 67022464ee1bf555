"""Latency measurement on the physically deleted model, the trade-off (Pareto frontier, budget lookup),
the model card, and the export/latency/tradeoff rules end to end (the shared run)."""

from __future__ import annotations

import json

import pytest

from vlmprune.analysis.tradeoff.pareto import (
    most_accurate_within,
    pareto_front,
    tradeoff,
    tradeoff_variants,
)
from vlmprune.data.registry import load_split
from vlmprune.export.card import model_card
from vlmprune.export.latency import latency_report, spread
from vlmprune.models.llava import LlavaAdapter
from vlmprune.models.loading import load_adapter
from vlmprune.models.molmo.adapter import MolmoNativeAdapter


def entry(blocks, accuracy, ci=(0.0, 0.1)):
    return {
        "blocks": list(blocks),
        "variant": "drop-" + "-".join(map(str, blocks)),
        "accuracy": accuracy,
        "drop": 0.8 - accuracy,
        "ci_low": ci[0],
        "ci_high": ci[1],
    }


BEAM = {
    "model": "m",
    "dataset": "d",
    "split": "train",
    "metric": "vqa",
    "n": 10,
    "num_blocks": 4,
    "baseline_accuracy": 0.8,
    "budgets": [
        {"removed": 1, "recommended": entry([2], 0.78), "greedy": entry([2], 0.78)},
        {"removed": 2, "recommended": entry([1, 2], 0.7), "greedy": entry([2, 3], 0.5)},
    ],
}


def latency_file(times: dict[str, float]) -> dict:
    def measured(t):
        one = {k: spread([t, t]) for k in ("prefill_s", "decode_per_token_s", "generate_s")}
        one["throughput_tokens_per_s"] = spread([8 / t, 8 / t])
        return {
            "batches": {
                "1": {**one, "peak_memory_bytes": None},
                "4": {**one, "peak_memory_bytes": None},
            }
        }

    return {
        "device": "cpu",
        "new_tokens": 8,
        "variants": {v: measured(t) for v, t in times.items()},
    }


def test_tradeoff_frontier_and_lookup():
    assert list(tradeoff_variants(BEAM)) == ["full", "drop-2", "drop-1-2", "drop-2-3"]
    # drop-2-3 is slower than drop-1-2 and less accurate: dominated
    result = tradeoff(
        BEAM, latency_file({"full": 1.0, "drop-2": 0.8, "drop-1-2": 0.6, "drop-2-3": 0.65})
    )
    assert result["pareto_front"] == ["drop-1-2", "drop-2", "full"]
    points = {p["variant"]: p for p in result["points"]}
    assert (
        points["drop-2"]["chosen_by"] == ["recommended", "greedy"]
        and not points["drop-2-3"]["pareto"]
    )
    assert points["drop-1-2"]["accuracy_low"] == pytest.approx(0.7) and points["drop-1-2"][
        "accuracy_high"
    ] == pytest.approx(0.8)
    assert [b["recommended"] for b in result["budgets"]] == ["full", "drop-2", "drop-1-2"]
    table = result["lookup"]
    assert most_accurate_within(table, 0.5) is None
    assert most_accurate_within(table, 0.62)["variant"] == "drop-1-2"
    assert most_accurate_within(table, 0.9)["variant"] == "drop-2"
    assert most_accurate_within(table, 5.0)["variant"] == "full"
    with pytest.raises(ValueError, match="no measurement of \\['drop-2-3'\\]"):
        tradeoff(BEAM, latency_file({"full": 1.0, "drop-2": 0.8, "drop-1-2": 0.6}))


def test_equal_points_keep_one_on_the_front():
    points = [
        {"variant": v, "latency_s": t, "accuracy": a, "removed": r, "blocks": [r]}
        for v, t, a, r in [("a", 1.0, 0.5, 1), ("b", 1.0, 0.5, 2), ("c", 0.5, 0.5, 3)]
    ]
    assert pareto_front(points) == ["c"]


def test_model_card_names_blocks_accuracy_and_speedup():
    latency = latency_file({"full": 1.0, "drop-1-2": 0.5})
    card = model_card(
        source="data/models/demo-llava",
        variant="drop-1-2",
        removed=[1, 2],
        component="language",
        num_blocks=8,
        accuracy=[
            {
                "dataset": "easy_vqa",
                "split": "train",
                "metric": "vqa",
                "n": 10,
                "accuracy": 0.7,
                "ci_low": 0.6,
                "ci_high": 0.8,
                "confidence": 0.95,
                "baseline_accuracy": 0.8,
            }
        ],
        latency={"easy_vqa": latency},
        loading=LlavaAdapter.loading_instructions,
    )
    assert (
        "blocks 1, 2 were deleted" in card
        and "data/models/demo-llava" in card
        and "6 remain" in card
    )
    assert 'AutoModelForImageTextToText.from_pretrained("drop-1-2")' in card
    assert (
        "| easy_vqa | train | vqa | 10 | 0.7000 | [0.6000, 0.8000] (95% bootstrap) | 0.8000 |"
        in card
    )
    assert "| easy_vqa | cpu | 1 | 2.00x | 2.00x | 2.00x |" in card
    unmeasured = model_card(
        source="m",
        variant="drop-3",
        removed=[3],
        component="language",
        num_blocks=8,
        accuracy=[],
        latency={"easy_vqa": latency},
        loading=MolmoNativeAdapter.loading_instructions,
    )
    assert "Not measured" in unmeasured and "Not evaluated" in unmeasured
    assert 'load_adapter("drop-3", device="cpu")' in unmeasured and "AutoModel" not in unmeasured


def test_latency_is_measured_on_the_deleted_model(tiny_llava):
    adapter = load_adapter(tiny_llava, device="cpu", dtype="float32")
    data = load_split("easy_vqa", "val")
    records = [data[i] for i in range(3)]
    seen = []
    generate = adapter.model.generate

    def spy(**kwargs):
        seen.append(len(adapter.blocks))
        return generate(**kwargs)

    adapter.model.generate = spy
    settings = {"batch_sizes": [1, 3], "new_tokens": 3, "warmup": 1, "repeats": 2}
    report = latency_report(adapter, records, {"full": [], "drop-0-2": [0, 2]}, settings)
    assert (
        report["batch_sizes"] == [1, 3]
        and report["repeats"] == 2
        and report["device"].startswith("cpu")
    )
    # per variant and batch: 1 warm-up + 2 x (prefill, whole); the deleted model has 2 blocks
    assert seen == [4] * 10 + [2] * 10 and len(adapter.blocks) == 4
    measured = report["variants"]["drop-0-2"]["batches"]["3"]
    assert measured["batch_size"] == 3 and measured["peak_memory_bytes"] is None
    for key in ("prefill_s", "decode_per_token_s", "generate_s", "throughput_tokens_per_s"):
        s = measured[key]
        assert len(s["values"]) == 2 and s["min"] <= s["q25"] <= s["median"] <= s["q75"] <= s["max"]
    assert measured["prefill_s"]["median"] > 0 and measured["throughput_tokens_per_s"]["median"] > 0
    assert report["variants"]["drop-0-2"]["num_blocks"] == 2


@pytest.mark.e2e
def test_export_latency_and_tradeoff_rules(workflow_run):
    """Rules latency, tradeoff and export in the shared run (beam step 1 only, latency batch 2)."""
    run = workflow_run
    result = json.loads((run / "results/tradeoff/easy_vqa.json").read_text())
    assert [b["removed"] for b in result["budgets"]] == [0, 1] and result["lookup"]
    assert (run / "results/tradeoff/easy_vqa.png").stat().st_size > 0
    latency = json.loads((run / "results/latency/easy_vqa.json").read_text())
    assert set(latency["variants"]) == {p["variant"] for p in result["points"]} and latency[
        "batch_sizes"
    ] == [1, 2]
    pruned = run / "results/pruned/drop-1-3"
    assert json.loads((pruned / "config.json").read_text())["text_config"]["num_hidden_layers"] == 2
    card = (pruned / "README.md").read_text()
    assert "blocks 1, 3 were deleted" in card and "| easy_vqa | train |" in card
    assert (run / "results/evals/easy_vqa/train/drop-1-3.h5").is_file()
