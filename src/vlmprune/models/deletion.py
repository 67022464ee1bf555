"""Physical block deletion: the model as if it had been built without the removed blocks.

Unlike :mod:`vlmprune.models.skipping`, the blocks leave the block list, so every later
layer moves down: its ``layer_idx`` (its KV-cache slot) is renumbered, and every per-layer
field of the configuration shrinks with it. What those fields are is family knowledge, named
by each adapter (:class:`~vlmprune.models.base.ModelAdapter` class attributes); this module
only applies them. Everything is restored when the context ends, so one loaded model can be
exported or timed as several variants in turn.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from torch import nn


def check_removed(removed: Iterable[int], num_blocks: int) -> list[int]:
    """The sorted removed indices; an index outside 0..num_blocks-1, or every block, is an error."""
    removed = sorted(set(int(i) for i in removed))
    bad = [i for i in removed if not 0 <= i < num_blocks]
    if bad:
        raise ValueError(f"block {bad[0]} does not exist; the model has blocks 0..{num_blocks - 1}")
    if len(removed) >= num_blocks:
        raise ValueError(
            f"removing all {num_blocks} blocks leaves no model; remove at most {num_blocks - 1}"
        )
    return removed


def remap_hidden_state_index(index: int, num_blocks: int, removed: Sequence[int]) -> int:
    """Where the hidden state a model selects (``hidden_states[index]``) sits once ``removed`` are
    deleted.

    ``hidden_states[s]`` is the output of block ``s - 1`` (``s = 0``: the embeddings), so it
    depends on blocks ``0..s-1`` only. A negative index counts from the end, which moves by the
    removed blocks at or after ``s``; a non-negative one moves by those before it.
    """
    position = index if index >= 0 else num_blocks + 1 + index
    if index >= 0:
        return index - sum(1 for i in removed if i < position)
    return index + sum(1 for i in removed if i >= position)


def remap_index_list(indices: Sequence[int], removed: Sequence[int]) -> list[int]:
    """A list of block indices (e.g. the layers with scaled rotary tables) after deletion."""
    gone = set(removed)
    return [i - sum(1 for r in removed if r < i) for i in indices if i not in gone]


def config_at(root: Any, dotted: str) -> Any:
    """The sub-configuration at a dotted path ('' is the root): attributes, or keys of a dict
    section."""
    for part in filter(None, dotted.split(".")):
        root = root[part] if isinstance(root, dict) else getattr(root, part)
    return root


def _get(section: Any, key: str) -> Any:
    return section.get(key) if isinstance(section, dict) else getattr(section, key, None)


def _set(section: Any, key: str, value: Any) -> None:
    if isinstance(section, dict):
        section[key] = value
    else:
        setattr(section, key, value)


@contextmanager
def delete_blocks(
    model: nn.Module,
    blocks: nn.ModuleList,
    removed: Iterable[int],
    *,
    config_fields: Sequence[tuple[str, str, str]],
    owner_attributes: Sequence[tuple[str, str]] = (),
) -> Iterator[None]:
    """Within the context, ``removed`` are deleted from ``blocks`` and the model's config says so.

    ``config_fields`` are ``(config path, key, kind)`` (the path's sections may be dicts) with kind
    ``count`` (the block count),
    ``per_layer`` (a list with one entry per block), ``indices`` (a list of block indices) or
    ``hidden_state`` (an index, or list of indices, into the hidden states the model selects).
    ``owner_attributes`` are ``(name, kind)`` of such lists held by the module that owns ``blocks``.
    Every integer ``layer_idx`` inside a kept block is renumbered to its new position.
    """
    num_blocks = len(blocks)
    removed = check_removed(removed, num_blocks)
    originals = list(blocks)
    kept = [b for i, b in enumerate(originals) if i not in set(removed)]
    owner = next(
        (m for m in model.modules() if any(child is blocks for child in m.children())), None
    )
    saved: list[tuple[Any, str, Any]] = []

    def assign(target: Any, key: str, value: Any) -> None:
        saved.append((target, key, copy.deepcopy(_get(target, key))))
        _set(target, key, value)

    try:
        del blocks[:]
        blocks.extend(kept)
        for position, block in enumerate(kept):
            for module in block.modules():
                if isinstance(getattr(module, "layer_idx", None), int):
                    assign(module, "layer_idx", position)
        for path, key, kind in config_fields:
            try:
                section = config_at(model.config, path)
            except (AttributeError, KeyError):  # a section this checkpoint's config does not have
                continue
            for target in _configs_like(model, section):
                value = _get(target, key)
                if value is not None:
                    assign(target, key, _updated(value, kind, num_blocks, removed))
        for name, kind in owner_attributes:
            value = getattr(owner, name, None)
            if value is not None:
                assign(owner, name, type(value)(_updated(value, kind, num_blocks, removed)))
        yield
    finally:
        for target, key, value in reversed(saved):
            _set(target, key, value)
        del blocks[:]
        blocks.extend(originals)


def _configs_like(model: nn.Module, config: Any) -> list[Any]:
    """``config`` and every distinct config of the same class held by a submodule (some models copy
    theirs)."""
    if isinstance(config, dict):  # a section inside one config
        return [config]
    found = {id(config): config}
    for module in model.modules():
        other = getattr(module, "config", None)
        if type(other) is type(config):
            found.setdefault(id(other), other)
    return list(found.values())


def _updated(value: Any, kind: str, num_blocks: int, removed: list[int]) -> Any:
    if kind == "count":
        return int(value) - len(removed)
    if kind == "per_layer":
        if len(value) != num_blocks:
            raise ValueError(
                f"a per-layer config list has {len(value)} entries for {num_blocks} blocks"
            )
        return [v for i, v in enumerate(value) if i not in set(removed)]
    if kind == "indices":
        return remap_index_list(value, removed)
    if kind == "hidden_state":
        if isinstance(value, int):
            return remap_hidden_state_index(value, num_blocks, removed)
        return [remap_hidden_state_index(v, num_blocks, removed) for v in value]
    raise ValueError(f"unknown config field kind {kind!r}")
