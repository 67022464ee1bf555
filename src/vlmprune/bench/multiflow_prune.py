"""Benchmark MULTIFLOW steps 1-3 on a randomly initialised LLaVA of about 100 M parameters.

Writes the model (float32, ``save_pretrained``) and ``--samples`` prepared easy-VQA records
into a temporary folder, then runs each step in a fresh process (budgets, calibration,
scores and masks) and prints its wall time and peak RSS; the RSS after the imports (torch's
CUDA build alone maps about 360 MiB of shared-library pages, whatever the model) and the peak
above it, which is what the model and the step cost; the RSS after
loading the model with every weight touched (``from_pretrained`` maps the safetensors file,
whose pages count towards RSS only once read), so that the step's own memory is its peak
above the loaded model; the memory of the calibration statistics against the model's; and
the same quantities for LLaVA-1.5-7B worked out from its shapes.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

MB = 2**20

# Each step runs here, in its own interpreter, so that its peak RSS (VmHWM) is its own.
CHILD = """
import json, sys, time
def rss(key):
    return next(int(l.split()[1]) for l in open("/proc/self/status") if l.startswith(key)) * 1024
step, report, a = sys.argv[1], sys.argv[2], json.loads(sys.argv[3])
from vlmprune.multiflow import MultiflowConfig, run_step1
from vlmprune.multiflow.prune import calibrate, load_model, make_masks
model = {"path": a["model"], "device": "cpu", "dtype": "float32"}
imports = rss("VmRSS:")
started = time.perf_counter()
loaded = None
if step == "budgets":
    run_step1(a["model"], a["target"], a["budgets"], None, MultiflowConfig(), out=open("/dev/null", "w"))
else:
    adapter = load_model(model)
    sum(float(p.detach().sum()) for p in adapter.model.parameters())  # fault in every mapped weight page
    loaded = rss("VmRSS:")
    if step == "calibration":
        calibrate(model, a["data"], a["nsamples"], MultiflowConfig(), a["stats"], batch_size=a["batch_size"], adapter=adapter)
    else:
        make_masks(model, a["stats"], a["method"], a["target"], a["masks"], a["summary"], budgets_path=a["budgets"],
                   adapter=adapter)
