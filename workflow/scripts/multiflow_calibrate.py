"""Rule multiflow_calibrate: one pass over the calibration records.

It writes per-input-feature statistics of every prunable layer.
"""

from vlmprune.multiflow.config import MultiflowConfig
from vlmprune.multiflow.prune import calibrate
from vlmprune.workflow_script import run_rule


def main(job) -> None:
    calibration = job.params.calibration
    calibrate(
        job.params.model,
        job.input.data,
        calibration["nsamples"],
        MultiflowConfig.from_mapping(job.params.multiflow),
        job.output[0],
        seed=calibration["seed"],
        batch_size=calibration["batch_size"],
    )


run_rule(main, snakemake)  # noqa: F821 (the script: directive defines it)
