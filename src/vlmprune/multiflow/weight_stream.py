"""Read a checkpoint's weights tensor by tensor, in bounded memory, without building the model.

Two formats: safetensors files (read with plain positioned reads at the offsets in the
file's header, so the data passes through the page cache and never counts towards the
process's resident memory) and PyTorch ``.bin`` shards (``torch.load(weights_only=True,
mmap=True)``; each slice's pages are handed back with ``madvise(MADV_DONTNEED)`` once read,
because a touched page of a mapped file stays resident until the mapping goes away, and one
LLaVA-1.5-7B shard is 10 GB).

Chunks are yielded as unsigned-integer views of the raw bits (``uint16`` for F16/BF16,
``uint32`` for F32): the selection works on bit patterns, never on floats.
"""

from __future__ import annotations

import ctypes
import json
import logging
import mmap
import os
import sys
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from vlmprune.errors import CheckpointError

log = logging.getLogger(__name__)

ITEMSIZE = {
    "F16": 2,
    "BF16": 2,
    "F32": 4,
    "F64": 8,
    "I8": 1,
    "U8": 1,
    "I16": 2,
    "I32": 4,
    "I64": 8,
    "BOOL": 1,
    "F8_E4M3": 1,
    "F8_E5M2": 1,
}
SUPPORTED = ("F16", "BF16", "F32")
BITS_DTYPE = {"F16": np.uint16, "BF16": np.uint16, "F32": np.uint32}
TORCH_NAMES = {
    torch.float16: "F16",
    torch.bfloat16: "BF16",
    torch.float32: "F32",
    torch.float64: "F64",
    torch.int8: "I8",
    torch.uint8: "U8",
    torch.int16: "I16",
    torch.int32: "I32",
    torch.int64: "I64",
    torch.bool: "BOOL",
}
TORCH_BITS = {"F16": torch.int16, "BF16": torch.int16, "F32": torch.int32}
MAX_HEADER_BYTES = 100 * 2**20


@dataclass(frozen=True)
class TensorInfo:
    name: str
    dtype: str  # safetensors spelling: F16, BF16, F32, ...
    shape: tuple[int, ...]
    file: Path
    offset: int = 0  # absolute byte offset of the data (safetensors only)
    source_name: str | None = (
        None  # the name in the file, when ``name`` is another (a tower read from its own checkpoint)
    )

    @property
    def numel(self) -> int:
        return int(np.prod(self.shape, dtype=np.int64)) if self.shape else 1


def _corrupt(path: Path, reason: str) -> CheckpointError:
    return CheckpointError(
        f"cannot read checkpoint file {path}: {reason}. The file is incomplete or corrupt; "
        "download or save the model again."
    )


def weight_files(model_path: str | os.PathLike) -> list[Path]:
    """The weight files of a model directory (or the single file given), safetensors preferred."""
    path = Path(model_path)
    if not path.exists():
        raise CheckpointError(
            f"model path not found: {path}. Point model.path in the config (or --model_path) "
            "at a directory holding *.safetensors or pytorch_model*.bin weight files."
        )
    if path.is_file():
        if path.suffix not in (".safetensors", ".bin"):
            raise CheckpointError(f"{path} is neither a .safetensors nor a .bin weight file.")
        return [path]
    for index_name, pattern in (
        ("model.safetensors.index.json", "*.safetensors"),
        ("pytorch_model.bin.index.json", "pytorch_model*.bin"),
    ):
        index = path / index_name
        if index.exists():
            try:
                shards = sorted(set(json.loads(index.read_text())["weight_map"].values()))
            except (OSError, ValueError, KeyError, AttributeError) as err:
                raise _corrupt(index, f"not a valid shard index ({err})") from err
            missing = [s for s in shards if not (path / s).is_file()]
            if missing:
                raise CheckpointError(
                    f"{index} lists shards that are missing from {path}: {', '.join(missing)}. "
                    "Download the complete checkpoint."
                )
            return [path / s for s in shards]
        found = sorted(path.glob(pattern))
        if found:
            return found
    present = ", ".join(sorted(p.name for p in path.iterdir())[:10]) or "nothing"
    raise CheckpointError(
        f"no weight files in {path} (found: {present}). Expected *.safetensors or "
        "pytorch_model*.bin files as written by save_pretrained."
    )


