"""Rule beam_joint_evaluate: what joint step k needs on one dataset, where no store holds it yet.

The extensions of joint step k-1's beams, the joint greedy set and every dataset's own
recommended set of size k, on this dataset's analysis split, in one job through the tree
engine; a complete store with the fingerprint this job would write is reused, a raced one
completed. Run under ``torchrun --standalone --nproc-per-node=N``.
"""

from pathlib import Path

from vlmprune.analysis.beam.evaluate import evaluate_missing
from vlmprune.analysis.beam.joint import plan_joint_step
from vlmprune.engine.distributed import torchrun_world
from vlmprune.result_files import read_json, write_json
from vlmprune.workflow_script import evaluation_parser, run_main


def main() -> None:
    parser = evaluation_parser(__doc__, data_help="prepared records of the analysis split")
    parser.add_argument("--previous", required=True, help="results/beam/all/step{k-1}.json")
    parser.add_argument("--step1", required=True, help="results/beam/all/step1.json")
    parser.add_argument(
        "--own-steps", nargs="+", required=True, help="results/beam/{dataset}/step{k}.json of each"
    )
    parser.add_argument("--evals-dir", required=True, help="results/evals/{dataset}/{split}")
    parser.add_argument("--out", required=True, help="results/beam/all/step{k}/{dataset}.json")
    args = parser.parse_args()
    own = {(record := read_json(p))["dataset"]: record for p in args.own_steps}
    plan = plan_joint_step(read_json(args.previous), read_json(args.step1), own)
    with torchrun_world() as world:
        todo, reused = evaluate_missing(
            data=Path(args.data),
            dataset=args.dataset,
            split=args.split,
            variants=plan.variants,
            evals_dir=Path(args.evals_dir),
            model=args.model,
            evaluation=args.evaluation,
            world=world,
        )
        if world.is_main:
            write_json(
                args.out,
                {"dataset": args.dataset, "step": plan.step, "evaluated": todo, "reused": reused},
            )


run_main(main)
