"""Rule beam_joint_step: step k of the joint search, ranked by beam.objective over every dataset.

Without racing, rule beam_joint_evaluate has put every set the step needs in each dataset's
stores (input ``evaluated`` lists what it evaluated); this job reads them. With
``beam.racing`` this job races the candidates itself on every dataset at once; a job with more
than one GPU then runs this script under torchrun.
"""

from pathlib import Path

from vlmprune.analysis.beam.joint import add_joint_racing, joint_step_record, plan_joint_step
from vlmprune.analysis.beam.racing import RacingSettings
from vlmprune.engine.variants import variant_id
from vlmprune.result_files import read_json, write_json
from vlmprune.workflow_script import run_rule


def main(job) -> None:
    dirs = {d: Path(path) for d, path in job.params.evals_dirs.items()}
    own = {(record := read_json(p))["dataset"]: record for p in job.input.own}
    plan = plan_joint_step(read_json(job.input.previous), read_json(job.input.step1), own)
    racing = RacingSettings.from_config(job.params.get("racing", False))
    if racing is not None:
        race(job, plan, dirs, racing)
        return
    done = {(record := read_json(p))["dataset"]: record for p in job.input.evaluated}
    write_json(
        job.output[0],
        joint_step_record(
            plan,
            dirs,
            job.params.beam_width,
            job.params.objective,
            job.params.importance,
            evaluated={d: done[d]["evaluated"] for d in dirs},
            reused={d: done[d]["reused"] for d in dirs},
        ),
    )


def race(job, plan, dirs: dict[str, Path], racing: RacingSettings) -> None:
    """Race the step's candidates on every dataset at once. Only this path loads the model, so
    only it imports torch and transformers (seconds per job; the exact path reads stores)."""
    from vlmprune.analysis.beam.evaluate import race_joint_step
    from vlmprune.engine.distributed import torchrun_world
    from vlmprune.engine.run import open_job

    beam_width, objective = job.params.beam_width, job.params.objective
    importance = job.params.importance
    with torchrun_world() as world:
        jobs, adapter = {}, None
        for d, data in zip(dirs, job.input.data, strict=True):
            jobs[d] = open_job(
                data=Path(data),
                dataset=d,
                split=read_json(job.input.step1)["split"],
                model=job.params.model,
                evaluation=job.params.evaluations[d],
                world=world,
                adapter=adapter,
            )
            adapter = jobs[d].adapter  # one model for every dataset
        raced = race_joint_step(jobs, plan, dirs, beam_width, objective, racing)
        if world.is_main:
            record = joint_step_record(
                plan,
                dirs,
                beam_width,
                objective,
                importance,
                evaluated={d: [variant_id(b) for b in r.evaluated] for d, r in raced.items()},
                reused={
                    d: [variant_id(b) for b, n in r.rows_before.items() if n == jobs[d].num_samples]
                    for d, r in raced.items()
                },
                kept=next(iter(raced.values())).race.kept,
            )
            write_json(job.output[0], add_joint_racing(record, raced))


run_rule(main, snakemake, distributed=True)  # noqa: F821 (the script: directive defines it)
