"""Variants: sets of removed blocks, named canonically so that one set is computed once."""

from __future__ import annotations

import re
from collections.abc import Iterable

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
