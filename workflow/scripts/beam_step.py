"""Rule beam_step: step k of the beam search, evaluating the distinct extensions of step k-1's beams.

Run under ``torchrun --standalone --nproc-per-node=N``. The stores go to ``--evals-dir``; a
complete store with the fingerprint this job would write is reused instead of evaluated. With
``--racing`` (``beam.racing``) the candidates are raced: each is evaluated on the samples its
decision needs, and the best kept set and the greedy set on every sample.
"""

import argparse
import json
import logging
from pathlib import Path

from vlmprune.analysis.beam.evaluate import evaluate_missing, race_step
from vlmprune.analysis.beam.files import StepPlan, plan_step, step_record
from vlmprune.analysis.beam.racing import RacingSettings
from vlmprune.engine.distributed import World, torchrun_world
from vlmprune.engine.run import open_job
from vlmprune.engine.variants import variant_id
from vlmprune.result_files import read_json, write_json
from vlmprune.workflow_script import evaluation_parser, run_main

log = logging.getLogger("beam_step")


def main() -> None:
    parser = evaluation_parser(__doc__, data_help="prepared records of the analysis split")
    parser.add_argument("--previous", required=True, help="step k-1's JSON")
    parser.add_argument(
        "--step1",
        required=True,
        help="step 1's JSON (the single-block ranking, for the greedy set)",
    )
    parser.add_argument(
        "--evals-dir", required=True, help="results/evals/{dataset}/{split}, holding full.h5"
    )
    parser.add_argument("--beam-width", type=int, required=True)
    parser.add_argument(
        "--importance",
        required=True,
        help="the config's importance section (interval settings), as JSON",
    )
    parser.add_argument(
        "--racing", type=json.loads, default=False, help="the config's beam.racing, as JSON"
    )
    parser.add_argument("--out", required=True, help="results/beam/{dataset}/step{k}.json")
    args = parser.parse_args()
    evals_dir = Path(args.evals_dir)
    plan = plan_step(read_json(args.previous), read_json(args.step1))
    log.info(
        "step %d: %d distinct sets (the seed would evaluate %d)",
        plan.step,
        len(plan.variants),
        plan.seed_evaluations,
    )
    racing = RacingSettings.from_config(args.racing)
    with torchrun_world() as world:
        if racing is not None:
            raced_step(args, plan, evals_dir, racing, world)
            return
        todo, reused = evaluate_missing(
            data=Path(args.data),
            dataset=args.dataset,
            split=args.split,
            variants=plan.variants,
            evals_dir=evals_dir,
            model=args.model,
            evaluation=args.evaluation,
            world=world,
        )
        if world.is_main:
            write_json(
                args.out,
                step_record(
                    plan,
                    evals_dir,
                    args.beam_width,
                    json.loads(args.importance),
                    evaluated=todo,
                    reused=reused,
                ),
            )


def raced_step(
    args: argparse.Namespace, plan: StepPlan, evals_dir: Path, racing: RacingSettings, world: World
) -> None:
    job = open_job(
        data=Path(args.data),
        dataset=args.dataset,
        split=args.split,
        model=args.model,
        evaluation=args.evaluation,
        world=world,
    )
    raced = race_step(job, list(plan.candidates), [plan.greedy], evals_dir, args.beam_width, racing)
    if world.is_main:
        write_json(
            args.out,
            step_record(
                plan,
                evals_dir,
                args.beam_width,
                json.loads(args.importance),
                evaluated=[variant_id(b) for b in raced.evaluated],
                reused=[
                    variant_id(b)
                    for b, rows in raced.rows_before.items()
                    if rows == job.num_samples
                ],
                raced=raced,
            ),
        )


run_main(main)
