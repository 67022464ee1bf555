"""The native Molmo v1 (``vlmprune.models.molmo.modeling``) against the published code's recorded
outputs.

The weights are the ones the published code ran with (``molmo_reference``); the pixels are the
seeded ones of the fixture, so this checks the model apart from the image preprocessing.
"""

from __future__ import annotations

import copy
import json

import pytest
import torch

from molmo_reference import DATA, load_shapes, molmo_weights, synthetic_images, tiny_config
from vlmprune.models.molmo.modeling import MolmoNativeConfig, MolmoNativeForCausalLM
from vlmprune.models.molmo.processing import collate
from vlmprune.models.skipping import skip_blocks


@pytest.fixture(scope="module", params=["7bd", "7bo", "molmoe"])
def arch(request) -> str:
    return request.param


@pytest.fixture(scope="module")
def model(arch):
    native = MolmoNativeForCausalLM(MolmoNativeConfig.from_dict(tiny_config(arch))).eval()
    native.load_state_dict(
        molmo_weights(load_shapes(arch)), strict=True
    )  # the published names, as they are
    return native


@pytest.fixture(scope="module")
def reference(arch):
    ref = torch.load(DATA / f"molmo_{arch}" / "reference.pt", weights_only=True)
    for n, s in enumerate(ref["samples"]):
        s["images"] = synthetic_images(tuple(s["images_shape"]), seed=n)
    return ref


def single(sample):
    return {
        "input_ids": sample["input_ids"][None],
        "images": sample["images"][None],
        "image_masks": sample["image_masks"][None],
        "image_input_idx": sample["image_input_idx"][None],
    }


def greedy(model, inputs, new_tokens):
    out = model.generate(
        **inputs,
        max_new_tokens=new_tokens,
        min_new_tokens=new_tokens,
        do_sample=False,
        eos_token_id=None,
        pad_token_id=0,
        output_logits=True,
        return_dict_in_generate=True,
    )
    return out.sequences[:, inputs["input_ids"].shape[1] :], torch.stack(out.logits, dim=1)


@torch.inference_mode()
def test_logits_and_greedy_tokens_equal_the_published_code(model, reference):
    for sample in reference["samples"]:
        logits = model(**single(sample)).logits[0]
        torch.testing.assert_close(logits[-1], sample["last_logits"], rtol=1e-5, atol=1e-5)
        torch.testing.assert_close(
            logits[:, reference["tracked_ids"]], sample["tracked_logits"], rtol=1e-5, atol=1e-5
        )
        tokens, _ = greedy(
            model, single(sample), reference["max_new_tokens"]
        )  # transformers' generate, DynamicCache
        assert tokens[0].tolist() == sample["greedy"].tolist()


@torch.inference_mode()
def test_logits_and_greedy_tokens_equal_allenai_molmo_s_model_code(model, reference, arch):
    """``olmo/model.py`` of ``allenai/molmo``, the original of all three, on the same weights and
    inputs.

    MolmoE's mixture-of-experts FFN ran there through a CPU stand-in for megablocks' dMoE (whose
    kernels need CUDA); ``tests/data/molmo_recording/README.md`` says how it was recorded.
    """
    original = torch.load(DATA / f"molmo_{arch}" / "reference_original.pt", weights_only=True)
    for sample, expected in zip(reference["samples"], original["samples"], strict=True):
        logits = model(**single(sample)).logits[0]
        torch.testing.assert_close(logits[-1], expected["last_logits"], rtol=1e-5, atol=1e-5)
        torch.testing.assert_close(
            logits[:, reference["tracked_ids"]], expected["tracked_logits"], rtol=1e-5, atol=1e-5
        )
        tokens, _ = greedy(model, single(sample), original["max_new_tokens"])
        assert tokens[0].tolist() == expected["greedy"].tolist()


