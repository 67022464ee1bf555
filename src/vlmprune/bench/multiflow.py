"""Benchmark MULTIFLOW step 1 on a synthetic checkpoint shaped like LLaVA-1.5-7B.

Writes random fp16 weights with LLaVA-1.5-7B's tensor names and shapes (7.06 B parameters,
14 GB) into a temporary folder, runs ``vlmprune multiflow step1`` on it as a child process
and prints that process's peak resident memory and wall time, plus what the public
concatenate-and-``kthvalue`` approach would hold in memory. The last line is
``peak RSS GB: X.X``.

Which layout it models: ``--layout hf`` is ``llava-hf/llava-1.5-7b-hf``, tower included, as
published. ``--layout original`` uses the names of ``liuhaotian/llava-v1.5-7b`` but writes the
CLIP tower into the same checkpoint (``model.vision_tower.vision_tower.…``), as LLaVA saves a
model together with its tower; the published ``liuhaotian`` shards hold no tower, and step 1
then reads it from ``mm_vision_tower``'s own checkpoint (``multiflow.vision_tower_path``):
the same tensors, from two directories.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from vlmprune.multiflow.modality import MODALITIES, ModalityRules

GB = 1e9
POOL_ELEMENTS = 1 << 24  # per scale; slices of these pools fill every tensor
SCALES = (0.008, 0.012, 0.016, 0.02, 0.025, 0.03, 0.04, 0.05)


def llava_7b_shapes(layout: str) -> list[tuple[str, tuple[int, ...]]]:
    """Names and shapes of LLaVA-1.5-7B: CLIP ViT-L/14-336, 2-layer MLP projector, Vicuna-7B."""
    if layout == "hf":
        tower, proj, lm, head = (
            "vision_tower.vision_model",
            ("multi_modal_projector.linear_1", "multi_modal_projector.linear_2"),
            "language_model.model",
            "language_model.lm_head",
        )
    else:
        tower, proj, lm, head = (
            "model.vision_tower.vision_tower.vision_model",
            ("model.mm_projector.0", "model.mm_projector.2"),
            "model",
            "lm_head",
        )
    v, v_inter, h, inter, vocab = 1024, 4096, 4096, 11008, 32064
    shapes = [
        (f"{tower}.embeddings.class_embedding", (v,)),
        (f"{tower}.embeddings.patch_embedding.weight", (v, 3, 14, 14)),
        (f"{tower}.embeddings.position_embedding.weight", (577, v)),
        (f"{tower}.pre_layrnorm.weight", (v,)),
        (f"{tower}.pre_layrnorm.bias", (v,)),
    ]
    for i in range(24):
        p = f"{tower}.encoder.layers.{i}"
        for name in ("q_proj", "k_proj", "v_proj", "out_proj"):
            shapes += [
                (f"{p}.self_attn.{name}.weight", (v, v)),
                (f"{p}.self_attn.{name}.bias", (v,)),
            ]
        shapes += [
            (f"{p}.mlp.fc1.weight", (v_inter, v)),
            (f"{p}.mlp.fc1.bias", (v_inter,)),
            (f"{p}.mlp.fc2.weight", (v, v_inter)),
            (f"{p}.mlp.fc2.bias", (v,)),
        ]
        shapes += [
            (f"{p}.{norm}.{kind}", (v,))
            for norm in ("layer_norm1", "layer_norm2")
            for kind in ("weight", "bias")
        ]
    shapes += [
        (f"{tower}.post_layernorm.weight", (v,)),
        (f"{tower}.post_layernorm.bias", (v,)),
        (f"{proj[0]}.weight", (h, v)),
        (f"{proj[0]}.bias", (h,)),
        (f"{proj[1]}.weight", (h, h)),
        (f"{proj[1]}.bias", (h,)),
        (f"{lm}.embed_tokens.weight", (vocab, h)),
    ]
    for i in range(32):
        p = f"{lm}.layers.{i}"
        shapes += [
            (f"{p}.self_attn.{name}.weight", (h, h))
            for name in ("q_proj", "k_proj", "v_proj", "o_proj")
        ]
        shapes += [
            (f"{p}.mlp.gate_proj.weight", (inter, h)),
            (f"{p}.mlp.up_proj.weight", (inter, h)),
            (f"{p}.mlp.down_proj.weight", (h, inter)),
            (f"{p}.input_layernorm.weight", (h,)),
            (f"{p}.post_attention_layernorm.weight", (h,)),
        ]
    shapes += [(f"{lm}.norm.weight", (h,)), (f"{head}.weight", (vocab, h))]
    return shapes


def _numel(shape: tuple[int, ...]) -> int:
    return int(np.prod(shape, dtype=np.int64))


def _shards(
    shapes: list[tuple[str, tuple[int, ...]]], shard_bytes: int
) -> list[list[tuple[str, tuple[int, ...]]]]:
    shards: list[list] = [[]]
    size = 0
    for name, shape in shapes:
        if shards[-1] and size + 2 * _numel(shape) > shard_bytes:
            shards.append([])
            size = 0
        shards[-1].append((name, shape))
        size += 2 * _numel(shape)
    return shards


def _slices(pools: np.ndarray, index: int, numel: int) -> list[np.ndarray]:
    """The fp16 values of tensor ``index``: consecutive slices of one scale's pool."""
    pool = pools[index % len(SCALES)]
    start = (index * 7919) % POOL_ELEMENTS
    out, left = [], numel
    while left:
        take = min(left, POOL_ELEMENTS - start)
        out.append(pool[start : start + take])
        left -= take
        start = 0
    return out


