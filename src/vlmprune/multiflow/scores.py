"""MULTIFLOW step 2, weight side: a score per weight; lower scores are pruned first.

``norm_sq`` is the per-input-feature ``||X_j||^2 / n`` of :mod:`vlmprune.multiflow.calibration`.

- ``multiflow`` — the information flow of Farina et al., "MULTIFLOW: Shifting Towards
  Task-Agnostic Vision-Language Pruning", CVPR 2024 (eq. 6; ``MultiFlow.score`` in
  ``FarinaMatteo/multiflow``, ``pruners/multiflow.py``). With ``a_j = sqrt(norm_sq_j)``, the
  importance of output neuron i is ``mean_j |W_ij| a_j``, that of input neuron j is
  ``mean_i |W_ij| a_j``, and the score of a weight is ``|W_ij|`` times both:
  ``S_ij = (mean_k |W_ik| a_k) * (mean_k |W_kj| a_j) * |W_ij|``.
- ``wanda`` — Sun et al., "A Simple and Effective Pruning Approach for Large Language Models",
  ICLR 2024 (``locuslab/wanda``, ``lib/prune.py``): ``S_ij = |W_ij| * sqrt(norm_sq_j)``.
- ``magnitude`` — ``|W_ij|``.

Scores are float32 (the MULTIFLOW code also scores in fp32), computed one layer at a time.
"""

from __future__ import annotations

from collections.abc import Callable

import torch

Score = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


def magnitude_score(weight: torch.Tensor, norm_sq: torch.Tensor | None = None) -> torch.Tensor:
    return weight.detach().to(torch.float32).abs()


def wanda_score(weight: torch.Tensor, norm_sq: torch.Tensor) -> torch.Tensor:
    return weight.detach().to(torch.float32).abs() * norm_sq.to(
        weight.device, torch.float32
    ).sqrt().unsqueeze(0)


def multiflow_score(weight: torch.Tensor, norm_sq: torch.Tensor) -> torch.Tensor:
    magnitude = weight.detach().to(torch.float32).abs()
    flow = magnitude * norm_sq.to(weight.device, torch.float32).sqrt().unsqueeze(0)
    output_importance = flow.mean(dim=1)  # [out]
    input_importance = flow.mean(dim=0)  # [in]
    del flow
    return torch.outer(output_importance, input_importance).mul_(magnitude)


SCORES: dict[str, Score] = {
    "multiflow": multiflow_score,
    "wanda": wanda_score,
    "magnitude": magnitude_score,
}
