"""Every supported architecture through its real processor: removal, fused engine, vision ablation.

Each architecture is a tiny random checkpoint from ``tiny_models`` (its own model, processor
and tokenizer classes, written by ``save_pretrained``), loaded by ``load_adapter`` and fed
easy_vqa records through the adapter's ``encode``. A skipped block must equal a copy of the
model physically built without it (greedy generation, logits and KV cache included) for the
first, a middle and the last block; the fused engine must equal per-variant evaluation; a
skipped vision block must equal the tower without it.
"""

from __future__ import annotations

import copy
import importlib.util
import json
import re

import pytest
import torch
from safetensors import safe_open

from vlmprune.data.registry import load_split
from vlmprune.engine.batching import BatchSizer
from vlmprune.engine.evaluate import predict_per_variant
from vlmprune.engine.fused import can_fuse, plan_tree, predict_fused
from vlmprune.errors import ModelError
from vlmprune.models.base import module_at
from vlmprune.models.loading import adapter_class, load_adapter

# : architecture -> (adapter, processor class, tokenizer class that AutoProcessor.from_pretrained
# gives back;
# : ``tiny_models`` builds each with its family's own class, which transformers 5.23 maps back as
# listed)
ARCHITECTURES = {
    "llava": ("llava", "LlavaProcessor", "TokenizersBackend"),
    "llava_onevision": ("llava_onevision", "LlavaOnevisionProcessor", "Qwen2Tokenizer"),
    "qwen2_vl": ("qwen2_vl", "Qwen2VLProcessor", "Qwen2Tokenizer"),
    "qwen2_5_vl": ("qwen2_vl", "Qwen2_5_VLProcessor", "Qwen2Tokenizer"),
    "idefics3": ("idefics3", "Idefics3Processor", "LlamaTokenizer"),
    "smolvlm": ("idefics3", "SmolVLMProcessor", "TokenizersBackend"),
    "gemma3": ("gemma3", "Gemma3Processor", "GemmaTokenizer"),
    "molmo2": ("molmo2", "Molmo2Processor", "TokenizersBackend"),
    "llava_next": ("generic", "LlavaNextProcessor", "TokenizersBackend"),  # model.adapter: generic
}
NEEDS = {"smolvlm": "num2words"}  # packages a processor imports beyond the project's requirements
MAX_NEW_TOKENS = 4


def available(architecture: str):
    package = NEEDS.get(architecture)
    missing = package is not None and importlib.util.find_spec(package) is None
    return pytest.param(
        architecture, marks=pytest.mark.skipif(missing, reason=f"its processor needs {package}")
    )


@pytest.fixture(scope="module", params=[available(a) for a in ARCHITECTURES])
def architecture(request) -> str:
    return request.param


@pytest.fixture(scope="module")
def adapter(architecture, tiny_checkpoint):
    generic = ARCHITECTURES[architecture][0] == "generic"
    return load_adapter(
        tiny_checkpoint(architecture),
        adapter="generic" if generic else "auto",
        device="cpu",
        dtype="float32",
    )


@pytest.fixture(scope="module")
def records():
    split = load_split("easy_vqa", "val").select(range(4))
    return [split[i] for i in range(len(split))]


def greedy(model, inputs):
    out = model.generate(
        **inputs,
        max_new_tokens=MAX_NEW_TOKENS,
        min_new_tokens=MAX_NEW_TOKENS,
        do_sample=False,
        output_logits=True,
        return_dict_in_generate=True,
    )
    return out.sequences, torch.stack(out.logits)


def block_list_path(adapter) -> str:
    return next(
        path
        for path in type(adapter).block_paths[adapter.component]
        if module_at(adapter.model, path) is adapter.blocks
    )


