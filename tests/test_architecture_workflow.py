"""End to end on every supported architecture: the workflow's block importance on its tiny checkpoint.

Each checkpoint comes from ``tiny_models`` (the architecture's own model, processor and
tokenizer classes, written by ``save_pretrained``; Qwen2-VL's M-RoPE decoder with
sliding-window layers, Gemma3's mixed sliding-window and global layers, ...); the workflow
runs its real ``encode`` in the evaluation jobs. Every stored answer must equal the adapter's
own greedy answer with that block skipped, computed here in-process, and each importance the
stores' accuracy difference.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from test_architectures import ARCHITECTURES, available
from vlmprune.data.prepare import load_prepared, select_samples
from vlmprune.data.registry import get_spec
from vlmprune.engine.batching import BatchSizer
from vlmprune.engine.evaluate import predict_per_variant
from vlmprune.engine.store import read_store
from vlmprune.models.loading import load_adapter
from workflow_helpers import snakemake, write_config

pytestmark = pytest.mark.e2e

SAMPLES = 4
BLOCKS = 4


@pytest.fixture(scope="module", params=[available(a) for a in ARCHITECTURES])
def architecture(request) -> str:
    return request.param


@pytest.fixture(scope="module")
def run(architecture, tmp_path_factory, tiny_checkpoint, seed_prepared) -> tuple[Path, Path]:
    model = tiny_checkpoint(architecture)
    workdir = tmp_path_factory.mktemp(f"{architecture}-workflow")
    seed_prepared(workdir, "easy_vqa", "val")
    adapter = "generic" if ARCHITECTURES[architecture][0] == "generic" else "auto"
    write_config(
        workdir,
        {
            "model": {"path": str(model), "adapter": adapter, "device": "cpu", "dtype": "float32"},
            "datasets": {"easy_vqa": {"splits": ["val"]}},
            "evaluation": {
                "num_samples": SAMPLES,
                "batch_size": SAMPLES,
                "chunk_size": SAMPLES,
                "analysis_split": "val",
            },
        },
    )
    snakemake(workdir, "--cores", "1", "results/importance/easy_vqa.json")
    return workdir, model


def test_block_importance_through_the_workflow(architecture, run):
    workdir, model = run
    evals = workdir / "results" / "evals" / "easy_vqa" / "val"
    importance = json.loads((workdir / "results" / "importance" / "easy_vqa.json").read_text())
    assert list(importance) == [str(i) for i in range(BLOCKS)]
    full = read_store(evals / "full.h5")
    stores = {(): full, **{(i,): read_store(evals / f"drop-{i}.h5") for i in range(BLOCKS)}}
    for (block,), store in list(stores.items())[1:]:
        assert store.sample_ids == full.sample_ids and store.attrs["blocks_removed"] == [block]
        assert importance[str(block)] == pytest.approx(
            full.scores.mean() - store.scores.mean(), abs=1e-12
        )

    records, _ = select_samples(
        load_prepared(workdir / "data" / "prepared" / "easy_vqa" / "val", "easy_vqa"), SAMPLES, 0
    )
    name = ARCHITECTURES[architecture][0]
    adapter = load_adapter(
        model, adapter="generic" if name == "generic" else "auto", device="cpu", dtype="float32"
    )
    assert adapter.name == name
    expected = predict_per_variant(
        adapter,
        [records[i] for i in range(SAMPLES)],
        list(stores),
        get_spec("easy_vqa").max_new_tokens,
        BatchSizer(SAMPLES, BLOCKS),
    )
    assert {v: store.predictions for v, store in stores.items()} == expected
    assert len({tuple(answers) for answers in expected.values()}) > 1