@torch.inference_mode()
def test_a_padded_batch_answers_as_one_sample_at_a_time(model, reference):
    samples = reference["samples"]
    batch = collate(samples)
    assert len({len(s["input_ids"]) for s in samples}) == len(
        samples
    )  # different prompt lengths and crop counts
    tokens, scores = greedy(model, batch, reference["max_new_tokens"])
    for row, sample in enumerate(samples):
        assert tokens[row].tolist() == sample["greedy"].tolist()
        torch.testing.assert_close(scores[row, 0], sample["last_logits"], rtol=1e-4, atol=1e-4)


def without_block(model, blocks_path: str, block: int):
    smaller = copy.deepcopy(model)
    owner = (
        smaller.model.transformer
        if blocks_path == "language"
        else smaller.model.vision_backbone.image_vit.transformer
    )
    if blocks_path == "language":
        del owner["blocks"][block]
        for index, layer in enumerate(owner["blocks"]):
            getattr(
                layer, "attn", layer
            ).layer_idx = index  # MolmoE's block keeps it in its attention
        smaller.config.num_hidden_layers -= 1
    else:
        del owner.resblocks[block]
    return smaller


@pytest.mark.parametrize("block", [0, 2, 3])
@torch.inference_mode()
def test_a_skipped_language_block_equals_the_smaller_model(model, reference, block):
    inputs = collate(reference["samples"])
    full_tokens, full_scores = greedy(model, inputs, 4)
    expected_tokens, expected_scores = greedy(without_block(model, "language", block), inputs, 4)
    with skip_blocks(model.model.transformer.blocks, [block]):
        tokens, scores = greedy(model, inputs, 4)
    assert torch.equal(tokens, expected_tokens)
    torch.testing.assert_close(scores, expected_scores, rtol=1e-5, atol=1e-5)
    assert not torch.allclose(scores, full_scores)


# : Where the tiny tower's features (``vit_layers`` -2 and -9 of 10 blocks: the outputs of blocks 8
# and 1) are read
#: once each block is deleted. The last block feeds no feature.
REMAPPED_VIT_LAYERS = {0: [-2, -9], 5: [-2, -8], 8: [-2, -8], 9: [-1, -8]}


@pytest.mark.parametrize("block", sorted(REMAPPED_VIT_LAYERS))
@torch.inference_mode()
def test_a_skipped_vision_block_equals_the_smaller_tower(model, reference, block):
    """Deleted as the export deletes it (the adapter's deletion fields): block 0, a middle one, a
    read one, the last."""
    from vlmprune.models.deletion import delete_blocks
    from vlmprune.models.molmo.adapter import MolmoNativeAdapter

    inputs = collate(reference["samples"])
    _, full_scores = greedy(model, inputs, 2)
    tower = model.model.vision_backbone.image_vit.transformer.resblocks
    with delete_blocks(
        model, tower, [block], config_fields=MolmoNativeAdapter.deletion_fields["vision"]
    ):
        assert len(tower) == 9 and model.config.vision_backbone["image_num_layers"] == 9
        assert model.config.vit_layers == REMAPPED_VIT_LAYERS[block]
        _, expected = greedy(model, inputs, 2)
    assert len(tower) == 10 and model.config.vit_layers == [-2, -9]
    with skip_blocks(tower, [block]):
        _, scores = greedy(model, inputs, 2)
    torch.testing.assert_close(scores, expected, rtol=1e-5, atol=1e-5)
    assert torch.allclose(scores, full_scores) == (block == 9)


# ---------------------------------------------------------------- through the adapter and the
# engine


class FixtureProcessor:
    """Gives the recorded processor outputs (with the fixture's seeded pixels) for each recorded
    prompt.

    The native image preprocessing does not exist yet; this stands in for it so the engine runs the
    native model.
    """

    def __init__(self, reference) -> None:
        from tiny_models import qwen2_tokenizer

        self.samples = {s["prompt"]: s for s in reference["samples"]}
        self.tokenizer = qwen2_tokenizer(
            ["<im_start>", "<im_end>", "<im_patch>", "<im_col>", "<|image|>"]
        )

    def process(self, images, text, message_format, always_start_with_space):
        assert message_format == "none" and not always_start_with_space
        s = self.samples[text]
        return {k: s[k] for k in ("input_ids", "images", "image_masks", "image_input_idx")}