def physically_removed(adapter, block: int):
    """A deep copy of the model with the block deleted, and what counts or types layers by index
    renumbered."""
    model = copy.deepcopy(adapter.model)
    owner_path, name = block_list_path(adapter).rsplit(".", 1)
    owner = module_at(model, owner_path)
    del getattr(owner, name)[block]
    if adapter.component == "vision":
        vision_config = model.config.vision_config
        for key in ("num_hidden_layers", "depth"):
            if hasattr(vision_config, key):
                setattr(vision_config, key, getattr(vision_config, key) - 1)
        if hasattr(
            owner, "fullatt_block_indexes"
        ):  # Qwen2.5-VL: full attention at these block indices, windowed elsewhere
            owner.fullatt_block_indexes = [
                i - (i > block) for i in owner.fullatt_block_indexes if i != block
            ]
        return model
    for index, layer in enumerate(getattr(owner, name)):
        layer.self_attn.layer_idx = index
    owner.config.num_hidden_layers -= 1
    if getattr(owner.config, "layer_types", None):
        owner.config.layer_types = (
            owner.config.layer_types[:block] + owner.config.layer_types[block + 1 :]
        )
    if hasattr(owner, "rope_types"):  # Molmo2: scaled or unscaled rotary table per layer
        owner.rope_types = owner.rope_types[:block] + owner.rope_types[block + 1 :]
    return model


def test_loads_with_its_own_processor_and_tokenizer(architecture, adapter, tiny_checkpoint):
    path = tiny_checkpoint(architecture)
    name, processor, tokenizer = ARCHITECTURES[architecture]
    assert adapter.name == name
    if name != "generic":
        assert adapter_class(path) is type(adapter)
    assert type(adapter.processor).__name__ == processor
    assert type(adapter.processor.tokenizer).__name__ == tokenizer
    config = json.loads((path / "config.json").read_text())
    assert len(adapter.blocks) == type(adapter).count_blocks(config, "language") == 4
    vision = type(adapter)(adapter.model, adapter.processor, component="vision")
    assert len(vision.blocks) == type(adapter).count_blocks(config, "vision") == 2
    assert can_fuse(adapter) and not can_fuse(vision)
    with safe_open(path / "model.safetensors", "pt") as weights:
        names = list(weights.keys())
    for (
        modality,
        patterns,
    ) in adapter.modality_patterns.items():  # MULTIFLOW's names match what save_pretrained wrote
        assert any(re.search(p, n) for p in patterns for n in names), modality


@pytest.mark.parametrize("position", ["first", "middle", "last"])
@torch.inference_mode()
def test_skipped_block_equals_the_smaller_model(adapter, records, position):
    block = {"first": 0, "middle": len(adapter.blocks) // 2, "last": len(adapter.blocks) - 1}[
        position
    ]
    inputs = adapter.encode(records)
    text_config = adapter.model.config.get_text_config()
    if (
        len(set(getattr(text_config, "layer_types", None) or [])) > 1
    ):  # a hybrid cache: the window must bite
        assert text_config.sliding_window < inputs["input_ids"].shape[1]
    full_tokens, full_scores = greedy(adapter.model, inputs)
    reference_tokens, reference_scores = greedy(physically_removed(adapter, block), inputs)
    with adapter.skip([block]):
        tokens, scores = greedy(adapter.model, inputs)
    assert torch.equal(tokens, reference_tokens)
    torch.testing.assert_close(scores, reference_scores, rtol=1e-5, atol=1e-5)
    assert not torch.allclose(scores, full_scores)
    again_tokens, again_scores = greedy(adapter.model, inputs)  # the block is back
    assert torch.equal(again_tokens, full_tokens)
    torch.testing.assert_close(again_scores, full_scores)


