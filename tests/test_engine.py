"""The fused engine equals per-variant evaluation; stores are deterministic and survive
out-of-memory."""

from __future__ import annotations

import copy
import random

import pytest
import torch
from transformers import LlavaConfig, LlavaForConditionalGeneration, OlmoeConfig, Qwen2Config

from vlmprune.data.registry import load_split
from vlmprune.engine import batching
from vlmprune.engine.batching import BatchSizer, bytes_per_sample, initial_batch_size
from vlmprune.engine.evaluate import evaluate_variants, predict_per_variant
from vlmprune.engine.fused import plan_tree, predict_fused
from vlmprune.engine.store import read_store
from vlmprune.models.llava import LlavaAdapter
from vlmprune.models.loading import load_adapter

MAX_NEW_TOKENS = 4


@pytest.fixture(scope="module")
def adapter(tiny_llava):
    return load_adapter(tiny_llava, device="cpu", dtype="float32")


@pytest.fixture(scope="module")
def dataset():
    return load_split("easy_vqa", "val").select(range(8))


@pytest.fixture(scope="module")
def records(dataset):
    return [dataset[i] for i in range(len(dataset))]


VARIANT_SETS = {
    "single blocks and full": [(), (0,), (1,), (2,), (3,)],
    "multi-block, first and last": [(1, 3), (1, 2), (0, 2), (3,)],
    "one variant": [(2,)],
}


@pytest.mark.parametrize("name", VARIANT_SETS)
def test_fused_equals_per_variant(adapter, records, name):
    variants = VARIANT_SETS[name]
    reference = predict_per_variant(
        adapter, records, variants, MAX_NEW_TOKENS, BatchSizer(5, len(adapter.blocks))
    )
    fused = predict_fused(
        adapter, records, variants, MAX_NEW_TOKENS, BatchSizer(5, len(adapter.blocks))
    )
    assert fused == reference
    assert (
        len({tuple(a) for a in reference.values()}) > 1 or len(variants) == 1
    )  # variants do differ


def test_fused_runs_encoder_and_prefix_once(adapter, records):
    """Block i's prefill runs once for the full model and once per variant removing a block before
    i."""
    prefill_calls = [0] * len(adapter.blocks)
    encoder_calls = []

    def count(index):
        def hook(module, args, kwargs, output):
            hidden = args[0] if args else kwargs["hidden_states"]
            prefill_calls[index] += hidden.shape[1] > 1

        return hook

    handles = [
        block.register_forward_hook(count(i), with_kwargs=True)
        for i, block in enumerate(adapter.blocks)
    ]
    handles.append(
        adapter.model.model.vision_tower.register_forward_hook(lambda *_: encoder_calls.append(1))
    )
    try:
        variants = [(), *[(i,) for i in range(len(adapter.blocks))]]
        predict_fused(
            adapter, records[:4], variants, MAX_NEW_TOKENS, BatchSizer(4, len(adapter.blocks))
        )
    finally:
        for handle in handles:
            handle.remove()
    assert prefill_calls == [1 + i for i in range(len(adapter.blocks))]
    assert len(encoder_calls) == 1


# ---------------------------------------------------------------- the tree of common prefixes


@pytest.fixture(scope="module")
def six_blocks(tmp_path_factory):
    from conftest import save_tiny_llava

    return load_adapter(
        save_tiny_llava(tmp_path_factory.mktemp("six") / "llava", text_layers=6),
        device="cpu",
        dtype="float32",
    )


def distinct_prefixes(variants, num_blocks) -> int:
    """Block prefills the tree must run: one per kept block and set of removed blocks before it."""
    return len(
        {
            (i, frozenset(b for b in v if b < i))
            for v in variants
            for i in range(num_blocks)
            if i not in v
        }
    )


def random_variants(num_blocks, count, seed):
    """``count`` distinct random sets of one to three removed blocks; block 0 and the last block
    among them."""
    rng = random.Random(seed)
    variants = {(0,), (num_blocks - 1,), (0, num_blocks - 1)}
    while len(variants) < count:
        variants.add(tuple(sorted(rng.sample(range(num_blocks), rng.randint(1, 3)))))
    return sorted(variants, key=lambda v: rng.random())


