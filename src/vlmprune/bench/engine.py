"""Benchmark the fused engine against naive per-variant evaluation.

Evaluates the baseline and every single-block ablation on easy-VQA val, once the naive way
(one full ``generate`` per variant) and once fused (``vlmprune.engine.fused``), with the same
micro-batches, on the demo model (if present) and on a randomly initialised LLaVA (or, with
``--architecture molmoe``, a MolmoE) of about 100M parameters.
Rounds alternate naive and fused so that a change in machine load hits both alike. Prints
the wall times, the encoder and block forward passes each way, and the floor those counts
allow; the last line is ``fused/naive wall ratio: X.XX`` for the larger model.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import torch

from vlmprune.data.registry import load_split
from vlmprune.engine.batching import BatchSizer
from vlmprune.engine.evaluate import predict_per_variant
from vlmprune.engine.fused import predict_fused
from vlmprune.models.base import ModelAdapter
from vlmprune.models.llava import LlavaAdapter
from vlmprune.models.loading import load_adapter

Variant = tuple[int, ...]


class PassCounter:
    """Counts and times forward calls of the vision tower and of each real block (prefill vs
    decode).

    The naive way's mean time per call of each kind weighs the counts into the floor.
    """

    def __init__(self, adapter: ModelAdapter) -> None:
        self.counts: Counter[str] = Counter()
        self.rows: Counter[str] = Counter()  # samples through each kind of call
        self.seconds: Counter[str] = Counter()
        self._started: dict[int, float] = {}
        encoder = (
            getattr(adapter.model.model, "vision_tower", None)
            or adapter.model.model.vision_backbone
        )  # LLaVA, Molmo
        modules = [("encoder", encoder)] + [("block", b) for b in adapter.blocks]
        self.handles = []
        for kind, module in modules:
            self.handles.append(module.register_forward_pre_hook(self._start))
            self.handles.append(module.register_forward_hook(self._stop(kind), with_kwargs=True))

    def _start(self, module: torch.nn.Module, args: tuple) -> None:
        self._started[id(module)] = time.perf_counter()

    def _stop(self, kind: str) -> Callable:
        def hook(module: torch.nn.Module, args: tuple, kwargs: dict, output: object) -> None:
            if kind == "block":
                hidden = args[0] if args else kwargs["hidden_states"]
                kind_ = "block prefill" if hidden.shape[1] > 1 else "block decode"
            else:
                kind_ = kind
                hidden = next(x for x in (*args, *kwargs.values()) if torch.is_tensor(x))
            self.counts[kind_] += 1
            self.rows[kind_] += int(hidden.shape[0])
            self.seconds[kind_] += time.perf_counter() - self._started.pop(id(module))

        return hook

    def close(self) -> None:
        for handle in self.handles:
            handle.remove()


def torch_setup() -> str:
    """The first line of a benchmark's output: torch's version, threads and CUDA."""
    cuda = ", CUDA" if torch.cuda.is_available() else ""
    return f"torch {torch.__version__}, {torch.get_num_threads()} CPU threads{cuda}"


def random_llava(hidden: int, layers: int) -> LlavaAdapter:
    """A randomly initialised LLaVA with the demo model's tokenizer and processor (8x8 patches: 64
    image tokens)."""
    from vlmprune.data.sources.easy_vqa import answer_vocabulary, iter_questions
    from vlmprune.demo.tokenizer import build_tokenizer
    from vlmprune.demo.train import build_model, build_processor

    torch.manual_seed(0)
    texts = [row["question"] for row in iter_questions("train")] + answer_vocabulary()
    tokenizer = build_tokenizer(texts)
    processor = build_processor(tokenizer, patch_size=8)
    model = build_model(
        tokenizer,
        patch_size=8,
        vision_hidden=256,
        vision_intermediate=1024,
        vision_layers=4,
        text_hidden=hidden,
        text_intermediate=int(2.75 * hidden),
        text_layers=layers,
        heads=hidden // 64,
    )
    return LlavaAdapter(model.float(), processor)


def random_molmoe(hidden: int, layers: int) -> ModelAdapter:
    """A randomly initialised MolmoE-shaped model (16 experts, top 4) with the demo tokenizer, 112
    px crops."""
    from vlmprune.data.sources.easy_vqa import answer_vocabulary, iter_questions
    from vlmprune.demo.tokenizer import build_tokenizer
    from vlmprune.models.molmo.adapter import MolmoNativeAdapter
    from vlmprune.models.molmo.configuration import MolmoNativeConfig
    from vlmprune.models.molmo.modeling import MolmoNativeForCausalLM
    from vlmprune.models.molmo.processing import IMAGE_TOKENS, MolmoImageSettings, MolmoProcessing
    from vlmprune.models.molmo.remote_code import MOLMO_STOP_STRING

    torch.manual_seed(0)
    tokenizer = build_tokenizer(
        [row["question"] for row in iter_questions("train")] + answer_vocabulary()
    )
    tokenizer.add_special_tokens({"additional_special_tokens": [*IMAGE_TOKENS, MOLMO_STOP_STRING]})
    vision = dict(
        image_default_input_size=[112, 112],
        image_emb_dim=256,
        image_num_heads=4,
        image_num_key_value_heads=4,
        image_num_layers=10,
        image_head_dim=64,
        image_mlp_dim=1024,
        image_num_pos=65,
    )
    config = MolmoNativeConfig(
        hidden_size=hidden,
        num_attention_heads=hidden // 64,
        num_hidden_layers=layers,
        intermediate_size=2 * hidden,
        moe_num_experts=16,
        moe_top_k=4,
        attention_layer_norm=True,
        qkv_bias=False,
        rope_theta=10000.0,
        vocab_size=len(tokenizer),
        embedding_size=len(tokenizer),
        vision_backbone=vision,
    )
    model = MolmoNativeForCausalLM(config).float().eval()
    for (
        name,
        parameter,
    ) in model.named_parameters():  # what post_init leaves at zero: embeddings, padding embeddings
        if "embedding" in name or "pad_embed" in name:
            torch.nn.init.normal_(parameter, std=0.5)
    images = MolmoImageSettings(
        max_crops=4,
        overlap_margins=(2, 2),
        base_image_input_size=(112, 112),
        image_token_length_w=4,
        image_token_length_h=4,
    )
    return MolmoNativeAdapter(model, MolmoProcessing(tokenizer, images))


@dataclass
class Timings:
    """Per way: wall seconds, forward calls and seconds inside them per kind, answers per
    variant."""

    wall: dict[str, float]
    counts: dict[str, Counter]
    seconds: dict[str, Counter]
    answers: dict[str, dict[Variant, list[str]]]


def time_in_rounds(
    adapter: ModelAdapter,
    records: Sequence[dict],
    variants: Sequence[Variant],
    predictors: dict[str, Callable],
    batch_size: int,
    max_new_tokens: int,
    rounds: int,
) -> Timings:
    """Run every way on the same batches, the ways alternating in ``rounds`` rounds (each on its
    share of the
    samples), so that a change in machine load hits all alike. ``predictors[way](adapter, batch,
    variants,
    max_new_tokens)`` gives the answers per variant."""
    t = Timings(
        dict.fromkeys(predictors, 0.0),
        {w: Counter() for w in predictors},
        {w: Counter() for w in predictors},
        {w: {v: [] for v in variants} for w in predictors},
    )
    adapter.generate(records[:batch_size], max_new_tokens)  # warm-up
    per_round = -(-len(records) // rounds)
    for r in range(rounds):
        part = records[r * per_round : (r + 1) * per_round]
        for way, predict in predictors.items():
            counter = PassCounter(adapter)
            started = time.perf_counter()
            for start in range(0, len(part), batch_size):
                got = predict(adapter, part[start : start + batch_size], variants, max_new_tokens)
                for v in variants:
                    t.answers[way][v].extend(got[v])
            t.wall[way] += time.perf_counter() - started
            counter.close()
            t.counts[way].update(counter.counts)
            t.seconds[way].update(counter.seconds)
    return t


def compare(
    adapter: ModelAdapter,
    records: Sequence[dict],
    batch_size: int,
    max_new_tokens: int,
    rounds: int,
) -> float:
    """Time naive and fused evaluation of the baseline and all single-block ablations; return
    fused/naive."""
    n = len(adapter.blocks)
    variants: list[Variant] = [(), *[(i,) for i in range(n)]]
    params = sum(p.numel() for p in adapter.model.parameters())
    prompt = adapter.encode(records[:1])["input_ids"].shape[1]
    print(
        f"  {params / 1e6:.1f}M parameters, {n} blocks, {len(records)} samples, batch "
        f"{batch_size}, "
        f"{max_new_tokens} new tokens, prompt of {prompt} tokens, {len(variants)} "
        f"variants, {rounds} rounds"
    )
    # a sizer at least as large as the batch for every variant: same micro-batches both ways
    predictors = {
        "naive": lambda a, r, v, m: predict_per_variant(a, r, v, m, BatchSizer(batch_size, n)),
        "fused": lambda a, r, v, m: predict_fused(a, r, v, m, BatchSizer(batch_size, n)),
    }
    t = time_in_rounds(adapter, records, variants, predictors, batch_size, max_new_tokens, rounds)
    wall, counts, seconds, answers = t.wall, t.counts, t.seconds, t.answers
    for way in predictors:
        passes = ", ".join(
            f"{counts[way][k]} {k}" for k in ("encoder", "block prefill", "block decode")
        )
        inside = sum(seconds[way].values())
        print(
            f"  {way}: {wall[way]:.1f} s wall; forward passes: {passes}; "
            f"{inside:.1f} s inside them, {wall[way] - inside:.1f} s outside (embedding, "
            "head, generate)"
        )
    naive, fused = counts["naive"], counts["fused"]
    cost = {
        k: seconds["naive"][k] / naive[k] for k in naive
    }  # seconds per call, measured in the naive runs
    weighted = sum(fused[k] * cost[k] for k in cost) / sum(naive[k] * cost[k] for k in cost)
    prefill = fused["block prefill"] / naive["block prefill"]
    print(f"  floor from block prefill passes alone (no encoder share, (N+1)/2N): {prefill:.2f}")
    print(
        "  floor from all encoder and block passes, weighted by their measured cost: "
        f"{weighted:.2f}"
    )
    print(
        f"  answers identical both ways: {'yes' if answers['naive'] == answers['fused'] else 'NO'}"
    )
    ratio = wall["fused"] / wall["naive"]
    print(
        f"  measured ratio {ratio:.2f}, {100 * (ratio / weighted - 1):+.0f}% over the "
        "weighted floor"
    )
    return ratio


def run(
    *,
    demo_model: Path = Path("data/models/demo-llava"),
    demo_samples: int = 128,
    samples: int = 48,
    batch_size: int = 16,
    max_new_tokens: int = 4,
    rounds: int = 3,
    text_hidden: int = 1024,
    text_layers: int = 8,
    architecture: Literal["llava", "molmoe"] = "llava",
) -> int:
    """The benchmark on the demo model (if present) and on a random LLaVA or MolmoE."""
    data = load_split("easy_vqa", "val")
    records = [data[i] for i in range(max(demo_samples, samples))]
    print(torch_setup())

    if (demo_model / "config.json").is_file():
        print(f"demo model {demo_model}:")
        demo = load_adapter(demo_model, device="cpu", dtype="float32")
        compare(demo, records[:demo_samples], batch_size, max_new_tokens, rounds)
    else:
        print(
            f"demo model {demo_model} is absent (the workflow's demo_model rule builds it); skipped"
        )

    if architecture == "molmoe":
        print(f"random MolmoE, decoder hidden size 512, {text_layers} layers:")
        large = random_molmoe(512, text_layers)
    else:
        print(f"random LLaVA, decoder hidden size {text_hidden}, {text_layers} layers:")
        large = random_llava(text_hidden, text_layers)
    ratio = compare(large, records[:samples], batch_size, max_new_tokens, rounds)
    print(f"fused/naive wall ratio: {ratio:.2f}")
    return 0
