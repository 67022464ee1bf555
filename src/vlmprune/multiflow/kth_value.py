"""Exact k-th smallest magnitude by histograms over bit patterns.

With the sign bit cleared, the bits of an IEEE float read as an unsigned integer sort in
the same order as the magnitudes (zero, subnormals, normals, inf, then NaN). So for F16 and
BF16 a 2**15-bin histogram of ``bits & 0x7FFF`` ranks every magnitude exactly in one pass.
F32 (or a modality that mixes dtypes, widened exactly to F32) takes two passes: the high 16
bits first, then the low 16 bits of only those values that fall in the chosen high bucket.
Histograms are kept per layer, which gives each layer's count below the threshold and at it
without another pass. Memory: one chunk plus 256 KiB per layer.

Tie-breaking: when k falls among weights whose magnitude equals the threshold, the weights
at the threshold are pruned in the order of sorted tensor name (Python string order), then
flat (row-major) index within the tensor, until exactly k are pruned. This equals a stable
sort of the concatenation of all the modality's |W| in that order, taking the first k.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

BINS = 1 << 16
MAG_BINS = 1 << 15  # a 16-bit pattern with the sign bit cleared


def wide_keys(bits: np.ndarray, dtype: str) -> np.ndarray:
    """The F32 bit pattern (sign kept) of F16/BF16/F32 raw bits; exact, since widening is exact."""
    if dtype == "F32":
        return bits
    if dtype == "BF16":
        return bits.astype(np.uint32) << 16
    return bits.view(np.float16).astype(np.float32).view(np.uint32)


def _fold(hist: np.ndarray) -> np.ndarray:
    """Fold a 65536-bin histogram of signed 16-bit patterns into magnitude bins."""
    return hist[:MAG_BINS] + hist[MAG_BINS:]


def high_histogram(bits: np.ndarray, dtype: str, wide: bool) -> np.ndarray:
    """Magnitude histogram of the 16 high bits (all bits for 16-bit keys): first pass."""
    keys = (wide_keys(bits, dtype) >> 16).astype(np.uint16) if wide else bits
    return _fold(np.bincount(keys, minlength=BINS))


def low_histogram(bits: np.ndarray, dtype: str, bucket: int) -> np.ndarray:
    """Histogram of the 16 low bits of the values whose magnitude's high bits equal ``bucket``."""
    keys = wide_keys(bits, dtype)
    selected = keys[((keys >> 16) & 0x7FFF) == bucket]
    return np.bincount((selected & 0xFFFF).astype(np.uint16), minlength=BINS)


def locate(hist: np.ndarray, k: int) -> tuple[int, int]:
    """Bucket holding the k-th smallest key (1-based) and the count strictly below that bucket."""
    cumulative = np.cumsum(hist, dtype=np.int64)
    if not 1 <= k <= cumulative[-1]:
        raise ValueError(f"k={k} is outside 1..{cumulative[-1]}")
    bucket = int(np.searchsorted(cumulative, k, side="left"))
    return bucket, int(cumulative[bucket] - hist[bucket])


def split_ties(ties: Mapping[str, int], needed: int) -> dict[str, int]:
    """How many of each tensor's threshold-valued weights to prune: first come, in sorted name
    order."""
    taken = {}
    for name in sorted(ties):
        taken[name] = min(ties[name], needed)
        needed -= taken[name]
    if needed:
        raise ValueError("fewer weights at the threshold than needed: histograms are inconsistent")
    return taken


def key_to_float(key: int, dtype: str | None) -> float:
    """The magnitude a key stands for: 16-bit key of ``dtype``, or a 32-bit F32 key when ``dtype``
    is None."""
    if dtype == "F16":
        return float(np.array(key, dtype=np.uint16).view(np.float16))
    if dtype == "BF16":
        return float(np.array(key << 16, dtype=np.uint32).view(np.float32))
    return float(np.array(key, dtype=np.uint32).view(np.float32))
