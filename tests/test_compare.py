"""The comparison stage: proxies recorded by hooks, train-vs-validation files, plots, the workflow."""

from __future__ import annotations

import json
import re
from pathlib import Path

import matplotlib.image
import numpy as np
import pytest
import torch
from scipy import stats
from scipy.spatial import distance

from vlmprune.analysis.compare.datasets import compare_datasets
from vlmprune.analysis.compare.files import (
    load_split,
    split_paths,
    write_dataset_comparison,
    write_summary,
)
from vlmprune.analysis.compare.splits import compare_splits
from vlmprune.analysis.importance.files import write_importance
from vlmprune.cli import main as vlmprune
from vlmprune.engine.proxies import proxy_summary, record_proxies
from vlmprune.engine.store import StoreWriter
from vlmprune.result_files import read_json, write_json
from workflow_helpers import RUN_DATASETS

PROFILE = np.array([0.6, 0.05, 0.1, 0.0, 0.3, 0.15])  # chance that removing block i breaks a sample


# ---------------------------------------------------------------- proxies


@pytest.fixture(scope="module")
def tiny_llama():
    from transformers import LlamaConfig, LlamaForCausalLM

    torch.manual_seed(0)
    config = LlamaConfig(
        vocab_size=40,
        hidden_size=16,
        intermediate_size=32,
        num_hidden_layers=3,
        num_attention_heads=2,
        num_key_value_heads=2,
        pad_token_id=0,
        bos_token_id=1,
        eos_token_id=2,
    )
    return LlamaForCausalLM(config).eval()


def _expected_proxies(model, sequences):
    """Per block, mean cosine and mean angular distance over every token of the sequences, each run
    alone, from scipy's cosine distance (the last block is left out: its output in ``hidden_states``
    comes after the final norm)."""
    cosines = [[] for _ in model.model.layers[:-1]]
    for ids in sequences:
        with torch.no_grad():
            states = model(torch.tensor([ids]), output_hidden_states=True).hidden_states
        for i, found in enumerate(cosines):
            found += [
                1 - distance.cosine(a, b)
                for a, b in zip(states[i][0].numpy(), states[i + 1][0].numpy())
            ]
    return [(np.mean(c), np.mean(np.arccos(np.clip(c, -1, 1)) / np.pi)) for c in cosines]


def test_proxies_ignore_padding_and_decode_steps(tiny_llama):
    sequences = [[1, 5, 9, 7, 11, 3], [1, 8, 4]]
    expected = _expected_proxies(tiny_llama, sequences)
    ids = torch.tensor(
        [[1, 5, 9, 7, 11, 3], [1, 8, 4, 0, 0, 0]]
    )  # right padding: valid tokens see no padding
    mask = torch.tensor([[1, 1, 1, 1, 1, 1], [1, 1, 1, 0, 0, 0]])
    with record_proxies(tiny_llama, tiny_llama.model.layers) as recorder, torch.no_grad():
        tiny_llama(input_ids=ids, attention_mask=mask)
    summary = proxy_summary([recorder.totals()])
    assert summary["tokens"] == 9 and summary["sequences"] == 2
    for i, (cosine, angular) in enumerate(expected):
        assert summary["mean_cosine"][str(i)] == pytest.approx(cosine, abs=1e-5)
        assert summary["block_influence"][str(i)] == pytest.approx(1 - cosine, abs=1e-5)
        assert summary["angular_distance"][str(i)] == pytest.approx(angular, abs=1e-4)
    # generation adds decode steps (one token each): they must not change the proxies of the prompt
    prompt = torch.tensor([[1, 5, 9, 7], [1, 8, 4, 6]])
    hooks = (len(tiny_llama._forward_pre_hooks), len(tiny_llama.model.layers[0]._forward_hooks))
    with record_proxies(tiny_llama, tiny_llama.model.layers) as plain, torch.no_grad():
        tiny_llama(input_ids=prompt, attention_mask=torch.ones_like(prompt))
    with record_proxies(tiny_llama, tiny_llama.model.layers) as generated:
        tiny_llama.generate(
            input_ids=prompt,
            attention_mask=torch.ones_like(prompt),
            max_new_tokens=4,
            do_sample=False,
        )
    assert generated.tokens == plain.tokens == [8, 8, 8]
    assert generated.cosine == pytest.approx(plain.cosine, abs=1e-4)
    assert (
        len(tiny_llama._forward_pre_hooks),
        len(tiny_llama.model.layers[0]._forward_hooks),
    ) == hooks  # ours removed


