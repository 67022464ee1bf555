"""Rule beam_validate: every step's kept beams and greedy set evaluated on another split.

A job with more than one GPU runs this script under torchrun. Single blocks are read from that
split's ablation stores; larger sets are evaluated beside them or reused.
"""

from pathlib import Path

from vlmprune.analysis.beam.evaluate import evaluate_missing
from vlmprune.analysis.beam.files import validation_record, validation_sets
from vlmprune.engine.distributed import torchrun_world
from vlmprune.engine.variants import variant_id
from vlmprune.result_files import read_json, write_json
from vlmprune.workflow_script import run_rule


def main(job) -> None:
    evals_dir = Path(job.input.full).parent
    steps = [read_json(p) for p in job.input.steps]
    larger = [variant_id(b) for b in validation_sets(steps) if len(b) > 1]
    with torchrun_world() as world:
        todo, reused = evaluate_missing(
            data=Path(job.input.data),
            dataset=job.wildcards.dataset,
            split=job.wildcards.split,
            variants=larger,
            evals_dir=evals_dir,
            model=job.params.model,
            evaluation=job.params.evaluation,
            world=world,
        )
        if world.is_main:
            write_json(
                job.output[0],
                validation_record(
                    steps, evals_dir, job.params.importance, evaluated=todo, reused=reused
                ),
            )


run_rule(main, snakemake, distributed=True)  # noqa: F821 (the script: directive defines it)