def test_fused_equals_per_variant(model, reference):
    from molmo_reference import fixture_records
    from vlmprune.engine.batching import BatchSizer
    from vlmprune.engine.evaluate import predict_per_variant
    from vlmprune.engine.fused import can_fuse, predict_fused
    from vlmprune.models.molmo.adapter import MolmoNativeAdapter

    adapter = MolmoNativeAdapter(model, FixtureProcessor(reference))
    assert can_fuse(adapter) and len(adapter.blocks) == 4
    records = fixture_records()
    variants = [(), (0,), (1,), (3,), (1, 3)]
    sizer = lambda: BatchSizer(2, 4)  # noqa: E731 - micro-batches of two and one
    vision_calls = []
    handle = adapter.model.model.vision_backbone.register_forward_hook(
        lambda *args: vision_calls.append(1)
    )
    try:
        expected = predict_per_variant(adapter, records, variants, 6, sizer())
        # per variant once per micro-batch, at the prefill only: two micro-batches each, one for
        # (1, 3) (its sizer allows 4)
        assert len(vision_calls) == 2 * 4 + 1
        vision_calls.clear()
        assert predict_fused(adapter, records, variants, 6, sizer()) == expected
    finally:
        handle.remove()
    assert len(vision_calls) == 2  # once per micro-batch (two, then one), for all five variants
    assert len({tuple(answers) for answers in expected.values()}) > 1
    for answer, sample in zip(
        expected[()], reference["samples"], strict=False
    ):  # the full model answers what the published code did
        assert (
            answer
            == adapter.tokenizer.decode(sample["greedy"][:6], skip_special_tokens=True).strip()
        )


# ---------------------------------------------------------------- from a hub snapshot, as a user
# loads it


@pytest.fixture(scope="module")
def snapshot(tmp_path_factory, arch):
    from molmo_reference import save_tiny_molmo

    return save_tiny_molmo(tmp_path_factory.mktemp(f"molmo-{arch}"), arch)


@torch.inference_mode()
def test_a_hub_snapshot_loads_natively_and_answers_as_the_published_code(snapshot, reference):
    """No trust_remote_code: the native model and preprocessing; the processor's own pixels, padded
    as one batch."""
    from molmo_reference import fixture_records
    from vlmprune.models.loading import count_blocks, load_adapter
    from vlmprune.models.molmo.adapter import MolmoNativeAdapter

    adapter = load_adapter(snapshot, device="cpu", dtype="float32")
    assert (
        isinstance(adapter, MolmoNativeAdapter)
        and len(adapter.blocks) == count_blocks(snapshot) == 4
    )
    assert count_blocks(snapshot, component="vision") == 10
    assert (
        len(MolmoNativeAdapter(adapter.model, adapter.processor, component="vision").blocks) == 10
    )
    inputs = adapter.encode(fixture_records())
    last = adapter.model(**inputs).logits[:, -1]
    torch.testing.assert_close(
        last,
        torch.stack([s["real_last_logits"] for s in reference["samples"]]),
        rtol=1e-4,
        atol=1e-4,
    )
    stop = adapter.stop_token_id()
    expected = []
    for s in reference["samples"]:
        tokens = s["real_greedy"].tolist()
        tokens = tokens[: tokens.index(stop)] if stop in tokens else tokens
        expected.append(adapter.tokenizer.decode(tokens, skip_special_tokens=True).strip())
    assert adapter.generate(fixture_records(), reference["max_new_tokens"]) == expected