def _safetensors_header(path: Path) -> list[TensorInfo]:
    try:
        size = path.stat().st_size
        with open(path, "rb") as f:
            prefix = f.read(8)
            if len(prefix) < 8:
                raise _corrupt(path, "shorter than a safetensors header")
            length = int.from_bytes(prefix, "little")
            if length > min(size - 8, MAX_HEADER_BYTES):
                raise _corrupt(
                    path, f"header length {length} does not fit in the file of {size} bytes"
                )
            header = json.loads(f.read(length))
    except OSError as err:
        raise CheckpointError(f"cannot read checkpoint file {path}: {err}") from err
    except (ValueError, UnicodeDecodeError) as err:
        raise _corrupt(path, f"the safetensors header is not valid JSON ({err})") from err
    if not isinstance(header, dict):
        raise _corrupt(path, "the safetensors header is not a JSON object")
    header.pop("__metadata__", None)
    infos = []
    data_start = 8 + length
    for name, entry in header.items():
        try:
            dtype, shape, (begin, end) = (
                entry["dtype"],
                tuple(int(d) for d in entry["shape"]),
                entry["data_offsets"],
            )
        except (KeyError, TypeError, ValueError) as err:
            raise _corrupt(path, f"malformed header entry for {name!r}") from err
        info = TensorInfo(name, dtype, shape, path, data_start + int(begin))
        if dtype in ITEMSIZE and end - begin != info.numel * ITEMSIZE[dtype]:
            raise _corrupt(
                path, f"tensor {name!r} has {end - begin} bytes for shape {list(shape)} of {dtype}"
            )
        if data_start + end > size:
            raise _corrupt(
                path, f"tensor {name!r} ends past the end of the file (truncated download?)"
            )
        infos.append(info)
    return sorted(infos, key=lambda i: i.offset)


def _load_bin(path: Path) -> tuple[dict[str, torch.Tensor], bool]:
    """The shard's state dict, and whether its tensors are memory-mapped from the file."""
    legacy = not zipfile.is_zipfile(path)  # pre-1.6 torch.save format: cannot be memory-mapped
    try:
        state = torch.load(path, map_location="cpu", weights_only=True, mmap=not legacy)
    except Exception as err:  # torch raises many types for a bad archive
        first_line = str(err).strip().split("\n")[0]
        raise _corrupt(
            path, f"torch.load(weights_only=True) failed ({type(err).__name__}: {first_line})"
        ) from err
    if legacy:
        log.warning(
            "%s is in the legacy (non-zip) format, which cannot be memory-mapped: "
            "the whole shard was loaded into memory",
            path,
        )
    if isinstance(state, dict) and "state_dict" in state and isinstance(state["state_dict"], dict):
        state = state["state_dict"]
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise _corrupt(path, "it does not hold a flat state dict of tensors")
    return state, not legacy


def _bin_infos(path: Path, state: dict[str, torch.Tensor]) -> list[TensorInfo]:
    return [
        TensorInfo(name, TORCH_NAMES.get(t.dtype, str(t.dtype)), tuple(t.shape), path)
        for name, t in state.items()
    ]


def list_tensors(files: list[Path]) -> list[TensorInfo]:
    """Every tensor's name, dtype and shape, from the headers only (no tensor data is read)."""
    infos: list[TensorInfo] = []
    for path in files:
        if path.suffix == ".safetensors":
            infos.extend(_safetensors_header(path))
        else:
            state, _ = _load_bin(path)
            infos.extend(_bin_infos(path, state))
            del state
    seen: dict[str, Path] = {}
    for info in infos:
        if info.name in seen:
            raise CheckpointError(
                f"tensor {info.name!r} appears both in {seen[info.name]} and in {info.file}; "
                "the directory mixes two checkpoints."
            )
        seen[info.name] = info.file
    return infos


