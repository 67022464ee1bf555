"""Beam search over sets of removed blocks, as plain functions on block tuples.

Step 1 ranks the single-block ablations and keeps the best ``beam_width`` sets; step k
extends every kept set by one more block and keeps the best ``beam_width`` of the distinct
results. Removing blocks together is not additive (blocks depend on each other), which is
why this can beat removing the k individually least important blocks (:func:`greedy_set`).

Ranking is deterministic: higher accuracy first, then the lexicographically smaller sorted
block tuple. Accuracies equal to 12 decimals are ties, so that two means of the same scores
summed in another order do not break a tie by rounding noise.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

Blocks = tuple[int, ...]

TIE_DECIMALS = 12


def canonical(blocks: Iterable[int]) -> Blocks:
    """The sorted tuple of distinct block indices: the one name of a set."""
    return tuple(sorted(set(int(b) for b in blocks)))


def rank(accuracies: Mapping[Blocks, float]) -> list[Blocks]:
    """Block sets best first: higher accuracy, then the lexicographically smaller sorted tuple."""
    return sorted(
        accuracies, key=lambda blocks: (-round(accuracies[blocks], TIE_DECIMALS), canonical(blocks))
    )


def keep(accuracies: Mapping[Blocks, float], beam_width: int) -> list[Blocks]:
    """The ``beam_width`` best sets (fewer when there are fewer candidates)."""
    if beam_width < 1:
        raise ValueError(f"beam_width must be at least 1, got {beam_width}")
    return rank(accuracies)[:beam_width]


def extend(beams: Sequence[Blocks], num_blocks: int) -> dict[Blocks, list[Blocks]]:
    """Every set one block larger than a beam, once each, with the beams it extends.

    A set reached from two beams (``{1} + 2`` and ``{2} + 1``) appears once: it is evaluated
    once. Keys are in lexicographic order, parents in the order of ``beams``.
    """
    candidates: dict[Blocks, list[Blocks]] = {}
    for beam in beams:
        beam = canonical(beam)
        for block in range(num_blocks):
            if block not in beam:
                candidates.setdefault(canonical(beam + (block,)), []).append(beam)
    return dict(sorted(candidates.items()))


def seed_evaluations(beams: Sequence[Blocks], num_blocks: int) -> int:
    """How many variants the seed's code evaluates to extend ``beams``: each distinct set once.

    The seed's code, too, evaluates a set reached from two beams once within a step; what it
    does not share is step 1 (see :func:`seed_first_step`).
    """
    return len(extend(beams, num_blocks))


def seed_first_step(num_blocks: int) -> int:
    """The seed's step 1: a re-run of the baseline and of every single-block removal, which the
    ablation already holds."""
    return num_blocks + 1


def greedy_set(singles: Sequence[Blocks], k: int) -> Blocks:
    """The k individually least important blocks, given step 1's ranking of the single blocks.

    Importance is accuracy(full) - accuracy(drop-i), so ranking single blocks by accuracy
    (ties: lower index first) is ranking them by importance, least important first.
    """
    if any(len(s) != 1 for s in singles):
        raise ValueError("greedy_set needs the ranking of single blocks (step 1)")
    if k > len(singles):
        raise ValueError(f"cannot remove {k} of {len(singles)} blocks")
    return canonical(b for (b,) in singles[:k])