def test_a_published_setting_the_native_model_lacks_is_refused(tmp_path):
    from molmo_reference import save_tiny_molmo
    from vlmprune.errors import ModelError
    from vlmprune.models.loading import load_adapter

    path = save_tiny_molmo(tmp_path, "molmoe")
    config = json.loads((path / "config.json").read_text())
    (path / "config.json").write_text(
        json.dumps({**config, "image_pooling_2d": "attention", "norm_after": True})
    )
    with pytest.raises(
        ModelError, match="norm_after.*image_pooling_2d.*model.trust_remote_code: true"
    ):
        load_adapter(path, device="cpu")
    (path / "config.json").write_text(json.dumps({**config, "vit_layers": [-2, 3]}))
    (path / "model.safetensors").unlink()  # the config is refused before any weight is read
    with pytest.raises(
        ModelError, match=r"vit_layers \[-2, 3\] must count back from the tower's last block"
    ):
        load_adapter(path, device="cpu")


@pytest.mark.parametrize(
    ("component", "block"),
    [
        ("language", 0),
        ("language", 2),
        ("language", 3),
        ("vision", 0),
        ("vision", 5),
        ("vision", 9),
    ],
)
@torch.inference_mode()
def test_an_exported_variant_reloads_as_the_skipped_model(snapshot, component, block, tmp_path):
    """Rule export's path: the snapshot loaded for export, the variant deleted and saved, reloaded
    natively."""
    from molmo_reference import fixture_records
    from vlmprune.export.depth_variant import export_variant, load_for_export
    from vlmprune.models.loading import count_blocks, load_adapter
    from workflow_helpers import rule_settings

    adapter = load_for_export(rule_settings({"path": str(snapshot)}, component=component)[0])
    n = len(adapter.blocks)
    out = export_variant(adapter, f"drop-{block}", tmp_path / f"drop-{block}", card="card\n")
    assert len(adapter.blocks) == n  # the source model is restored
    assert count_blocks(out, component=component) == n - 1
    exported = load_adapter(out, device="cpu", dtype="float32", component=component)
    assert len(exported.blocks) == n - 1
    records = fixture_records()
    _, full_scores = greedy(adapter.model, adapter.encode(records), 4)
    with adapter.skip([block]):
        expected_tokens, expected_scores = greedy(adapter.model, adapter.encode(records), 4)
        expected_answers = adapter.generate(records, 6)
    tokens, scores = greedy(exported.model, exported.encode(records), 4)
    assert torch.equal(tokens, expected_tokens)
    torch.testing.assert_close(scores, expected_scores, rtol=1e-5, atol=1e-5)
    assert torch.allclose(scores, full_scores) == (
        component == "vision" and block == n - 1
    )  # the unread last block
    assert exported.generate(records, 6) == expected_answers


def test_baseline_and_ablation_jobs_run_from_the_snapshot(snapshot, prepared, tmp_path):
    """``run_evaluation`` as rules baseline (fused, with the one-pass proxies) and ablate call it,
    with adapter: auto."""
    from vlmprune.data.prepare import load_prepared, select_samples
    from vlmprune.engine.batching import BatchSizer
    from vlmprune.engine.evaluate import predict_per_variant
    from vlmprune.engine.run import run_evaluation
    from vlmprune.engine.store import read_store
    from vlmprune.models.loading import load_adapter
    from vlmprune.settings import evaluation_settings, load_config, model_settings

    config = load_config(
        {
            "model": {"path": str(snapshot), "device": "cpu", "dtype": "float32"},
            "datasets": {"easy_vqa": {"splits": ["val"]}},
            "evaluation": {
                "num_samples": 3,
                "batch_size": 3,
                "chunk_size": 2,
                "analysis_split": "val",
            },
            "beam": {"validate_on": None},
        }
    )
    model, evaluation = model_settings(config), evaluation_settings(config, "easy_vqa")
    names = ["full", "drop-0", "drop-3"]
    for job, variants in {"baseline": names[:1], "ablate": names[1:]}.items():
        run_evaluation(
            data=prepared,
            dataset="easy_vqa",
            split="val",
            variants=variants,
            stores=[tmp_path / f"{v}.h5" for v in variants],
            summary=tmp_path / f"{job}.json",
            model=model,
            evaluation=evaluation,
        )
    records, _ = select_samples(load_prepared(prepared, "easy_vqa"), 3, 0)
    adapter = load_adapter(snapshot, device="cpu", dtype="float32")
    expected = predict_per_variant(
        adapter,
        [records[i] for i in range(3)],
        [(), (0,), (3,)],
        evaluation["max_new_tokens"],
        BatchSizer(3, 4),
    )
    assert {
        v: read_store(tmp_path / f"{n}.h5").predictions
        for v, n in zip(expected, names, strict=True)
    } == expected
    assert len({tuple(answers) for answers in expected.values()}) > 1