def test_fused_equals_per_variant(adapter, records):
    last = len(adapter.blocks) - 1
    variants = [(), (0,), (1,), (2,), (last,), (1, last)]
    sizer = lambda: BatchSizer(2, len(adapter.blocks))  # noqa: E731 - micro-batches of two and more
    reference = predict_per_variant(adapter, records, variants, MAX_NEW_TOKENS, sizer())
    vision_calls = []
    first_vision_block = type(adapter)(adapter.model, adapter.processor, component="vision").blocks[
        0
    ]
    handle = first_vision_block.register_forward_hook(lambda *args: vision_calls.append(1))
    try:
        fused = predict_fused(adapter, records, variants, MAX_NEW_TOKENS, sizer())
    finally:
        handle.remove()
    assert fused == reference
    assert (
        len(vision_calls) == len(records) // 2
    )  # the image encoder ran once per micro-batch of two, for all variants
    assert len({tuple(answers) for answers in reference.values()}) > 1


def test_tree_of_common_prefixes_equals_per_variant(adapter, records):
    """Sets sharing prefixes beyond the all-kept one (as a beam step's do): each distinct prefix
    runs once per micro-batch."""
    last = len(adapter.blocks) - 1
    variants = [(), (0,), (0, 2), (0, last), (1,), (1, 2), (1, last), (1, 2, last), (last,)]
    reference = predict_per_variant(
        adapter, records, variants, MAX_NEW_TOKENS, BatchSizer(2, last + 1)
    )
    prefills = []

    def count(module, args, kwargs, output):
        hidden = args[0] if args else kwargs["hidden_states"]
        prefills.append(hidden.shape[1] > 1)

    handles = [block.register_forward_hook(count, with_kwargs=True) for block in adapter.blocks]
    try:
        tree = predict_fused(adapter, records, variants, MAX_NEW_TOKENS, BatchSizer(2, last + 1))
    finally:
        for handle in handles:
            handle.remove()
    assert tree == reference
    distinct = len(
        {
            (i, frozenset(b for b in v if b < i))
            for v in variants
            for i in range(last + 1)
            if i not in v
        }
    )
    assert (
        sum(prefills) == 2 * distinct == 2 * plan_tree(variants, last + 1).prefills
    )  # two micro-batches of two


@pytest.mark.parametrize("position", ["first", "last"])
@torch.inference_mode()
def test_skipped_vision_block_equals_the_smaller_tower(adapter, records, position):
    vision = type(adapter)(adapter.model, adapter.processor, component="vision")
    block = {"first": 0, "last": len(vision.blocks) - 1}[position]
    inputs = adapter.encode(records)
    _, full_scores = greedy(adapter.model, inputs)
    _, reference_scores = greedy(physically_removed(vision, block), inputs)
    with vision.skip([block]):
        _, scores = greedy(adapter.model, inputs)
    torch.testing.assert_close(scores, reference_scores, rtol=1e-5, atol=1e-5)
    assert not torch.allclose(scores, full_scores)


def test_generic_is_named_in_the_error_for_an_architecture_without_adapter(tiny_checkpoint):
    path = tiny_checkpoint("llava_next")
    with pytest.raises(ModelError, match="model_type 'llava_next'.*model.adapter: generic"):
        load_adapter(path, device="cpu")


def test_generic_takes_the_block_list_the_config_names(tiny_checkpoint):
    path = tiny_checkpoint("llava_next")
    named = load_adapter(
        path,
        adapter="generic",
        block_path="model.language_model.layers",
        device="cpu",
        dtype="float32",
    )
    assert named.blocks is named.model.model.language_model.layers and len(named.blocks) == 4
    with pytest.raises(
        ModelError, match="no language block list at \\['model.nowhere'\\].*model.block_path"
    ):
        load_adapter(
            path, adapter="generic", block_path="model.nowhere", device="cpu", dtype="float32"
        )


