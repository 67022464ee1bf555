"""Benchmark one beam step's candidate list three ways: naive, all-kept prefix shared, every common prefix shared.

The candidates are those the workflow's own ``plan_step`` gives for step k+1 from the beams
of step k (``--beams``), on a randomly initialised LLaVA of about 100M parameters with 8
blocks and easy-VQA val. The three ways run on the same micro-batches in alternating rounds,
so that a change in machine load hits all alike:

- naive: one full ``generate`` per candidate;
- fused: the earlier engine, sharing only the all-kept prefix (``share="all_kept"``);
- tree: the engine, sharing every common prefix (``vlmprune.engine.fused``).

Prints the wall times, the forward passes of each kind, and the floor those counts allow,
weighted by the cost of each kind of pass measured in the naive runs; the last line is
``tree/naive wall ratio: X.XX``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from vlmprune.analysis.beam.files import plan_step
from vlmprune.bench.engine import random_llava, time_in_rounds, torch_setup
from vlmprune.data.registry import load_split
from vlmprune.engine.batching import BatchSizer
from vlmprune.engine.evaluate import predict_per_variant
from vlmprune.engine.fused import plan_tree, predict_fused
from vlmprune.engine.variants import parse_variant
from vlmprune.models.base import ModelAdapter

Variant = tuple[int, ...]
KINDS = ("encoder", "block prefill", "block decode")


def candidates(beams: Sequence[Variant], num_blocks: int) -> list[Variant]:
    """The sets the beam step after ``beams`` evaluates (extensions and greedy set), as ``plan_step`` plans them."""
    step = len(beams[0])
    previous = {"step": step, "num_blocks": num_blocks, "beams": [list(b) for b in beams]}
    order = list(
        dict.fromkeys([b for beam in beams for b in beam] + list(range(num_blocks)))
    )  # step 1's ranking
    step1 = {"candidates": [{"blocks": [b]} for b in order]}
    return [parse_variant(v) for v in plan_step(previous, step1).variants]


def ways(sizer: Callable[[], BatchSizer]) -> dict[str, Callable]:
    return {
        "naive": lambda a, r, v, m: predict_per_variant(a, r, v, m, sizer()),
        "fused": lambda a, r, v, m: predict_fused(a, r, v, m, sizer(), share="all_kept"),
        "tree": lambda a, r, v, m: predict_fused(a, r, v, m, sizer()),
    }


def compare(
    adapter: ModelAdapter,
    records: Sequence[dict],
    variants: Sequence[Variant],
    batch_size: int,
    max_new_tokens: int,
    rounds: int,
) -> float:
    """Time the three ways on ``variants``; return tree/naive."""
    n = len(adapter.blocks)
    params = sum(p.numel() for p in adapter.model.parameters())
    prompt = adapter.encode(records[:1])["input_ids"].shape[1]
    print(
        f"  {params / 1e6:.1f}M parameters, {n} blocks, {len(records)} samples, batch {batch_size}, "
        f"{max_new_tokens} new tokens, prompt of {prompt} tokens, {rounds} rounds"
    )
    print(f"  {len(variants)} candidate sets: {' '.join('-'.join(map(str, v)) for v in variants)}")
    predictors = ways(
        lambda: BatchSizer(batch_size, n)
    )  # at least the batch for every variant: same micro-batches
    t = time_in_rounds(adapter, records, variants, predictors, batch_size, max_new_tokens, rounds)
    wall, counts, seconds, answers = t.wall, t.counts, t.seconds, t.answers
    per_round = -(-len(records) // rounds)
    batches = sum(
        -(-len(records[r * per_round : (r + 1) * per_round]) // batch_size) for r in range(rounds)
    )
    planned = {
        "naive": sum(n - len(v) for v in variants),
        "fused": plan_tree(variants, n, "all_kept").prefills,
        "tree": plan_tree(variants, n).prefills,
    }
    naive = counts["naive"]
    cost = {
        k: seconds["naive"][k] / naive[k] for k in naive
    }  # seconds per call, measured in the naive runs
    for way in predictors:
        passes = ", ".join(f"{counts[way][k]} {k}" for k in KINDS)
        floor = sum(counts[way][k] * cost[k] for k in cost) / sum(naive[k] * cost[k] for k in cost)
        ratio = wall[way] / wall["naive"]
        print(
            f"  {way}: {wall[way]:.1f} s wall, ratio {ratio:.2f} to naive; forward passes: {passes} "
            f"({planned[way]} block prefills per batch planned, x{batches} batches); "
            f"weighted floor {floor:.2f}, measured {100 * (ratio / floor - 1):+.0f}% against it"
        )
    same = all(answers[way] == answers["naive"] for way in predictors)
    print(f"  answers identical all three ways: {'yes' if same else 'NO'}")
    return wall["tree"] / wall["naive"]


def parse_beams(text: str) -> list[Variant]:
    beams = [tuple(sorted(int(b) for b in beam.split(","))) for beam in text.split(";")]
    if len({len(b) for b in beams}) != 1:
        raise ValueError(f"--beams {text!r}: every beam must remove the same number of blocks")
    return beams


def run(
    *,
    beams: str = "1,4;1,6;2,4",
    samples: int = 48,
    batch_size: int = 16,
    max_new_tokens: int = 4,
    rounds: int = 3,
    text_hidden: int = 1024,
    text_layers: int = 8,
) -> int:
    """The benchmark on a random LLaVA: the step after ``beams`` three ways."""
    data = load_split("easy_vqa", "val")
    records = [data[i] for i in range(samples)]
    print(torch_setup())
    variants = candidates(parse_beams(beams), text_layers)
    print(
        f"random LLaVA, decoder hidden size {text_hidden}, {text_layers} layers; "
        f"the step after beams {beams}:"
    )
    ratio = compare(
        random_llava(text_hidden, text_layers),
        records,
        variants,
        batch_size,
        max_new_tokens,
        rounds,
    )
    print(f"tree/naive wall ratio: {ratio:.2f}")
    return 0
