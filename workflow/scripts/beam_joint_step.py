"""Rule beam_joint_step: step k of the joint search, ranked by beam.objective over every dataset.

Without racing, rule beam_joint_evaluate has put every set the step needs in each dataset's
stores (``--evaluated`` lists what it evaluated); this job reads them. With ``--racing`` this
job races the candidates itself on every dataset at once (``--data`` and ``--evaluations`` per
dataset), under ``torchrun --standalone --nproc-per-node=N``.
"""

import argparse
import json
from pathlib import Path

from vlmprune.analysis.beam.evaluate import race_joint_step
from vlmprune.analysis.beam.joint import add_joint_racing, joint_step_record, plan_joint_step
from vlmprune.analysis.beam.racing import RacingSettings
from vlmprune.engine.distributed import torchrun_world
from vlmprune.engine.run import open_job
from vlmprune.engine.variants import variant_id
from vlmprune.result_files import read_json, write_json
from vlmprune.workflow_script import run_main


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--datasets", nargs="+", required=True)
    parser.add_argument("--evals-dirs", nargs="+", required=True, help="each dataset's stores")
    parser.add_argument("--previous", required=True, help="results/beam/all/step{k-1}.json")
    parser.add_argument("--step1", required=True, help="results/beam/all/step1.json")
    parser.add_argument("--own-steps", nargs="+", required=True, help="each dataset's step{k}")
    parser.add_argument("--evaluated", nargs="*", default=[], help="rule beam_joint_evaluate's")
    parser.add_argument("--beam-width", type=int, required=True)
    parser.add_argument("--objective", required=True, help="beam.objective: mean or worst")
    parser.add_argument("--importance", required=True, help="the config's importance section")
    parser.add_argument("--racing", type=json.loads, default=False, help="beam.racing, as JSON")
    parser.add_argument("--data", nargs="*", default=[], help="racing: each dataset's records")
    parser.add_argument("--model", type=json.loads, help="racing: the model settings, as JSON")
    parser.add_argument(
        "--evaluations", type=json.loads, help="racing: dataset -> evaluation settings, as JSON"
    )
    parser.add_argument("--out", required=True, help="results/beam/all/step{k}.json")
    args = parser.parse_args()
    dirs = dict(zip(args.datasets, map(Path, args.evals_dirs), strict=True))
    own = {(record := read_json(p))["dataset"]: record for p in args.own_steps}
    plan = plan_joint_step(read_json(args.previous), read_json(args.step1), own)
    importance = json.loads(args.importance)
    racing = RacingSettings.from_config(args.racing)
    if racing is None:
        done = {(record := read_json(p))["dataset"]: record for p in args.evaluated}
        write_json(
            args.out,
            joint_step_record(
                plan,
                dirs,
                args.beam_width,
                args.objective,
                importance,
                evaluated={d: done[d]["evaluated"] for d in dirs},
                reused={d: done[d]["reused"] for d in dirs},
            ),
        )
        return
    with torchrun_world() as world:
        jobs, adapter = {}, None
        for d, data in zip(args.datasets, args.data, strict=True):
            jobs[d] = open_job(
                data=Path(data),
                dataset=d,
                split=read_json(args.step1)["split"],
                model=args.model,
                evaluation=args.evaluations[d],
                world=world,
                adapter=adapter,
            )
            adapter = jobs[d].adapter  # one model for every dataset
        raced = race_joint_step(jobs, plan, dirs, args.beam_width, args.objective, racing)
        if world.is_main:
            record = joint_step_record(
                plan,
                dirs,
                args.beam_width,
                args.objective,
                importance,
                evaluated={d: [variant_id(b) for b in r.evaluated] for d, r in raced.items()},
                reused={
                    d: [variant_id(b) for b, n in r.rows_before.items() if n == jobs[d].num_samples]
                    for d, r in raced.items()
                },
                kept=next(iter(raced.values())).race.kept,
            )
            write_json(args.out, add_joint_racing(record, raced))


run_main(main)