def test_a_multiflow_store_equals_its_exported_checkpoint(snapshot, prepared, tmp_path):
    """MULTIFLOW's masks on Molmo v1: the masked evaluation and the exported, natively reloaded
    checkpoint agree."""
    from vlmprune.cli import main
    from vlmprune.engine.run import run_evaluation
    from vlmprune.engine.store import read_store
    from vlmprune.export.width_variant import export_pruned
    from workflow_helpers import rule_settings

    assert (
        main(
            [
                "multiflow",
                "prune",
                "--model-path",
                str(snapshot),
                "--data",
                str(prepared),
                "--samples",
                "4",
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
    assert set(summary["modalities"]) == {"vision", "fusion"} and summary["actual_sparsity"] == 0.5
    model, evaluation = rule_settings(
        {"path": str(snapshot)}, num_samples=4, batch_size=4, chunk_size=4
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
    exported = export_pruned(model, masks, tmp_path / "multiflow-0.5", summary)
    assert 'load_adapter("multiflow-0.5"' in (exported / "README.md").read_text()
    run_evaluation(
        variants=["full"],
        stores=[tmp_path / "export.h5"],
        model={**model, "path": str(exported)},
        **common,
    )
    pruned, export = read_store(tmp_path / "pruned.h5"), read_store(tmp_path / "export.h5")
    assert pruned.sample_ids == export.sample_ids and pruned.predictions == export.predictions


@pytest.mark.e2e
@pytest.mark.parametrize("family", ["molmoe", "7bo"])
def test_the_workflow_runs_molmo_from_its_snapshot_to_an_export(seed_prepared, tmp_path, family):
    """The README's commands on a MolmoE-1B or a Molmo-7B-O snapshot (tiny, hub layout): ablation,
    beam, latency, trade-off, export. One Snakemake run each: a config holds one model."""
    from molmo_reference import save_tiny_molmo
    from vlmprune.models.loading import load_adapter
    from workflow_helpers import snakemake, write_config

    snapshot = save_tiny_molmo(tmp_path / family, family)
    seed_prepared(tmp_path, "easy_vqa", "train")
    write_config(
        tmp_path,
        {
            "model": {"path": str(snapshot), "device": "cpu"},
            "datasets": {"easy_vqa": {"splits": ["train"]}},
            "evaluation": {"num_samples": 4, "batch_size": 4, "chunk_size": 4},
            "beam": {"beam_width": 2, "max_blocks_to_remove": 1},
            "latency": {"repeats": 1, "warmup": 0, "new_tokens": 2, "batch_size": 2},
        },
    )
    snakemake(tmp_path, "--cores", "2", "results/tradeoff/easy_vqa.json", "results/pruned/drop-1-3")
    tradeoff = json.loads((tmp_path / "results/tradeoff/easy_vqa.json").read_text())
    assert [b["removed"] for b in tradeoff["budgets"]] == [0, 1] and tradeoff["points"]
    pruned = tmp_path / "results/pruned/drop-1-3"
    assert json.loads((pruned / "config.json").read_text())["num_hidden_layers"] == 2
    card = (pruned / "README.md").read_text()
    assert "blocks 1, 3 were deleted" in card and 'load_adapter("drop-1-3"' in card
    exported = load_adapter(pruned, device="cpu", dtype="float32")
    assert len(exported.blocks) == 2 and exported.name == "molmo_native"