wall = time.perf_counter() - started
json.dump({"wall": wall, "peak": rss("VmHWM:"), "imports": imports, "loaded": loaded}, open(report, "w"))
"""


def build_model(directory: Path, sizes: dict[str, int]) -> int:
    """A random LLaVA with the demo tokenizer and processor, saved in float32; its parameter count.

    ``sizes``: ``text_hidden``, ``text_intermediate``, ``text_layers``, ``vision_hidden``,
    ``vision_layers``.
    """
    import torch

    from vlmprune.data.sources.easy_vqa import answer_vocabulary, iter_questions
    from vlmprune.demo.tokenizer import build_tokenizer
    from vlmprune.demo.train import build_model as build_llava
    from vlmprune.demo.train import build_processor

    torch.manual_seed(0)
    tokenizer = build_tokenizer(
        [row["question"] for _, row in zip(range(2000), iter_questions("train"))]
        + answer_vocabulary()
    )
    model = build_llava(
        tokenizer,
        patch_size=16,
        vision_hidden=sizes["vision_hidden"],
        vision_intermediate=4 * sizes["vision_hidden"],
        vision_layers=sizes["vision_layers"],
        text_hidden=sizes["text_hidden"],
        text_intermediate=sizes["text_intermediate"],
        text_layers=sizes["text_layers"],
        heads=8,
    )
    model.save_pretrained(directory)
    build_processor(tokenizer, patch_size=16).save_pretrained(directory)
    return sum(p.numel() for p in model.parameters())


def run_step(step: str, work: Path, arguments: dict) -> dict:
    report = work / f"{step}.report.json"
    code = subprocess.call([sys.executable, "-c", CHILD, step, str(report), json.dumps(arguments)])
    if code != 0:
        raise RuntimeError(f"step {step} failed with exit code {code}")
    return json.loads(report.read_text())


def llava_7b_estimate() -> dict[str, float]:
    """LLaVA-1.5-7B on paper: weights, statistics (float64 per input feature), largest layer, packed masks."""
    from vlmprune.bench.multiflow import llava_7b_shapes
    from vlmprune.multiflow.modality import ModalityRules

    rules = ModalityRules.build("llava-hf")
    shapes = llava_7b_shapes("hf")
    prunable = [s for n, s in shapes if rules.is_prunable(n, s) and rules.modality(n)]
    params = sum(int(np.prod(s)) for _, s in shapes)
    largest = max(int(np.prod(s)) for s in prunable)
    return {
        "params": params,
        "weights_fp16_bytes": 2 * params,
        "prunable": sum(int(np.prod(s)) for s in prunable),
        "stats_bytes": 8 * sum(s[1] for s in prunable),
        "largest_layer": largest,
        # one layer's scoring: |W| and the flow (float32), the score, kthvalue's copy, the bool mask
        "scoring_bytes": 4 * 4 * largest + largest,
        "packed_masks_bytes": sum(int(np.prod(s)) for s in prunable) / 8,
    }


def run(
    *,
    samples: int = 128,
    target_sparsity: float = 0.5,
    method: str = "multiflow",
    batch_size: int = 8,
    text_hidden: int = 1024,
    text_intermediate: int = 2816,
    text_layers: int = 8,
    vision_hidden: int = 256,
    vision_layers: int = 4,
    work_dir: Path | None = None,
) -> int:
    """The benchmark: model and data built, each step run in its own process, figures printed."""
    sizes = dict(
        text_hidden=text_hidden,
        text_intermediate=text_intermediate,
        text_layers=text_layers,
        vision_hidden=vision_hidden,
        vision_layers=vision_layers,
    )
    work = work_dir or Path(tempfile.mkdtemp(prefix="bench-multiflow-prune-"))
    work.mkdir(parents=True, exist_ok=True)
    try:
        from vlmprune.data.registry import load_split

        model_dir, data = work / "model", work / "easy_vqa" / "val"
        params = build_model(model_dir, sizes)
        load_split("easy_vqa", "val").select(range(samples)).save_to_disk(str(data))
        model_bytes = 4 * params
        print(
            f"model: random LLaVA, {params / 1e6:.1f} M parameters, float32 {model_bytes / MB:.0f} MiB; "
            f"{samples} calibration samples, {method} at {target_sparsity}"
        )
        arguments = {
            "model": str(model_dir),
            "data": str(data),
            "nsamples": samples,
            "batch_size": batch_size,
            "target": target_sparsity,
            "method": method,
            "budgets": str(work / "budgets.json"),
            "stats": str(work / "stats.safetensors"),
            "masks": str(work / "masks.safetensors"),
            "summary": str(work / "masks.json"),
        }
        for step in ("budgets", "calibration", "masks"):
            r = run_step(step, work, arguments)
            loaded = (
                (
                    f", model loaded and resident {r['loaded'] / MB:.0f} MiB, the step's own peak above that "
                    f"{(r['peak'] - r['loaded']) / MB:.0f} MiB = {(r['peak'] - r['loaded']) / model_bytes:.2f}x the model"
                )
                if r["loaded"]
                else ""
            )
            above = r["peak"] - r["imports"]
            print(
                f"{step:<12} wall {r['wall']:7.1f} s   peak RSS {r['peak'] / MB:7.0f} MiB "
                f"({r['peak'] / model_bytes:.2f}x the model; after imports {r['imports'] / MB:.0f} MiB, the peak above "
                f"that {above / MB:.0f} MiB = {above / model_bytes:.2f}x the model{loaded})"
            )
        from safetensors import safe_open

        with safe_open(arguments["stats"], framework="pt") as f:
            stats_bytes = sum(f.get_slice(k).get_shape()[0] * 8 for k in f.keys())
        print(
            f"statistics: {stats_bytes / 2**10:.1f} KiB = {100 * stats_bytes / model_bytes:.4f}% of the model's memory"
        )
        print(
            f"masks file: {Path(arguments['masks']).stat().st_size / MB:.2f} MiB (1 bit per prunable weight)"
        )
        e = llava_7b_estimate()
        print(
            f"LLaVA-1.5-7B on paper: {e['params'] / 1e9:.2f} B parameters ({e['weights_fp16_bytes'] / 2**30:.1f} GiB fp16), "
            f"{e['prunable'] / 1e9:.2f} B prunable; statistics {e['stats_bytes'] / MB:.1f} MiB "
            f"({100 * e['stats_bytes'] / e['weights_fp16_bytes']:.3f}%); largest layer {e['largest_layer'] / 1e6:.1f} M "
            f"weights, scoring it {e['scoring_bytes'] / MB:.0f} MiB; packed masks {e['packed_masks_bytes'] / MB:.0f} MiB"
        )
    finally:
        if work_dir is None:
            shutil.rmtree(work, ignore_errors=True)
    return 0