def beam_candidates(num_blocks):
    """The sets a beam step evaluates: step 3 of a beam of width 3, planned by the workflow's own
    ``plan_step``."""
    from vlmprune.analysis.beam.files import plan_step
    from vlmprune.engine.variants import parse_variant

    previous = {"step": 2, "num_blocks": num_blocks, "beams": [[1, 4], [1, 3], [0, 4]]}
    step1 = {"candidates": [{"blocks": [b]} for b in (1, 4, 0, 3, 2, 5)]}
    return [parse_variant(v) for v in plan_step(previous, step1).variants]


def count_prefills(adapter, run):
    """Block prefill passes (real blocks on more than one token) while ``run()`` runs."""
    calls = []

    def hook(module, args, kwargs, output):
        hidden = args[0] if args else kwargs["hidden_states"]
        calls.append(hidden.shape[1] > 1)

    handles = [block.register_forward_hook(hook, with_kwargs=True) for block in adapter.blocks]
    try:
        result = run()
    finally:
        for handle in handles:
            handle.remove()
    return result, sum(calls)


TREES = {
    "random sets, seed 0": lambda n: random_variants(n, 10, 0),
    "random sets and full, seed 1": lambda n: [(), *random_variants(n, 9, 1)],
    "beam step 3": beam_candidates,
}


@pytest.mark.parametrize("name", TREES)
def test_tree_equals_per_variant_and_runs_each_prefix_once(six_blocks, records, name):
    n = len(six_blocks.blocks)
    variants = TREES[name](n)
    assert any(0 in v for v in variants) and any(n - 1 in v for v in variants)
    reference = predict_per_variant(
        six_blocks, records[:4], variants, MAX_NEW_TOKENS, BatchSizer(4, n)
    )
    tree, prefills = count_prefills(
        six_blocks,
        lambda: predict_fused(six_blocks, records[:4], variants, MAX_NEW_TOKENS, BatchSizer(4, n)),
    )
    assert tree == reference
    assert len({tuple(a) for a in reference.values()}) > 1
    assert (
        prefills == distinct_prefixes(variants, n) == plan_tree(variants, n).prefills
    )  # one micro-batch of four
    # the tree shares more than the all-kept prefix alone, which shares more than nothing
    naive = sum(n - len(v) for v in variants)
    assert prefills < plan_tree(variants, n, share="all_kept").prefills < naive


def test_all_kept_sharing_is_the_earlier_engine(six_blocks, records):
    """Sharing the all-kept prefix only (the benchmark's reference) equals per-variant too."""
    n = len(six_blocks.blocks)
    variants = beam_candidates(n)
    reference = predict_per_variant(
        six_blocks, records[:4], variants, MAX_NEW_TOKENS, BatchSizer(4, n)
    )
    fused, prefills = count_prefills(
        six_blocks,
        lambda: predict_fused(
            six_blocks, records[:4], variants, MAX_NEW_TOKENS, BatchSizer(4, n), share="all_kept"
        ),
    )
    assert fused == reference
    first = max(variants, key=min)
    assert prefills == (n - len(first)) + sum(
        sum(1 for i in range(min(v), n) if i not in v) for v in variants if v != first
    )


def test_a_beam_step_evaluates_its_candidates_as_one_tree(
    six_blocks, prepared, tmp_path, monkeypatch
):
    """``beam_step``'s path (``evaluate_missing`` -> ``run_evaluation``) runs each distinct prefix
    once per micro-batch."""
    from vlmprune.analysis.beam.evaluate import evaluate_missing
    from vlmprune.engine import run
    from vlmprune.engine.variants import variant_id
    from vlmprune.settings import evaluation_settings, load_config, model_settings

    config = load_config(
        {
            "model": {"path": six_blocks.model.name_or_path, "device": "cpu", "dtype": "float32"},
            "datasets": {"easy_vqa": {"splits": ["val"]}},
            "evaluation": {
                "num_samples": 4,
                "batch_size": 4,
                "chunk_size": 4,
                "analysis_split": "val",
            },
            "beam": {"validate_on": None},
        }
    )
    monkeypatch.setattr(
        run, "load_model", lambda model, world: six_blocks
    )  # the instance whose blocks are counted
    variants = beam_candidates(len(six_blocks.blocks))
    names = [variant_id(v) for v in variants]
    (evaluated, reused), prefills = count_prefills(
        six_blocks,
        lambda: evaluate_missing(
            data=prepared,
            dataset="easy_vqa",
            split="val",
            variants=names,
            evals_dir=tmp_path,
            model=model_settings(config),
            evaluation=evaluation_settings(config, "easy_vqa"),
            world=run.World(),
        ),
    )
    assert evaluated == names and reused == []
    assert prefills == distinct_prefixes(
        variants, len(six_blocks.blocks)
    )  # one micro-batch of four
    assert all(read_store(tmp_path / f"{name}.h5").sample_ids for name in names)


