"""Rule beam_validate: every step's kept beams and greedy set evaluated on another split.

Run under ``torchrun --standalone --nproc-per-node=N``. Single blocks are read from that
split's ablation stores; larger sets are evaluated into ``--evals-dir`` or reused.
"""

import json
from pathlib import Path

from vlmprune.analysis.beam.evaluate import evaluate_missing
from vlmprune.analysis.beam.files import validation_record, validation_sets
from vlmprune.engine.distributed import torchrun_world
from vlmprune.engine.variants import variant_id
from vlmprune.result_files import read_json, write_json
from vlmprune.workflow_script import evaluation_parser, run_main


def main() -> None:
    parser = evaluation_parser(__doc__, data_help="prepared records of the validation split")
    parser.add_argument("--steps", nargs="+", required=True, help="the JSON of steps 1..max")
    parser.add_argument(
        "--evals-dir",
        required=True,
        help="results/evals/{dataset}/{split}, holding full.h5 and drop-{i}.h5",
    )
    parser.add_argument(
        "--importance",
        required=True,
        help="the config's importance section (interval settings), as JSON",
    )
    parser.add_argument("--out", required=True, help="results/beam/{dataset}/validate_{split}.json")
    args = parser.parse_args()
    evals_dir = Path(args.evals_dir)
    steps = [read_json(p) for p in args.steps]
    larger = [variant_id(b) for b in validation_sets(steps) if len(b) > 1]
    with torchrun_world() as world:
        todo, reused = evaluate_missing(
            data=Path(args.data),
            dataset=args.dataset,
            split=args.split,
            variants=larger,
            evals_dir=evals_dir,
            model=args.model,
            evaluation=args.evaluation,
            world=world,
        )
        if world.is_main:
            write_json(
                args.out,
                validation_record(
                    steps, evals_dir, json.loads(args.importance), evaluated=todo, reused=reused
                ),
            )


run_main(main)
