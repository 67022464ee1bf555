"""Rule beam_joint_evaluate: what joint step k needs on one dataset, where no store holds it yet.

The extensions of joint step k-1's beams, the joint greedy set and every dataset's own
recommended set of size k, on this dataset's analysis split, in one job through the tree
engine; a complete store with the fingerprint this job would write is reused, a raced one
completed. A job with more than one GPU runs this script under torchrun.
"""

from pathlib import Path

from vlmprune.analysis.beam.evaluate import evaluate_missing
from vlmprune.analysis.beam.joint import plan_joint_step
from vlmprune.engine.distributed import torchrun_world
from vlmprune.result_files import read_json, write_json
from vlmprune.workflow_script import run_rule


def main(job) -> None:
    own = {(record := read_json(p))["dataset"]: record for p in job.input.own}
    plan = plan_joint_step(read_json(job.input.previous), read_json(job.input.step1), own)
    dataset = job.wildcards.dataset
    with torchrun_world() as world:
        todo, reused = evaluate_missing(
            data=Path(job.input.data),
            dataset=dataset,
            split=job.params.split,
            variants=plan.variants,
            evals_dir=Path(job.input.full).parent,
            model=job.params.model,
            evaluation=job.params.evaluation,
            world=world,
        )
        if world.is_main:
            write_json(
                job.output[0],
                {"dataset": dataset, "step": plan.step, "evaluated": todo, "reused": reused},
            )


run_rule(main, snakemake, distributed=True)  # noqa: F821 (the script: directive defines it)