def test_proxy_summary_merges_ranks():
    parts = [
        {"cosine": [0.9, 1.6], "angular": [0.1, 0.2], "tokens": [1, 2], "sequences": 1},
        {"cosine": [0.7, 0.8], "angular": [0.3, 0.1], "tokens": [1, 2], "sequences": 1},
    ]
    summary = proxy_summary(parts)
    assert summary["mean_cosine"] == pytest.approx({"0": 0.8, "1": 0.6})
    assert summary["block_influence"] == pytest.approx({"0": 0.2, "1": 0.4})
    assert summary["angular_distance"] == pytest.approx({"0": 0.2, "1": 0.075})
    assert summary["sequences"] == 2 and summary["tokens"] == 2


# ---------------------------------------------------------------- synthetic results


def write_split(
    results: Path, dataset: str, split: str, profile: np.ndarray, n: int, seed: int
) -> None:
    """Stores, importance files, baseline summary and proxies of one split, as the workflow writes them."""
    rng = np.random.default_rng(seed)
    ids = [f"{split}-{i}" for i in range(n)]
    full = (rng.random(n) < 0.9).astype(float)
    stores = results / "evals" / dataset / split
    attrs = {"model": "synthetic", "dataset": dataset, "split": split, "metric": "exact_match"}

    def store(name, scores):
        writer = StoreWriter(stores / f"{name}.h5", "test", attrs)
        writer.append(ids, ["x"] * n, list(scores))
        writer.finish({})

    store("full", full)
    for block, p in enumerate(profile):
        store(f"drop-{block}", full * (rng.random(n) >= p))
    importance = results / "importance" / dataset
    write_importance(
        stores / "full.h5",
        [stores / f"drop-{b}.h5" for b in range(len(profile))],
        importance / f"{split}.json",
        importance / f"{split}.details.json",
        confidence=0.95,
        bootstrap_resamples=100,
        seed=0,
    )
    cosine = 1 - profile - rng.uniform(0, 0.05, len(profile))
    totals = {
        "cosine": list(cosine * 10),
        "angular": list(np.arccos(cosine) / np.pi * 10),
        "tokens": [10] * len(profile),
        "sequences": n,
    }
    write_json(results / "baseline" / dataset / f"{split}.json", {**attrs, "n": n})
    write_json(
        results / "baseline" / dataset / f"{split}.proxies.json",
        {**attrs, **proxy_summary([totals])},
    )


