"""Benchmark the speed-up of exported models against the ideal that their block count allows.

On the demo model (if present) and a randomly initialised LLaVA of about 100M parameters with
8 decoder blocks: export the model without k = 1..4 blocks (``save_pretrained``, loaded back
with ``from_pretrained``), time prefill and decode per token at batch 1 on an easy-VQA prompt in
alternating rounds,
and print each speed-up over the full model next to the ideal 1/(1 - f*k/N), where f is the
measured share of the full model's prefill (decode) time spent inside its N decoder blocks.
The last line is the decode gap to the ideal at k = 4 on the larger model.
"""

from __future__ import annotations

import statistics
import tempfile
from pathlib import Path

from vlmprune.bench.engine import torch_setup
from vlmprune.data.registry import load_split
from vlmprune.engine.variants import variant_id
from vlmprune.export.depth_variant import export_variant
from vlmprune.export.latency import block_time_share, timed_generate
from vlmprune.models.loading import load_adapter


def random_llava_dir(out: Path, hidden: int, layers: int) -> Path:
    """The engine benchmark's random LLaVA (demo tokenizer, 8x8 patches), saved so that it loads like a checkpoint."""
    from vlmprune.bench.engine import random_llava

    adapter = random_llava(hidden, layers)
    adapter.model.save_pretrained(out)
    adapter.processor.save_pretrained(out)
    return out


def interleaved(
    adapters: dict[int, object], inputs: dict, new_tokens: int, repeats: int
) -> dict[int, dict[str, float]]:
    """Median prefill and decode per token of each model, timed in alternating rounds (load drifts hit all alike)."""
    times: dict[int, list[tuple[float, float]]] = {k: [] for k in adapters}
    for adapter in adapters.values():
        timed_generate(adapter, inputs, new_tokens)  # warm-up
    for _ in range(repeats):
        for k, adapter in adapters.items():
            times[k].append(
                (timed_generate(adapter, inputs, 1), timed_generate(adapter, inputs, new_tokens))
            )
    return {
        k: {
            "prefill": statistics.median(p for p, _ in pairs),
            "decode": statistics.median((t - p) / (new_tokens - 1) for p, t in pairs),
        }
        for k, pairs in times.items()
    }


def speedups(
    path: Path, records: list[dict], ks: list[int], new_tokens: int, repeats: int, workdir: Path
) -> float:
    """Print measured and ideal speed-ups per k; return the decode gap to the ideal at the largest k."""
    full = load_adapter(path, device="auto", dtype="float32")
    inputs = full.encode(records[:1])
    n = len(full.blocks)
    params = sum(p.numel() for p in full.model.parameters())
    share = block_time_share(full, inputs, new_tokens, repeats)
    adapters = {0: full}
    for k in ks:
        removed = list(range(1, k + 1))
        out = export_variant(
            full, variant_id(removed), workdir / variant_id(removed), card="benchmark\n"
        )
        adapters[k] = load_adapter(out, device="auto", dtype="float32")
    median = interleaved(adapters, inputs, new_tokens, repeats)
    print(
        f"  {params / 1e6:.1f}M parameters, {n} blocks, prompt of {inputs['input_ids'].shape[1]} tokens, "
        f"{new_tokens} new tokens, median of {repeats} alternating rounds"
    )
    print(
        f"  full model: prefill {1000 * median[0]['prefill']:.1f} ms, decode {1000 * median[0]['decode']:.2f} ms/token; "
        f"share in blocks f: prefill {share['prefill']:.3f}, decode {share['decode']:.3f}"
    )
    print("  k | prefill speed-up (ideal) | decode speed-up (ideal) | decode vs ideal")
    gap = float("nan")
    for k in ks:
        prefill = median[0]["prefill"] / median[k]["prefill"]
        decode = median[0]["decode"] / median[k]["decode"]
        ideal_prefill, ideal_decode = (
            1 / (1 - share[phase] * k / n) for phase in ("prefill", "decode")
        )
        gap = decode / ideal_decode - 1
        print(
            f"  {k} | {prefill:.2f}x ({ideal_prefill:.2f}x) | {decode:.2f}x ({ideal_decode:.2f}x) | {100 * gap:+.1f}%"
        )
    return gap


def run(
    *,
    demo_model: Path = Path("data/models/demo-llava"),
    text_hidden: int = 1024,
    text_layers: int = 8,
    max_blocks_to_remove: int = 4,
    new_tokens: int = 16,
    repeats: int = 7,
) -> int:
    """The benchmark on the demo model (if present) and on a random LLaVA."""
    data = load_split("easy_vqa", "val")
    records = [data[i] for i in range(1)]
    print(torch_setup())
    ks = list(range(1, max_blocks_to_remove + 1))
    with tempfile.TemporaryDirectory(prefix="vlmprune-bench-export-") as tmp:
        workdir = Path(tmp)
        if (demo_model / "config.json").is_file():
            print(f"demo model {demo_model}:")
            speedups(demo_model, records, ks, new_tokens, repeats, workdir / "demo")
        else:
            print(f"demo model {demo_model} is absent (rule demo_model builds it); skipped")
        print(f"random LLaVA, decoder hidden size {text_hidden}, {text_layers} layers:")
        path = random_llava_dir(workdir / "random-llava", text_hidden, text_layers)
        gap = speedups(path, records, ks, new_tokens, repeats, workdir / "random")
    print(f"decode speed-up at k={ks[-1]}, batch 1, vs the ideal: {100 * gap:+.1f}%")
    return 0