def write_checkpoint(
    directory: Path, layout: str = "hf", fmt: str = "safetensors", shard_bytes: int = 5 * 10**9
) -> int:
    """Write the synthetic fp16 checkpoint; returns its size in bytes."""
    rng = np.random.default_rng(0)
    base = rng.standard_normal(POOL_ELEMENTS, dtype=np.float32)
    pools = np.stack([(base * s).astype(np.float16) for s in SCALES])
    shapes = llava_7b_shapes(layout)
    index = {name: i for i, (name, _) in enumerate(shapes)}
    groups = _shards(shapes, shard_bytes if fmt == "safetensors" else 2 * 10**9)
    weight_map = {}
    for n, group in enumerate(groups):
        suffix = "safetensors" if fmt == "safetensors" else "bin"
        prefix = "model" if fmt == "safetensors" else "pytorch_model"
        filename = f"{prefix}-{n + 1:05d}-of-{len(groups):05d}.{suffix}"
        weight_map.update({name: filename for name, _ in group})
        if fmt == "safetensors":
            header, offset = {}, 0
            for name, shape in group:
                size = 2 * _numel(shape)
                header[name] = {
                    "dtype": "F16",
                    "shape": list(shape),
                    "data_offsets": [offset, offset + size],
                }
                offset += size
            raw = json.dumps(header, separators=(",", ":")).encode()
            raw += b" " * (-len(raw) % 8)
            with open(directory / filename, "wb") as f:
                f.write(len(raw).to_bytes(8, "little"))
                f.write(raw)
                for name, shape in group:
                    for piece in _slices(pools, index[name], _numel(shape)):
                        f.write(memoryview(piece).cast("B"))
        else:
            state = {
                name: torch.from_numpy(
                    np.concatenate(_slices(pools, index[name], _numel(shape)))
                ).reshape(shape)
                for name, shape in group
            }
            torch.save(state, directory / filename)
            del state
    index_name = (
        "model.safetensors.index.json" if fmt == "safetensors" else "pytorch_model.bin.index.json"
    )
    (directory / index_name).write_text(json.dumps({"weight_map": weight_map}, indent=1))
    (directory / "config.json").write_text(
        json.dumps({"model_type": "llava" if layout == "hf" else "llava_llama"})
    )
    return sum(f.stat().st_size for f in directory.iterdir())