@torch.inference_mode()
def test_vision_ablation_as_the_first_forward_pass_leaves_the_full_model_intact(
    tiny_checkpoint, records
):
    """transformers hooks the layers at the first forward; one swapped out then must still be
    hooked (LLaVA's features)."""
    path = tiny_checkpoint("llava")
    vision = load_adapter(path, component="vision", device="cpu", dtype="float32")
    inputs = vision.encode(records)
    with vision.skip([0]):
        greedy(vision.model, inputs)
    tokens, scores = greedy(vision.model, inputs)
    reference_tokens, reference_scores = greedy(
        load_adapter(path, device="cpu", dtype="float32").model, inputs
    )
    assert torch.equal(tokens, reference_tokens)
    torch.testing.assert_close(scores, reference_scores)


# ---------------------------------------------------------------- the engine's entry point, as the
# workflow's jobs call it


def test_baseline_and_ablation_jobs_write_the_adapters_answers(
    architecture, adapter, prepared, tmp_path
):
    """``run_evaluation`` as rules baseline (with the one-pass proxies) and ablate call it, on
    three samples."""
    from vlmprune.data.prepare import load_prepared, select_samples
    from vlmprune.data.registry import get_spec
    from vlmprune.engine.proxies import proxies_path
    from vlmprune.engine.run import run_evaluation
    from vlmprune.engine.store import read_store
    from vlmprune.settings import evaluation_settings, load_config, model_settings

    spec, last = get_spec("easy_vqa"), len(adapter.blocks) - 1
    config = load_config(
        {
            "model": {
                "path": adapter.model.name_or_path,
                "adapter": adapter.name,
                "device": "cpu",
                "dtype": "float32",
            },
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
    jobs = {"baseline": ["full"], "ablate": ["drop-0", f"drop-{last}"]}
    for job, variants in jobs.items():
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
    records = [records[i] for i in range(3)]
    expected = predict_per_variant(
        adapter, records, [(), (0,), (last,)], spec.max_new_tokens, BatchSizer(3, last + 1)
    )
    stored = {
        v: read_store(tmp_path / f"{name}.h5").predictions
        for v, name in zip(expected, ["full", "drop-0", f"drop-{last}"], strict=True)
    }
    assert stored == expected
    proxies = json.loads(proxies_path(tmp_path / "baseline.json").read_text())
    prompt_tokens = int(adapter.encode(records)["attention_mask"].sum())
    assert (
        proxies["tokens"] == prompt_tokens
    )  # every prompt token of every sample, padding excluded


# ---------------------------------------------------------------- a processor that needs a package
# this machine lacks


def test_a_processor_whose_package_is_missing_names_it(tiny_checkpoint, monkeypatch):
    """SmolVLM's processor refuses to load without num2words (transformers raises ImportError in
    its __init__)."""
    from transformers.models.smolvlm import processing_smolvlm

    monkeypatch.setattr(
        processing_smolvlm, "num2words", None
    )  # as transformers sets it where num2words is missing
    with pytest.raises(
        ModelError,
        match="processor of .*smolvlm.* needs the package 'num2words'.*pip install num2words",
    ):
        load_adapter(tiny_checkpoint("smolvlm"), device="cpu", dtype="float32")


def test_a_missing_backend_is_named_as_transformers_names_it(tiny_checkpoint, monkeypatch):
    """Without torchvision, transformers' requires_backends raises "… requires the Torchvision
    library …"."""
    import transformers
    from transformers.utils import import_utils

    def from_pretrained(*args, **kwargs):
        import_utils.requires_backends(transformers.Qwen2VLImageProcessor, ["torchvision"])

    monkeypatch.setitem(
        import_utils.BACKENDS_MAPPING,
        "torchvision",
        (lambda: False, import_utils.TORCHVISION_IMPORT_ERROR),
    )
    monkeypatch.setattr(transformers.AutoProcessor, "from_pretrained", from_pretrained)
    with pytest.raises(
        ModelError,
        match="needs the package 'torchvision'.*pip install torchvision.*Qwen2VLImageProcessor",
    ):
        load_adapter(tiny_checkpoint("qwen2_vl"), device="cpu", dtype="float32")
