"""Compatibility fixes for remote modelling code, each applied only inside a ``with`` block.

Molmo v1's ``modeling_molmoe.py`` (``allenai/MolmoE-1B-0924``) adds the image features into
the flattened token embeddings with ``index_add_(0, index, source)`` where ``source`` is
still ``(batch, tokens, dim)``; torch wants the 2-D ``(batch * tokens, dim)`` there. The fix
flattens such a source, and only in that case (dim 0, a 2-D tensor, a 3-D source whose last
dimension matches): every other call goes to torch unchanged. It swaps
``torch.Tensor.index_add_`` for the duration of the block and restores it afterwards, so code
outside the block (and other models) never sees it.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager

import torch

_ORIGINAL_INDEX_ADD_ = torch.Tensor.index_add_
_lock = threading.RLock()
_depth = 0


def _index_add_flattening_3d_source(
    self: torch.Tensor, dim: int, index: torch.Tensor, source: torch.Tensor, *args, **kwargs
):
    if (
        dim == 0
        and self.dim() == 2
        and isinstance(source, torch.Tensor)
        and source.dim() == 3
        and source.shape[-1] == self.shape[-1]
        and index.numel() == source.shape[0] * source.shape[1]
    ):
        source = source.reshape(-1, source.shape[-1])
        index = index.reshape(-1)
    return _ORIGINAL_INDEX_ADD_(self, dim, index, source, *args, **kwargs)


@contextmanager
def molmo_index_add_fix() -> Iterator[None]:
    """Within the block, ``Tensor.index_add_`` along dim 0 accepts a 3-D source (flattened to
    2-D)."""
    global _depth
    with _lock:
        if _depth == 0:
            torch.Tensor.index_add_ = _index_add_flattening_3d_source
        _depth += 1
    try:
        yield
    finally:
        with _lock:
            _depth -= 1
            if _depth == 0:
                torch.Tensor.index_add_ = _ORIGINAL_INDEX_ADD_