@pytest.fixture(scope="module")
def results(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("compare") / "results"
    write_split(root, "easy_vqa", "train", PROFILE, 200, 1)
    write_split(root, "easy_vqa", "val", PROFILE, 120, 2)
    write_split(root, "easy_vqa_yesno", "train", PROFILE, 150, 3)
    write_split(
        root, "easy_vqa_yesno", "val", PROFILE[::-1], 100, 4
    )  # another ranking on validation
    return root


def _compare(results: Path, dataset: str) -> dict:
    train, val = (load_split(*split_paths(results, dataset, s)) for s in ("train", "val"))
    return compare_splits(
        dataset,
        train,
        val,
        threshold=0.9,
        k_least=2,
        confidence=0.95,
        bootstrap_resamples=200,
        seed=0,
    )


def test_comparison_statistics_and_verdicts(results):
    same, other = _compare(results, "easy_vqa"), _compare(results, "easy_vqa_yesno")
    train = [same["importance"]["train"][str(b)] for b in same["blocks"]]
    val = [same["importance"]["val"][str(b)] for b in same["blocks"]]
    assert same["spearman"]["rho"] == pytest.approx(stats.spearmanr(train, val).statistic)
    assert same["spearman"]["p_value"] == pytest.approx(stats.spearmanr(train, val).pvalue)
    assert same["kendall"]["tau"] == pytest.approx(stats.kendalltau(train, val).statistic)
    assert same["pearson"]["r"] == pytest.approx(stats.pearsonr(train, val).statistic)
    assert same["spearman"]["ci_low"] <= same["spearman"]["rho"] <= same["spearman"]["ci_high"]
    assert (
        same["verdict"] == "consistent"
        and same["k_least"]["train"] == [1, 3]
        and same["k_least"]["overlap"] == 1.0
    )
    assert other["verdict"] == "inconsistent" and other["spearman"]["rho"] < 0
    agreement = same["proxies"]["train"]["block_influence"]
    bi = [agreement["values"][str(b)] for b in same["blocks"]]
    assert agreement["spearman_rho"] == pytest.approx(stats.spearmanr(bi, train).statistic)
    assert agreement["spearman_rho"] > 0.8  # the synthetic proxy follows the profile
    json.dumps(same, allow_nan=False)  # no NaN in the files


def test_summary_across_datasets(results):
    comparisons = {d: _compare(results, d) for d in ("easy_vqa", "easy_vqa_yesno")}
    importances = {
        d: read_json(results / "importance" / d / "train.details.json") for d in comparisons
    }
    summary = compare_datasets(comparisons, importances, threshold=0.9, analysis_split="train")
    assert {d: row["verdict"] for d, row in summary["datasets"].items()} == {
        "easy_vqa": "consistent",
        "easy_vqa_yesno": "inconsistent",
    }
    rho = summary["dataset_correlation"]["spearman"][0][1]
    a, b = (
        [importances[d]["blocks"][str(i)]["importance"] for i in range(len(PROFILE))]
        for d in importances
    )
    assert rho == pytest.approx(stats.spearmanr(a, b).statistic)
    assert (
        0 in summary["blocks_important_everywhere"]
        and 3 not in summary["blocks_important_everywhere"]
    )
    assert set(summary["proxies"]["block_influence"]["spearman_rho"]) == {
        "easy_vqa/train",
        "easy_vqa/val",
        "easy_vqa_yesno/train",
        "easy_vqa_yesno/val",
    }
    only_one = compare_datasets(
        {}, {"easy_vqa": importances["easy_vqa"]}, threshold=0.9, analysis_split="train"
    )
    assert only_one["datasets"]["easy_vqa"]["verdict"].startswith("not compared")


def test_plots_and_tables_are_written(results, tmp_path):
    comparisons = {d: _compare(results, d) for d in ("easy_vqa", "easy_vqa_yesno")}
    importances = {
        d: read_json(results / "importance" / d / "train.details.json") for d in comparisons
    }
    write_dataset_comparison(
        comparisons["easy_vqa"],
        tmp_path / "easy_vqa.json",
        tmp_path / "easy_vqa.png",
        tmp_path / "easy_vqa.html",
    )
    write_summary(
        compare_datasets(comparisons, importances, threshold=0.9, analysis_split="train"),
        tmp_path / "all.json",
        tmp_path / "all.png",
        tmp_path / "all.html",
    )
    for name in ("easy_vqa", "all"):
        image = matplotlib.image.imread(tmp_path / f"{name}.png")
        assert image.shape[0] > 400 and image.shape[1] > 1000
        assert image[..., :3].std() > 0.05  # not a blank canvas
        html = (tmp_path / f"{name}.html").read_text()
        assert html.count("<tr>") >= 3 and "consistent" in html
    assert not list(tmp_path.glob("*.tmp*"))


def test_command_line_prints_the_comparison(results, capsys):
    assert (
        vlmprune(
            ["compare", "--datasets", "all", "--results", str(results)]
            + ["--bootstrap-resamples", "100"]
        )
        == 0
    )
    out = capsys.readouterr().out
    assert re.search(r"easy_vqa: .*\n.*Spearman rho 0\.\d+.*\n.*\n  CONSISTENT", out)
    assert (
        "easy_vqa_yesno" in out and "INCONSISTENT" in out and "block_influence: Spearman rho" in out
    )
    assert vlmprune(["compare", "--datasets", "all", "--results", str(results / "nothing")]) == 1
    assert "no dataset under" in capsys.readouterr().err


# ---------------------------------------------------------------- workflow


@pytest.mark.e2e
def test_the_workflow_writes_each_comparison_and_the_summary(workflow_run):
    """Rules compare and compare_all in the shared run: a figure per dataset, every dataset in
    the summary. (That adding a dataset reruns only its jobs and compare_all:
    test_incremental.test_adding_a_dataset_plans_only_its_own_jobs.)"""
    summary = read_json(workflow_run / "results" / "compare" / "all.json")
    assert (
        list(summary["datasets"]) == list(RUN_DATASETS)
        and (workflow_run / "results" / "compare" / "easy_vqa.png").stat().st_size > 10_000
    )