def concatenation_estimate(layout: str) -> dict[str, float]:
    """Bytes the public approach holds: fp16 model, |W| of the largest modality concatenated, kthvalue's copy."""
    shapes = llava_7b_shapes(layout)
    rules = ModalityRules.build("llava-hf" if layout == "hf" else "llava-original")
    per_modality = dict.fromkeys(MODALITIES, 0)
    for name, shape in shapes:
        if rules.is_prunable(name, shape) and rules.modality(name):
            per_modality[rules.modality(name)] += _numel(shape)
    model = 2 * sum(_numel(s) for _, s in shapes)
    scores = 2 * max(per_modality.values())
    return {"model": model, "scores": scores, "kthvalue": scores, "total": model + 2 * scores}


# Runs step 1's command, then records the process's own peak RSS (VmHWM counts from exec on). The
# parent's ru_maxrss for the child would not do: Linux carries the parent's high-water mark
# (here, the checkpoint writer's) over into a child that forks and execs.
CHILD = """
import resource, sys
from vlmprune.cli import main
code = main(["multiflow", "step1", *sys.argv[2:]])
try:
    peak = next(int(l.split()[1]) for l in open("/proc/self/status") if l.startswith("VmHWM:"))
except OSError:
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
open(sys.argv[1], "w").write(str(peak * 1024))
sys.exit(code)
"""


def time_step1(model_dir: Path, target: float, out_dir: Path) -> tuple[int, float, float]:
    """``vlmprune multiflow step1`` in a new process: its exit code, wall seconds, peak RSS bytes."""
    peak_file = out_dir.parent / "peak_rss_bytes"
    started = time.perf_counter()
    code = subprocess.call(
        [
            sys.executable,
            "-c",
            CHILD,
            str(peak_file),
            "--model-path",
            str(model_dir),
            "--target-sparsity",
            str(target),
            "--output-dir",
            str(out_dir),
        ]
    )
    wall = time.perf_counter() - started
    return code, wall, float(peak_file.read_text()) if peak_file.exists() else float("nan")


def run(
    *,
    target_sparsity: float = 0.5,
    layout: str = "hf",
    checkpoint_format: str = "safetensors",
    work_dir: Path | None = None,
) -> int:
    """The benchmark: write the checkpoint, time step 1 on it, print the figures."""
    workdir = work_dir or Path(tempfile.mkdtemp(prefix="vlmprune-bench-multiflow-"))
    model_dir = workdir / "model"
    try:
        model_dir.mkdir(parents=True, exist_ok=True)
        started = time.perf_counter()
        size = write_checkpoint(model_dir, layout, checkpoint_format)
        tower = (
            " + CLIP tower in the same checkpoint, unlike the published shards"
            if layout == "original"
            else ""
        )
        print(
            "wrote a synthetic fp16 LLaVA-1.5-7B checkpoint "
            f"({layout} names{tower}, {checkpoint_format}): "
            f"{size / GB:.1f} GB in {time.perf_counter() - started:.0f} s to {model_dir}",
            flush=True,
        )
        code, wall, peak = time_step1(model_dir, target_sparsity, workdir / "out")
        if code:
            print(f"step 1 failed with exit code {code}", file=sys.stderr)
            return code
        estimate = concatenation_estimate(layout)
        print(
            f"\nconcatenate + kthvalue would hold: {estimate['model'] / GB:.1f} GB fp16 model + "
            f"{estimate['scores'] / GB:.1f} GB |W| of the largest modality concatenated + "
            f"{estimate['kthvalue'] / GB:.1f} GB kthvalue working copy = {estimate['total'] / GB:.1f} GB "
            "(of GPU memory, in the public code)"
        )
        print(f"wall time s: {wall:.1f}")
        print(f"peak RSS GB: {peak / GB:.1f}")
        return 0
    finally:
        if work_dir is None:
            shutil.rmtree(workdir, ignore_errors=True)