@pytest.mark.parametrize("seed", range(5))
def test_tree_plan_keeps_one_record_per_block_and_frees_each(seed):
    """Records alive at any time belong to the current path: at most one per block, each freed
    once, none left."""
    n = 8
    variants = random_variants(n, 20, seed)
    plan = plan_tree(variants, n)
    assert sorted(step.variant for step in plan.steps) == sorted(variants)
    alive: dict = {}
    for step in plan.steps:
        for i, (key, _) in step.replay.items():
            assert alive[key] and key[0] == i
        for key, _ in step.record.values():
            assert key not in alive
            alive[key] = True
        assert len({block for block, _ in alive}) == len(alive) <= n
        for key in step.release:
            del alive[key]
    assert not alive
    single = plan_tree(
        [(), *[(i,) for i in range(n)]], n
    )  # single-block ablations: the earlier engine's tree
    assert (
        single.prefills
        == plan_tree([(), *[(i,) for i in range(n)]], n, share="all_kept").prefills
        == n * (n + 1) // 2
    )


def tiny_llava_with(text_config, tiny_llava_adapter) -> LlavaAdapter:
    """The tiny LLaVA's vision tower and processor around another randomly initialised decoder."""
    torch.manual_seed(0)
    config = copy.deepcopy(tiny_llava_adapter.model.config).to_dict()
    config["text_config"] = text_config.to_dict()
    model = LlavaForConditionalGeneration(LlavaConfig(**config))
    model.generation_config = copy.deepcopy(tiny_llava_adapter.model.generation_config)
    return LlavaAdapter(model.float(), tiny_llava_adapter.processor)


TEXT_CONFIGS = {
    "qwen2": lambda vocab, pad: Qwen2Config(
        vocab_size=vocab,
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=4,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=128,
        pad_token_id=pad,
    ),
    "olmoe": lambda vocab, pad: OlmoeConfig(
        vocab_size=vocab,
        hidden_size=32,
        intermediate_size=32,
        num_hidden_layers=4,
        num_attention_heads=4,
        num_key_value_heads=4,
        num_experts=4,
        num_experts_per_tok=2,
        max_position_embeddings=128,
        pad_token_id=pad,
    ),
}


@pytest.mark.parametrize("architecture", TEXT_CONFIGS)
def test_fused_equals_per_variant_for_other_decoders(adapter, records, architecture):
    text = adapter.model.config.text_config
    other = tiny_llava_with(TEXT_CONFIGS[architecture](text.vocab_size, text.pad_token_id), adapter)
    variants = [(), (0,), (3,), (1, 3)]
    reference = predict_per_variant(other, records[:4], variants, MAX_NEW_TOKENS, BatchSizer(4, 4))
    fused = predict_fused(other, records[:4], variants, MAX_NEW_TOKENS, BatchSizer(4, 4))
    assert fused == reference


def evaluate(adapter, dataset, variants, out_dir, **kwargs):
    stores = [out_dir / f"{i}.h5" for i in range(len(variants))]
    evaluate_variants(
        adapter,
        dataset,
        variants,
        stores,
        metric="exact_match",
        max_new_tokens=MAX_NEW_TOKENS,
        batch_size=4,
        chunk_size=5,
        attrs={"model": "tiny"},
        identity={"model": "tiny"},
        **kwargs,
    )
    return [read_store(s) for s in stores]


