"""Variants, named canonically so that one variant is computed once.

Depth variants are sets of removed blocks (``full``, ``drop-3-7``); width variants are a
pruning method at a sparsity (``multiflow-0.5``, ``wanda-0.5``, ``magnitude-0.5``), whose
weights are masked and whose blocks all stay.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from vlmprune.errors import VlmpruneError

FULL = "full"
VARIANT_PATTERN = r"full|drop(-[0-9]+)+"
PRUNING_METHODS = ("multiflow", "wanda", "magnitude")
WIDTH_PATTERN = rf"({'|'.join(PRUNING_METHODS)})-(0\.[0-9]*[1-9])"


def variant_id(removed: Iterable[int]) -> str:
    """``full`` for no removed block, else ``drop-`` and the sorted indices: ``drop-3-7``."""
    blocks = sorted(set(int(b) for b in removed))
    return FULL if not blocks else "drop-" + "-".join(map(str, blocks))


def width_variant_id(method: str, sparsity: float) -> str:
    """``multiflow-0.5``: the method and the sparsity as Python writes the float."""
    check_sparsity(sparsity)
    name = f"{method}-{float(sparsity)!r}"
    parse_width_variant(name)
    return name


def check_sparsity(sparsity: float) -> None:
    if not 0.0 < float(sparsity) < 1.0:
        raise ValueError(f"target sparsity must lie strictly between 0 and 1, not {sparsity}")


def parse_width_variant(name: str) -> tuple[str, float] | None:
    """``(method, sparsity)`` of a width variant id, None for a depth variant id; rejects malformed
    ones."""
    match = re.fullmatch(WIDTH_PATTERN, name)
    if match is None:
        if name.split("-")[0] in PRUNING_METHODS:
            raise ValueError(
                f"{name!r} is not a width variant id (expected '<method>-<s>' with method one of "
                f"{PRUNING_METHODS} and 0 < s < 1 written like 0.5)"
            )
        return None
    return match.group(1), float(match.group(2))


def parse_variant(name: str) -> tuple[int, ...]:
    """The removed blocks of a variant id (none for a width variant); rejects ids that are not
    canonical."""
    if parse_width_variant(name) is not None:
        return ()
    if not re.fullmatch(VARIANT_PATTERN, name):
        raise ValueError(
            f"{name!r} is not a variant id (expected 'full', 'drop-<i>[-<j>…]' or '<method>-<s>')"
        )
    blocks = () if name == FULL else tuple(int(b) for b in name.split("-")[1:])
    if variant_id(blocks) != name:
        raise ValueError(
            f"variant id {name!r} is not canonical; write it as {variant_id(blocks)!r}"
        )
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
        raise VlmpruneError(
            f"variant {variant!r} removes block {missing[0]}, which does not exist: {valid}"
        )
    if len(removed) >= num_blocks:
        raise VlmpruneError(
            f"variant {variant!r} removes every block; {valid}, remove at most {num_blocks - 1}"
        )
    return removed
