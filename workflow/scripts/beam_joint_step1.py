"""Rule beam_joint_step_1: the joint search's first step, from every dataset's ablation stores.

Single blocks ranked by ``beam.objective`` over the datasets; nothing is evaluated.
"""

from pathlib import Path

from vlmprune.analysis.beam.joint import joint_step_one
from vlmprune.engine.store import read_store
from vlmprune.result_files import read_json, write_json
from vlmprune.workflow_script import run_rule


def single_block_stores(evals_dir: Path) -> list[Path]:
    blocks = int(read_store(evals_dir / "full.h5").attrs["num_blocks"])
    return [evals_dir / f"drop-{i}.h5" for i in range(blocks)]


def main(job) -> None:
    dirs = {d: Path(path) for d, path in job.params.evals_dirs.items()}
    own = dict(zip(dirs, map(read_json, job.input.own), strict=True))
    record = joint_step_one(
        {d: path / "full.h5" for d, path in dirs.items()},
        {d: single_block_stores(path) for d, path in dirs.items()},
        own,
        job.params.beam_width,
        job.params.objective,
        job.params.importance,
    )
    write_json(job.output[0], record)


run_rule(main, snakemake)  # noqa: F821 (the script: directive defines it)
