"""Evaluating the sets a beam step or the validation needs, reusing stores that already hold them."""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from vlmprune.analysis.beam.files import split_reusable
from vlmprune.engine.distributed import World
from vlmprune.engine.run import expected_fingerprints, run_evaluation

log = logging.getLogger(__name__)


def evaluate_missing(
    *,
    data: Path,
    dataset: str,
    split: str,
    variants: Sequence[str],
    evals_dir: Path,
    model: Mapping[str, Any],
    evaluation: Mapping[str, Any],
    world: World,
) -> tuple[list[str], list[str]]:
    """Evaluate, in one fused job, the variants without a reusable store; return (evaluated, reused)."""
    fingerprints = expected_fingerprints(
        data=data,
        dataset=dataset,
        split=split,
        variants=variants,
        model=model,
        evaluation=evaluation,
    )
    todo, reused = split_reusable(variants, evals_dir, fingerprints)
    log.info(
        "%d sets: %d to evaluate, %d reused from earlier stores",
        len(variants),
        len(todo),
        len(reused),
    )
    if todo:
        run_evaluation(
            data=data,
            dataset=dataset,
            split=split,
            variants=todo,
            stores=[evals_dir / f"{v}.h5" for v in todo],
            summary=None,
            model=model,
            evaluation=evaluation,
            world=world,
        )
    return todo, reused