def same_results(a, b) -> None:
    assert a.sample_ids == b.sample_ids
    assert a.predictions == b.predictions
    assert a.scores.tolist() == b.scores.tolist()


def assert_same_stores(a, b) -> None:
    same_results(a, b)
    assert {k: v for k, v in a.attrs.items() if k != "seconds"} == {
        k: v for k, v in b.attrs.items() if k != "seconds"
    }


VARIANTS = [(), (0,), (1, 2)]


def test_two_runs_give_identical_stores(adapter, dataset, records, tmp_path):
    dataset = dataset.select(range(6))
    first = evaluate(adapter, dataset, VARIANTS, tmp_path / "a")
    second = evaluate(adapter, dataset, VARIANTS, tmp_path / "b")
    reference = predict_per_variant(
        adapter, records[:6], VARIANTS, MAX_NEW_TOKENS, BatchSizer(4, len(adapter.blocks))
    )
    for variant, a, b in zip(VARIANTS, first, second, strict=True):
        assert_same_stores(a, b)
        assert a.predictions == reference[variant]
        assert a.attrs["blocks_removed"] == list(variant)


def test_stores_hold_the_cleaned_prediction_and_the_raw_generation(
    adapter, dataset, records, tmp_path, monkeypatch
):
    dataset = dataset.select(range(5))
    raw = predict_per_variant(
        adapter, records[:5], [()], MAX_NEW_TOKENS, BatchSizer(4, len(adapter.blocks))
    )[()]
    # A family whose clean-up keeps the first word only, upper-cased: exact match then fails every
    # sample.
    monkeypatch.setattr(
        adapter,
        "clean_answer",
        lambda text: text.split()[0].upper() if text.split() else "",
        raising=False,
    )
    (store,) = evaluate(adapter, dataset, [()], tmp_path)
    assert store.raw == raw
    assert store.predictions == [text.split()[0].upper() if text.split() else "" for text in raw]
    assert store.scores.tolist() == [
        float(p.lower() in [a.lower() for a in r["answers"]])
        for p, r in zip(store.predictions, records[:5], strict=True)
    ]


def test_batch_size_is_the_configured_one_unless_auto(adapter, records, monkeypatch):
    def no_memory_query(device):
        raise AssertionError("free memory must not be queried for a configured batch size")

    monkeypatch.setattr(batching, "free_memory", no_memory_query)
    assert initial_batch_size(adapter, 7, records[0], MAX_NEW_TOKENS) == 7
    tokens = int(adapter.encode([records[0]])["input_ids"].shape[1])
    per_sample = bytes_per_sample(adapter, tokens, MAX_NEW_TOKENS)
    # auto: 80% of the free memory over one sample's estimate (here room for 10.x samples).
    monkeypatch.setattr(batching, "free_memory", lambda device: int(per_sample * 10.5 / 0.8))
    assert initial_batch_size(adapter, "auto", records[0], MAX_NEW_TOKENS) == 10
    monkeypatch.setattr(batching, "free_memory", lambda device: 0)
    assert initial_batch_size(adapter, "auto", records[0], MAX_NEW_TOKENS) == 1
    with pytest.raises(ValueError, match="auto"):
        initial_batch_size(adapter, "big", records[0], MAX_NEW_TOKENS)


@pytest.mark.parametrize("variants", [[(), (1,)], [(2,)]], ids=["fused", "single"])
def test_injected_out_of_memory_halves_the_batch(adapter, dataset, tmp_path, monkeypatch, variants):
    dataset = dataset.select(range(6))
    expected = evaluate(adapter, dataset, variants, tmp_path / "reference")
    generate = adapter.model.generate
    sizes = []

    def generate_or_oom(*args, **kwargs):
        batch = kwargs["input_ids"].shape[0]
        sizes.append(batch)
        if batch > 2:
            raise torch.OutOfMemoryError(
                "CUDA out of memory. Tried to allocate 2.00 GiB (injected)"
            )
        return generate(*args, **kwargs)

    monkeypatch.setattr(adapter.model, "generate", generate_or_oom)
    got = evaluate(adapter, dataset, variants, tmp_path / "oom")
    assert max(sizes) > 2 and sizes[-1] <= 2
    for a, b in zip(expected, got, strict=True):
        same_results(a, b)
        assert "out of memory at batch size" in b.attrs["batch_events"]


