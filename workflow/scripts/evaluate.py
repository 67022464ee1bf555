"""Rules ablate, baseline, ablate_block, evaluate_variant, evaluate_pruned: a store per variant.

A job with more than one GPU runs this script under torchrun; samples are sharded across ranks.
"""

from pathlib import Path

from vlmprune.engine.distributed import torchrun_world
from vlmprune.engine.run import run_evaluation
from vlmprune.workflow_script import run_rule


def main(job) -> None:
    stores = [job.output.store, *job.output.get("stores", [])]
    summary, masks = job.output.get("summary"), job.input.get("masks")
    with torchrun_world() as world:
        run_evaluation(
            data=Path(job.input.data),
            dataset=job.wildcards.dataset,
            split=job.wildcards.split,
            variants=list(job.params.variants),
            stores=[Path(s) for s in stores],
            summary=Path(summary) if summary else None,
            model=job.params.model,
            evaluation=job.params.evaluation,
            world=world,
            masks=Path(masks) if masks else None,
        )


run_rule(main, snakemake, distributed=True)  # noqa: F821 (the script: directive defines it)