_libc = ctypes.CDLL(None, use_errno=True) if sys.platform.startswith("linux") else None
_PAGE = mmap.PAGESIZE


def _release_pages(tensor: torch.Tensor) -> None:
    """Drop the process's mapping of the pages under a read-only, file-backed tensor.

    The kernel rounds the range out to whole pages, which may take in the neighbours' first
    and last pages; they are clean file pages, so a later read faults them in again. Never
    call this on anonymous memory: there it would zero the data.
    """
    if _libc is None or tensor.numel() == 0:
        return
    begin = tensor.data_ptr()
    end = begin + tensor.numel() * tensor.element_size()
    begin -= begin % _PAGE
    _libc.madvise(ctypes.c_void_p(begin), ctypes.c_size_t(end - begin), 4)  # MADV_DONTNEED


def _safetensors_chunks(fd: int, info: TensorInfo, buffer: np.ndarray) -> Iterator[np.ndarray]:
    itemsize = ITEMSIZE[info.dtype]
    per_chunk = buffer.nbytes // itemsize
    done = 0
    while done < info.numel:
        count = min(per_chunk, info.numel - done)
        view = memoryview(buffer)[: count * itemsize]
        got = 0
        while got < len(view):
            n = os.preadv(fd, [view[got:]], info.offset + done * itemsize + got)
            if n <= 0:
                raise _corrupt(info.file, f"unexpected end of data in tensor {info.name!r}")
            got += n
        yield buffer[: count * itemsize].view(BITS_DTYPE[info.dtype])
        done += count


def _bin_chunks(
    tensor: torch.Tensor, dtype: str, per_chunk: int, mapped: bool
) -> Iterator[np.ndarray]:
    flat = tensor.reshape(-1).view(TORCH_BITS[dtype])
    mapped = mapped and flat.data_ptr() == tensor.data_ptr()  # reshape did not copy
    for start in range(0, flat.numel(), per_chunk):
        piece = flat[start : start + per_chunk]
        yield piece.numpy().view(BITS_DTYPE[dtype])
        if mapped:
            _release_pages(piece)


def iter_tensor_chunks(
    infos: list[TensorInfo], chunk_bytes: int = 64 * 2**20
) -> Iterator[tuple[TensorInfo, Iterator[np.ndarray]]]:
    """Yield ``(info, chunks)`` for the given tensors, file by file in storage order.

    Each chunk is a view of at most ``chunk_bytes`` raw bits, valid only until the next one is
    requested; consume the chunks of a tensor before moving on to the next tensor.
    """
    by_file: dict[Path, list[TensorInfo]] = {}
    for info in infos:
        if info.dtype not in SUPPORTED:
            raise CheckpointError(
                f"tensor {info.name!r} in {info.file} has dtype {info.dtype}; "
                f"only {', '.join(SUPPORTED)} weights are supported."
            )
        by_file.setdefault(info.file, []).append(info)
    buffer = np.empty(chunk_bytes - chunk_bytes % 4, dtype=np.uint8)
    for path, wanted in by_file.items():
        if path.suffix == ".safetensors":
            try:
                fd = os.open(path, os.O_RDONLY)
            except OSError as err:
                raise CheckpointError(f"cannot open checkpoint file {path}: {err}") from err
            try:
                for info in sorted(wanted, key=lambda i: i.offset):
                    yield info, _safetensors_chunks(fd, info, buffer)
            finally:
                os.close(fd)
        else:
            state, mapped = _load_bin(path)
            for info in wanted:
                tensor = state[info.source_name or info.name]
                yield (
                    info,
                    _bin_chunks(tensor, info.dtype, buffer.nbytes // ITEMSIZE[info.dtype], mapped),
                )
            del state
