"""Variants: sets of removed blocks, named canonically so that one set is computed once."""

from __future__ import annotations

import re
from collections.abc import Iterable

from vlmprune.errors import VlmpruneError

FULL = "full"
VARIANT_PATTERN = r"full|drop(-[0-9]+)+"


def variant_id(removed: Iterable[int]) -> str:
    """``full`` for no removed block, else ``drop-`` and the sorted indices: ``drop-3-7``."""
    blocks = sorted(set(int(b) for b in removed))
    return FULL if not blocks else "drop-" + "-".join(map(str, blocks))


def parse_variant(name: str) -> tuple[int, ...]:
    """The removed blocks of a variant id; rejects ids that are not canonical."""
    if not re.fullmatch(VARIANT_PATTERN, name):
        raise ValueError(f"{name!r} is not a variant id (expected 'full' or 'drop-<i>[-<j>…]')")
    blocks = () if name == FULL else tuple(int(b) for b in name.split("-")[1:])
    if variant_id(blocks) != name:
        raise ValueError(f"variant id {name!r} is not canonical; write it as {variant_id(blocks)!r}")
    return blocks


def removed_blocks(variant: str, num_blocks: int, component: str = "language") -> tuple[int, ...]:
    """The blocks a variant id removes, checked against the model's ``num_blocks``."""
    valid = f"the model's {component} blocks are 0..{num_blocks - 1}"
    try:
        removed = parse_variant(variant)
    except ValueError as error:
        raise VlmpruneError(f"{error}; {valid}") from None
    missing = [b for b in removed if b >= num_blocks]
    if missing:
        raise VlmpruneError(f"variant {variant!r} removes block {missing[0]}, which does not exist: {valid}")
    if len(removed) >= num_blocks:
        raise VlmpruneError(f"variant {variant!r} removes every block; {valid}, remove at most {num_blocks - 1}")
    return removed
