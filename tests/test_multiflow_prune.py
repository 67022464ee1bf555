"""MULTIFLOW steps 2-3: calibration statistics, scores, exact masks, in-place masking, evaluation and export."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import torch
from torch import nn

from vlmprune.data.registry import load_split
from vlmprune.engine.store import read_store
from vlmprune.engine.variants import parse_variant, parse_width_variant, width_variant_id
from vlmprune.models.loading import load_adapter
from vlmprune.models.masking import iter_masks, masked, pack, save_masks, unpack
from vlmprune.multiflow.calibration import StatsCollector, collect_statistics
from vlmprune.multiflow.lowest_k import lowest_k, per_row
from vlmprune.multiflow.masks import build_masks
from vlmprune.multiflow.scores import multiflow_score, wanda_score
from workflow_helpers import rule_settings


@pytest.fixture(scope="module")
def records():
    dataset = load_split("easy_vqa", "val").select(range(6))
    return [dataset[i] for i in range(len(dataset))]


@pytest.fixture(scope="module")
def prepared(tmp_path_factory):
    """Twelve prepared easy-VQA validation records, as rule prepare_dataset writes them."""
    path = tmp_path_factory.mktemp("prepared") / "easy_vqa" / "val"
    load_split("easy_vqa", "val").select(range(12)).save_to_disk(str(path))
    return path


def test_lowest_k_prunes_exactly_k_with_ties_by_index():
    g = torch.Generator().manual_seed(0)
    score = torch.randint(0, 4, (7, 9), generator=g).float()  # 4 distinct values: ties at every cut
    for k in range(0, score.numel() + 1, 5):
        mask = lowest_k(score, k)
        assert int(mask.sum()) == k
        expected = torch.zeros(score.numel(), dtype=torch.bool)
        expected[torch.sort(score.reshape(-1), stable=True).indices[:k]] = True
        assert torch.equal(mask.reshape(-1), expected)
        assert torch.equal(mask, lowest_k(score.clone(), k))


def test_each_layer_pruned_to_its_budget_exactly():
    g = torch.Generator().manual_seed(1)
    weights = {
        "a": (torch.randint(-2, 3, (6, 10), generator=g) * 0.5),
        "b": torch.randn(4, 6, generator=g),
    }
    from vlmprune.multiflow.calibration import FeatureStats

    stats = {
        n: FeatureStats(
            "fusion", torch.rand(w.shape[1], dtype=torch.float64, generator=g) + 0.1, 5, 2
        )
        for n, w in weights.items()
    }
    budgets = {"a": 37, "b": 5}
    for method in ("multiflow", "magnitude"):
        packed, shapes, layers = build_masks(weights, stats, method, 0.5, budgets)
        for name in weights:
            assert (
                int(unpack(packed[name], shapes[name]).sum())
                == budgets[name]
                == layers[name]["pruned"]
            )


def test_wanda_per_row_sparsity_is_exact():
    g = torch.Generator().manual_seed(2)
    score = torch.randint(
        0, 3, (2050, 13), generator=g
    ).float()  # more rows than one sort block, many ties
    for s in (0.3, 0.5, 0.77):
        mask = per_row(score, s)
        assert (mask.sum(dim=1) == int(13 * s)).all()
        kept = score.masked_fill(mask, float("inf")).min(dim=1).values
        cut = score.masked_fill(~mask, float("-inf")).max(dim=1).values
        assert (cut <= kept).all()  # every pruned score is at most every kept one in its row


def test_scores_of_a_hand_built_two_layer_model_equal_hand_computed_values():
    model = nn.Sequential(nn.Linear(3, 2, bias=False), nn.Linear(2, 2, bias=False))
    with torch.no_grad():
        model[0].weight.copy_(torch.tensor([[1.0, -2.0, 0.0], [3.0, 1.0, -1.0]]))
        model[1].weight.copy_(torch.tensor([[2.0, -1.0], [0.5, 4.0]]))
    x = torch.tensor([[[1.0, 2.0, 2.0], [1.0, 0.0, 2.0]]])  # one sequence of two tokens
    collector = StatsCollector(model, {"0": "vision", "1": "vision"})
    with collector.hooked(), torch.no_grad():
        model(x)
    # layer 0: ||X_j||^2 / n = [1+1, 4+0, 4+4] / 1 sequence
    assert collector.stats["0"].norm_sq.tolist() == [2.0, 4.0, 8.0]
    # layer 1 sees W0 x: tokens [-3, 3] and [1, 1] -> [9+1, 9+1]
    assert collector.stats["1"].norm_sq.tolist() == [10.0, 10.0]
    r2 = math.sqrt(2)
    # layer 0, a = [r2, 2, 2 r2]; |W| a = [[r2, 4, 0], [3 r2, 2, 2 r2]]
    # output importance = row means [(r2 + 4)/3, (5 r2 + 2)/3]; input importance = column means [2 r2, 3, r2]
    expected = torch.tensor(
        [
            [(r2 + 4) / 3 * 2 * r2 * 1, (r2 + 4) / 3 * 3 * 2, 0.0],
            [(5 * r2 + 2) / 3 * 2 * r2 * 3, (5 * r2 + 2) / 3 * 3 * 1, (5 * r2 + 2) / 3 * r2 * 1],
        ]
    )
    assert torch.allclose(
        multiflow_score(model[0].weight, collector.stats["0"].norm_sq), expected, rtol=1e-6
    )
    assert math.isclose(expected[0, 0].item(), (4 + 8 * r2) / 3, rel_tol=1e-6)
    # layer 1, a = [r10, r10]; |W| a = r10 [[2, 1], [0.5, 4]]; rows [1.5, 2.25] r10, columns [1.25, 2.5] r10
    r10 = math.sqrt(10)
    expected1 = torch.tensor(
        [[1.5 * 1.25 * 10 * 2, 1.5 * 2.5 * 10 * 1], [2.25 * 1.25 * 10 * 0.5, 2.25 * 2.5 * 10 * 4]]
    )
    assert torch.allclose(
        multiflow_score(model[1].weight, collector.stats["1"].norm_sq), expected1, rtol=1e-6
    )
    assert torch.allclose(
        wanda_score(model[1].weight, collector.stats["1"].norm_sq),
        r10 * torch.tensor([[2.0, 1.0], [0.5, 4.0]]),
    )


def test_running_statistics_equal_stacked_activations(tiny_llava, records):
    adapter = load_adapter(tiny_llava, device="cpu", dtype="float32")
    names = {
        "model.language_model.layers.1.mlp.down_proj": "fusion",
        "model.multi_modal_projector.linear_1": "fusion",
        "model.vision_tower.encoder.layers.0.mlp.fc1": "vision",
    }
    stacked: dict[str, list[torch.Tensor]] = {n: [] for n in names}
    sequences = {n: 0 for n in names}

    def keep(name):
        def hook(_module, args):
            x = args[0]
            sequences[name] += x.shape[0]
            if names[name] == "fusion" and x.shape[:2] == mask.shape:
                x = x[mask]  # the language model's tokens, padding left out
            stacked[name].append(x.reshape(-1, x.shape[-1]).clone())

        return hook

    handles = [adapter.model.get_submodule(n).register_forward_pre_hook(keep(n)) for n in names]
    with torch.inference_mode():
        for start in range(0, len(records), 4):
            inputs = adapter.encode(records[start : start + 4])
            mask = inputs["attention_mask"].bool()
            adapter.model(**inputs, use_cache=False)
    for handle in handles:
        handle.remove()
    assert not bool(mask.all()), "the batch should hold padding for the test to mean something"
    running = collect_statistics(adapter, records, names, batch_size=4).stats
    for name in names:
        X = torch.cat(stacked[name]).double()
        assert running[name].tokens == X.shape[0] and running[name].sequences == sequences[
            name
        ] == len(records)
        torch.testing.assert_close(
            running[name].norm_sq, X.square().sum(0) / len(records), rtol=1e-12, atol=0
        )


def test_mask_file_roundtrip_and_in_place_masking_restores_bit_for_bit(tiny_llava, tmp_path):
    adapter = load_adapter(tiny_llava, device="cpu", dtype="float32")
    before = {n: p.detach().clone() for n, p in adapter.model.named_parameters()}
    g = torch.Generator().manual_seed(3)
    names = [
        "model.language_model.layers.0.self_attn.q_proj",
        "model.vision_tower.encoder.layers.1.mlp.fc2",
    ]
    masks = {
        n: torch.rand(adapter.model.get_submodule(n).weight.shape, generator=g) < 0.4 for n in names
    }
    path = tmp_path / "masks.safetensors"
    save_masks(
        path, {n: pack(m) for n, m in masks.items()}, {n: tuple(m.shape) for n, m in masks.items()}
    )
    assert {n: m for n, m in iter_masks(path)}.keys() == masks.keys()
    assert all(torch.equal(m, masks[n]) for n, m in iter_masks(path))
    with masked(adapter.model, path) as zeroed:
        assert zeroed == sum(int(m.sum()) for m in masks.values())
        for n, m in masks.items():
            weight = adapter.model.get_submodule(n).weight
            assert (weight[m] == 0).all() and torch.equal(weight[~m], before[f"{n}.weight"][~m])
    for n, p in adapter.model.named_parameters():
        assert torch.equal(p.view(torch.int32), before[n].view(torch.int32)), n  # bit for bit


def test_width_variant_ids_parse_and_bad_targets_are_rejected():
    assert parse_width_variant("multiflow-0.5") == ("multiflow", 0.5)
    assert parse_variant("wanda-0.25") == ()
    assert width_variant_id("magnitude", 0.7) == "magnitude-0.7"
    assert parse_width_variant("drop-3") is None
    for bad in ("multiflow-0.50", "multiflow-1.0", "wanda-0", "multiflow-x"):
        with pytest.raises(ValueError):
            parse_variant(bad)
    for target in (0.0, 1.0, 1.5, -0.1):
        with pytest.raises(ValueError, match="strictly between 0 and 1"):
            width_variant_id("multiflow", target)


def test_cli_rejects_a_target_outside_0_1_and_clamps_samples_with_a_warning(
    tiny_llava, prepared, tmp_path, capsys, caplog
):
    from vlmprune.cli import main

    assert (
        main(
            [
                "multiflow",
                "prune",
                "--model-path",
                str(tiny_llava),
                "--data",
                str(prepared),
                "--target-sparsity",
                "1.0",
                "--output-dir",
                str(tmp_path),
            ]
        )
        == 1
    )
    assert "strictly between 0 and 1" in capsys.readouterr().err
    assert (
        main(
            [
                "multiflow",
                "prune",
                "--model-path",
                str(tiny_llava),
                "--data",
                str(tmp_path / "missing"),
                "--output-dir",
                str(tmp_path),
            ]
        )
        == 1
    )
    assert "prepare them first" in capsys.readouterr().err
    assert not list(tmp_path.iterdir())  # nothing half-written
    assert (
        main(
            [
                "multiflow",
                "prune",
                "--model-path",
                str(tiny_llava),
                "--data",
                str(prepared),
                "--samples",
                "50",
                "--method",
                "wanda",
                "--target-sparsity",
                "0.5",
                "--device",
                "cpu",
                "--output-dir",
                str(tmp_path),
            ]
        )
        == 0
    )
    assert "larger than the split (12 records); clamped to 12" in caplog.text
    summary = json.loads((tmp_path / "masks_wanda_0.5.json").read_text())
    assert summary["calibration"]["nsamples"] == 12
    assert summary["actual_sparsity"] == 0.5 and set(summary["modalities"]) == {"vision", "fusion"}
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "masks_wanda_0.5.json",
        "masks_wanda_0.5.safetensors",
    ]


def test_pruned_store_equals_the_exported_checkpoint_sample_by_sample(
    tiny_llava, prepared, tmp_path
):
    from transformers import LlavaForConditionalGeneration

    from vlmprune.cli import main
    from vlmprune.engine.run import run_evaluation
    from vlmprune.export.width_variant import export_pruned

    assert (
        main(
            [
                "multiflow",
                "prune",
                "--model-path",
                str(tiny_llava),
                "--data",
                str(prepared),
                "--samples",
                "8",
                "--device",
                "cpu",
                "--target-sparsity",
                "0.5",
                "--output-dir",
                str(tmp_path),
            ]
        )
        == 0
    )
    masks = tmp_path / "masks_multiflow_0.5.safetensors"
    summary = json.loads((tmp_path / "masks_multiflow_0.5.json").read_text())
    for name, row in summary["layers"].items():  # budgets from step 1, met exactly
        assert row["pruned"] == round(row["target_sparsity"] * row["params"])
    model, evaluation = rule_settings(
        {"path": str(tiny_llava)}, num_samples=12, batch_size=4, chunk_size=8
    )
    common = dict(
        data=prepared, dataset="easy_vqa", split="val", summary=None, evaluation=evaluation
    )
    run_evaluation(
        variants=["multiflow-0.5"],
        stores=[tmp_path / "pruned.h5"],
        model=model,
        masks=masks,
        **common,
    )
    exported = export_pruned(model, masks, tmp_path / "pruned" / "multiflow-0.5", summary)
    plain = LlavaForConditionalGeneration.from_pretrained(exported)
    assert sum(int((p == 0).sum()) for p in plain.parameters()) >= summary["pruned"]
    run_evaluation(
        variants=["full"],
        stores=[tmp_path / "export.h5"],
        model={**model, "path": str(exported)},
        **common,
    )
    pruned, export = read_store(tmp_path / "pruned.h5"), read_store(tmp_path / "export.h5")
    assert pruned.attrs["variant"] == "multiflow-0.5"
    assert pruned.sample_ids == export.sample_ids and len(pruned.sample_ids) == 12
    assert pruned.predictions == export.predictions
    np.testing.assert_array_equal(pruned.scores, export.scores)
    run_evaluation(variants=["full"], stores=[tmp_path / "full.h5"], model=model, **common)
    assert (
        read_store(tmp_path / "full.h5").predictions != pruned.predictions
    )  # the masks changed something
    with pytest.raises(ValueError, match="one per job"):
        run_evaluation(
            variants=["multiflow-0.5"], stores=[tmp_path / "x.h5"], model=model, **common
        )


def small_config(model, **multiflow):
    return {
        "model": {"path": str(model), "device": "cpu"},
        "datasets": {"easy_vqa": {"splits": ["val"]}},
        "evaluation": {"num_samples": 8, "batch_size": 4, "chunk_size": 4, "analysis_split": "val"},
        "multiflow": {
            "targets": [0.5],
            "methods": ["multiflow"],
            "calibration": {"nsamples": 8},
            **multiflow,
        },
    }


@pytest.mark.e2e
def test_bad_pruning_config_stops_the_workflow_before_any_job(tiny_llava, tmp_path):
    from workflow_helpers import snakemake, write_config

    cases = {
        "not_configured": (
            {"calibration": {"dataset": "vqa_v2"}},
            "multiflow.calibration.dataset 'vqa_v2' is not a configured dataset",
        ),
        "target": ({"evaluate_targets": [1.0]}, "evaluate_targets"),
    }
    for name, (multiflow, message) in cases.items():
        workdir = tmp_path / name
        write_config(workdir, small_config(tiny_llava, **multiflow))
        result = snakemake(workdir, "-n", "--cores", "1", check=False)
        assert result.returncode != 0
        assert message in result.stdout + result.stderr
        assert not (workdir / "results").exists()


@pytest.mark.e2e
def test_workflow_evaluates_pruned_variants_and_plots_accuracy_against_sparsity(workflow_run):
    """Steps 2-3 in the shared run: MULTIFLOW at 0.5 evaluated on easy_vqa's analysis split."""
    from workflow_helpers import RUN_SAMPLES

    run = workflow_run
    store = read_store(run / "results/evals/easy_vqa/train/multiflow-0.5.h5")
    assert store.attrs["variant"] == "multiflow-0.5" and len(store.sample_ids) == RUN_SAMPLES
    curves = json.loads((run / "results/sparsity/easy_vqa.json").read_text())
    (point,) = curves["methods"]["multiflow"]
    assert point["accuracy"] == store.accuracy and point["target_sparsity"] == 0.5
    assert (
        curves["baseline_accuracy"]
        == read_store(run / "results/evals/easy_vqa/train/full.h5").accuracy
    )
    summary = json.loads((run / "results/multiflow/masks_multiflow_0.5.json").read_text())
    budgets = json.loads((run / "results/multiflow/sparsity_distribution_0.5.json").read_text())
    assert (
        summary["modalities"]["fusion"]["pruned"]
        == budgets["modality_stats"]["fusion"]["pruned_params"]
    )
    assert (run / "results/sparsity/easy_vqa.png").stat().st_size > 0
