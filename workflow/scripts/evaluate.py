"""Rules baseline and ablate: evaluate variants of the model on a dataset split, one store each.

Run under ``torchrun --standalone --nproc-per-node=N``; samples are sharded across ranks.
"""

from pathlib import Path

from vlmprune.engine.distributed import torchrun_world
from vlmprune.engine.run import run_evaluation
from vlmprune.workflow_script import evaluation_parser, run_main


def main() -> None:
    parser = evaluation_parser(
        __doc__, data_help="prepared records (data/prepared/{dataset}/{split})"
    )
    parser.add_argument(
        "--variants", nargs="+", required=True, help="variant ids: full, drop-3, drop-3-7 …"
    )
    parser.add_argument("--stores", nargs="+", required=True, help="one HDF5 store per variant")
    parser.add_argument(
        "--summary", default=None, help="JSON summary of the first variant (baseline)"
    )
    parser.add_argument(
        "--masks", default=None, help="bit-packed masks of a width variant (multiflow-0.5 …)"
    )
    args = parser.parse_args()
    with torchrun_world() as world:
        run_evaluation(
            data=Path(args.data),
            dataset=args.dataset,
            split=args.split,
            variants=args.variants,
            stores=[Path(s) for s in args.stores],
            summary=Path(args.summary) if args.summary else None,
            model=args.model,
            evaluation=args.evaluation,
            world=world,
            masks=Path(args.masks) if args.masks else None,
        )


run_main(main)