def test_baseline_inside_the_ablation_job_writes_what_the_two_jobs_write(
    tiny_llava, prepared, tmp_path
):
    """Rule ablate with the baseline inside (ablation.fused) equals rules baseline and ablate
    apart: stores, summary, proxies."""
    import json

    from vlmprune.engine.proxies import proxies_path
    from vlmprune.engine.run import run_evaluation
    from vlmprune.settings import evaluation_settings, load_config, model_settings

    config = load_config(
        {
            "model": {"path": str(tiny_llava), "device": "cpu", "dtype": "float32"},
            "datasets": {"easy_vqa": {"splits": ["val"]}},
            "evaluation": {
                "num_samples": 6,
                "batch_size": 4,
                "chunk_size": 4,
                "analysis_split": "val",
            },
            "beam": {"validate_on": None},
        }
    )
    drops = [f"drop-{i}" for i in range(4)]
    jobs = {"apart": [(["full"], True), (drops, False)], "merged": [(["full", *drops], True)]}
    for name, calls in jobs.items():
        for variants, summary in calls:
            run_evaluation(
                data=prepared,
                dataset="easy_vqa",
                split="val",
                variants=variants,
                stores=[tmp_path / name / f"{v}.h5" for v in variants],
                summary=tmp_path / name / "val.json" if summary else None,
                model=model_settings(config),
                evaluation=evaluation_settings(config, "easy_vqa"),
            )
    for variant in ["full", *drops]:
        assert_same_stores(
            read_store(tmp_path / "apart" / f"{variant}.h5"),
            read_store(tmp_path / "merged" / f"{variant}.h5"),
        )
    apart, merged = (json.loads((tmp_path / name / "val.json").read_text()) for name in jobs)
    assert apart.pop("seconds") > 0 and merged.pop("seconds") > 0
    assert apart == merged and apart["variant"] == "full"
    proxies = [json.loads(proxies_path(tmp_path / name / "val.json").read_text()) for name in jobs]
    assert proxies[0] == proxies[1]
    assert proxies[0]["sequences"] == 6  # the full model's pass alone, not the variants'


@pytest.mark.e2e
def test_ablation_fused_or_one_job_per_block_writes_identical_stores(
    workflow_run, workflow_run_copy
):
    """The shared run ablates each split in one job (ablation.fused: true); a copy of it with
    fused: false, easy_vqa val's baseline and first and last blocks' stores removed, writes them
    again with rule baseline and one job per block (one rule for every block; that each block's
    store is the same evaluated alone is test_fused_equals_per_variant's)."""
    import json

    from workflow_helpers import run_config, snakemake, write_config

    targets = [f"results/evals/easy_vqa/val/{v}.h5" for v in ["full", "drop-0", "drop-3"]]
    baseline = ["results/baseline/easy_vqa/val.json", "results/baseline/easy_vqa/val.proxies.json"]
    runs = {"True": workflow_run, "False": workflow_run_copy}
    for path in [*targets, *baseline]:
        (runs["False"] / path).unlink()
    write_config(runs["False"], run_config(ablation={"fused": False}))
    snakemake(runs["False"], "--cores", "2", *targets, *baseline)
    assert (runs["True"] / "logs/ablate/easy_vqa/val.log").is_file()
    assert not (runs["True"] / "logs/baseline").exists()  # the baseline ran inside rule ablate
    assert (runs["False"] / "logs/ablate/easy_vqa/val/drop-3.log").is_file()
    assert (runs["False"] / "logs/baseline/easy_vqa/val.log").is_file()
    for target in targets:
        assert_same_stores(read_store(runs["True"] / target), read_store(runs["False"] / target))
    merged, apart = (
        {
            k: v
            for k, v in json.loads((runs[fused] / baseline[0]).read_text()).items()
            if k != "seconds"
        }
        for fused in ("True", "False")
    )
    assert merged == apart and merged["variant"] == "full"
    assert (runs["True"] / baseline[1]).read_text() == (runs["False"] / baseline[1]).read_text()
