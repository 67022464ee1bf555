"""Rule beam_step: step k of the beam search, evaluating the distinct extensions of k-1's beams.

A job with more than one GPU runs this script under torchrun. The stores go beside the
baseline store; a complete store with the fingerprint this job would write is reused instead
of evaluated.
"""

import logging
from pathlib import Path

from vlmprune.analysis.beam.evaluate import evaluate_missing
from vlmprune.analysis.beam.files import plan_step, step_record
from vlmprune.engine.distributed import torchrun_world
from vlmprune.result_files import read_json, write_json
from vlmprune.workflow_script import run_rule

log = logging.getLogger("beam_step")


def main(job) -> None:
    evals_dir = Path(job.input.full).parent
    plan = plan_step(read_json(job.input.previous), read_json(job.input.step1))
    log.info(
        "step %d: %d distinct sets (the seed would evaluate %d)",
        plan.step,
        len(plan.variants),
        plan.seed_evaluations,
    )
    with torchrun_world() as world:
        todo, reused = evaluate_missing(
            data=Path(job.input.data),
            dataset=job.wildcards.dataset,
            split=job.params.split,
            variants=plan.variants,
            evals_dir=evals_dir,
            model=job.params.model,
            evaluation=job.params.evaluation,
            world=world,
        )
        if world.is_main:
            write_json(
                job.output[0],
                step_record(
                    plan,
                    evals_dir,
                    job.params.beam_width,
                    job.params.importance,
                    evaluated=todo,
                    reused=reused,
                ),
            )


run_rule(main, snakemake, distributed=True)  # noqa: F821 (the script: directive defines it)
