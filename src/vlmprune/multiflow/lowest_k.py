"""MULTIFLOW step 3: which weights of a layer to prune, given its scores.

Both rules prune exactly the stated number of weights. Where scores tie at the cut, the
weight with the lower row-major index goes first (a stable sort of the scores, taking the
first k): the result depends on nothing but the scores. MULTIFLOW's ``_local_mask`` prunes
every weight ``<=`` the k-th score instead, so it can prune more than k when scores tie.
"""

from __future__ import annotations

import torch

ROWS_PER_SORT = 1024


def lowest_k(score: torch.Tensor, k: int) -> torch.Tensor:
    """Boolean mask of the ``k`` lowest scores of the tensor, ties by row-major index."""
    flat = score.reshape(-1)
    n = flat.numel()
    if not 0 <= k <= n:
        raise ValueError(f"cannot prune {k} of {n} weights")
    if k == 0:
        return torch.zeros_like(score, dtype=torch.bool)
    threshold = torch.kthvalue(flat, k).values
    below = flat < threshold
    at = flat == threshold
    still = k - int(below.sum())
    mask = below | (at & (torch.cumsum(at, dim=0, dtype=torch.int64) <= still))
    return mask.reshape(score.shape)


def per_row(score: torch.Tensor, sparsity: float) -> torch.Tensor:
    """Wanda's rule: in every output row prune the ``int(in_features * sparsity)`` lowest scores
    (stable sort)."""
    rows, cols = score.shape
    k = int(cols * sparsity)
    mask = torch.zeros_like(score, dtype=torch.bool)
    if k == 0:
        return mask
    for start in range(0, rows, ROWS_PER_SORT):
        block = score[start : start + ROWS_PER_SORT]
        order = torch.sort(block, dim=1, stable=True).indices[:, :k]
        mask[start : start + ROWS_PER_SORT].scatter_(1, order, True)
    return mask
