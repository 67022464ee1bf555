"""Rule beam_step: step k of the beam search, evaluating the distinct extensions of k-1's beams.

A job with more than one GPU runs this script under torchrun. The stores go beside the
baseline store; a complete store with the fingerprint this job would write is reused instead
of evaluated. With ``beam.racing`` the candidates are raced: each is evaluated on the samples
its decision needs, and the best kept set and the greedy set on every sample.
"""

import logging
from pathlib import Path

from vlmprune.analysis.beam.evaluate import evaluate_missing, race_step
from vlmprune.analysis.beam.files import StepPlan, plan_step, step_record
from vlmprune.analysis.beam.racing import RacingSettings
from vlmprune.engine.distributed import World, torchrun_world
from vlmprune.engine.run import open_job
from vlmprune.engine.variants import variant_id
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
    racing = RacingSettings.from_config(job.params.racing)
    with torchrun_world() as world:
        if racing is not None:
            raced_step(job, plan, evals_dir, racing, world)
            return
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


def raced_step(job, plan: StepPlan, evals_dir: Path, racing: RacingSettings, world: World) -> None:
    engine_job = open_job(
        data=Path(job.input.data),
        dataset=job.wildcards.dataset,
        split=job.params.split,
        model=job.params.model,
        evaluation=job.params.evaluation,
        world=world,
    )
    beam_width = job.params.beam_width
    raced = race_step(
        engine_job, list(plan.candidates), [plan.greedy], evals_dir, beam_width, racing
    )
    if world.is_main:
        write_json(
            job.output[0],
            step_record(
                plan,
                evals_dir,
                beam_width,
                job.params.importance,
                evaluated=[variant_id(b) for b in raced.evaluated],
                reused=[
                    variant_id(b)
                    for b, rows in raced.rows_before.items()
                    if rows == engine_job.num_samples
                ],
                raced=raced,
            ),
        )


run_rule(main, snakemake, distributed=True)  # noqa: F821 (the script: directive defines it)
