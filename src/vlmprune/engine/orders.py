"""The orders a job may evaluate its samples in: the selection's, or the racing order.

A store lists its samples in the selection's order once it is complete. A beam step that races
its candidates evaluates them in the racing order instead: a seeded, uniformly random
permutation of the selection, the same for every set that removes as many blocks (every
candidate of one step), so that after n samples every candidate holds the same n samples, a
sample drawn without replacement from the selection (what the racing bounds assume).

Each step has an order of its own, drawn apart from the other steps' orders: step k's candidates
extend the sets that step k-1's race kept, so they depend on step k-1's order; in an order of its
own, independent of that one, step k's race still sees a uniformly random permutation given its
candidates, which its guarantee assumes. With one order for every step, a set that did well on the
first samples of step k-1 would race its extensions on those same samples.

A raced store is a partial store in its step's order; a later job resumes it in that order and
puts it in the selection's order when it completes it.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

#: Mixed into the racing order's seed, so that it is a stream apart from the sample selection's.
RACING_STREAM = 0x72616365


def selection_order(num_samples: int) -> list[int]:
    return list(range(num_samples))


def racing_order(num_samples: int, seed: int, removed: int) -> list[int]:
    """The racing order of the sets that remove ``removed`` blocks, in a selection of
    ``num_samples``: a permutation seeded by ``seed`` and ``removed``."""
    rng = np.random.default_rng([int(seed), RACING_STREAM, int(removed)])
    return rng.permutation(num_samples).tolist()


def followed_order(
    stored_ids: Sequence[str], sample_ids: Sequence[str], orders: Sequence[Sequence[int]]
) -> int | None:
    """Index of the first of ``orders`` whose beginning lists ``stored_ids``; None if none does."""
    n = len(stored_ids)
    for index, order in enumerate(orders):
        if n <= len(order) and all(sample_ids[order[i]] == stored_ids[i] for i in range(n)):
            return index
    return None
