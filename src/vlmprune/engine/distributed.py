"""The torchrun world: rank and size from the environment, gloo on CPU and nccl on GPU."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import torch
import torch.distributed as dist


@dataclass(frozen=True)
class World:
    rank: int = 0
    size: int = 1
    local_rank: int = 0

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    def device(self, requested: str) -> str:
        """The device this rank uses: its own GPU under torchrun, else what was asked for."""
        if requested in ("auto", "cuda") and torch.cuda.is_available():
            return f"cuda:{self.local_rank}"
        return "cpu" if requested == "auto" else requested

    def gather(self, obj: Any) -> list[Any]:
        """Every rank's ``obj`` on the main rank (in rank order); ``[]`` elsewhere."""
        if self.size == 1:
            return [obj]
        out: list[Any] | None = [None] * self.size if self.is_main else None
        dist.gather_object(obj, out, dst=0)
        return out or []

    def broadcast(self, obj: Any) -> Any:
        """The main rank's ``obj`` on every rank."""
        if self.size == 1:
            return obj
        box = [obj]
        dist.broadcast_object_list(box, src=0)
        return box[0]

    def barrier(self) -> None:
        if self.size > 1:
            dist.barrier()


@contextmanager
def torchrun_world() -> Iterator[World]:
    """The torchrun world for the duration of the context.

    With more than one process the context joins the process group (nccl on GPU, gloo on
    CPU) and leaves it on exit, whether or not the work inside succeeded.
    """
    size = int(os.environ.get("WORLD_SIZE", "1"))
    if size == 1:
        yield World()
        return
    rank = int(os.environ["RANK"])
    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    if torch.cuda.is_available():
        torch.cuda.set_device(local_rank)
        backend = "nccl"
    else:
        backend = "gloo"
    if not dist.is_initialized():
        dist.init_process_group(backend=backend)
    try:
        yield World(rank=rank, size=size, local_rank=local_rank)
    finally:
        if dist.is_initialized():
            dist.destroy_process_group()
