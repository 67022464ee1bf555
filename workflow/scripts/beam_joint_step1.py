"""Rule beam_joint_step_1: the joint search's first step, from every dataset's ablation stores.

Single blocks ranked by ``beam.objective`` over the datasets; nothing is evaluated.
"""

import argparse
import json
from pathlib import Path

from vlmprune.analysis.beam.joint import joint_step_one
from vlmprune.engine.store import read_store
from vlmprune.result_files import read_json, write_json
from vlmprune.workflow_script import run_main


def single_block_stores(evals_dir: Path) -> list[Path]:
    blocks = int(read_store(evals_dir / "full.h5").attrs["num_blocks"])
    return [evals_dir / f"drop-{i}.h5" for i in range(blocks)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--datasets", nargs="+", required=True)
    parser.add_argument(
        "--evals-dirs",
        nargs="+",
        required=True,
        help="results/evals/{dataset}/{split} of each dataset, holding full.h5 and drop-{i}.h5",
    )
    parser.add_argument("--own-steps", nargs="+", required=True, help="each dataset's step1.json")
    parser.add_argument("--beam-width", type=int, required=True)
    parser.add_argument("--objective", required=True, help="beam.objective: mean or worst")
    parser.add_argument("--importance", required=True, help="the config's importance section")
    parser.add_argument("--out", required=True, help="results/beam/all/step1.json")
    args = parser.parse_args()
    dirs = dict(zip(args.datasets, map(Path, args.evals_dirs), strict=True))
    own = dict(zip(args.datasets, map(read_json, args.own_steps), strict=True))
    record = joint_step_one(
        {d: path / "full.h5" for d, path in dirs.items()},
        {d: single_block_stores(path) for d, path in dirs.items()},
        own,
        args.beam_width,
        args.objective,
        json.loads(args.importance),
    )
    write_json(args.out, record)


run_main(main)
