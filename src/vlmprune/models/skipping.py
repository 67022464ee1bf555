"""Block removal: a removed block returns its input unchanged.

Swapping a decoder layer for a pass-through module (rather than deleting it) keeps every
other layer's index, so its KV-cache slot and its attention type stay where they were.
That this equals a model physically built without the block, generation and cache
included, is pinned by ``tests/test_skipping.py`` for every adapter.

The removed block still records a placeholder (one head of width one) in the KV cache:
Hugging Face caches answer "how many tokens are cached" and the attention-mask sizes from
layer 0, so with block 0 removed and nothing recorded there, decoding would see an empty
cache and place its tokens wrongly.

The stand-in also carries the removed block's output hooks: ``transformers`` collects
``hidden_states`` with a hook on each layer, and a vision tower whose features are read from
``hidden_states[-1]`` (LLaVA, LLaVA-OneVision) would otherwise get one state too few. So the
skipped block still contributes its (unchanged) input as its hidden state, and every index
into ``hidden_states`` keeps pointing at the same layer.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager

import torch
from torch import nn


class PassThroughBlock(nn.Module):
    """Stands in for a removed block: returns the hidden states it was given."""

    def __init__(self, index: int, returns_tuple: bool = False) -> None:
        super().__init__()
        self.index = index
        self.returns_tuple = returns_tuple

    def forward(
        self, hidden_states: torch.Tensor, *args: object, **kwargs: object
    ) -> torch.Tensor | tuple:
        cache = kwargs.get("past_key_values")
        if cache is not None and hasattr(cache, "update"):
            batch, length = hidden_states.shape[:2]
            placeholder = hidden_states.new_zeros(batch, 1, length, 1)
            cache.update(placeholder, placeholder, self.index)
        return (hidden_states,) if self.returns_tuple else hidden_states


def carry_output_hooks(block: nn.Module, stand_in: nn.Module) -> None:
    """Register on ``stand_in`` the forward hooks ``transformers`` put on ``block`` to record its
    output.

    Other hooks (a profiler's, a test's call counter) stay with the block, which no longer runs.
    """
    for key, hook in block._forward_hooks.items():
        if getattr(hook, "__module__", "").startswith("transformers."):
            stand_in._forward_hooks[key] = hook


@contextmanager
def skip_blocks(
    blocks: nn.ModuleList,
    removed: Iterable[int],
    *,
    returns_tuple: bool = False,
    stand_in: Callable[[int], nn.Module] | None = None,
) -> Iterator[None]:
    """Within the context, the blocks at ``removed`` indices pass their input through.

    ``stand_in(index)`` builds the replacement for architectures whose blocks return more
    than hidden states (Molmo v1); the default is :class:`PassThroughBlock`.
    """
    stand_in = stand_in or (lambda index: PassThroughBlock(index, returns_tuple))
    removed = sorted(set(removed))
    for index in removed:
        if not 0 <= index < len(blocks):
            raise IndexError(
                f"block {index} does not exist; the model has blocks 0..{len(blocks) - 1}"
            )
    originals = {index: blocks[index] for index in removed}
    try:
        for index in removed:
            replacement = stand_in(index)
            carry_output_hooks(originals[index], replacement)
            blocks[index] = replacement
        yield
    finally:
        for index, block in originals.items():
            blocks[index] = block
